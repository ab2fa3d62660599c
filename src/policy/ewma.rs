//! The time arithmetic every estimator shares: seconds between two
//! timestamps and the weight of a time-aware EWMA sample. Its own module so
//! the estimators (`estimate`, `arrivals`) and the guardrails depend on it,
//! not on each other.

use jiff::Timestamp;

/// Seconds from `a` to `b` (negative if `b` is earlier).
pub fn secs_between(a: Timestamp, b: Timestamp) -> f64 {
    (b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0
}

/// Weight of a new sample covering `dt` seconds in an EWMA with time
/// constant `tau`: a sample's weight depends on the time it covers, so an
/// irregular observation cadence does not change what is estimated.
pub fn alpha(dt: f64, tau: f64) -> f64 {
    1.0 - (-dt / tau).exp()
}
