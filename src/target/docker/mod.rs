//! The Docker Engine as a [`ScaleTarget`], through bollard: the only
//! module that names bollard's types. It creates, starts, stops and
//! removes agent containers, lists the ones a pool owns, and, for compose
//! discovery, lists containers by any labels, clones one from its inspect
//! data, and follows container events.
//!
//! - `convert`: [`ContainerSpec`](crate::target::ContainerSpec) to the
//!   create body, and its networks split for API 1.41.
//! - `clone`: `docker inspect` to a spec.
//! - `list`: the container list, by labels.
//! - `events`: the events stream, reconnecting.
//! - `stats`: one container's resource use, for the cpu and memory triggers.
//! - `error`: bollard's errors as [`TargetError`]s.
//! - [`swarm`]: Swarm services and tasks, and a service's replica count.

mod clone;
mod convert;
mod error;
mod events;
mod list;
mod stats;
pub mod swarm;

use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::NetworkConnectRequest;
use bollard::query_parameters::{
    CreateContainerOptions, CreateImageOptions, RemoveContainerOptions, StopContainerOptions,
};
use futures::StreamExt;
use futures::stream::BoxStream;

use self::error::{ENGINE, is_not_found, status_of, to_target};
use crate::target::engines::Endpoint;
use crate::target::{
    ContainerId, ErrorKind, Inspected, LABEL_MANAGED, LABEL_POOL, LABEL_TEMPLATE, LabelFilter,
    Listed, ScaleTarget, StartRequest, TargetError, TargetEvent, TargetOp, Usage,
};
use crate::telemetry;

/// The Docker Engine, reached through `DOCKER_HOST` or the local socket.
#[derive(Clone)]
pub struct DockerTarget {
    /// The client, with the API version negotiated.
    docker: Docker,
}

/// `e`, met reaching the engine at `host`, saying so.
fn reach_failed(host: &str, e: TargetError) -> TargetError {
    TargetError {
        message: format!("cannot reach Docker at {host}: {}", e.message),
        ..e
    }
}

/// Runs one Docker API call and records its latency under `op`, so every
/// call the edge makes is in `jetpool_docker_request_duration_seconds`.
async fn timed<T>(op: TargetOp, call: impl Future<Output = T>) -> T {
    let began = Instant::now();
    let out = call.await;
    telemetry::docker_latency(op.label(), began.elapsed().as_secs_f64());
    out
}

impl DockerTarget {
    /// Connects (honouring `DOCKER_HOST`), negotiates the API version so
    /// Engine 20.10 (API 1.41) and newer all work, and pings the daemon.
    ///
    /// `longest_stop` is the longest stop timeout of any pool: the client's
    /// request timeout must outlast a `docker stop` that waits it out.
    pub async fn connect(longest_stop: Duration) -> Result<Self, TargetError> {
        let host =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let docker = Docker::connect_with_defaults()
            .map_err(|e| reach_failed(&host, to_target(TargetOp::Ping, e)))?;
        Self::negotiated(docker, &host, longest_stop).await
    }

    /// Connects to the engine at `endpoint` (one of `--engine`), as
    /// [`connect`](Self::connect) does to `DOCKER_HOST`. Over TLS, the
    /// client certificate is `cert.pem` and `key.pem` and the CA `ca.pem`
    /// of the endpoint's directory, as the docker CLI's `--tlsverify`.
    pub async fn connect_to(
        endpoint: &Endpoint,
        longest_stop: Duration,
    ) -> Result<Self, TargetError> {
        let secs = (longest_stop + Duration::from_secs(60)).as_secs();
        let version = bollard::API_DEFAULT_VERSION;
        let docker = match endpoint {
            Endpoint::Unix(path) => {
                Docker::connect_with_unix(&path.to_string_lossy(), secs, version)
            }
            Endpoint::Tcp { addr, tls: None } => Docker::connect_with_http(addr, secs, version),
            Endpoint::Tcp {
                addr,
                tls: Some(dir),
            } => Docker::connect_with_ssl(
                addr,
                &dir.join("key.pem"),
                &dir.join("cert.pem"),
                &dir.join("ca.pem"),
                secs,
                version,
            ),
        };
        let host = endpoint.to_string();
        let docker = docker.map_err(|e| reach_failed(&host, to_target(TargetOp::Ping, e)))?;
        Self::negotiated(docker, &host, longest_stop).await
    }

    /// `docker` with its API version negotiated and the daemon pinged.
    async fn negotiated(
        docker: Docker,
        host: &str,
        longest_stop: Duration,
    ) -> Result<Self, TargetError> {
        let fail = |e: TargetError| reach_failed(host, e);
        let docker = docker.with_timeout(longest_stop + Duration::from_secs(60));
        let docker = tokio::time::timeout(Duration::from_secs(10), docker.negotiate_version())
            .await
            .map_err(|_| {
                fail(TargetError::new(
                    ENGINE,
                    TargetOp::Ping,
                    ErrorKind::Unreachable,
                    "no answer within 10s",
                ))
            })?
            .map_err(|e| fail(to_target(TargetOp::Ping, e)))?;
        docker
            .ping()
            .await
            .map_err(|e| fail(to_target(TargetOp::Ping, e)))?;
        Ok(DockerTarget { docker })
    }

