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

use std::collections::VecDeque;

/// How many of the latest measurements the median is taken over: enough
/// that a slow start or two leave it alone, few enough that a new image's
/// start is the pool's within as many landings.
pub const WINDOW: usize = 32;

/// The latest measured cold starts, seconds, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ColdStarts {
    recent: VecDeque<f64>,
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

    /// Adds one measurement, forgetting the oldest past [`WINDOW`].
    pub fn push(&mut self, seconds: f64) {
        if !(seconds.is_finite() && seconds >= 0.0) {
            return;
        }
        if self.recent.len() == WINDOW {
            self.recent.pop_front();
        }
        self.recent.push_back(seconds);
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

    /// The measurements kept, oldest first.
    pub fn samples(&self) -> Vec<f64> {
        self.recent.iter().copied().collect()
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
