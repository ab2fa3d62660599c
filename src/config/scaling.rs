//! The `[pool.scaling]` table: the sizing model's knobs and the guardrails
//! around it. Every key has a default a production pool can start from.

use std::time::Duration;

use serde::Deserialize;

use super::{Problem, duration, problem};

/// Sizing knobs and guardrails of one pool.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    /// A backlog should be cleared within this time: the model adds
    /// `backlog / target_drain_time` to the arrival rate.
    #[serde(
        default = "d_target_drain_time",
        deserialize_with = "duration::required"
    )]
    pub target_drain_time: Duration,
    /// A lower need must hold this long before the pool scales in (the
    /// highest recommendation inside this window wins).
    #[serde(
        default = "d_scale_down_delay",
        deserialize_with = "duration::required"
    )]
    pub scale_down_delay: Duration,
    /// Target utilisation ρ of each agent, in (0, 1]: headroom against
    /// bursts between observations.
    #[serde(default = "d_target_utilization")]
    pub target_utilization: f64,
    /// Tasks one agent works on at once (its pull concurrency).
    #[serde(default = "d_concurrency")]
    pub concurrency: u32,
    /// Expected time to process one task; seeds the throughput estimate
    /// until completions have been measured.
    #[serde(default, deserialize_with = "duration::optional")]
    pub service_time: Option<Duration>,
    /// Expected time from container create to a working agent; the model
    /// forecasts demand this far ahead until start-ups have been measured.
    #[serde(default = "d_cold_start", deserialize_with = "duration::required")]
    pub cold_start: Duration,
    /// Metrics older than this are stale: the pool holds its count and
    /// never scales in blind.
    #[serde(default = "d_stale_after", deserialize_with = "duration::required")]
    pub stale_after: Duration,
}

const fn d_target_drain_time() -> Duration {
    Duration::from_secs(30)
}
const fn d_scale_down_delay() -> Duration {
    Duration::from_secs(60)
}
const fn d_target_utilization() -> f64 {
    0.8
}
const fn d_concurrency() -> u32 {
    1
}
const fn d_cold_start() -> Duration {
    Duration::from_secs(2)
}
const fn d_stale_after() -> Duration {
    Duration::from_secs(5)
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            target_drain_time: d_target_drain_time(),
            scale_down_delay: d_scale_down_delay(),
            target_utilization: d_target_utilization(),
            concurrency: d_concurrency(),
            service_time: None,
            cold_start: d_cold_start(),
            stale_after: d_stale_after(),
        }
    }
}

impl Scaling {
    /// Checks the knobs against each other and against the pool's bounds.
    pub(crate) fn validate(&self, _min: u32, _max: u32) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.target_drain_time < Duration::from_millis(100) {
            out.push(problem(
                &["scaling", "target_drain_time"],
                "target_drain_time must be at least 100ms",
            ));
        }
        if !(self.target_utilization > 0.0 && self.target_utilization <= 1.0) {
            out.push(problem(
                &["scaling", "target_utilization"],
                format!(
                    "target_utilization must be in (0, 1], got {}",
                    self.target_utilization
                ),
            ));
        }
        if self.concurrency == 0 {
            out.push(problem(
                &["scaling", "concurrency"],
                "concurrency must be at least 1",
            ));
        }
        if self.service_time == Some(Duration::ZERO) {
            out.push(problem(
                &["scaling", "service_time"],
                "service_time must be greater than 0",
            ));
        }
        if self.stale_after < Duration::from_millis(500) {
            out.push(problem(
                &["scaling", "stale_after"],
                "stale_after must be at least 500ms",
            ));
        }
        out
    }
}
