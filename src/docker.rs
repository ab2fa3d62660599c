//! The scale-target edge: creates, starts, stops and removes agent
//! containers through the Docker Engine API (bollard), and lists the ones a
//! pool owns. jetpool only ever touches containers that carry its labels.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{
    ContainerCreateBody, ContainerSummary, ContainerSummaryStateEnum, NetworkConnectRequest,
    NetworkingConfig,
};
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, EventsOptions, ListContainersOptions,
    RemoveContainerOptions, StopContainerOptions,
};
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
use crate::telemetry::{self, DockerOp};

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

/// One agent, fully prepared by its pool's
/// [`Template`](crate::template::Template): the Docker edge creates exactly
/// this and nothing else.
#[derive(Debug, Clone)]
pub struct StartRequest {
    /// The pool the agent belongs to.
    pub pool: String,
    /// The container name, which is also the agent id.
    pub name: String,
    /// The create body: image, command, environment, labels, host config.
    pub body: ContainerCreateBody,
    /// Networks to join, with their aliases. Engines before API 1.44 take
    /// one network at create, so the network mode's one goes there and the
    /// others are connected before the container starts.
    pub networking: Option<NetworkingConfig>,
}

impl StartRequest {
    /// The template id in the request's `jetpool.template` label.
    pub fn template_id(&self) -> Option<String> {
        self.body.labels.as_ref()?.get(LABEL_TEMPLATE).cloned()
    }

    /// Makes the agent start as a warm standby (`JETPOOL_STANDBY=1`):
    /// connected, not fetching, until activated.
    pub fn standby(mut self) -> Self {
        self.body
            .env
            .get_or_insert_with(Vec::new)
            .push("JETPOOL_STANDBY=1".into());
        self
    }

    /// Whether the agent starts as a warm standby.
    pub fn is_standby(&self) -> bool {
        self.body
            .env
            .as_ref()
            .is_some_and(|e| e.iter().any(|v| v == "JETPOOL_STANDBY=1"))
    }
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
    fn start(&self, req: StartRequest) -> impl Future<Output = Result<String>> + Send;
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

    /// The same engine with another request timeout, for a stop that waits
    /// out a grace period longer than the client's.
    pub fn with_timeout(&self, timeout: Duration) -> DockerTarget {
        DockerTarget {
            docker: self.docker.clone().with_timeout(timeout),
        }
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
        timed(
            DockerOp::Create,
            self.docker.create_container(Some(opts), body),
        )
        .await
        .map(|r| r.id)
    }

    /// Pulls `image` once, for templates whose image is not present yet.
    async fn pull(&self, image: &str) -> Result<(), bollard::errors::Error> {
        let opts = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        };
        timed(DockerOp::Pull, async {
            let mut s = self.docker.create_image(Some(opts), None, None);
            while let Some(item) = s.next().await {
                item?;
            }
            Ok(())
        })
        .await
    }

    /// Joins `id` to the networks of `networking` other than `primary`
    /// (the one it was created on).
    async fn connect_others(
        &self,
        id: &str,
        primary: Option<&str>,
        networking: &NetworkingConfig,
    ) -> Result<(), bollard::errors::Error> {
        let mut others: Vec<_> = networking
            .endpoints_config
            .iter()
            .flatten()
            .filter(|(name, _)| Some(name.as_str()) != primary)
            .collect();
        others.sort_by(|a, b| a.0.cmp(b.0));
        for (name, endpoint) in others {
            let req = NetworkConnectRequest {
                container: id.to_string(),
                endpoint_config: Some(endpoint.clone()),
            };
            timed(DockerOp::Connect, self.docker.connect_network(name, req)).await?;
        }
        Ok(())
    }
}

/// Runs one Docker API call and records its latency under `op`, so every
/// call the edge makes is in `jetpool_docker_request_duration_seconds`.
pub async fn timed<T>(op: DockerOp, call: impl Future<Output = T>) -> T {
    let began = Instant::now();
    let out = call.await;
    telemetry::docker_latency(op, began.elapsed().as_secs_f64());
    out
}

