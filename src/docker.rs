//! The scale-target edge: creates, starts, stops and removes agent
//! containers through the Docker Engine API (bollard), and lists the ones a
//! pool owns. jetpool only ever touches containers that carry its labels.

use std::collections::HashMap;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerSummaryStateEnum, HostConfig, RestartPolicy,
    RestartPolicyNameEnum,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, EventsOptions, ListContainersOptions,
    RemoveContainerOptions, StopContainerOptions,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::mpsc;

use crate::config::ContainerSpec;
use crate::error::{Error, Result};

/// Label marking a container as jetpool's.
pub const LABEL_MANAGED: &str = "jetpool.managed";
/// Label naming the container's pool.
pub const LABEL_POOL: &str = "jetpool.pool";
/// Label holding the hash of the template the container was made from.
pub const LABEL_TEMPLATE: &str = "jetpool.template";

/// A container's lifecycle phase as Docker reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Created, not started.
    Created,
    /// Running (or restarting/paused: it exists and holds resources).
    Running,
    /// Exited or dead: no longer working.
    Exited,
    /// Being removed.
    Removing,
}

/// One agent container owned by a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentContainer {
    /// Docker's container id.
    pub id: String,
    /// Container name without the leading slash; also the agent id.
    pub name: String,
    /// Lifecycle phase.
    pub phase: Phase,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Hash of the template it was made from, if labelled.
    pub template: Option<String>,
    /// Docker's health status when the image defines a healthcheck.
    pub unhealthy: bool,
}

/// What the pool loop needs to start one agent.
#[derive(Debug, Clone)]
pub struct StartRequest<'a> {
    /// The pool the agent belongs to.
    pub pool: &'a str,
    /// The container name, which is also the agent id.
    pub name: String,
    /// The pool's container template.
    pub spec: &'a ContainerSpec,
    /// The URL agents get in `NATS_URL`.
    pub nats_url: &'a str,
    /// Start as a warm standby (`JETPOOL_STANDBY=1`): connected, not
    /// fetching, until activated.
    pub standby: bool,
}

/// Something that happened to a pool's container, reported by the
/// target's event stream so the loop reacts at once instead of at its
/// next tick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetEvent {
    /// The container's process exited (crash, kill -9, OOM, or a drain
    /// that finished).
    Died {
        /// Container name.
        name: String,
    },
    /// The image's healthcheck reports the container unhealthy.
    Unhealthy {
        /// Container name.
        name: String,
    },
}

/// Something that runs a pool's agents: Docker in production, an in-memory
/// fake in loop tests and dry runs.
pub trait ScaleTarget: Send + Sync + 'static {
    /// Every container of `pool`, in any phase.
    fn list(&self, pool: &str) -> impl Future<Output = Result<Vec<AgentContainer>>> + Send;
    /// Creates and starts one agent; returns its id.
    fn start(&self, req: StartRequest<'_>) -> impl Future<Output = Result<String>> + Send;
    /// `docker stop` semantics: the stop signal, then SIGKILL after `timeout`.
    fn stop(&self, id: &str, timeout: Duration) -> impl Future<Output = Result<()>> + Send;
    /// Removes a stopped container.
    fn remove(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// Container events of `pool`, for as long as the stream is held.
    fn events(&self, pool: &str) -> BoxStream<'static, TargetEvent>;
}

/// Turns an mpsc receiver into a stream.
pub(crate) fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> BoxStream<'static, T> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }).boxed()
}

/// The Docker Engine, reached through `DOCKER_HOST` or the local socket.
#[derive(Clone)]
pub struct DockerTarget {
    /// The client, with the API version negotiated.
    docker: Docker,
}

