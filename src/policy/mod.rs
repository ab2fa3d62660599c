//! The pure decision core: [`decide`] turns a policy, the pool's memory and
//! one observation into the number of agents the pool should run, with the
//! guardrail that bounded it and a reason a person can read.
//!
//! Nothing here performs I/O or reads a clock: time is an argument, so the
//! live loop and the simulator run exactly the same code, and the same inputs
//! always give the same decisions.

pub mod estimate;
pub mod observation;

use std::collections::VecDeque;
use std::time::Duration;

use jiff::Timestamp;

pub use estimate::{Estimates, Estimator};
pub use observation::{AgentStats, ConsumerStats, Observation, Replicas};

use crate::config::Scaling;
use estimate::secs_between;

/// Bounds and knobs of one pool, as validated from its policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Fewest agents the pool runs.
    pub min: u32,
    /// Most agents the pool runs.
    pub max: u32,
    /// Observation cadence.
    pub interval: Duration,
    /// Sizing knobs and guardrails.
    pub scaling: Scaling,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min: 0,
            max: 10,
            interval: Duration::from_secs(1),
            scaling: Scaling::default(),
        }
    }
}

/// Which rule set the final count, when it was not the model alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The model's number stood.
    None,
    /// Raised to the pool's minimum.
    Min,
    /// Lowered to the pool's maximum.
    Max,
    /// Metrics are stale or failing: holding the current count.
    Stale,
    /// A lower need has not yet held for the scale-down delay.
    ScaleDownDelay,
    /// Capped by what the consumer can feed (max_ack_pending).
    ConsumerLimit,
}

impl Limit {
    /// A fixed, bounded label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::None => "none",
            Limit::Min => "min",
            Limit::Max => "max",
            Limit::Stale => "stale",
            Limit::ScaleDownDelay => "scale_down_delay",
            Limit::ConsumerLimit => "consumer_limit",
        }
    }
}

/// The outcome of one [`decide`] call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    /// Agents the pool should run.
    pub desired: u32,
    /// What the sizing model asked for before guardrails.
    pub recommended: u32,
    /// Agents counted as current (ready + starting).
    pub current: u32,
    /// The guardrail that set `desired`, if any.
    pub limit: Limit,
    /// The estimates the model used.
    pub estimates: Estimates,
    /// Age of the consumer metrics, seconds (infinite if never read).
    pub staleness_s: f64,
    /// One line a person can read: inputs, model, guardrail.
    pub reason: String,
}

/// What the decision core remembers about one pool between ticks. Owned by
/// the pool's task (or the simulator); nothing else mutates it.
#[derive(Debug, Clone, Default)]
pub struct PoolState {
    /// Rate and service-time estimates.
    pub estimator: Estimator,
    /// Recent recommendations, newest last, for the scale-down window.
    recommendations: VecDeque<(Timestamp, u32)>,
    /// The consumer snapshot last folded into the estimator.
    last_folded: Option<Timestamp>,
}

