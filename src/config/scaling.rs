//! The `[pool.scaling]` table: the sizing model's knobs and the guardrails
//! around it. Every key has a default a production pool can start from, and
//! the defaults add no delay to scale-up: the next tick acts. The ranges
//! each key must be in are checked by
//! [`policy::validate`](crate::policy::validate).

use std::time::Duration;

use serde::Deserialize;

use super::duration;
use super::rate_limit::{RateLimit, Select};

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
    /// A queue-wait objective W: instead of draining every backlog, keep
    /// one of about `λ·W` tasks, so agents never wait for work while tasks
    /// wait at most about W. Unset (the default): drain to an empty queue.
    #[serde(default, deserialize_with = "duration::optional")]
    pub target_wait: Option<Duration>,
    /// The wait objective: `wait_slo_quantile` of tasks should start
    /// within this time of their arrival. Set, it derives the standing
    /// queue, the down window and the drain time from the measured cold
    /// start at each decision (see `policy::slo`), and sizes the pool from
    /// the oldest pending task's age once that nears the SLO.
    #[serde(default, deserialize_with = "duration::optional")]
    pub wait_slo: Option<Duration>,
    /// The share of tasks `wait_slo` covers, in [0.5, 0.99999].
    #[serde(default = "d_wait_slo_quantile")]
    pub wait_slo_quantile: f64,
    /// Target utilisation ρ of each agent, in (0, 1]: headroom against
    /// bursts between observations.
    #[serde(default = "d_target_utilization")]
    pub target_utilization: f64,
    /// Tasks one agent works on at once (its pull concurrency), for agents
    /// that do not report their `capacity` over the agent protocol; the
    /// reported capacity replaces it as soon as agents report.
    #[serde(default = "d_concurrency")]
    pub concurrency: u32,
    /// Expected time to process one task; seeds the throughput estimate
    /// until completions have been measured.
    #[serde(default, deserialize_with = "duration::optional")]
    pub service_time: Option<Duration>,
    /// Expected time from container create to a working agent; the model
    /// forecasts demand this far ahead until start-ups have been measured
    /// ([`Scaling::cold_start_hint`]). Unset, a `wait_slo` pool assumes a
    /// long one until it measures one (see `policy::slo`).
    #[serde(default, deserialize_with = "duration::optional")]
    pub cold_start: Option<Duration>,
    /// Keep the current count while the model's need is within this
    /// fraction of it (`|need / current - 1| <= tolerance`), against jitter.
    #[serde(default = "d_tolerance")]
    pub tolerance: f64,
    /// Scale-up stabilisation window: the lowest recommendation inside it
    /// wins. 0 reacts at the next tick.
    #[serde(default = "d_zero", deserialize_with = "duration::required")]
    pub scale_up_delay: Duration,
    /// Scale-down stabilisation window: the highest recommendation inside
    /// it wins, so a lower need must hold this long before the pool shrinks.
    /// Unset: 60 s, or derived from `wait_slo` when that is set (see
    /// [`Scaling::scale_down_delay`]).
    #[serde(default, deserialize_with = "duration::optional")]
    pub scale_down_delay: Option<Duration>,
    /// Rate limits on scale-up, per period (none: the model and `max` decide).
    #[serde(default)]
    pub scale_up_limits: Vec<RateLimit>,
    /// Which scale-up limit applies when several are set.
    #[serde(default)]
    pub scale_up_select: Select,
    /// Rate limits on scale-down, per period (none: the window decides).
    #[serde(default)]
    pub scale_down_limits: Vec<RateLimit>,
    /// Which scale-down limit applies when several are set.
    #[serde(default)]
    pub scale_down_select: Select,
    /// After any change of the count, hold it this long.
    #[serde(default = "d_zero", deserialize_with = "duration::required")]
    pub cooldown: Duration,
    /// With `min = 0`, the pool scales to zero once it has been idle (no
    /// backlog, nothing in flight, no arrivals) this long.
    #[serde(
        default = "d_scale_to_zero_after",
        deserialize_with = "duration::required"
    )]
    pub scale_to_zero_after: Duration,
    /// A pool at zero starts only when more than this many tasks are pending.
    #[serde(default)]
    pub activation_backlog: u64,
    /// A pool at zero also starts once tasks have been pending this long,
    /// however few: `activation_backlog` batches work, it never strands it.
    #[serde(
        default = "d_activation_timeout",
        deserialize_with = "duration::required"
    )]
    pub activation_timeout: Duration,
    /// Metrics older than this are stale: the fallback applies and the
    /// pool never scales in blind.
    #[serde(default = "d_stale_after", deserialize_with = "duration::required")]
    pub stale_after: Duration,
    /// What to run while metrics are stale or failing.
    #[serde(default)]
    pub stale_fallback: StaleFallback,
    /// With `stale_fallback = "fixed"`: the count to raise the pool to while
    /// blind (a larger current count is kept).
    #[serde(default)]
    pub stale_replicas: Option<u32>,
}

