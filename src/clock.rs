//! The live loop's clock: wall-clock time anchored once at start and
//! advanced by tokio's monotonic clock, so an NTP step cannot make a
//! stabilisation window jump, and tests with paused tokio time control it.

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
