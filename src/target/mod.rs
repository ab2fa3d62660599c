//! Where agents run: the engine-neutral scale target. A pool asks a
//! [`ScaleTarget`] to list, start, stop and remove its containers and to
//! tell it when one dies; what it starts is jetpool's own [`ContainerSpec`],
//! never an engine's types. Each engine converts the spec at its edge.
//!
//! - [`spec`]: [`ContainerSpec`], the container a pool's agents are made
//!   from: image, command, environment, mounts, networks, resources,
//!   security settings, healthcheck, and an opaque engine passthrough.
//! - [`template`]: [`Template`], a pool's live recipe: the current spec and
//!   its id, and how replicas are named; it prepares each [`StartRequest`].
//! - [`error`]: [`TargetError`], an engine failure typed without the
//!   engine's types: the operation, a kind, and the engine's message.
//! - [`query`]: what an engine reports beyond a pool's containers, for
//!   compose discovery: lists by labels, a container cloned into a spec,
//!   and container events.
//! - [`docker`]: [`DockerTarget`](docker::DockerTarget), the Docker Engine
//!   through bollard, the only module that names bollard's types.
//! - [`engines`]: [`EngineSet`](engines::EngineSet), several named Docker
//!   engines as one target (`--engine NAME=URL`): agents placed by count
//!   and weight, those of an engine that stops answering replaced on the
//!   others.
//! - [`virt`]: [`VirtualTarget`](virt::VirtualTarget), containers in memory,
//!   for dry runs and loop tests.
//!
//! jetpool only ever touches containers that carry its labels
//! ([`LABEL_MANAGED`], [`LABEL_POOL`]); [`LABEL_TEMPLATE`] holds the id of
//! the template a container was made from, so a changed template rolls.

pub mod allow;
pub mod docker;
pub mod engines;
pub mod error;
pub mod query;
pub mod spec;
pub mod template;
pub mod virt;

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use error::{ErrorKind, TargetError, TargetOp};
pub use query::{ContainerEvent, EventAction, Inspected, LabelFilter, Summary, WatchEvent};
pub use spec::{
    ContainerSpec, Device, Healthcheck, LogConfig, Mount, MountKind, NetworkAttachment,
    NetworkMode, Passthrough, Resources, Ulimit,
};
pub use template::{Naming, Template, TemplateVersion};

/// Label marking a container as jetpool's.
pub const LABEL_MANAGED: &str = "jetpool.managed";
/// Label naming the container's pool.
pub const LABEL_POOL: &str = "jetpool.pool";
/// Label holding the id of the template the container was made from.
pub const LABEL_TEMPLATE: &str = "jetpool.template";

/// Environment variable naming an agent's pool.
pub const ENV_POOL: &str = "JETPOOL_POOL";
/// Environment variable holding an agent's id (its container name).
pub const ENV_AGENT_ID: &str = "JETPOOL_AGENT_ID";
/// Environment variable that makes an agent start as a warm standby.
pub const ENV_STANDBY: &str = "JETPOOL_STANDBY";

/// An engine's id of one container. Opaque to jetpool: compared, stored
/// and handed back to the engine that issued it, never parsed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContainerId(String);

impl ContainerId {
    /// The id as the engine spells it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for ContainerId {
    fn from(s: String) -> Self {
        ContainerId(s)
    }
}

impl From<&str> for ContainerId {
    fn from(s: &str) -> Self {
        ContainerId(s.to_string())
    }
}

/// Lets a set or map keyed by id be queried with a `&str`: the hash and
/// order of a `ContainerId` are those of its string.
impl std::borrow::Borrow<str> for ContainerId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A container's lifecycle phase as its engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// One container of a pool, as its target lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Listed {
    /// The engine's container id.
    pub id: ContainerId,
    /// Container name; also the agent id.
    pub name: String,
    /// Lifecycle phase.
    pub phase: Phase,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Id of the template it was made from, if labelled.
    pub template: Option<String>,
    /// The engine's healthcheck reports it unhealthy.
    pub unhealthy: bool,
    /// How an exited container ended, when the engine says: 0 is success.
    /// A job pool counts its outcomes by it.
    pub exit_code: Option<i64>,
}

/// One agent, fully prepared by its pool's [`Template`]: the target
/// creates exactly this and nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    /// The pool the agent belongs to.
    pub pool: String,
    /// The container name, which is also the agent id.
    pub name: String,
    /// The container, with jetpool's labels and per-agent environment.
    pub spec: ContainerSpec,
    /// Start as a warm standby: connected, not fetching, until activated
    /// (the target sets [`ENV_STANDBY`]`=1`).
    pub standby: bool,
    /// The engines the agent may run on, by name (`[pool.container]
    /// engines`); empty: any. Only a target over several engines reads it.
    pub engines: Vec<String>,
}