    /// Asks the daemon whether it answers.
    pub async fn ping(&self) -> Result<(), TargetError> {
        timed(TargetOp::Ping, self.docker.ping())
            .await
            .map(|_| ())
            .map_err(|e| to_target(TargetOp::Ping, e))
    }

    /// The same engine with another request timeout, for a stop that waits
    /// out a grace period longer than the client's.
    pub fn with_timeout(&self, timeout: Duration) -> DockerTarget {
        DockerTarget {
            docker: self.docker.clone().with_timeout(timeout),
        }
    }

    /// Inspects container `id` and clones it into a spec that creates
    /// another just like it.
    pub async fn inspect(&self, id: &ContainerId) -> Result<Inspected, TargetError> {
        let c = timed(
            TargetOp::Inspect,
            self.docker.inspect_container(id.as_str(), None),
        )
        .await
        .map_err(|e| to_target(TargetOp::Inspect, e))?;
        clone::inspected(&c)
    }

    /// Pulls `image` once, for templates whose image is not present yet.
    async fn pull(&self, image: &str) -> Result<(), bollard::errors::Error> {
        let opts = CreateImageOptions {
            from_image: Some(image.to_string()),
            ..Default::default()
        };
        timed(TargetOp::Pull, async {
            let mut s = self.docker.create_image(Some(opts), None, None);
            while let Some(item) = s.next().await {
                item?;
            }
            Ok(())
        })
        .await
    }

    /// Creates the container of `c`, pulling its image once if missing.
    async fn create(&self, name: &str, c: &convert::Create) -> Result<ContainerId, TargetError> {
        let attempt = || {
            let opts = CreateContainerOptions {
                name: Some(name.to_string()),
                ..Default::default()
            };
            timed(
                TargetOp::Create,
                self.docker.create_container(Some(opts), c.body.clone()),
            )
        };
        let created = match attempt().await {
            Err(e) if is_not_found(&e) => {
                // The image is missing locally: pull it once, then retry.
                let image = c.body.image.clone().unwrap_or_default();
                self.pull(&image).await.map_err(|e| {
                    // Name the image: the engine's message names only the
                    // registry it could not reach.
                    let t = to_target(TargetOp::Pull, e);
                    TargetError {
                        message: format!("image {image}: {}", t.message),
                        ..t
                    }
                })?;
                attempt().await
            }
            other => other,
        };
        created
            .map(|r| ContainerId::from(r.id))
            .map_err(|e| to_target(TargetOp::Create, e))
    }

    /// Joins `id` to the networks other than the one it was created on,
    /// then starts it.
    async fn connect_and_start(
        &self,
        id: &ContainerId,
        c: &convert::Create,
    ) -> Result<(), TargetError> {
        for (network, endpoint) in &c.others {
            let req = NetworkConnectRequest {
                container: id.to_string(),
                endpoint_config: Some(endpoint.clone()),
            };
            timed(TargetOp::Connect, self.docker.connect_network(network, req))
                .await
                .map_err(|e| to_target(TargetOp::Connect, e))?;
        }
        timed(
            TargetOp::Start,
            self.docker.start_container(id.as_str(), None),
        )
        .await
        .map_err(|e| to_target(TargetOp::Start, e))
    }
}

impl ScaleTarget for DockerTarget {
    async fn list(&self, pool: &str) -> Result<Vec<Listed>, TargetError> {
        let filters = [
            LabelFilter::equals(LABEL_MANAGED, "true"),
            LabelFilter::equals(LABEL_POOL, pool),
        ];
        Ok(self
            .list_labelled(&filters)
            .await?
            .into_iter()
            .map(|s| s.listed(LABEL_TEMPLATE))
            .collect())
    }

    async fn start(&self, req: StartRequest) -> Result<ContainerId, TargetError> {
        let c = convert::create(&req)?;
        let id = self.create(&req.name, &c).await?;
        if let Err(e) = self.connect_and_start(&id, &c).await {
            // Do not leave a created-but-never-started container behind.
            let _ = self.remove(&id).await;
            return Err(e);
        }
        Ok(id)
    }

    async fn stop(&self, id: &ContainerId, timeout: Duration) -> Result<(), TargetError> {
        let opts = StopContainerOptions {
            t: Some(i32::try_from(timeout.as_secs()).unwrap_or(i32::MAX)),
            signal: None,
        };
        match timed(
            TargetOp::Stop,
            self.docker.stop_container(id.as_str(), Some(opts)),
        )
        .await
        {
            Ok(()) => Ok(()),
            // 304: already stopped; 404: already gone. Both are the goal.
            Err(e) if matches!(status_of(&e), Some(304 | 404)) => Ok(()),
            Err(e) => Err(to_target(TargetOp::Stop, e)),
        }
    }

    async fn remove(&self, id: &ContainerId) -> Result<(), TargetError> {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        match timed(
            TargetOp::Remove,
            self.docker.remove_container(id.as_str(), Some(opts)),
        )
        .await
        {
            Ok(()) => Ok(()),
            // 404: already gone; 409: removal already in progress.
            Err(e) if matches!(status_of(&e), Some(404 | 409)) => Ok(()),
            Err(e) => Err(to_target(TargetOp::Remove, e)),
        }
    }

    fn events(&self, pool: &str) -> BoxStream<'static, TargetEvent> {
        self.pool_events(&[LabelFilter::equals(LABEL_POOL, pool)])
    }

    async fn usage(&self, name: &str) -> Result<Usage, TargetError> {
        self.read_usage(name).await
    }
}
