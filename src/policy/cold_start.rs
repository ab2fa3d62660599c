//! The measured cold start: create to first report, per agent, is noisy
//! (an image pull, a model load, a busy host), and the pool plans its
//! standing queue, its down window and its landing orders with it. The
//! pool plans with the median of the last [`WINDOW`] measurements: one
//! slow start must not switch a pool whose starts take 15 s into the
//! regime of a 30 s start.
//!
//! Measured on variable cold starts (lognormal, median 5 s to 30 s,
//! σ = 0.4 to 0.8, six short traces × concurrency {1, 4, 16} × two
//! seeds): an exponential average of the samples (α = 0.3) passed 81 of
//! 108 cells of the robustness matrix's test: its long samples crossed
//! the point where no standing queue fits and the pool ran at 80% planned
//! utilisation for the rest of the run; the median of the last 32 passed
//! 98 (see bench/README, "Variable cold starts"); of the last 128, 99.
//!
//! One sample is one observation's average (every agent that reported
//! for the first time since the previous tick), not one agent: a burst's
//! agents land in the order of their cold starts, slowest last, so a
//! window of single agents ends up holding the slowest of the last burst
//! (93 of 108).
//!
//! The window is ordered by when the agents were asked for, not by when
//! they landed. Ordered by landing, a burst of a thousand agents with
//! widely varying starts (lognormal, σ = 0.8, median 25 s) left the
//! window holding its last 32 landings, the tail: the pool measured a
//! 92 s start, planned its next surge's landing order for it, and ordered
//! its ceiling. By request, the burst's late landings replace samples of
//! the same request time only, and the window settles on the burst as a
//! whole. Samples restored without a request time rank before any new one.

use std::collections::VecDeque;

use jiff::Timestamp;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::clock::unix_s;

/// How many of the latest measurements the median is taken over: enough
/// that a slow start or two leave it alone, few enough that a new image's
/// start is the pool's within as many landings.
pub const WINDOW: usize = 32;

/// The latest measured cold starts, seconds, as `(requested at, seconds)`
/// in the order of the request (Unix seconds; 0 for samples restored
/// without one).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ColdStarts {
    recent: VecDeque<(f64, f64)>,
    /// Samples measured at the latest request time so far, kept or not.
    latest_seen: u64,
}

/// The cold starts measured between two observations, folded into one
/// sample: their mean, at the mean of their request times.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Landings {
    seconds: f64,
    requested_s: f64,
    count: u32,
}

impl Landings {
    /// Adds one agent's cold start, asked for at `requested`.
    pub fn add(&mut self, seconds: f64, requested: Timestamp) {
        self.seconds += seconds;
        self.requested_s += unix_s(requested);
        self.count += 1;
    }

    /// `(mean cold start, mean request time)`, seconds; `None` if none landed.
    pub fn mean(&self) -> Option<(f64, f64)> {
        let n = f64::from(self.count);
        (self.count > 0).then(|| (self.seconds / n, self.requested_s / n))
    }
}

impl ColdStarts {
    /// The latest `samples` that are sane (finite, not negative), at most
    /// [`WINDOW`] of them.
    pub fn from_samples(samples: &[f64]) -> Self {
        let mut c = Self::default();
        for &s in samples {
            c.push(s);
        }
        c
    }

    /// Adds one measurement as the latest requested, forgetting the
    /// earliest requested past [`WINDOW`].
    pub fn push(&mut self, seconds: f64) {
        // Just after the latest: a later request of its own, never a tie.
        let next = self.recent.back().map_or(0.0, |&(at, _)| at.next_up());
        self.push_requested(seconds, next);
    }