/// What the pool runs while its metrics are stale or failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StaleFallback {
    /// Keep the current count.
    #[default]
    Hold,
    /// Raise the pool to `stale_replicas` (never lower it).
    Fixed,
}

/// 20 s: a burst is drained within 20 s, which leaves room for a cold start
/// and a tick inside a 30 s wait objective; 30 s put the tail of large
/// bursts at the objective's edge and cost no less.
const fn d_target_drain_time() -> Duration {
    Duration::from_secs(20)
}
/// 60 s: with the 30 s arrival mean and the noise-aware tolerance, a
/// shorter window saves a few percent of agent time on bursty traces but
/// lets a small pool near an empty queue flap again every few minutes.
pub const DEFAULT_SCALE_DOWN_DELAY: Duration = Duration::from_secs(60);
/// 15 s: an idle agent costs an agent-second per second, a restart about
/// one cold start; waiting a few cold starts' worth avoids churn on short
/// gaps without paying for long ones (KEDA's 300 s pays for five minutes).
const fn d_scale_to_zero_after() -> Duration {
    Duration::from_secs(15)
}
/// 60 s: long enough for a batch to gather behind `activation_backlog`,
/// short enough that a lone task is not forgotten.
const fn d_activation_timeout() -> Duration {
    Duration::from_secs(60)
}
const fn d_zero() -> Duration {
    Duration::ZERO
}
const fn d_target_utilization() -> f64 {
    0.8
}
const fn d_wait_slo_quantile() -> f64 {
    0.99
}
const fn d_tolerance() -> f64 {
    0.1
}
const fn d_concurrency() -> u32 {
    1
}
/// The cold start assumed, unless set, until one is measured.
pub const DEFAULT_COLD_START: Duration = Duration::from_secs(2);
const fn d_stale_after() -> Duration {
    Duration::from_secs(5)
}

impl Scaling {
    /// The scale-down window in force: the configured one, else the
    /// 60 s default. (A `wait_slo` pool's decision fills it in from the
    /// SLO and the measured cold start before it gets here.)
    pub fn scale_down_delay(&self) -> Duration {
        self.scale_down_delay.unwrap_or(DEFAULT_SCALE_DOWN_DELAY)
    }

    /// The cold start the forecast looks ahead by until one is measured:
    /// the configured one, else [`DEFAULT_COLD_START`].
    pub fn cold_start_hint(&self) -> Duration {
        self.cold_start.unwrap_or(DEFAULT_COLD_START)
    }
}

impl Default for Scaling {
    fn default() -> Self {
        Scaling {
            target_drain_time: d_target_drain_time(),
            target_wait: None,
            wait_slo: None,
            wait_slo_quantile: d_wait_slo_quantile(),
            target_utilization: d_target_utilization(),
            concurrency: d_concurrency(),
            service_time: None,
            cold_start: None,
            tolerance: d_tolerance(),
            scale_up_delay: d_zero(),
            scale_down_delay: None,
            scale_up_limits: Vec::new(),
            scale_up_select: Select::Max,
            scale_down_limits: Vec::new(),
            scale_down_select: Select::Max,
            cooldown: d_zero(),
            scale_to_zero_after: d_scale_to_zero_after(),
            activation_backlog: 0,
            activation_timeout: d_activation_timeout(),
            stale_after: d_stale_after(),
            stale_fallback: StaleFallback::Hold,
            stale_replicas: None,
        }
    }
}
