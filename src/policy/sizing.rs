//! The sizing model: Little's law with a backlog term.
//!
//! `agents = ceil(max(λ / (μ·ρ), (λ + B/T) / μ))` where λ is the arrival
//! rate expected when a new agent would be ready (trend over the cold
//! start), B the backlog, T the target drain time, μ = k / S the per-agent
//! throughput (k = concurrency, S = service time) and ρ the target
//! utilisation; never below what holds the work already in flight.
//!
//! This is the textbook `ceil((λ + B/T) / (μ·ρ))` with one refinement: ρ
//! is headroom for the randomness of arrivals into an empty queue, and
//! while a backlog exists every agent is busy anyway, so the backlog is
//! drained at full throughput. Without it a queue of a few tasks, which a
//! pool at ρ = 0.8 clears in seconds, asked for one more agent (and a
//! minute later gave it back), the flapping near an empty queue this
//! project exists to avoid; for a burst it sizes the drain at exactly T.
//!
//! Monotone non-decreasing in B with everything else fixed: every term is.

use crate::config::Scaling;

use super::estimate::Estimates;
use super::observation::{AgentStats, ConsumerStats};

/// The model's inputs and outputs for one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sizing {
    /// Pending tasks B.
    pub backlog: u64,
    /// Tasks held by agents right now (agent reports, else ack pending).
    pub in_flight: u64,
    /// Agents needed for the forecast arrivals plus the backlog, unrounded:
    /// the number the tolerance band compares with.
    pub load: f64,
    /// `ceil(load)`.
    pub need: u32,
    /// Standard error of `load` from counting noise in λ and S, agents.
    pub load_sd: f64,
    /// Agents needed to keep the in-flight work, at most the previous count:
    /// in-flight work is already held, so it never calls for new agents,
    /// but agents holding it must not be removed.
    pub hold: u32,
    /// The model's recommendation: `max(need, hold)`.
    pub recommended: u32,
    /// Most agents the consumer can keep busy (`max_ack_pending / k`).
    pub feedable: Option<u32>,
}

/// Rounds a non-negative agent count up; infinite loads saturate.
fn ceil_u32(x: f64) -> u32 {
    // `as` saturates at u32::MAX and maps NaN to 0, both safe here.
    x.max(0.0).ceil() as u32
}

/// Runs the model on one consumer snapshot. `previous` is the count the
/// pool was last told to run.
pub(crate) fn size(
    s: &Scaling,
    est: &Estimates,
    c: &ConsumerStats,
    agents: Option<&AgentStats>,
    previous: u32,
) -> Sizing {
    let k = f64::from(s.concurrency.max(1));
    let backlog = c.pending;
    let drain = backlog as f64 / s.target_drain_time.as_secs_f64().max(1e-3);
    let mu = est.per_agent_rate.max(1e-9);
    let steady = est.forecast_rate / (mu * s.target_utilization);
    let draining = (est.forecast_rate + drain) / mu;
    let load = steady.max(draining);
    let load_sd =
        (est.arrival_rate_sd / (mu * s.target_utilization)).hypot(steady * est.service_time_rsd);
    let need = ceil_u32(load);
    // Agents' own counts are exact; the consumer's ack pending also holds
    // tasks of agents that died, which no live agent needs to keep.
    let in_flight = match agents {
        Some(a) if a.reporting > 0 => a.in_flight,
        _ => c.ack_pending,
    };
    let hold = ceil_u32(in_flight as f64 / k).min(previous);
    let feedable = c.max_ack_pending.map(|m| ceil_u32(m as f64 / k).max(1));
    Sizing {
        backlog,
        in_flight,
        load,
        need,
        load_sd,
        hold,
        recommended: need.max(hold),
        feedable,
    }
}

impl Sizing {
    /// The model's part of the reason line.
    pub fn describe(&self, est: &Estimates) -> String {
        format!(
            "backlog {}, in flight {}, {:.1}/s in (forecast {:.1}/s), {:.2}/s per agent{} -> {}{}",
            self.backlog,
            self.in_flight,
            est.arrival_rate,
            est.forecast_rate,
            est.per_agent_rate,
            if est.service_time_measured {
                ""
            } else {
                " (assumed)"
            },
            self.recommended,
            if self.hold > self.need {
                format!(" (in-flight work needs {})", self.hold)
            } else {
                String::new()
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(rate: f64, per_agent: f64) -> Estimates {
        Estimates {
            arrival_rate: rate,
            forecast_rate: rate,
            per_agent_rate: per_agent,
            service_time_s: 1.0 / per_agent,
            ..Default::default()
        }
    }

    fn stats(pending: u64, ack_pending: u64) -> ConsumerStats {
        ConsumerStats {
            pending,
            ack_pending,
            ..Default::default()
        }
    }

    #[test]
    fn littles_law_with_backlog() {
        let s = Scaling::default();
        // Steady: 35 / (4.1 * 0.8) = 10.7 -> 11.
        let z = size(&s, &est(35.0, 4.1), &stats(0, 0), None, 0);
        assert_eq!(z.need, 11);
        // Draining: (35 + 1200/20) / 4.1 = 23.2 -> 24.
        let z = size(&s, &est(35.0, 4.1), &stats(1200, 0), None, 0);
        assert_eq!(z.need, 24);
        // A small queue is drained by the steady headroom.
        let z = size(&s, &est(35.0, 4.1), &stats(30, 0), None, 0);
        assert_eq!(z.need, 11);
    }

    #[test]
    fn in_flight_holds_agents_but_never_adds_them() {
        let s = Scaling::default();
        // Nothing arrives, 6 tasks in flight: keep the 6 agents holding them...
        let z = size(&s, &est(0.0, 1.0), &stats(0, 6), None, 8);
        assert_eq!((z.need, z.hold, z.recommended), (0, 6, 6));
        // ...but ask for no more than the pool already has.
        let z = size(&s, &est(0.0, 1.0), &stats(0, 6), None, 2);
        assert_eq!(z.recommended, 2);
    }

    #[test]
    fn feedable_is_max_ack_pending_over_concurrency() {
        let s = Scaling {
            concurrency: 4,
            ..Default::default()
        };
        let mut c = stats(0, 0);
        c.max_ack_pending = Some(10);
        assert_eq!(size(&s, &est(0.0, 1.0), &c, None, 0).feedable, Some(3));
    }
}