/// Decides how many agents the pool should run at `now`.
///
/// Mutates only `state` (estimators and windows); performs no I/O.
pub fn decide(
    policy: &Policy,
    state: &mut PoolState,
    obs: &Observation,
    now: Timestamp,
) -> Decision {
    let s = &policy.scaling;
    let current = obs.replicas.current();
    if let Some(c) = &obs.consumer
        && state.last_folded.is_none_or(|t| c.at > t)
    {
        state
            .estimator
            .update(c, obs.agents.as_ref(), obs.cold_start_s);
        state.last_folded = Some(c.at);
    }
    let est = state.estimator.estimates(
        s.concurrency,
        s.service_time.map(|d| d.as_secs_f64()),
        s.cold_start.as_secs_f64(),
    );
    let staleness = obs
        .consumer
        .map_or(f64::INFINITY, |c| secs_between(c.at, now).max(0.0));
    let stale = obs.failure.is_some() || staleness > s.stale_after.as_secs_f64();

    let Some(c) = obs.consumer.filter(|_| !stale) else {
        // Blind: hold what runs (within bounds), never scale in on old data.
        let desired = current.clamp(policy.min, policy.max.max(policy.min));
        let why = obs
            .failure
            .clone()
            .unwrap_or_else(|| format!("metrics {staleness:.1}s old"));
        return Decision {
            desired,
            recommended: current,
            current,
            limit: Limit::Stale,
            estimates: est,
            staleness_s: staleness,
            reason: format!("{why}: holding {desired} (never scale in blind)"),
        };
    };

    // The sizing model: serve the forecast arrival rate plus the backlog
    // within the target drain time, at the target utilisation.
    let k = f64::from(s.concurrency.max(1));
    let backlog = c.pending as f64;
    let demand = est.forecast_rate + backlog / s.target_drain_time.as_secs_f64();
    let load = demand * est.service_time_s / (k * s.target_utilization);
    // Tiny residual rates (an EWMA decaying after the last arrival) must not
    // pin an agent forever.
    let need = if load < 0.05 && backlog == 0.0 {
        0
    } else {
        load.ceil() as u32
    };
    let hold = (c.ack_pending as f64 / k).ceil() as u32;
    let mut recommended = need.max(hold);
    if backlog > 0.0 {
        recommended = recommended.max(1);
    }
    let mut limit = Limit::None;
    let mut desired = recommended;
    if let Some(mp) = c.max_ack_pending {
        let feedable = ((mp as f64) / k).ceil() as u32;
        if desired > feedable {
            desired = feedable.max(1);
            limit = Limit::ConsumerLimit;
        }
    }

    // Scale-down window: the highest recommendation inside it wins.
    let window = s.scale_down_delay.as_secs_f64();
    state.recommendations.push_back((now, desired));
    while let Some(&(t, _)) = state.recommendations.front() {
        if secs_between(t, now) > window {
            state.recommendations.pop_front();
        } else {
            break;
        }
    }
    if desired < current {
        let held = state
            .recommendations
            .iter()
            .map(|&(_, r)| r)
            .max()
            .unwrap_or(desired)
            .min(current);
        if held > desired {
            desired = held;
            limit = Limit::ScaleDownDelay;
        }
    }

    if desired > policy.max {
        desired = policy.max;
        limit = Limit::Max;
    }
    if desired < policy.min {
        desired = policy.min;
        limit = Limit::Min;
    }

    let reason = format!(
        "backlog {}, in flight {}, {:.1}/s in (forecast {:.1}/s), {:.2}/s per agent{} -> {}{}",
        c.pending,
        c.ack_pending,
        est.arrival_rate,
        est.forecast_rate,
        est.per_agent_rate,
        if est.service_time_measured {
            ""
        } else {
            " (assumed)"
        },
        recommended,
        match limit {
            Limit::None => String::new(),
            Limit::Min => format!("; raised to min {}", policy.min),
            Limit::Max => format!("; capped by max {}", policy.max),
            Limit::ScaleDownDelay => format!(
                "; holding {desired} until the lower need lasts {}",
                crate::config::format_duration(s.scale_down_delay)
            ),
            Limit::ConsumerLimit =>
                format!("; capped at {desired} by the consumer's max_ack_pending"),
            Limit::Stale => String::new(),
        }
    );
    Decision {
        desired,
        recommended,
        current,
        limit,
        estimates: est,
        staleness_s: staleness,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: i64) -> Timestamp {
        Timestamp::from_millisecond(1_700_000_000_000 + ms).unwrap()
    }

    fn obs(at_ms: i64, pending: u64, ack_pending: u64, delivered: u64, ready: u32) -> Observation {
        Observation {
            consumer: Some(ConsumerStats {
                at: ts(at_ms),
                pending,
                ack_pending,
                delivered_consumer_seq: delivered,
                ..Default::default()
            }),
            replicas: Replicas {
                ready,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn burst_scales_out_within_max() {
        let p = Policy {
            max: 8,
            ..Default::default()
        };
        let mut st = PoolState::default();
        let d = decide(&p, &mut st, &obs(0, 400, 0, 0, 0), ts(0));
        assert_eq!(d.desired, 8);
        assert_eq!(d.limit, Limit::Max);
    }

    #[test]
    fn stale_metrics_hold_current() {
        let p = Policy::default();
        let mut st = PoolState::default();
        let d = decide(&p, &mut st, &obs(0, 0, 0, 0, 5), ts(60_000));
        assert_eq!(d.desired, 5);
        assert_eq!(d.limit, Limit::Stale);
    }

    #[test]
    fn empty_queue_waits_for_scale_down_delay() {
        let mut p = Policy::default();
        p.scaling.scale_down_delay = Duration::from_secs(10);
        let mut st = PoolState::default();
        let d = decide(&p, &mut st, &obs(0, 100, 4, 4, 4), ts(0));
        assert!(d.desired >= 4);
        let d = decide(&p, &mut st, &obs(5_000, 0, 0, 104, 4), ts(5_000));
        assert_eq!(d.desired, 4, "{}", d.reason);
        let mut last = d;
        for i in 6..30 {
            last = decide(&p, &mut st, &obs(i * 1000, 0, 0, 104, 4), ts(i * 1000));
        }
        assert_eq!(last.desired, 0, "{}", last.reason);
    }
}
