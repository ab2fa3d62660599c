//! The notable events of a pool's life, each a struct whose `emit` writes
//! its log line and moves its counter together (vector's `internal_events`
//! habit), so no event is logged without being counted or the reverse, and
//! a counter's label is always one of its enum's values. Those of compose
//! discovery and policy reloads are in `service`.

mod jobs;
mod service;

pub use jobs::JobEnded;
pub use service::{DiscoveryFailed, PoliciesReloaded, ReloadRefused, ServiceNotPooled};

use std::fmt::Display;
use std::time::Duration;

use metrics::counter;
use tracing::{debug, error, info, warn};

use super::labels::{
    DockerOp, DrainOutcome, HeldWork, ObserveReason, ReplaceReason, ReportRejected,
};

/// Counts one failed Docker call of a pool under `op`.
fn docker_error(pool: &str, op: DockerOp) {
    counter!("jetpool_docker_errors_total", "pool" => pool.to_string(), "op" => op.as_str())
        .increment(1);
}

/// The pool's containers could not be listed; it holds this tick.
pub struct ListFailed<'a> {
    /// The pool.
    pub pool: &'a str,
    /// What the engine said.
    pub error: &'a dyn Display,
}

impl ListFailed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        warn!(pool = %self.pool, error = %self.error, "cannot list containers; holding");
        docker_error(self.pool, DockerOp::List);
    }
}

/// An agent container could not be started; starts back off.
pub struct StartFailed<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
    /// What the engine said.
    pub error: &'a dyn Display,
    /// The delay before the next start.
    pub retry_in: Duration,
}

impl StartFailed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        error!(pool = %self.pool, agent = %self.agent, error = %self.error, retry_in = ?self.retry_in,
               "cannot start agent; backing off");
        docker_error(self.pool, DockerOp::Start);
    }
}

/// An agent container could not be stopped (or removed).
pub struct StopFailed<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
    /// What the engine said.
    pub error: &'a dyn Display,
}

impl StopFailed<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        error!(pool = %self.pool, agent = %self.agent, error = %self.error, "cannot stop agent");
        docker_error(self.pool, DockerOp::Stop);
    }
}

/// An agent's stats report was ignored. Logged at debug only: a flood of
/// bad reports must not become a flood of log lines; the counter shows it.
pub struct ReportIgnored<'a> {
    /// The pool whose subject it came on.
    pub pool: &'a str,
    /// Why.
    pub reason: ReportRejected,
}

impl ReportIgnored<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        debug!(pool = %self.pool, reason = self.reason.as_str(), "agent report ignored");
        counter!("jetpool_agent_reports_rejected_total", "pool" => self.pool.to_string(), "reason" => self.reason.as_str())
            .increment(1);
    }
}

/// A task arrived for a pool with no working agent: it decides now.
pub struct ArrivalWoke<'a> {
    /// The pool.
    pub pool: &'a str,
}

impl ArrivalWoke<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        debug!(pool = %self.pool, "a task arrived for an idle pool; deciding now");
        counter!("jetpool_arrival_wakes_total", "pool" => self.pool.to_string()).increment(1);
    }
}

/// An agent container started.
pub struct AgentStarted<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
    /// From the request to a started container.
    pub seconds: f64,
    /// Started as a warm standby.
    pub standby: bool,
}

impl AgentStarted<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        info!(pool = %self.pool, agent = %self.agent, seconds = self.seconds, standby = self.standby,
              "agent started");
        counter!("jetpool_containers_started_total", "pool" => self.pool.to_string()).increment(1);
    }
}

/// An agent container was stopped and removed.
pub struct AgentStopped<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
}

impl AgentStopped<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        info!(pool = %self.pool, agent = %self.agent, "agent stopped and removed");
        counter!("jetpool_containers_stopped_total", "pool" => self.pool.to_string()).increment(1);
    }
}

/// A crash loop: an agent exited soon after its start.
pub struct Crash {
    /// Consecutive crashes so far.
    pub failures: u32,
    /// The delay before the next start.
    pub next_start_in: Duration,
    /// Exits within this time of the start count as crashes.
    pub window: Duration,
}

/// An agent is replaced: it exited, is unhealthy, or fell silent.
pub struct AgentReplaced<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
    /// Why.
    pub reason: ReplaceReason,
    /// For an exit soon after the start: the crash loop's state.
    pub crash: Option<Crash>,
}

impl AgentReplaced<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        let (pool, agent) = (self.pool, self.agent);
        match (&self.crash, self.reason) {
            (Some(c), _) => {
                error!(pool = %pool, agent = %agent, crashes = c.failures, next_start_in = ?c.next_start_in,
                       "agent exited within {:?} of its start: the template is crash-looping; backing off",
                       c.window);
            }
            (None, ReplaceReason::Exited) => {
                warn!(pool = %pool, agent = %agent, "agent exited on its own; replacing it");
            }
            (None, reason) => {
                warn!(pool = %pool, agent = %agent, reason = reason.as_str(), "replacing agent");
            }
        }
        counter!("jetpool_agents_replaced_total", "pool" => pool.to_string(), "reason" => self.reason.as_str())
            .increment(1);
    }
}

/// An agent acknowledged a drain.
pub struct DrainStarted<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
    /// Tasks it held when it acknowledged.
    pub in_flight: u64,
}

