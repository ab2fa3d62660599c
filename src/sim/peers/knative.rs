//! Knative Serving's KPA (`pkg/autoscaler/scaling/autoscaler.go`,
//! `Scale`), with the defaults of `config-autoscaler`: stable window 60 s,
//! panic window 10% of it (6 s), panic threshold 200%, target utilisation
//! 0.7, max scale-up rate 1000, max scale-down rate 2, a 2 s tick, and a
//! 30 s scale-to-zero grace period.
//!
//! Each tick:
//! `ready = max(1, readyPods)`, `maxUp = ceil(1000 * ready)`,
//! `maxDown = floor(ready / 2)`,
//! `stable = min(max(ceil(stableAvg / target), maxDown), maxUp)` and the
//! same for `panic` over the panic window. Panic starts (or is extended)
//! when `ceil(panicAvg / target) / ready >= 2`; while panicking the output
//! is the highest panic count since panic began (it never scales down); it
//! ends a stable window after the condition last held.
//!
//! The KPA measures concurrency through its proxy; a pull worker has none,
//! so the metric here is what a pull queue offers in its place: tasks in
//! flight plus backlog (`num_pending + num_ack_pending`), averaged over
//! 1 s buckets exactly as the window means are (from the lag integral).

use std::collections::VecDeque;

use crate::sim::controller::{Clock, Controller, View};

/// KPA knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KpaKnobs {
    /// Target concurrency per pod after utilisation
    /// (`containerConcurrency * target-utilization`).
    pub target: f64,
    /// Stable window, seconds.
    pub stable_window: f64,
    /// Panic window, seconds.
    pub panic_window: f64,
    /// Panic threshold as a ratio (2.0 = 200%).
    pub panic_threshold: f64,
    /// Max scale-up rate.
    pub max_up_rate: f64,
    /// Max scale-down rate.
    pub max_down_rate: f64,
    /// Scale-to-zero grace period, seconds.
    pub zero_grace: f64,
    /// min-scale.
    pub min: u32,
    /// max-scale.
    pub max: u32,
}

impl KpaKnobs {
    /// The defaults for a pod with `concurrency` slots.
    pub fn defaults(concurrency: u32, max: u32) -> Self {
        KpaKnobs {
            target: f64::from(concurrency) * 0.7,
            stable_window: 60.0,
            panic_window: 6.0,
            panic_threshold: 2.0,
            max_up_rate: 1000.0,
            max_down_rate: 2.0,
            zero_grace: 30.0,
            min: 0,
            max,
        }
    }
}

/// `knative` and `knative-tuned`.
#[derive(Debug, Clone)]
pub struct Kpa {
    name: String,
    k: KpaKnobs,
    clock: Clock,
    /// `(tick time, lag integral)`, oldest first, spanning the stable window.
    hist: VecDeque<(f64, f64)>,
    panic_since: Option<f64>,
    max_panic: u32,
    zero_since: Option<f64>,
}

impl Kpa {
    /// A KPA ticking every 2 s from `phase`.
    pub fn new(name: &str, k: KpaKnobs, phase: f64) -> Self {
        Kpa {
            name: name.to_string(),
            k,
            clock: Clock::new(2.0, phase),
            hist: VecDeque::new(),
            panic_since: None,
            max_panic: 0,
            zero_since: None,
        }
    }

    /// Mean lag over the last `w` seconds (shorter at the start).
    fn window_mean(&self, v: &View, w: f64) -> f64 {
        let from = self
            .hist
            .iter()
            .find(|h| h.0 >= v.now - w - 1e-9)
            .copied()
            .unwrap_or((v.now, v.lag_integral));
        let span = v.now - from.0;
        if span <= 0.0 {
            v.lag() as f64
        } else {
            (v.lag_integral - from.1) / span
        }
    }

    /// The KPA's count for the given window means and ready pods.
    pub fn scale(&mut self, now: f64, stable_avg: f64, panic_avg: f64, ready_pods: u32) -> u32 {
        let ready = f64::from(ready_pods.max(1));
        let max_up = (self.k.max_up_rate * ready).ceil();
        let max_down = (ready / self.k.max_down_rate).floor();
        let dspc = (stable_avg / self.k.target).ceil();
        let dppc = (panic_avg / self.k.target).ceil();
        let stable = dspc.max(max_down).min(max_up) as u32;
        let panic = dppc.max(max_down).min(max_up) as u32;
        let over = dppc / ready >= self.k.panic_threshold;
        if over {
            self.panic_since = Some(now);
        } else if self
            .panic_since
            .is_some_and(|t| t + self.k.stable_window < now)
        {
            self.panic_since = None;
            self.max_panic = 0;
        }
        let mut desired = stable;
        if self.panic_since.is_some() {
            self.max_panic = self.max_panic.max(panic);
            desired = self.max_panic;
        }
        desired
    }
}

impl Controller for Kpa {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_tick(&self) -> f64 {
        self.clock.next()
    }

    fn tick(&mut self, v: &View) -> Option<u32> {
        self.clock.advance();
        let stable_avg = self.window_mean(v, self.k.stable_window);
        let panic_avg = self.window_mean(v, self.k.panic_window);
        self.hist.push_back((v.now, v.lag_integral));
        while self
            .hist
            .front()
            .is_some_and(|h| h.0 < v.now - self.k.stable_window - 1e-9)
        {
            self.hist.pop_front();
        }
        let mut desired = self.scale(v.now, stable_avg, panic_avg, v.ready);
        desired = desired.clamp(self.k.min, self.k.max.max(self.k.min));
        // Scale to zero only after the grace period of wanting zero.
        if desired == 0 && v.current() > 0 {
            let since = *self.zero_since.get_or_insert(v.now);
            if v.now - since < self.k.zero_grace {
                desired = 1;
            }
        } else if desired > 0 {
            self.zero_since = None;
        }
        Some(desired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_enters_panic_and_never_scales_down_while_panicking() {
        // Target 0.7 per pod (cc 1 * 0.7). With 2 ready pods, a panic mean
        // of 6.9 asks ceil(6.9 / 0.7) = 10 pods: 10 / 2 >= 2, so panic.
        let mut kpa = Kpa::new("knative", KpaKnobs::defaults(1, 1000), 0.0);
        assert_eq!(kpa.scale(0.0, 1.0, 6.9, 2), 10);
        // The surge fades, every mean says 2 (maxDown 5):
        // still panicking (< 60 s since the condition), so 10 holds.
        assert_eq!(kpa.scale(2.0, 1.3, 1.3, 10), 10);
        // More load while panicking raises the held count.
        assert_eq!(kpa.scale(4.0, 1.3, 13.5, 10), 20);
        // A stable window after the last over-threshold tick, panic ends
        // and the stable count applies, limited by maxDown = floor(20/2).
        assert_eq!(kpa.scale(64.1, 1.3, 1.3, 20), 10);
    }

    #[test]
    fn stable_mode_follows_the_stable_mean() {
        let mut kpa = Kpa::new("knative", KpaKnobs::defaults(1, 1000), 0.0);
        // 10 ready, stable mean 6.9 -> ceil(6.9/0.7) = 10; panic 12/0.7 -> 18,
        // 18/10 < 2: no panic.
        assert_eq!(kpa.scale(0.0, 6.9, 12.0, 10), 10);
        // Scale-down at most to floor(ready / 2).
        assert_eq!(kpa.scale(2.0, 0.65, 0.65, 10), 5);
    }
}
