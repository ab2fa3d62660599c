//! The pure planner: what to do to a pool's containers, as values.
//!
//! [`plan`] is the act side's twin of [`decide`](crate::policy::decide):
//! from the decision, the [`Roster`] (who is what), the engine's listing,
//! the agents' reports and `now`, it returns the [`Action`]s that move the
//! pool toward the desired count and keep it healthy. It performs no I/O
//! and reads no clock. The live loop runs the actions as background
//! operations and folds their [`Outcome`]s back into the roster; the
//! simulator runs the very same function, so what it measures is the code
//! that runs.
//!
//! The steps, in order, each seeing the previous ones' actions:
//! 1. **reap**: remove exited containers (a finished drain, a crash, an
//!    exit on its own);
//! 2. **heal**: replace agents Docker reports unhealthy, or that reported
//!    and then went silent;
//! 3. **deadlines**: stop drains that outlived `drain_timeout`;
//! 4. **roll**: retire one agent of an older template at a time;
//! 5. **scale**: toward `desired`, out by resuming drains, then activating
//!    standbys, then starting; in by draining the least busy
//!    ([`victims`]);
//! 6. **warm**: keep `warm` standbys started.

mod backoff;
pub mod handover;
mod jobs;
mod outcome;
pub mod roster;
mod starters;
mod steps;
mod transitions;
pub mod victims;

use jiff::Timestamp;

pub use handover::KnownDrain;
pub use outcome::{Event, Outcome, ReplaceReason};
pub use roster::{Backoff, Drain, Member, Pending, Role, Roster};

use crate::config::AgentsSpec;
use crate::observe::AgentRegistry;
use crate::policy::Decision;

pub use crate::target::{ContainerId, Listed, Phase};

/// Why an agent is drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DrainCause {
    /// The pool needs fewer agents.
    ScaleIn,
    /// It runs an older template.
    Roll,
}

/// Why a container is stopped (the stop signal, then SIGKILL after the
/// stop timeout) and removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopCause {
    /// A scale-in victim that cannot be drained (it does not speak the
    /// protocol, drains are off, or it has not started yet).
    ScaleIn,
    /// It runs an older template and cannot be drained (or is a standby).
    Roll,
    /// Docker's healthcheck reports it unhealthy.
    Unhealthy,
    /// It reported and then went silent for `stats_timeout`.
    Silent,
    /// Its drain outlived `drain_timeout`.
    DrainDeadline,
    /// It did not acknowledge a drain request.
    DrainRefused,
    /// An exited container is being removed.
    Remove(RemoveCause),
    /// A job ran past `job_timeout`: killed, its task redelivered after
    /// AckWait.
    JobTimeout,
}

/// Why an exited container is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoveCause {
    /// A drained agent exited, as the protocol says it does.
    Drained,
    /// It exited on its own.
    Exited,
    /// It exited within the crash window of its start: the template may be
    /// crash-looping, starts back off.
    Crashed,
    /// Its exit was counted already; an earlier removal failed.
    Leftover,
    /// Created by an earlier jetpool that died before starting it, and
    /// still not started `stats_timeout` after its creation: nothing will
    /// start it, and it counts as a starting agent until removed.
    NeverStarted,
    /// A job of a job pool ended.
    Job {
        /// By its exit code.
        end: JobEnd,
        /// The exit code, when the engine said.
        exit_code: Option<i64>,
        /// It failed before it ever reported: the template itself may be
        /// broken, so starts back off as for a crash.
        crashed: bool,
    },
}

/// How a job ended, by its container's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobEnd {
    /// Exit code 0: its task was acked.
    Succeeded,
    /// Any other exit: its task was NAKed or never taken.
    Failed,
}

/// The rules of a job pool (`mode = "job"`) for the planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobRules {
    /// A job running longer is killed.
    pub timeout: Option<std::time::Duration>,
}

impl JobRules {
    /// The rules of `policy`'s pool, when it is a job pool.
    pub fn of(policy: &crate::policy::Policy) -> Option<JobRules> {
        (policy.mode == crate::policy::PoolMode::Job).then_some(JobRules {
            timeout: policy.job_timeout,
        })
    }
}

/// One thing to do to a pool's containers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Create and start one agent from the pool's template.
    Start {
        /// As a warm standby (connected, not fetching).
        standby: bool,
    },
    /// Ask a standby to start fetching.
    Activate {
        /// The container.
        id: ContainerId,
        /// Its name (the agent id).
        name: String,
    },
    /// Ask an agent to stop fetching, finish what it holds and exit.
    Drain {
        /// The container.
        id: ContainerId,
        /// Its name (the agent id).
        name: String,
        /// Tasks it held by its last report.
        held: u64,
        /// Why.
        cause: DrainCause,
    },
    /// Cancel a drain: the agent fetches again.
    Resume {
        /// The container.
        id: ContainerId,
        /// Its name (the agent id).
        name: String,
    },
    /// Stop and remove a running container.
    Stop {
        /// The container.
        id: ContainerId,
        /// Its name.
        name: String,
        /// Why.
        cause: StopCause,
    },
    /// Remove an exited container.
    Remove {
        /// The container.
        id: ContainerId,
        /// Its name.
        name: String,
        /// Why it exited.
        cause: RemoveCause,
    },
}

impl Action {
    /// The container the action is about (none for a start).
    pub fn id(&self) -> Option<&ContainerId> {
        match self {
            Action::Start { .. } => None,
            Action::Activate { id, .. }
            | Action::Drain { id, .. }
            | Action::Resume { id, .. }
            | Action::Stop { id, .. }
            | Action::Remove { id, .. } => Some(id),
        }
    }

    /// +1 for an action that adds working capacity, -1 for one that takes
    /// it away to scale in, 0 otherwise (housekeeping, standbys).
    pub fn direction(&self) -> i8 {
        match self {
            Action::Start { standby: false } | Action::Activate { .. } | Action::Resume { .. } => 1,
            Action::Drain {
                cause: DrainCause::ScaleIn,
                ..
            }
            | Action::Stop {
                cause: StopCause::ScaleIn,
                ..
            } => -1,
            _ => 0,
        }
    }
}

/// Everything [`plan`] looks at.
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// What `decide` said.
    pub decision: &'a Decision,
    /// Who is what, after [`Roster::sync`] with `listed`.
    pub roster: &'a Roster,
    /// What the engine lists.
    pub listed: &'a [Listed],
    /// The agents' latest reports.
    pub reports: &'a AgentRegistry,
    /// The pool's agent lifecycle settings.
    pub agents: &'a AgentsSpec,
    /// The id of the pool's current template.
    pub template: &'a str,
    /// Whether jetpool's own NATS connection works: otherwise every agent
    /// would look silent.
    pub nats_ok: bool,
    /// The engine could not be listed at the previous tick (its daemon
    /// stopped or restarted): agents that exited meanwhile were stopped by
    /// the outage, not crashed, so their replacements do not back off.
    pub engine_back: bool,
    /// The consumer's ack pending, to assume an average load for agents
    /// whose load is not reported.
    pub ack_pending: Option<u64>,
    /// Set for a job pool: one container per task, none ever stopped to
    /// scale in, none rolled, only `timeout` kills one.
    pub jobs: Option<JobRules>,
    /// Now.
    pub now: Timestamp,
}

/// The actions that move the pool toward `input.decision.desired` and keep
/// it healthy; see the [module docs](self) for the steps.
pub fn plan(input: &Input) -> Vec<Action> {
    steps::Planner::new(input).run()
}

#[cfg(test)]
mod tests;