impl DockerTarget {
    /// Connects (honouring `DOCKER_HOST`), negotiates the API version so
    /// Engine 20.10 (API 1.41) and newer all work, and pings the daemon.
    ///
    /// `longest_stop` is the longest stop timeout of any pool: the client's
    /// request timeout must outlast a `docker stop` that waits it out.
    pub async fn connect(longest_stop: Duration) -> Result<Self> {
        let host =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let fail = |reason: String| Error::DockerConnect {
            host: host.clone(),
            reason,
        };
        let docker = Docker::connect_with_defaults().map_err(|e| fail(e.to_string()))?;
        let docker = docker.with_timeout(longest_stop + Duration::from_secs(60));
        let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
            .await
            .map_err(|_| fail("no answer within 10s".into()))?
            .map_err(|e| fail(e.to_string()))?;
        docker.ping().await.map_err(|e| fail(e.to_string()))?;
        Ok(DockerTarget { docker })
    }

    /// The underlying client, for callers that need more of the API.
    pub fn client(&self) -> &Docker {
        &self.docker
    }

    async fn create(
        &self,
        name: &str,
        body: ContainerCreateBody,
    ) -> Result<String, bollard::errors::Error> {
        let opts = CreateContainerOptions {
            name: Some(name.to_string()),
            ..Default::default()
        };
        self.docker
            .create_container(Some(opts), body)
            .await
            .map(|r| r.id)
    }

    /// Pulls `image` once, for templates whose image is not present yet.
    async fn pull(&self, image: &str) -> Result<(), bollard::errors::Error> {
        let opts = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        };
        let mut s = self.docker.create_image(Some(opts), None, None);
        while let Some(item) = s.next().await {
            item?;
        }
        Ok(())
    }
}

