//! The arrival rate λ on two time scales, after Knative's stable and panic
//! windows (means over 60 s and 6 s, which EWMAs with time constants of
//! 30 s and 3 s resemble).
//!
//! Arrivals are a Poisson-like process: over a window of τ seconds a rate
//! of λ/s is only known to about `sqrt(λ / 2τ)`. A single fast estimate
//! passes that noise straight into the agent count, which near an empty
//! queue flaps by one agent every minute or so; a single slow one is a
//! minute late for a surge. So the model reads the slow mean, unless the
//! fast estimate leaves the slow one's noise band by [`SHIFT_Z`] standard
//! deviations: then the level has really moved, the model follows the fast
//! estimate (and its trend, to meet a ramp rather than chase it) and the
//! slow mean restarts from there. A surge from 10/s to 100/s is detected on
//! the first tick; Poisson noise at a steady rate trips it at most a
//! couple of times a day (0 to 2 per 86 400 one-second ticks at 0.1 to
//! 200 tasks/s; the test below).

use super::ewma::alpha;

/// Time constant of the fast estimate, seconds.
const FAST_TAU_S: f64 = 3.0;
/// Time constant of the slow mean, seconds.
const SLOW_TAU_S: f64 = 30.0;
/// Time constant of the fast estimate's trend, seconds.
const TREND_TAU_S: f64 = 10.0;
/// How many standard deviations of the fast estimate's noise count as a
/// level shift. At 4, steady Poisson noise tripped it 2 to 30 times a day
/// at 1 to 200 tasks/s, and more on a ramp, where the slow mean lags: each
/// false trip extrapolates a noisy trend over the cold start (a ramp at
/// 8/s read as 24.5/s, 50 agents ordered for 18). 5 trips 0 to 2 times a
/// day and passed four more cells of the robustness matrix (ramp at 20 s
/// and 60 s cold starts, azure-functions-day at 60 s and concurrency 16),
/// every one at 0.3 s still passing; a 10-fold surge still trips it on
/// the first tick. (Asking two ticks in a row passed as many, one tick
/// later on every surge.)
const SHIFT_Z: f64 = 5.0;
/// Shortest window the first rate sample is read over, seconds.
const FIRST_WINDOW_S: f64 = 1.0;

/// State of the two estimates. Serialisable so a new `--ha` leader can
/// carry on from the last one's (see `Estimator::learned`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Arrivals {
    /// Fast level (Holt's linear method); `None` before the first sample.
    fast: Option<f64>,
    /// Slope of the fast level, tasks/s per second.
    slope: f64,
    /// Slow EWMA started at zero; divided by `slow_weight` it is unbiased,
    /// so the first minute reads as the mean so far, not as a ramp from 0.
    slow_acc: f64,
    /// Weight `slow_acc` has accumulated.
    slow_weight: f64,
    /// Whether the last sample was a level shift.
    shifted: bool,
    /// Whether that shift was upward (only a rise is extrapolated).
    rising: bool,
}

impl Arrivals {
    /// Folds in the arrival rate seen over the last `dt` seconds.
    ///
    /// The shift test compares the fast estimate with the slow mean as it
    /// was *before* this sample, and the rate after a shift is never on the
    /// wrong side of the slow mean: so a larger sample never reads as a
    /// lower rate (early on, the bias-corrected slow mean reacts to a
    /// sample as fast as the fast estimate does, which made the plain
    /// comparison flip the other way).
    pub fn update(&mut self, rate: f64, dt: f64) {
        // The first sample alone sets both estimates, so it must span a
        // window worth the name: a snapshot taken on the first arrival a
        // few milliseconds after the first look would read one task as
        // hundreds per second. Its count is spread over at least a second.
        let (rate, dt) = if self.fast.is_none() && dt < FIRST_WINDOW_S {
            (rate * dt / FIRST_WINDOW_S, FIRST_WINDOW_S)
        } else {
            (rate, dt)
        };
        let before = self.slow();
        let fast = match self.fast {
            None => rate,
            Some(level) => {
                let a = alpha(dt, FAST_TAU_S);
                let b = alpha(dt, TREND_TAU_S);
                let next = (a * rate + (1.0 - a) * (level + self.slope * dt)).max(0.0);
                self.slope = b * ((next - level) / dt) + (1.0 - b) * self.slope;
                next
            }
        };
        self.fast = Some(fast);
        let a = alpha(dt, SLOW_TAU_S);
        self.slow_acc += a * (rate - self.slow_acc);
        self.slow_weight += a * (1.0 - self.slow_weight);
        // Noise of the fast estimate at the slow rate, floored at 1/s so a
        // nearly idle pool is not alarmed by every single arrival.
        let sigma = (before.max(1.0) / (2.0 * FAST_TAU_S)).sqrt();
        let gap = fast - before;
        let warmed = self.slow_weight > a;
        self.rising = warmed && gap > SHIFT_Z * sigma;
        let falling = warmed && -gap > SHIFT_Z * sigma;
        self.shifted = self.rising || falling;
        if self.shifted {
            let slow = self.slow();
            let level = if self.rising {
                fast.max(slow)
            } else {
                fast.min(slow)
            };
            self.slow_acc = level * self.slow_weight;
        }
    }

    /// The slow mean (equal to the fast level right after a shift).
    fn slow(&self) -> f64 {
        if self.slow_weight > 0.0 {
            self.slow_acc / self.slow_weight
        } else {
            0.0
        }
    }

    /// The rate the model uses now.
    pub fn rate(&self) -> f64 {
        self.slow()
    }