impl StartRequest {
    /// The template id in the request's [`LABEL_TEMPLATE`] label.
    pub fn template_id(&self) -> Option<String> {
        self.spec.labels.get(LABEL_TEMPLATE).cloned()
    }
}

/// Something that happened to a pool's container, reported by the
/// target's event stream so the loop reacts at once instead of at its
/// next tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetEvent {
    /// The container's process exited (crash, kill -9, OOM, or a drain
    /// that finished).
    Died {
        /// Container name.
        name: String,
    },
    /// The container's healthcheck reports it unhealthy.
    Unhealthy {
        /// Container name.
        name: String,
    },
}

/// One container's resource use, as the engine measured it: what the
/// `cpu` and `memory` triggers read.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Usage {
    /// CPU in use, in cores (1.0 = one core busy), over the engine's
    /// sampling interval.
    pub cpu_cores: f64,
    /// The container's CPU limit in cores; `None` without one.
    pub cpu_limit_cores: Option<f64>,
    /// Memory in use, bytes, without the reclaimable page cache (what
    /// `docker stats` shows).
    pub memory_bytes: u64,
    /// The container's memory limit, bytes; without one the engine
    /// reports the host's memory.
    pub memory_limit_bytes: u64,
}

impl Usage {
    /// CPU use as a share of the limit, or of one core without a limit.
    pub fn cpu_utilisation(&self) -> f64 {
        self.cpu_cores / self.cpu_limit_cores.filter(|&l| l > 0.0).unwrap_or(1.0)
    }

    /// Memory use as a share of the limit (of the host's memory without
    /// one); `None` when the engine reported no limit at all.
    pub fn memory_utilisation(&self) -> Option<f64> {
        (self.memory_limit_bytes > 0)
            .then(|| self.memory_bytes as f64 / self.memory_limit_bytes as f64)
    }
}

/// Something that runs a pool's agents: Docker in production, an in-memory
/// fake in loop tests and dry runs; later a Swarm service or several
/// engines. Every method is safe to retry: stopping or removing what is
/// already stopped or gone succeeds.
pub trait ScaleTarget: Send + Sync + 'static {
    /// Every container of `pool`, in any phase.
    fn list(&self, pool: &str) -> impl Future<Output = Result<Vec<Listed>, TargetError>> + Send;
    /// Creates and starts one agent; returns its id. A container created
    /// but not started is removed again before the error is returned.
    fn start(
        &self,
        req: StartRequest,
    ) -> impl Future<Output = Result<ContainerId, TargetError>> + Send;
    /// `docker stop` semantics: the stop signal, then SIGKILL after `timeout`.
    fn stop(
        &self,
        id: &ContainerId,
        timeout: Duration,
    ) -> impl Future<Output = Result<(), TargetError>> + Send;
    /// Removes a stopped container (and its anonymous volumes).
    fn remove(&self, id: &ContainerId) -> impl Future<Output = Result<(), TargetError>> + Send;
    /// Container events of `pool`, for as long as the stream is held. The
    /// stream reconnects by itself; events only make the loop faster, its
    /// periodic listing is the truth.
    fn events(&self, pool: &str) -> BoxStream<'static, TargetEvent>;
    /// The resource use of container `name` (for the `cpu` and `memory`
    /// triggers). Engines that cannot measure it say so.
    fn usage(&self, name: &str) -> impl Future<Output = Result<Usage, TargetError>> + Send {
        let _ = name;
        async {
            Err(TargetError::new(
                "none",
                TargetOp::Stats,
                ErrorKind::Other,
                "this target does not measure resource use",
            ))
        }
    }
}

/// Turns an mpsc receiver into a stream.
pub(crate) fn receiver_stream<T: Send + 'static>(rx: mpsc::Receiver<T>) -> BoxStream<'static, T> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) }).boxed()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn container_ids_serialize_as_strings_and_look_up_by_str() {
        let id = ContainerId::from("abc123");
        assert_eq!(serde_json::to_string(&id).unwrap(), "\"abc123\"");
        assert_eq!(id.to_string(), "abc123");
        let set: HashSet<ContainerId> = [id.clone()].into();
        assert!(set.contains("abc123"));
        let back: ContainerId = serde_json::from_str("\"abc123\"").unwrap();
        assert_eq!(back, id);
    }
}
