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
/// task's id. Not `{{.Task.Name}}` (`<service>.<slot>.<id>`): an agent id
/// is one token of the protocol's NATS subjects, so it has no dots.
pub const AGENT_ID_TEMPLATE: &str = "{{.Task.ID}}";

/// Command-line settings of Swarm discovery.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SwarmArgs {
    /// Discover pools from Swarm services labelled `jetpool.pool` (the
    /// engine must be a Swarm manager), beside the policy files' pools.
    #[arg(id = "swarm", long = "swarm", env = "JETPOOL_SWARM")]
    pub enabled: bool,
    /// Only this stack's services (default: every labelled service).
    #[arg(id = "swarm_stack", long = "swarm-stack", env = "JETPOOL_SWARM_STACK")]
    pub stack: Option<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    #[test]
    fn run_takes_the_swarm_flags_beside_the_compose_ones() {
        let cli = Cli::try_parse_from([
            "jetpool",
            "run",
            "--compose",
            "--swarm",
            "--swarm-stack",
            "jobs",
        ])
        .unwrap();
        let Command::Run(args) = cli.command else {
            panic!("run");
        };
        assert!(args.compose.enabled && args.swarm.enabled);
        assert_eq!(args.swarm.stack.as_deref(), Some("jobs"));
    }
}
