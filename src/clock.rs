//! The live loop's clock: wall-clock time anchored once at start and
//! advanced by tokio's monotonic clock, so an NTP step cannot make a
//! stabilisation window jump, and tests with paused tokio time control it.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::time::Instant;

/// A monotonic clock that reads as wall-clock timestamps.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Wall-clock time at `mono`.
    wall: Timestamp,
    /// The monotonic instant the clock was anchored at.
    mono: Instant,
}

impl Clock {
    /// Anchors a clock at the current time.
    pub fn new() -> Self {
        Clock {
            wall: Timestamp::now(),
            mono: Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        let elapsed = SignedDuration::try_from(self.mono.elapsed()).unwrap_or(SignedDuration::MAX);
        self.wall.checked_add(elapsed).unwrap_or(Timestamp::MAX)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

/// `t + d`, saturating at the end of time.
pub fn after(t: Timestamp, d: Duration) -> Timestamp {
    SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// How long from `from` to `to`; zero when `to` is earlier.
pub fn since(from: Timestamp, to: Timestamp) -> Duration {
    Duration::try_from(to.duration_since(from)).unwrap_or(Duration::ZERO)
}

/// `t` as Unix seconds, with its fraction: an ordering key.
pub fn unix_s(t: Timestamp) -> f64 {
    t.as_millisecond() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_both_ways() {
        let t = Timestamp::UNIX_EPOCH;
        assert_eq!(since(after(t, Duration::from_secs(3)), t), Duration::ZERO);
        assert_eq!(
            since(t, after(t, Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            after(Timestamp::MAX, Duration::from_secs(1)),
            Timestamp::MAX
        );
    }
}