impl DrainStarted<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        debug!(pool = %self.pool, agent = %self.agent, in_flight = self.in_flight, "drain acknowledged");
        let held = if self.in_flight > 0 {
            HeldWork::Yes
        } else {
            HeldWork::No
        };
        counter!("jetpool_drains_started_total", "pool" => self.pool.to_string(), "held_work" => held.as_str())
            .increment(1);
    }
}

/// A drain ended, one way or another.
pub struct DrainEnded<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
    /// How.
    pub outcome: DrainOutcome,
    /// Tasks the agent held when the drain began (for `drained`).
    pub held: u64,
    /// The agent's reason, for `refused`.
    pub why: Option<&'a str>,
}

impl DrainEnded<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        let (pool, agent) = (self.pool, self.agent);
        match self.outcome {
            DrainOutcome::Drained => {
                info!(pool = %pool, agent = %agent, held = self.held, "agent drained and exited")
            }
            DrainOutcome::Deadline => {
                warn!(pool = %pool, agent = %agent, "drain deadline passed; stopping the agent")
            }
            DrainOutcome::Refused => {
                warn!(pool = %pool, agent = %agent, reason = self.why.unwrap_or("no answer"),
                      "drain not acknowledged; stopping with the stop timeout")
            }
            DrainOutcome::Cancelled => {
                info!(pool = %pool, agent = %agent, "drain cancelled; agent working again")
            }
        }
        counter!("jetpool_drains_total", "pool" => pool.to_string(), "outcome" => self.outcome.as_str())
            .increment(1);
    }
}

/// A warm standby agent was activated instead of starting a container.
pub struct WarmActivated<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
}

impl WarmActivated<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        info!(pool = %self.pool, agent = %self.agent, "warm agent activated");
        counter!("jetpool_warm_activations_total", "pool" => self.pool.to_string()).increment(1);
    }
}

/// An agent of an older template is rolled out (drained or stopped, then
/// replaced from the current one).
pub struct AgentRolled<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The container name.
    pub agent: &'a str,
    /// Its template id.
    pub from: &'a str,
    /// The pool's current template id.
    pub to: &'a str,
}

impl AgentRolled<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        info!(pool = %self.pool, agent = %self.agent, from = %self.from, to = %self.to,
              "rolling an agent to the pool's current template");
        counter!("jetpool_replicas_rolled_total", "pool" => self.pool.to_string()).increment(1);
    }
}

/// A running pool took a new spec in place (a policy file or compose
/// label changed): its loop and all its state go on.
pub struct PoolUpdated<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The keys that changed.
    pub changes: &'a [&'static str],
    /// The new bounds.
    pub min: u32,
    /// The new bounds.
    pub max: u32,
}

impl PoolUpdated<'_> {
    /// Logs and counts the event.
    pub fn emit(&self) {
        info!(pool = %self.pool, changed = %self.changes.join(","), min = self.min, max = self.max,
              "pool updated in place; its loop and state go on");
        counter!("jetpool_pool_updates_total", "pool" => self.pool.to_string()).increment(1);
    }
}

/// A consumer read failed. Every failure is counted; the log line is
/// written when the reason changes (`first`), not on every tick.
pub struct ObserveFailed<'a> {
    /// The pool.
    pub pool: &'a str,
    /// Why, as a label.
    pub reason: ObserveReason,
    /// The error.
    pub error: &'a dyn Display,
    /// Whether this is the first failure of this reason in a row.
    pub first: bool,
}

impl ObserveFailed<'_> {
    /// Logs (on change) and counts the event.
    pub fn emit(&self) {
        if self.first {
            let (pool, e) = (self.pool, self.error);
            match self.reason {
                ObserveReason::StreamNotFound | ObserveReason::ConsumerNotFound => {
                    error!(pool = %pool, error = %e, "cannot read the consumer; the pool holds its count until it exists")
                }
                _ => {
                    warn!(pool = %pool, error = %e, "cannot read the consumer; metrics are stale, the pool will not scale in")
                }
            }
        }
        counter!("jetpool_observe_errors_total", "pool" => self.pool.to_string(), "reason" => self.reason.as_str())
            .increment(1);
    }
}

/// A trigger's reader could not read it; the pool will not scale in on it
/// until it reads again.
pub struct TriggerFailed<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The trigger's name (a label bounded by the policy files).
    pub trigger: &'a str,
    /// What went wrong.
    pub error: &'a dyn Display,
    /// Whether the previous read succeeded (log once per run of failures).
    pub first: bool,
}

impl TriggerFailed<'_> {
    /// Logs (on change) and counts the event.
    pub fn emit(&self) {
        if self.first {
            warn!(pool = %self.pool, trigger = %self.trigger, error = %self.error,
                  "cannot read a trigger; the pool will not scale in while it is blind");
        }
        counter!("jetpool_trigger_errors_total", "pool" => self.pool.to_string(), "trigger" => self.trigger.to_string())
            .increment(1);
    }
}

/// A trigger reads again after failing.
pub struct TriggerRecovered<'a> {
    /// The pool.
    pub pool: &'a str,
    /// The trigger's name.
    pub trigger: &'a str,
}

impl TriggerRecovered<'_> {
    /// Logs the event.
    pub fn emit(&self) {
        info!(pool = %self.pool, trigger = %self.trigger, "trigger reads again");
    }
}
