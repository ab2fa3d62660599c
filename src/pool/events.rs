//! The roster's events, each emitted through its telemetry event, which
//! writes the log line and moves the counter together, so what the log
//! says and what the dashboards count cannot drift apart.

use tracing::{debug, info, warn};

use super::PoolRunner;
use crate::observe::{AgentControl, MetricsSource};
use crate::plan::Event;
use crate::policy::Decision;
use crate::target::ScaleTarget;
use crate::telemetry::events::{
    AgentReplaced, AgentRolled, AgentStarted, AgentStopped, Crash, DrainEnded, DrainStarted,
    JobEnded, StartFailed, StopFailed, WarmActivated,
};
use crate::telemetry::{DrainOutcome, ReplaceReason};

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    /// Logs and counts each event.
    pub(super) fn emit(&mut self, events: Vec<Event>) {
        let pool = self.spec.name.clone();
        let pool = pool.as_str();
        for e in events {
            let ended = |agent: &str, outcome, held, why: Option<&str>| {
                DrainEnded {
                    pool,
                    agent,
                    outcome,
                    held,
                    why,
                }
                .emit()
            };
            let replaced = |agent: &str, reason, crash| {
                AgentReplaced {
                    pool,
                    agent,
                    reason,
                    crash,
                }
                .emit()
            };
            match e {
                Event::Adopted { name, role } => {
                    info!(pool, agent = %name, role, "adopted a running container")
                }
                Event::Started {
                    name,
                    seconds,
                    standby,
                } => AgentStarted {
                    pool,
                    agent: &name,
                    seconds,
                    standby,
                }
                .emit(),
                Event::ColdStart {
                    name,
                    seconds,
                    requested,
                } => {
                    self.cold_starts.add(seconds, requested);
                    debug!(pool, agent = %name, seconds, "cold start measured (start request to first report)");
                }
                Event::StartFailed {
                    name,
                    error,
                    retry_in,
                } => StartFailed {
                    pool,
                    agent: &name,
                    error: &error,
                    retry_in,
                }
                .emit(),
                Event::Stopped { name } => AgentStopped { pool, agent: &name }.emit(),
                Event::StopFailed { name, error } => StopFailed {
                    pool,
                    agent: &name,
                    error: &error,
                }
                .emit(),
                Event::Draining { name, held } => {
                    info!(pool, agent = %name, held, "draining agent")
                }
                Event::DrainAcked { name, held } => DrainStarted {
                    pool,
                    agent: &name,
                    in_flight: held,
                }
                .emit(),
                Event::DrainRefused { name, why } => {
                    ended(&name, DrainOutcome::Refused, 0, Some(&why))
                }
                Event::Drained { name, held } => ended(&name, DrainOutcome::Drained, held, None),
                Event::DrainDeadline { name } => ended(&name, DrainOutcome::Deadline, 0, None),
                Event::Resumed { name } => ended(&name, DrainOutcome::Cancelled, 0, None),
                Event::Activated { name, ok: true } => WarmActivated { pool, agent: &name }.emit(),
                Event::Activated { name, ok: false } => {
                    warn!(pool, agent = %name, "warm agent did not activate; treating it as a plain agent")
                }
                Event::Exited { name } => replaced(&name, ReplaceReason::Exited, None),
                Event::Crashed {
                    name,
                    failures,
                    retry_in,
                } => replaced(
                    &name,
                    ReplaceReason::Exited,
                    Some(Crash {
                        failures,
                        next_start_in: retry_in,
                        window: self.spec.agents.crash_window,
                    }),
                ),
                Event::Replaced { name, reason } => replaced(&name, reason, None),
                Event::JobEnded {
                    name,
                    outcome,
                    exit_code,
                } => JobEnded {
                    pool,
                    agent: &name,
                    outcome,
                    exit_code,
                }
                .emit(),
                Event::Rolled { name } => AgentRolled {
                    pool,
                    agent: &name,
                    from: "an older template",
                    to: &self.spec.template.id(),
                }
                .emit(),
            }
        }
    }

    /// Logs a decision: at info when the count or the guardrail changed.
    pub(super) fn log_decision(&self, d: &Decision) {
        let changed = self
            .last
            .as_ref()
            .is_none_or(|l| l.desired != d.desired || l.limit != d.limit);
        let e = &d.estimates;
        let (pending, ack_pending) = self
            .consumer
            .latest
            .map_or((0, 0), |c| (c.pending, c.ack_pending));
        if changed {
            // One line per change, with every input the reason refers to,
            // so a log pipeline can replay why the pool moved.
            info!(pool = %self.spec.name, desired = d.desired, current = d.current, recommended = d.recommended,
                  demand = d.demand, min = d.min, max = d.max, limit = d.limit.as_str(),
                  pending, ack_pending, arrival_rate = e.arrival_rate, forecast_rate = e.forecast_rate,
                  service_time_s = e.service_time_s, per_agent_rate = e.per_agent_rate,
                  staleness_s = d.staleness_s, dry_run = self.options.dry_run, reason = %d.reason, "decision");
        } else {
            debug!(pool = %self.spec.name, desired = d.desired, current = d.current, reason = %d.reason, "decision");
        }
    }
}
