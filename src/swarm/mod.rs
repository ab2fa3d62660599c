//! Pools declared on Docker Swarm services. A replicated service labelled
//! `jetpool.pool=<name>` (`deploy.labels` in a `docker stack deploy` file)
//! becomes a pool, with the same labels as a compose service
//! ([`compose::labels`](crate::compose::labels)). jetpool scales it by
//! changing its replica count through the Docker API of a manager; Swarm
//! makes and places the tasks.
//!
//! Scale-in never lets Swarm pick a busy task. jetpool drains its victims
//! through the agent protocol first; a drained agent exits 0, and with the
//! service's restart condition `on-failure` (or `none`) Swarm leaves the
//! completed task in its slot instead of restarting it. Only then is the
//! count lowered, by one per drained task, and Swarm removes slots whose
//! task is not running before any running one (swarmkit's replicated
//! orchestrator sorts running tasks first and removes from the end). A
//! service whose restart condition is `any` (Swarm's default) is refused:
//! Swarm would restart every drained agent.
//!
//! - [`rules`]: what a service must declare to be pooled (pure).
//! - [`target`]: [`SwarmTarget`], one service as a scale target: tasks
//!   listed as containers, a start raises the count, a removal of a
//!   drained task lowers it.
//! - [`supervisor`]: the labelled services, rescanned every few seconds,
//!   each a pool loop.

pub mod rules;
pub mod supervisor;
pub mod target;

pub use supervisor::Supervisor;
pub use target::SwarmTarget;

/// The stack a service was deployed in (`docker stack deploy`).
pub const LABEL_STACK: &str = "com.docker.stack.namespace";
/// The service a task's container belongs to.
pub const LABEL_SERVICE_NAME: &str = "com.docker.swarm.service.name";
/// The value agents' `JETPOOL_AGENT_ID` must have: Swarm expands it to the
/// task's name, `<service>.<slot>.<task id>`, which is also the name of
/// the task's container.
pub const AGENT_ID_TEMPLATE: &str = "{{.Task.Name}}";

/// Command-line settings of Swarm discovery.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SwarmArgs {
    /// Discover pools from Swarm services labelled `jetpool.pool` (the
    /// engine must be a Swarm manager), beside the policy files' pools.
    #[arg(long = "swarm", env = "JETPOOL_SWARM")]
    pub enabled: bool,
    /// Only this stack's services (default: every labelled service).
    #[arg(long = "swarm-stack", env = "JETPOOL_SWARM_STACK")]
    pub stack: Option<String>,
}

/// The name of the task in `slot` with id `id` of service `service`, as
/// Swarm names it (and its container, and its agent).
pub fn task_name(service: &str, slot: u64, id: &str) -> String {
    format!("{service}.{slot}.{id}")
}
