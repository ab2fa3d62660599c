//! The guardrails that need no memory beyond a number or two: tolerance,
//! the consumer's feed cap, activation and scale to zero, cooldown, the
//! step to zero, bounds, the budget, and the three overrides (stale,
//! paused, pinned). The windows and rate limits, which remember recent
//! history, are in [`stabilize`](super::stabilize) and [`rate`](super::rate).
//! The order they run in is documented and enforced in [`decide`](super::decide).

use crate::config::{Scaling, StaleFallback, format_duration};

use super::decision::{Limit, Trail};
use super::schedule::Bounds;
use super::sizing::Sizing;

/// Standard errors of counting noise the tolerance band covers at least.
const NOISE_Z: f64 = 2.0;

/// Keeps `previous` while the unrounded need is within the tolerance band
/// of it, so a need of 10.4 does not move a pool of 10 (the HPA's rule).
/// The band is `tolerance × previous` agents, or twice the need's own
/// standard error from counting noise if that is wider: at 2 tasks/s a
/// 30 s mean is only known to about ±9 %, and acting on differences the
/// estimates cannot resolve is what makes a small pool flap. From a few
/// tens of tasks per second on, `tolerance` rules.
pub(crate) fn tolerance(t: &mut Trail, s: &Scaling, z: &Sizing, previous: u32) {
    if previous == 0 {
        return;
    }
    let p = f64::from(previous);
    let band = (s.tolerance * p).max(NOISE_Z * z.load_sd);
    if (z.load - p).abs() <= band {
        t.bound(previous, Limit::Tolerance, |n| {
            format!("need {:.2} is within {band:.2} of {n}: kept", z.load)
        });
    }
}

/// Caps the count at what the consumer can feed: beyond
/// `max_ack_pending / concurrency` agents, deliveries stall.
pub(crate) fn feed_cap(t: &mut Trail, z: &Sizing) {
    if let Some(f) = z.feedable
        && t.value > f
    {
        t.bound(f, Limit::ConsumerLimit, |n| {
            format!("capped at {n} by the consumer's max_ack_pending")
        });
    }
}

/// What the zero gate decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Nothing special: the windows apply.
    Open,
    /// Idle long enough: heading to zero, past the windows.
    ToZero,
}

/// The clocks and trigger state the zero gate weighs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Waits<'a> {
    /// How long the pool has been idle, seconds.
    pub idle_for: Option<f64>,
    /// How long tasks have been pending without a break, seconds.
    pub waiting_for: Option<f64>,
    /// An active trigger's name: it wakes the pool and keeps it from idling.
    pub active: Option<&'a str>,
}

/// Activation from zero and scale to zero. A pool at zero starts when the
/// backlog exceeds `activation_backlog`, or when tasks have been pending
/// for `activation_timeout` (`waiting_for_s`), so a small batch never
/// waits for company forever. A running pool reaches zero only through
/// this rule: once idle (no backlog, nothing in flight, no arrivals) for
/// `scale_to_zero_after`; until then it keeps one agent. An active
/// trigger (KEDA's activation) wakes a pool at zero and keeps a running
/// one from counting as idle.
pub(crate) fn zero_gate(t: &mut Trail, s: &Scaling, z: &Sizing, previous: u32, w: Waits) -> Gate {
    let (idle_for_s, waiting_for_s) = (w.idle_for, w.waiting_for);
    if let Some(name) = w.active {
        if previous == 0 {
            t.note(format!("wakes: trigger {name} is active"));
        } else if t.value == 0 {
            t.bound(1, Limit::ScaleToZeroDelay, |_| {
                format!("keeping 1 while trigger {name} is active")
            });
        }
        return Gate::Open;
    }
    if previous == 0 {
        let waited = waiting_for_s.unwrap_or(0.0);
        let timed_out = z.backlog > 0 && waited >= s.activation_timeout.as_secs_f64();
        if timed_out && z.backlog <= s.activation_backlog {
            // The model may say 0 for a tiny backlog; the wait says 1.
            t.force(t.value.max(1), Limit::ActivationTimeout, |_| {
                format!(
                    "wakes: {} tasks pending for {waited:.0}s (activation_timeout {})",
                    z.backlog,
                    format_duration(s.activation_timeout)
                )
            });
        } else if z.backlog <= s.activation_backlog {
            t.bound(0, Limit::Activation, |_| {
                format!(
                    "stays at zero: backlog {} is not above activation_backlog {}",
                    z.backlog, s.activation_backlog
                )
            });
        }
        return Gate::Open;
    }
    let wait = s.scale_to_zero_after.as_secs_f64();
    match idle_for_s {
        Some(idle) if idle >= wait => {
            // Forced: the idle rule owns the count even when the model
            // already says 0, so the limit says why the pool is leaving.
            t.force(0, Limit::ScaleToZero, |_| {
                format!(
                    "idle for {idle:.0}s (scale_to_zero_after {}): to zero",
                    format_duration(s.scale_to_zero_after)
                )
            });
            Gate::ToZero
        }
        _ => {
            if t.value == 0 {
                t.bound(1, Limit::ScaleToZeroDelay, |_| {
                    format!(
                        "keeping 1 until idle for {} (idle {:.0}s)",
                        format_duration(s.scale_to_zero_after),
                        idle_for_s.unwrap_or(0.0)
                    )
                });
            }
            Gate::Open
        }
    }
}

