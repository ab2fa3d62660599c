//! What comes back from the actions: the [`Outcome`] of each background
//! operation, and the [`Event`]s the roster announces as it changes, for
//! the log and the metrics.

use std::time::Duration;

use jiff::Timestamp;

use super::ContainerId;
use crate::protocol::Reply;
use crate::telemetry::JobOutcome;
pub use crate::telemetry::ReplaceReason;

/// How a background operation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A start finished: the container's id, or why it failed.
    Started {
        /// The container's name, as recorded by [`Roster::starting`](super::Roster::starting).
        name: String,
        /// Its id, or the engine's reason.
        result: Result<ContainerId, String>,
    },
    /// A stop and removal (or the removal of an exited container) finished.
    Stopped {
        /// The container.
        id: ContainerId,
        /// Whether it worked, with the engine's reason if not.
        result: Result<(), String>,
    },
    /// An agent answered a drain request; `None` if it did not answer.
    DrainAnswered {
        /// The container.
        id: ContainerId,
        /// Its answer.
        reply: Option<Reply>,
    },
    /// An agent answered a resume request.
    Resumed {
        /// The container.
        id: ContainerId,
        /// Its answer.
        reply: Option<Reply>,
    },
    /// A standby answered an activation.
    Activated {
        /// The container.
        id: ContainerId,
        /// Its answer.
        reply: Option<Reply>,
    },
}

/// Something that happened to a pool's containers worth a log line and a
/// metric. The roster announces them; the loop's telemetry emits them.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A container a previous jetpool (or compose) made is now a member.
    Adopted {
        /// Container name.
        name: String,
        /// The role it was given.
        role: &'static str,
    },
    /// An agent started by this process is up.
    Started {
        /// Container name.
        name: String,
        /// Start request to a running container, seconds.
        seconds: f64,
        /// As a warm standby.
        standby: bool,
    },
    /// An agent's measured cold start: start request to its first report
    /// (or to its start, for agents that never report).
    ColdStart {
        /// Container name.
        name: String,
        /// Seconds.
        seconds: f64,
        /// When the start was asked for.
        requested: Timestamp,
    },
    /// A start failed; starts back off.
    StartFailed {
        /// Container name.
        name: String,
        /// The engine's reason.
        error: String,
        /// Delay before the next start.
        retry_in: Duration,
    },
    /// A container was stopped and removed.
    Stopped {
        /// Container name.
        name: String,
    },
    /// A stop or removal failed; it is retried.
    StopFailed {
        /// Container name.
        name: String,
        /// The engine's reason.
        error: String,
    },
    /// A drain was requested.
    Draining {
        /// Container name.
        name: String,
        /// Tasks it held by its last report.
        held: u64,
    },
    /// The agent acknowledged its drain.
    DrainAcked {
        /// Container name.
        name: String,
        /// Tasks it holds.
        held: u64,
    },
    /// The agent did not acknowledge its drain: it is stopped instead.
    DrainRefused {
        /// Container name.
        name: String,
        /// Its reason, or "no answer".
        why: String,
    },
    /// A drained agent exited.
    Drained {
        /// Container name.
        name: String,
        /// Tasks it held when the drain began.
        held: u64,
    },
    /// A drain outlived its deadline: the agent is stopped.
    DrainDeadline {
        /// Container name.
        name: String,
    },
    /// A drain was cancelled: demand came back.
    Resumed {
        /// Container name.
        name: String,
    },
    /// A standby was activated (or did not answer and is taken as working).
    Activated {
        /// Container name.
        name: String,
        /// Whether it answered yes.
        ok: bool,
    },
    /// An agent exited on its own and is replaced.
    Exited {
        /// Container name.
        name: String,
    },
    /// An agent exited soon after its start: starts back off.
    Crashed {
        /// Container name.
        name: String,
        /// Consecutive failures.
        failures: u32,
        /// Delay before the next start.
        retry_in: Duration,
    },
    /// A running agent is replaced (unhealthy or silent).
    Replaced {
        /// Container name.
        name: String,
        /// Why.
        reason: ReplaceReason,
    },
    /// An agent of an older template is being retired.
    Rolled {
        /// Container name.
        name: String,
    },
    /// A job of a job pool ended (or was killed at its timeout).
    JobEnded {
        /// Container name.
        name: String,
        /// How.
        outcome: JobOutcome,
        /// Its exit code, when the engine said.
        exit_code: Option<i64>,
    },
}

impl Outcome {
    /// The container and the agent's answer, for the protocol outcomes.
    pub fn reply(&self) -> Option<(&ContainerId, Option<&Reply>)> {
        match self {
            Outcome::DrainAnswered { id, reply }
            | Outcome::Resumed { id, reply }
            | Outcome::Activated { id, reply } => Some((id, reply.as_ref())),
            Outcome::Started { .. } | Outcome::Stopped { .. } => None,
        }
    }
}