/// The network a request's container is created on: the network mode's
/// own when the request configures it, else the first by name.
fn primary_network(req: &StartRequest) -> Option<String> {
    let endpoints = req.networking.as_ref()?.endpoints_config.as_ref()?;
    let mode = req
        .body
        .host_config
        .as_ref()
        .and_then(|h| h.network_mode.clone());
    match mode {
        Some(m) if endpoints.contains_key(&m) => Some(m),
        _ => endpoints.keys().min().cloned(),
    }
}

/// The lifecycle phase of a container in Docker's list.
pub fn phase_of(state: Option<ContainerSummaryStateEnum>) -> Phase {
    match state {
        Some(ContainerSummaryStateEnum::CREATED) => Phase::Created,
        Some(
            ContainerSummaryStateEnum::RUNNING
            | ContainerSummaryStateEnum::RESTARTING
            | ContainerSummaryStateEnum::PAUSED
            | ContainerSummaryStateEnum::STOPPING,
        ) => Phase::Running,
        Some(ContainerSummaryStateEnum::REMOVING) => Phase::Removing,
        _ => Phase::Exited,
    }
}

/// An entry of Docker's container list as a pool sees it; the template id
/// is read from the label `template_label`.
pub fn agent_from_summary(c: ContainerSummary, template_label: &str) -> Option<AgentContainer> {
    let labels = c.labels.unwrap_or_default();
    let name = c
        .names
        .and_then(|n| n.into_iter().next())
        .map(|n| n.trim_start_matches('/').to_string())
        .unwrap_or_default();
    Some(AgentContainer {
        id: c.id?,
        name,
        phase: phase_of(c.state),
        created: c.created.unwrap_or(0),
        template: labels.get(template_label).cloned(),
        unhealthy: c
            .status
            .as_deref()
            .is_some_and(|s| s.contains("(unhealthy)")),
    })
}

/// True for Docker's "no such container/image" answer.
pub fn is_not_found(e: &bollard::errors::Error) -> bool {
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
        let list = timed(DockerOp::List, self.docker.list_containers(Some(opts)))
            .await
            .map_err(|source| Error::Docker { op: "list", source })?;
        Ok(list
            .into_iter()
            .filter(|c| {
                // The server filtered already; checking again keeps the
                // "never touch an unlabelled container" rule local.
                let labels = c.labels.as_ref();
                let has =
                    |k: &str, v: &str| labels.and_then(|l| l.get(k)).map(String::as_str) == Some(v);
                has(LABEL_MANAGED, "true") && has(LABEL_POOL, pool)
            })
            .filter_map(|c| agent_from_summary(c, LABEL_TEMPLATE))
            .collect())
    }

    async fn start(&self, req: StartRequest) -> Result<String> {
        let primary = primary_network(&req);
        let mut body = req.body.clone();
        body.networking_config = req.networking.as_ref().map(|n| NetworkingConfig {
            endpoints_config: primary.as_ref().and_then(|p| {
                let e = n.endpoints_config.as_ref()?.get(p)?;
                Some(HashMap::from([(p.clone(), e.clone())]))
            }),
        });
        let id = match self.create(&req.name, body.clone()).await {
            Ok(id) => id,
            Err(e) if is_not_found(&e) => {
                // The image is missing locally: pull it once, then retry.
                let image = body.image.clone().unwrap_or_default();
                self.pull(&image).await.map_err(|source| Error::Docker {
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
        let started = match &req.networking {
            Some(n) => match self.connect_others(&id, primary.as_deref(), n).await {
                Ok(()) => timed(DockerOp::Start, self.docker.start_container(&id, None)).await,
                Err(e) => Err(e),
            },
            None => timed(DockerOp::Start, self.docker.start_container(&id, None)).await,
        };
        if let Err(source) = started {
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
        match timed(DockerOp::Stop, self.docker.stop_container(id, Some(opts))).await {
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
        match timed(
            DockerOp::Remove,
            self.docker.remove_container(id, Some(opts)),
        )
        .await
        {
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