/// Holds the count for `cooldown` after the last change.
pub(crate) fn cooldown(t: &mut Trail, s: &Scaling, since_change_s: Option<f64>, previous: u32) {
    if let Some(since) = since_change_s
        && since < s.cooldown.as_secs_f64()
    {
        t.bound(previous, Limit::Cooldown, |n| {
            format!(
                "held at {n}: last change {since:.0}s ago, cooldown {}",
                format_duration(s.cooldown)
            )
        });
    }
}

/// The stale-metrics fallback: never scale in blind. `hold` keeps the
/// larger of the last decision and what runs; `fixed` raises to
/// `stale_replicas` if that is larger still.
pub(crate) fn stale(t: &mut Trail, s: &Scaling, previous: u32, current: u32) {
    let hold = previous.max(current);
    let n = match (s.stale_fallback, s.stale_replicas) {
        (StaleFallback::Fixed, Some(r)) => hold.max(r),
        _ => hold,
    };
    t.force(n, Limit::Stale, |n| {
        format!("fallback {n} (never scale in blind)")
    });
}

/// `paused = true`: keep the count last decided, whatever the model says.
/// The last decision, not what runs now: an agent that exits while the
/// pool is paused is replaced, as a paused HPA's Deployment still
/// replaces its pods; a pause stops scaling, not healing.
pub(crate) fn paused(t: &mut Trail, previous: u32) {
    t.force(previous, Limit::Paused, |n| format!("paused: holding {n}"));
}

/// `pinned = N`: the count is N, whatever the model says.
pub(crate) fn pinned(t: &mut Trail, n: u32) {
    t.force(n, Limit::Pinned, |n| format!("pinned at {n}"));
}

/// Never from N to 0 in one decision: a pool running (or last told to run)
/// more than one agent stops at 1 first; the next decision may take it to
/// 0. Bounds and the budget come later and can still go lower.
pub(crate) fn step_to_zero(t: &mut Trail, previous: u32, current: u32) {
    if t.value == 0 && previous.max(current) > 1 {
        t.bound(1, Limit::StepToZero, |_| {
            "stopping at 1 on the way to zero".to_string()
        });
    }
}

/// Clamps to the bounds in force (schedule windows included).
pub(crate) fn bounds(t: &mut Trail, b: &Bounds) {
    if t.value > b.max {
        let (limit, what) = if b.max_scheduled {
            (Limit::ScheduleMax, "scheduled max")
        } else {
            (Limit::Max, "max")
        };
        t.bound(b.max, limit, |n| format!("capped by {what} {n}"));
    } else if t.value < b.min {
        let (limit, what) = if b.min_scheduled {
            (Limit::ScheduleMin, "scheduled min")
        } else {
            (Limit::Min, "min")
        };
        t.bound(b.min, limit, |n| format!("raised to {what} {n}"));
    }
}

/// Caps at the pool's grant from the global budget.
pub(crate) fn budget(t: &mut Trail, grant: Option<u32>) {
    if let Some(g) = grant
        && t.value > g
    {
        t.bound(g, Limit::Budget, |n| {
            format!("capped at {n} by the global agent budget")
        });
    }
}
