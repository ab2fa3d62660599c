//! The roster's events, each emitted here as its log line and its metric
//! together, so what the log says and what the dashboards count cannot
//! drift apart.

use tracing::{debug, error, info, warn};

use crate::observe::ObserveError;
use crate::policy::Decision;

use super::PoolRunner;
use crate::target::ScaleTarget;
use crate::observe::{AgentControl, MetricsSource};
use crate::plan::{Event, ReplaceReason};
use crate::telemetry;

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    /// Logs and counts each event.
    pub(super) fn emit(&mut self, events: Vec<Event>) {
        let pool = self.spec.name.clone();
        let pool = pool.as_str();
        for e in events {
            match e {
                Event::Adopted { name, role } => {
                    info!(pool, agent = %name, role, "adopted a running container")
                }
                Event::Started {
                    name,
                    seconds,
                    standby,
                } => {
                    telemetry::container_op(pool, true);
                    info!(pool, agent = %name, seconds, standby, "agent started");
                }
                Event::ColdStart { name, seconds } => {
                    self.cold_starts.0 += seconds;
                    self.cold_starts.1 += 1;
                    debug!(pool, agent = %name, seconds, "cold start measured (start request to first report)");
                }
                Event::StartFailed {
                    name,
                    error,
                    retry_in,
                } => {
                    telemetry::docker_error(pool, "start");
                    error!(pool, agent = %name, error = %error, retry_in = ?retry_in, "cannot start agent; backing off");
                }
                Event::Stopped { name } => {
                    telemetry::container_op(pool, false);
                    info!(pool, agent = %name, "agent stopped and removed");
                }
                Event::StopFailed { name, error } => {
                    telemetry::docker_error(pool, "stop");
                    error!(pool, agent = %name, error = %error, "cannot stop or remove agent; will retry");
                }
                Event::Draining { name, held } => {
                    info!(pool, agent = %name, held, "draining agent")
                }
                Event::DrainAcked { held, .. } => telemetry::drain_started(pool, held > 0),
                Event::DrainRefused { name, why } => {
                    telemetry::drain_outcome(pool, "refused");
                    warn!(pool, agent = %name, reason = %why, "drain not acknowledged; stopping with the stop timeout");
                }
                Event::Drained { name } => {
                    telemetry::drain_outcome(pool, "drained");
                    info!(pool, agent = %name, "agent drained and exited");
                }
                Event::DrainDeadline { name } => {
                    telemetry::drain_outcome(pool, "deadline");
                    warn!(pool, agent = %name, "drain deadline passed; stopping the agent");
                }
                Event::Resumed { name } => {
                    telemetry::drain_outcome(pool, "cancelled");
                    info!(pool, agent = %name, "drain cancelled; agent working again");
                }
                Event::Activated { name, ok: true } => {
                    telemetry::warm_activation(pool);
                    info!(pool, agent = %name, "warm agent activated");
                }
                Event::Activated { name, ok: false } => {
                    warn!(pool, agent = %name, "warm agent did not activate; treating it as a plain agent")
                }
                Event::Exited { name } => {
                    telemetry::agent_replaced(pool, ReplaceReason::Exited.as_str());
                    warn!(pool, agent = %name, "agent exited on its own; replacing it");
                }
                Event::Crashed {
                    name,
                    failures,
                    retry_in,
                } => {
                    telemetry::agent_replaced(pool, ReplaceReason::Exited.as_str());
                    error!(pool, agent = %name, crashes = failures, next_start_in = ?retry_in,
                           "agent exited within {:?} of its start: the template is crash-looping; backing off",
                           self.spec.agents.crash_window);
                }
                Event::Replaced { name, reason } => {
                    telemetry::agent_replaced(pool, reason.as_str());
                    warn!(pool, agent = %name, reason = reason.as_str(), "replacing agent");
                }
                Event::Rolled { name } => {
                    telemetry::replica_rolled(pool);
                    info!(pool, agent = %name, to = %self.spec.template.id(),
                          "rolling an agent to the pool's current template");
                }
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

/// Logs a failed consumer read (once per reason, by the caller).
pub(super) fn log_observe_error(pool: &str, e: &ObserveError) {
    match e {
        ObserveError::StreamNotFound { .. } | ObserveError::ConsumerNotFound { .. } => {
            error!(pool = %pool, error = %e, "cannot read the consumer; the pool holds its count until it exists")
        }
        _ => {
            warn!(pool = %pool, error = %e, "cannot read the consumer; metrics are stale, the pool will not scale in")
        }
    }
}