/// Builds the Docker create body for one agent from its pool's template.
pub fn create_body(req: &StartRequest<'_>) -> ContainerCreateBody {
    let spec = req.spec;
    let mut env: Vec<String> = spec
        .env
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "JETPOOL_POOL" | "JETPOOL_AGENT_ID" | "NATS_URL"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.push(format!("JETPOOL_POOL={}", req.pool));
    env.push(format!("JETPOOL_AGENT_ID={}", req.name));
    env.push(format!("NATS_URL={}", req.nats_url));
    if req.standby {
        env.push("JETPOOL_STANDBY=1".into());
    }
    let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    labels.insert(LABEL_MANAGED.into(), "true".into());
    labels.insert(LABEL_POOL.into(), req.pool.into());
    labels.insert(LABEL_TEMPLATE.into(), spec.hash());
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: Some(env),
        labels: Some(labels),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: Some(spec.stop_timeout.as_secs() as i64),
        host_config: Some(HostConfig {
            network_mode: spec.network.clone(),
            binds: (!spec.volumes.is_empty()).then(|| spec.volumes.clone()),
            memory: spec.memory_mb.map(|m| (m * 1024 * 1024) as i64),
            nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
            // jetpool replaces failed agents itself; Docker restarting them
            // behind its back would double-count.
            restart_policy: Some(RestartPolicy {
                name: Some(RestartPolicyNameEnum::NO),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

impl ScaleTarget for DockerTarget {
    async fn list(&self, pool: &str) -> Result<Vec<AgentContainer>> {
        let filters = HashMap::from([(
            "label".to_string(),
            vec![
                format!("{LABEL_MANAGED}=true"),
                format!("{LABEL_POOL}={pool}"),
            ],
        )]);
        let opts = ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        };
        let list = self
            .docker
            .list_containers(Some(opts))
            .await
            .map_err(|source| Error::Docker { op: "list", source })?;
        Ok(list
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                // The server filtered already; checking again keeps the
                // "never touch an unlabelled container" rule local.
                if labels.get(LABEL_MANAGED).map(String::as_str) != Some("true")
                    || labels.get(LABEL_POOL).map(String::as_str) != Some(pool)
                {
                    return None;
                }
                let phase = match c.state {
                    Some(ContainerSummaryStateEnum::CREATED) => Phase::Created,
                    Some(
                        ContainerSummaryStateEnum::RUNNING
                        | ContainerSummaryStateEnum::RESTARTING
                        | ContainerSummaryStateEnum::PAUSED
                        | ContainerSummaryStateEnum::STOPPING,
                    ) => Phase::Running,
                    Some(ContainerSummaryStateEnum::REMOVING) => Phase::Removing,
                    _ => Phase::Exited,
                };
                let name = c
                    .names
                    .and_then(|n| n.into_iter().next())
                    .map(|n| n.trim_start_matches('/').to_string())
                    .unwrap_or_default();
                Some(AgentContainer {
                    id: c.id?,
                    name,
                    phase,
                    created: c.created.unwrap_or(0),
                    template: labels.get(LABEL_TEMPLATE).cloned(),
                    unhealthy: c
                        .status
                        .as_deref()
                        .is_some_and(|s| s.contains("(unhealthy)")),
                })
            })
            .collect())
    }

    async fn start(&self, req: StartRequest<'_>) -> Result<String> {
        let body = create_body(&req);
        let id = match self.create(&req.name, body.clone()).await {
            Ok(id) => id,
            Err(e) if is_not_found(&e) => {
                // The image is missing locally: pull it once, then retry.
                self.pull(&req.spec.image)
                    .await
                    .map_err(|source| Error::Docker {
                        op: "pull image",
                        source,
                    })?;
                self.create(&req.name, body)
                    .await
                    .map_err(|source| Error::Docker {
                        op: "create",
                        source,
                    })?
            }
            Err(source) => {
                return Err(Error::Docker {
                    op: "create",
                    source,
                });
            }
        };
        if let Err(source) = self.docker.start_container(&id, None).await {
            // Do not leave a created-but-never-started container behind.
            let _ = self.remove(&id).await;
            return Err(Error::Docker {
                op: "start",
                source,
            });
        }
        Ok(id)
    }

    async fn stop(&self, id: &str, timeout: Duration) -> Result<()> {
        let opts = StopContainerOptions {
            t: Some(timeout.as_secs().min(i32::MAX as u64) as i32),
            signal: None,
        };
        match self.docker.stop_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            // 304: already stopped; 404: already gone. Both are the goal.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304 | 404,
                ..
            }) => Ok(()),
            Err(source) => Err(Error::Docker { op: "stop", source }),
        }
    }

    async fn remove(&self, id: &str) -> Result<()> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match self.docker.remove_container(id, Some(opts)).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // 409: removal already in progress.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(source) => Err(Error::Docker {
                op: "remove",
                source,
            }),
        }
    }

    fn events(&self, pool: &str) -> BoxStream<'static, TargetEvent> {
        let (tx, rx) = mpsc::channel(256);
        let docker = self.docker.clone();
        let pool = pool.to_string();
        tokio::spawn(async move {
            // Reconnect for as long as someone listens: the loop's periodic
            // listing still works meanwhile, events only make it faster.
            while !tx.is_closed() {
                let filters = HashMap::from([
                    ("type".to_string(), vec!["container".to_string()]),
                    ("label".to_string(), vec![format!("{LABEL_POOL}={pool}")]),
                    (
                        "event".to_string(),
                        vec![
                            "die".to_string(),
                            "health_status".to_string(),
                            "oom".to_string(),
                        ],
                    ),
                ]);
                let opts = EventsOptions {
                    filters: Some(filters),
                    ..Default::default()
                };
                let mut stream = docker.events(Some(opts));
                while let Some(item) = stream.next().await {
                    let Ok(ev) = item else { break };
                    let name = ev
                        .actor
                        .as_ref()
                        .and_then(|a| a.attributes.as_ref())
                        .and_then(|a| a.get("name").cloned())
                        .unwrap_or_default();
                    let action = ev.action.unwrap_or_default();
                    let event = if action == "die" || action == "oom" {
                        TargetEvent::Died { name }
                    } else if action.starts_with("health_status") && action.contains("unhealthy") {
                        TargetEvent::Unhealthy { name }
                    } else {
                        continue;
                    };
                    // A full channel only means the loop is already busy
                    // catching up; it lists the containers anyway.
                    if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(event) {
                        return;
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        receiver_stream(rx)
    }
}