    /// Standard error of [`rate`](Self::rate) from counting noise once
    /// warmed up: `sqrt(λ / 2τ)` for a Poisson rate λ in an EWMA of time
    /// constant τ (rates under 0.1/s count as 0.1/s).
    pub fn sd(&self) -> f64 {
        (self.slow().max(0.1) / (2.0 * SLOW_TAU_S)).sqrt()
    }

    /// How long the slow mean has watched, seconds, as its accumulated
    /// weight tells (`w = 1 − e^(−t/τ)`), at most 2τ: the window its counting
    /// noise comes from.
    fn watched_s(&self) -> f64 {
        let w = self.slow_weight.clamp(0.0, 1.0 - 1e-12);
        (-SLOW_TAU_S * (1.0 - w).ln()).min(2.0 * SLOW_TAU_S)
    }

    /// A lower bound on the rate: `z` standard errors under it, counting
    /// the noise over the time actually watched, so one arrival a few
    /// milliseconds after the first look (a rate of hundreds per second
    /// on paper) bounds the rate near zero. For a rule that multiplies the
    /// rate by a long horizon, where a rate read from noise would order
    /// agents by the hundred.
    pub fn rate_low(&self, z: f64) -> f64 {
        let rate = self.slow();
        let t = self.watched_s().max(1e-3);
        (rate - z * (rate.max(0.1) / t).sqrt()).max(0.0)
    }

    /// The fast estimate, for reports.
    pub fn fast(&self) -> f64 {
        self.fast.unwrap_or(0.0)
    }

    /// The fast estimate's slope.
    pub fn slope(&self) -> f64 {
        self.slope
    }

    /// Whether the last sample was a level shift.
    pub fn shifted(&self) -> bool {
        self.shifted
    }

    /// The rate expected `horizon` seconds from now. Only a rising trend
    /// seen during an upward level shift is extrapolated: sizing for a
    /// falling load ahead of time would trade queue wait for little agent
    /// time, and a trend read from noise would only add noise. (After a
    /// fall, the slope still remembers the rise before it; extrapolating it
    /// then would also make more arrivals read as a lower forecast.)
    pub fn forecast(&self, horizon: f64) -> f64 {
        let ahead = if self.rising {
            (self.slope * horizon).max(0.0)
        } else {
            0.0
        };
        self.rate() + ahead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_noise_stays_on_the_slow_mean() {
        let mut a = Arrivals::default();
        // A steady 2/s with the jitter of counting whole tasks per second.
        for i in 0..300 {
            a.update([1.0, 3.0, 2.0, 0.0, 4.0, 2.0][i % 6], 1.0);
            assert!(!a.shifted(), "tick {i}");
        }
        assert!((a.rate() - 2.0).abs() < 0.2, "{}", a.rate());
    }

    #[test]
    fn a_surge_is_followed_at_once() {
        let mut a = Arrivals::default();
        for _ in 0..60 {
            a.update(10.0, 1.0);
        }
        a.update(100.0, 1.0);
        assert!(a.shifted());
        assert!(a.rate() > 30.0, "{}", a.rate());
        // The ramp continues: the forecast looks ahead of the level.
        a.update(100.0, 1.0);
        assert!(a.forecast(5.0) >= a.rate());
    }

    #[test]
    fn a_first_look_milliseconds_long_is_read_over_a_second() {
        // One task 29 ms after the first look: 34/s on paper.
        let mut a = Arrivals::default();
        a.update(1.0 / 0.029, 0.029);
        assert!((a.rate() - 1.0).abs() < 1e-9, "{}", a.rate());
        // A first look a second or longer is taken as it is.
        let mut b = Arrivals::default();
        b.update(50.0, 1.0);
        assert!((b.rate() - 50.0).abs() < 1e-9, "{}", b.rate());
    }

    #[test]
    fn the_lower_bound_counts_the_time_watched() {
        // One second at 50/s: sqrt(50/1) per standard error.
        let mut a = Arrivals::default();
        a.update(50.0, 1.0);
        let low = a.rate_low(2.0);
        assert!((low - (50.0 - 2.0 * 50f64.sqrt())).abs() < 0.5, "{low}");
        // Two minutes at 50/s: the warmed window's noise, 2 s.e. of
        // sqrt(50/60) under the rate.
        for _ in 0..120 {
            a.update(50.0, 1.0);
        }
        let low = a.rate_low(2.0);
        assert!(low < 50.0 && low > 47.5, "{low}");
        // A few tasks over a short look bound the rate near nothing.
        let mut c = Arrivals::default();
        c.update(2.0, 1.0);
        assert!(c.rate_low(2.0) < 0.1, "{}", c.rate_low(2.0));
    }

    #[test]
    fn a_drop_is_followed_too() {
        let mut a = Arrivals::default();
        for _ in 0..60 {
            a.update(100.0, 1.0);
        }
        for _ in 0..3 {
            a.update(10.0, 1.0);
        }
        assert!(a.rate() < 50.0, "{}", a.rate());
    }

    #[test]
    fn steady_poisson_noise_trips_the_shift_test_rarely() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, Poisson};
        // A day of one-second ticks at steady Poisson rates: every trip
        // would be a false surge, multiplied by the cold start ahead.
        for rate in [0.1, 1.0, 5.0, 20.0, 50.0, 200.0] {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
            let p = Poisson::new(rate).expect("a positive rate");
            let mut a = Arrivals::default();
            let mut trips = 0;
            for i in 0..86_400 {
                a.update(p.sample(&mut rng), 1.0);
                if i > 120 && a.shifted() {
                    trips += 1;
                }
            }
            assert!(trips <= 3, "{trips} false shifts in a day at {rate}/s");
        }
    }
}
