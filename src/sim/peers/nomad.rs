//! The Nomad Autoscaler's `target-value` strategy
//! (`plugins/builtin/strategy/target-value/plugin/plugin.go`), with its
//! defaults: `threshold` 0.01, `evaluation_interval` 10 s, `cooldown` 5 m
//! (after any scaling action, in either direction).
//!
//! - Only the latest metric value is used (`eval.Metrics[len-1]`).
//! - `factor = metric / target`; at count 0 it scales to `ceil(factor)` if
//!   `factor > 0`; otherwise it scales when `factor` is outside
//!   `[1 - threshold, 1 + threshold]`, to `ceil(count * factor)`, clamped to
//!   the policy's `[min, max]`; a result equal to the count is no action.
//!
//! The metric is the consumer lag per allocation (`(num_pending +
//! num_ack_pending) / count`, the total lag at count 0, where a per-instance
//! query would have no value), so `ceil(count * factor)` is
//! `ceil(lag / target)`; `target` is 10 like KEDA's default lagThreshold.
//! The scaling block's `min` is 1 (a job group runs at least one
//! allocation unless the operator says otherwise).

use crate::sim::controller::{Clock, Controller, View};

/// Policy knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NomadKnobs {
    /// Metric target per allocation.
    pub target: f64,
    /// `threshold`.
    pub threshold: f64,
    /// `evaluation_interval`, seconds.
    pub interval: f64,
    /// `cooldown`, seconds.
    pub cooldown: f64,
    /// Scaling block `min`.
    pub min: u32,
    /// Scaling block `max`.
    pub max: u32,
}

impl NomadKnobs {
    /// The documented defaults with a lag target of 10.
    pub fn defaults(max: u32) -> Self {
        NomadKnobs {
            target: 10.0,
            threshold: 0.01,
            interval: 10.0,
            cooldown: 300.0,
            min: 1,
            max,
        }
    }
}

/// `nomad` and `nomad-tuned`.
#[derive(Debug, Clone)]
pub struct Nomad {
    name: String,
    k: NomadKnobs,
    clock: Clock,
    cooldown_until: f64,
}

impl Nomad {
    /// A policy evaluated every `interval` from `phase`.
    pub fn new(name: &str, k: NomadKnobs, phase: f64) -> Self {
        Nomad {
            name: name.to_string(),
            k,
            clock: Clock::new(k.interval, phase),
            cooldown_until: f64::NEG_INFINITY,
        }
    }

    /// The strategy's new count for `metric` at `count`, if any.
    pub fn strategy(&self, metric: f64, count: u32) -> Option<u32> {
        let factor = if metric == 0.0 && self.k.target == 0.0 {
            1.0
        } else {
            metric / self.k.target
        };
        let new = if count == 0 {
            if factor <= 0.0 {
                return None;
            }
            factor.ceil() as u32
        } else {
            if (1.0 - self.k.threshold..=1.0 + self.k.threshold).contains(&factor) {
                return None;
            }
            (f64::from(count) * factor).ceil() as u32
        };
        let new = new.clamp(self.k.min, self.k.max.max(self.k.min));
        (new != count).then_some(new)
    }
}

impl Controller for Nomad {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_tick(&self) -> f64 {
        self.clock.next()
    }

    fn tick(&mut self, v: &View) -> Option<u32> {
        self.clock.advance();
        let count = v.current();
        if count < self.k.min {
            // The job is registered with `min` allocations.
            return Some(self.k.min);
        }
        if v.now < self.cooldown_until {
            return None;
        }
        let lag = v.lag() as f64;
        let metric = if count == 0 {
            lag
        } else {
            lag / f64::from(count)
        };
        let new = self.strategy(metric, count)?;
        self.cooldown_until = v.now + self.k.cooldown;
        Some(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_scales_once_then_waits_out_the_cooldown() {
        // Lag 300 on 1 allocation: factor 30 -> ceil(1 * 30) = 30, then a
        // 5 m cooldown during which a doubled lag changes nothing.
        let mut n = Nomad::new("nomad", NomadKnobs::defaults(1000), 0.0);
        assert_eq!(n.tick(&View::at(0.0, 300, 1)), Some(30));
        let mut t = n.next_tick();
        while t < 300.0 {
            assert_eq!(n.tick(&View::at(t, 600, 30)), None, "at {t}");
            t = n.next_tick();
        }
        assert_eq!(n.tick(&View::at(300.0, 600, 30)), Some(60));
    }

    #[test]
    fn threshold_band_holds() {
        let n = Nomad::new("nomad", NomadKnobs::defaults(1000), 0.0);
        // 10.05 per allocation: factor 1.005, inside 1 +- 0.01.
        assert_eq!(n.strategy(10.05, 10), None);
        assert_eq!(n.strategy(5.0, 10), Some(5));
        assert_eq!(n.strategy(0.0, 0), None);
        // At count 0 the factor itself is the count, then clamped to min 1.
        assert_eq!(n.strategy(25.0, 0), Some(3));
    }
}