    /// Adds one measurement of agents asked for at `requested_s`, in the
    /// order of the requests, forgetting the earliest requested past
    /// [`WINDOW`]: one requested before every sample of a full window is
    /// dropped.
    pub fn push_requested(&mut self, seconds: f64, requested_s: f64) {
        if !(seconds.is_finite() && seconds >= 0.0 && requested_s.is_finite()) {
            return;
        }
        let latest = self.recent.back().map(|&(r, _)| r);
        match latest {
            Some(l) if requested_s == l => self.latest_seen += 1,
            Some(l) if requested_s < l => {}
            _ => self.latest_seen = 1,
        }
        let at = self.recent.partition_point(|&(r, _)| r <= requested_s);
        if self.recent.len() < WINDOW {
            self.recent.insert(at, (requested_s, seconds));
        } else if self.recent.front().is_some_and(|&(r, _)| r < requested_s) {
            self.recent.pop_front();
            self.recent.insert(at - 1, (requested_s, seconds));
        } else if at == WINDOW {
            // The whole window was asked for at this one time (one order of
            // many agents), and they land slowest last: a reservoir keeps
            // each landing of the order with the same chance, where
            // dropping the earliest would keep the order's slowest.
            let seen = self.latest_seen;
            let slot = ChaCha8Rng::seed_from_u64(seen).random_range(0..seen);
            if let Some(s) = usize::try_from(slot)
                .ok()
                .and_then(|i| self.recent.get_mut(i))
            {
                *s = (requested_s, seconds);
            }
        }
    }

    /// The median of the measurements kept; `None` before the first.
    pub fn median(&self) -> Option<f64> {
        let v = self.sorted();
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }

    /// The `q` quantile of the measurements kept (nearest rank: one of
    /// them, never an interpolation between two); `None` before the first.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let v = self.sorted();
        let n = v.len();
        if n == 0 {
            return None;
        }
        let i = ((q.clamp(0.0, 1.0) * (n - 1) as f64).round() as usize).min(n - 1);
        Some(v[i])
    }

    /// The measurements kept, shortest first.
    fn sorted(&self) -> Vec<f64> {
        let mut v = self.samples();
        v.sort_by(f64::total_cmp);
        v
    }

    /// The measurements kept, earliest requested first.
    pub fn samples(&self) -> Vec<f64> {
        self.recent.iter().map(|&(_, s)| s).collect()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_slow_start_leaves_the_median_alone() {
        let mut c = ColdStarts::default();
        assert_eq!(c.median(), None);
        for s in [14.0, 16.0, 15.0, 90.0, 15.5] {
            c.push(s);
        }
        assert_eq!(c.median(), Some(15.5));
        c.push(f64::NAN);
        c.push(-1.0);
        assert_eq!(c.samples().len(), 5);
        c.push(13.0);
        assert_eq!(c.median(), Some(15.25));
    }

    #[test]
    fn the_fast_end_is_one_of_the_measurements() {
        let mut c = ColdStarts::default();
        assert_eq!(c.quantile(0.1), None);
        for s in 1..=21 {
            c.push(f64::from(s));
        }
        assert_eq!(c.quantile(0.1), Some(3.0));
        assert_eq!(c.quantile(0.5), c.median());
        assert_eq!(c.quantile(0.0), Some(1.0));
        assert_eq!(c.quantile(2.0), Some(21.0));
    }

    #[test]
    fn a_bursts_late_landings_do_not_push_out_its_early_ones() {
        // A burst of 200 agents asked for over four ticks lands in the
        // order of their starts, one landing tick at a time, slowest last.
        let mut c = ColdStarts::from_samples(&[5.0; WINDOW]);
        for tick in 1..=200u32 {
            let seconds = f64::from(tick);
            c.push_requested(seconds, 1000.0 + f64::from(tick % 4));
        }
        // By landing order the window would hold the last 32 (169..200,
        // median 184.5); by request every quarter of the burst is there.
        let median = c.median().expect("measured");
        assert!((80.0..=120.0).contains(&median), "median {median}");
        assert_eq!(c.samples().len(), WINDOW);
        // One order of 300 agents asked for at one time: the reservoir.
        let mut one = ColdStarts::default();
        for tick in 1..=300u32 {
            one.push_requested(f64::from(tick), 2000.0);
        }
        let median = one.median().expect("measured");
        assert!((100.0..=200.0).contains(&median), "median {median}");
        // One asked for before everything kept is dropped.
        let before = c.samples();
        c.push_requested(1.0, 999.0);
        assert_eq!(c.samples(), before);
    }

    #[test]
    fn a_new_image_takes_over_within_the_window() {
        let mut c = ColdStarts::from_samples(&[5.0; WINDOW]);
        for _ in 0..WINDOW / 2 {
            c.push(40.0);
        }
        assert_eq!(c.median(), Some(22.5));
        c.push(40.0);
        assert_eq!(c.median(), Some(40.0));
        assert_eq!(c.samples().len(), WINDOW);
    }
}
