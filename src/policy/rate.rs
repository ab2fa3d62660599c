//! Rate limits per period, as the Kubernetes HPA applies its scaling
//! policies: each limit allows a step from the count in force at the start
//! of its period (`now - period`), and the select rule picks among them.
//!
//! - up:   `pods`: `start + v`; `percent`: `ceil(max(start, 1) * (1 + v/100))`
//! - down: `pods`: `start - v`; `percent`: `floor(start * (1 - v/100))`
//!
//! The one departure from the HPA: a percent limit counts from at least one
//! agent, so a pool at zero is never stuck there by `percent` alone.

use std::collections::VecDeque;
use std::time::Duration;

use jiff::Timestamp;

use crate::config::{RateLimit, Scaling, Select, Step, format_duration};

use super::decision::{Limit, Trail};
use super::ewma::secs_between;

/// The counts this pool was told to run, as change points, long enough back
/// to know the count at the start of every rate-limit period.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    /// The count in force before the first decision (what ran then).
    initial: Option<u32>,
    /// (when, new count) for every decision that changed the count, oldest
    /// first; the oldest is the one in force at the longest period's start.
    points: VecDeque<(Timestamp, u32)>,
}

impl History {
    /// The count of the latest decision; `None` before the first.
    pub fn previous(&self) -> Option<u32> {
        self.points.back().map(|&(_, n)| n).or(self.initial)
    }

    /// When the count last changed.
    pub fn last_change(&self) -> Option<Timestamp> {
        self.points.back().map(|&(t, _)| t)
    }

    /// The count in force at `t`.
    fn count_at(&self, t: Timestamp) -> Option<u32> {
        self.points
            .iter()
            .rev()
            .find(|&&(at, _)| at <= t)
            .map(|&(_, n)| n)
            .or(self.initial)
    }

    /// Records a decision; `current` is what ran before the first one.
    /// Keeps what periods up to `keep` need.
    pub fn record(&mut self, now: Timestamp, desired: u32, current: u32, keep: Duration) {
        if self.initial.is_none() {
            self.initial = Some(current);
        }
        if self.previous() != Some(desired) {
            self.points.push_back((now, desired));
        }
        let horizon = keep.as_secs_f64();
        while self.points.len() >= 2
            && self
                .points
                .get(1)
                .is_some_and(|&(t, _)| secs_between(t, now) >= horizon)
        {
            self.points.pop_front();
        }
    }

    /// Applies the scale-up or scale-down limits to a move away from
    /// `previous`.
    pub fn limit(&self, t: &mut Trail, s: &Scaling, now: Timestamp, previous: u32) {
        let want = t.value;
        if want > previous {
            let Some(cap) = self.bound(
                &s.scale_up_limits,
                s.scale_up_select,
                now,
                previous,
                Dir::Up,
            ) else {
                return;
            };
            // A limit never forces a scale-down (as in the HPA).
            let cap = cap.max(previous);
            t.bound(want.min(cap), Limit::ScaleUpLimit, |n| {
                format!(
                    "slowed to {n} by scale_up_limits ({})",
                    describe(&s.scale_up_limits, s.scale_up_select)
                )
            });
        } else if want < previous {
            let Some(floor) = self.bound(
                &s.scale_down_limits,
                s.scale_down_select,
                now,
                previous,
                Dir::Down,
            ) else {
                return;
            };
            let floor = floor.min(previous);
            t.bound(want.max(floor), Limit::ScaleDownLimit, |n| {
                format!(
                    "slowed to {n} by scale_down_limits ({})",
                    describe(&s.scale_down_limits, s.scale_down_select)
                )
            });
        }
    }

    /// The bound the limits allow, or `None` when there are none.
    fn bound(
        &self,
        limits: &[RateLimit],
        select: Select,
        now: Timestamp,
        previous: u32,
        dir: Dir,
    ) -> Option<u32> {
        if select == Select::Disabled {
            return Some(previous);
        }
        let proposals = limits.iter().map(|l| {
            let start = now
                .checked_sub(l.period)
                .ok()
                .and_then(|t| self.count_at(t))
                .unwrap_or(previous);
            match dir {
                Dir::Up => up(start, l.step),
                Dir::Down => down(start, l.step),
            }
        });
        // "max" selects the limit allowing the largest change: the highest
        // ceiling going up, the lowest floor going down.
        match (select, dir) {
            (Select::Max, Dir::Up) | (Select::Min, Dir::Down) => proposals.max(),
            _ => proposals.min(),
        }
    }
}

/// Which way a move goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    /// More agents.
    Up,
    /// Fewer agents.
    Down,
}

/// The ceiling one up-limit allows from `start`.
fn up(start: u32, step: Step) -> u32 {
    let start = u64::from(start);
    let v = match step {
        Step::Pods(p) => start + u64::from(p),
        Step::Percent(p) => (start.max(1) * (100 + u64::from(p))).div_ceil(100),
    };
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// The floor one down-limit allows from `start`.
fn down(start: u32, step: Step) -> u32 {
    match step {
        Step::Pods(p) => start.saturating_sub(p),
        Step::Percent(p) => {
            let keep = 100u64.saturating_sub(u64::from(p));
            // At most `start`, so it fits.
            u32::try_from(u64::from(start) * keep / 100).unwrap_or(start)
        }
    }
}

/// `4 pods/15s, 100%/15s, select max` for the reason line.
fn describe(limits: &[RateLimit], select: Select) -> String {
    if select == Select::Disabled {
        return "disabled".into();
    }
    let each: Vec<String> = limits
        .iter()
        .map(|l| match l.step {
            Step::Pods(p) => format!("{p} pods/{}", format_duration(l.period)),
            Step::Percent(p) => format!("{p}%/{}", format_duration(l.period)),
        })
        .collect();
    let sel = if select == Select::Max { "max" } else { "min" };
    format!("{}, select {sel}", each.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_match_the_hpa() {
        assert_eq!(up(10, Step::Pods(4)), 14);
        assert_eq!(up(10, Step::Percent(100)), 20);
        assert_eq!(up(3, Step::Percent(50)), 5); // ceil(4.5)
        assert_eq!(up(0, Step::Percent(100)), 2); // counts from one agent
        assert_eq!(down(10, Step::Pods(4)), 6);
        assert_eq!(down(3, Step::Pods(4)), 0);
        assert_eq!(down(5, Step::Percent(50)), 2); // floor(2.5)
        assert_eq!(down(5, Step::Percent(150)), 0);
    }
}
