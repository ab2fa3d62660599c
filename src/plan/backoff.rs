//! Exponential back-off of starts that fail or crash, in the planner's
//! time: every method takes `now`, so it is replayed like the rest.

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::{after, since};

/// Consecutive start failures and the time before the next attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backoff {
    /// Consecutive failures.
    failures: u32,
    /// No start is attempted before this time.
    until: Option<Timestamp>,
    /// When the latest failure happened.
    last_failure: Option<Timestamp>,
    /// The longest delay.
    max: Duration,
}

impl Backoff {
    /// A back-off that retries the first failure at once (one crash is an
    /// accident, not a loop), then waits 1 s, doubling up to `max`.
    pub fn new(max: Duration) -> Self {
        Backoff {
            failures: 0,
            until: None,
            last_failure: None,
            max,
        }
    }

    /// Records a failure at `now`; returns the delay before the next start.
    pub fn fail(&mut self, now: Timestamp) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = match self.failures {
            1 => Duration::ZERO,
            n => Duration::from_secs(1u64 << (n - 2).min(20)).min(self.max),
        };
        self.until = Some(after(now, delay));
        self.last_failure = Some(now);
        delay
    }

    /// When the latest failure happened, if any is on record.
    pub fn last_failure(&self) -> Option<Timestamp> {
        self.last_failure
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a success: the template works.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.until = None;
        self.last_failure = None;
    }

    /// Whether starts must wait at `now`.
    pub fn blocked(&self, now: Timestamp) -> bool {
        self.until.is_some_and(|u| now < u)
    }

    /// Time left at `now` before starts are allowed.
    pub fn remaining(&self, now: Timestamp) -> Duration {
        self.until.map_or(Duration::ZERO, |u| since(now, u))
    }

    /// Changes the longest delay (the pool's policy changed).
    pub fn set_max(&mut self, max: Duration) {
        self.max = max;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_failure_retries_at_once_then_doubles_to_the_max() {
        let t = Timestamp::UNIX_EPOCH;
        let mut b = Backoff::new(Duration::from_secs(5));
        assert_eq!(b.fail(t), Duration::ZERO);
        assert!(!b.blocked(t));
        let delays: Vec<u64> = (0..4).map(|_| b.fail(t).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 5]);
        assert!(b.blocked(t));
        assert!(!b.blocked(after(t, Duration::from_secs(5))));
        b.reset();
        assert_eq!((b.failures(), b.last_failure()), (0, None));
    }
}
