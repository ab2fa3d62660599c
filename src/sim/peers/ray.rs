//! Ray Serve's default autoscaling policy
//! (`python/ray/serve/autoscaling_policy.py`,
//! `replica_queue_length_autoscaling_policy` and
//! `_calculate_desired_num_replicas`), with its documented defaults:
//! `target_ongoing_requests` 2, `upscale_delay_s` 30, `downscale_delay_s`
//! 600, `look_back_period_s` 30, `metrics_interval_s` 10, a 0.1 s control
//! loop, smoothing factors 1.0, `min_replicas` 1.
//!
//! - Handles push the ongoing requests (queued plus running) every
//!   `metrics_interval_s`, each push the mean over the last
//!   `look_back_period_s`; the controller uses the latest push.
//! - `error_ratio = total / (target * running)`,
//!   `desired = ceil(running * (1 + (error_ratio - 1) * factor))`.
//! - A decision counter counts consecutive loops wanting more (or fewer)
//!   replicas than the current target; the change is applied when it
//!   exceeds `int(delay / 0.1)`, and the counter resets.
//! - With no running replica and any request, the target is at least 1
//!   at once.
//!
//! For a pull queue "ongoing requests" are the consumer lag
//! (`num_pending + num_ack_pending`).

use std::collections::VecDeque;

use crate::sim::controller::{Clock, Controller, View};

/// Control loop period, seconds (`CONTROL_LOOP_INTERVAL_S`).
const LOOP_S: f64 = 0.1;

/// Ray Serve autoscaling_config knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RayKnobs {
    /// `target_ongoing_requests` per replica.
    pub target: f64,
    /// `upscale_delay_s`.
    pub upscale_delay: f64,
    /// `downscale_delay_s`.
    pub downscale_delay: f64,
    /// `look_back_period_s`.
    pub look_back: f64,
    /// `metrics_interval_s`.
    pub metrics_interval: f64,
    /// `min_replicas`.
    pub min: u32,
    /// `max_replicas`.
    pub max: u32,
}

impl RayKnobs {
    /// The documented defaults.
    pub fn defaults(max: u32) -> Self {
        RayKnobs {
            target: 2.0,
            upscale_delay: 30.0,
            downscale_delay: 600.0,
            look_back: 30.0,
            metrics_interval: 10.0,
            min: 1,
            max,
        }
    }
}

/// `ray` and `ray-tuned`.
#[derive(Debug, Clone)]
pub struct Ray {
    name: String,
    k: RayKnobs,
    clock: Clock,
    push: Clock,
    /// `(time, lag integral)` over the look-back period.
    hist: VecDeque<(f64, f64)>,
    reported: Option<f64>,
    target_replicas: Option<u32>,
    counter: i64,
}

impl Ray {
    /// A controller whose loop starts at 0 and whose metric pushes start at
    /// `push_phase`.
    pub fn new(name: &str, k: RayKnobs, push_phase: f64) -> Self {
        Ray {
            name: name.to_string(),
            k,
            clock: Clock::new(LOOP_S, 0.0),
            push: Clock::new(k.metrics_interval, push_phase),
            hist: VecDeque::new(),
            reported: None,
            target_replicas: None,
            counter: 0,
        }
    }

    /// One control loop with `total` ongoing requests (as last pushed),
    /// `running` replicas and the current target; returns the new target.
    pub fn decide(&mut self, total: f64, running: u32, curr: u32) -> u32 {
        if running == 0 {
            return if total > 0.0 { curr.max(1) } else { curr };
        }
        let running_f = f64::from(running);
        let error_ratio = total / (self.k.target * running_f);
        let factor = 1.0;
        let desired = (running_f * (1.0 + (error_ratio - 1.0) * factor)).ceil() as u32;
        let desired = desired.clamp(self.k.min, self.k.max.max(self.k.min));
        let mut decision = curr;
        if desired > curr {
            self.counter = self.counter.max(0) + 1;
            if self.counter > (self.k.upscale_delay / LOOP_S) as i64 {
                self.counter = 0;
                decision = desired;
            }
        } else if desired < curr {
            self.counter = self.counter.min(0) - 1;
            if self.counter < -((self.k.downscale_delay / LOOP_S) as i64) {
                self.counter = 0;
                decision = desired;
            }
        } else {
            self.counter = 0;
        }
        decision
    }
}

impl Controller for Ray {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_tick(&self) -> f64 {
        self.clock.next()
    }

    fn tick(&mut self, v: &View) -> Option<u32> {
        self.clock.advance();
        self.hist.push_back((v.now, v.lag_integral));
        while self
            .hist
            .front()
            .is_some_and(|h| h.0 < v.now - self.k.look_back - 1e-9)
        {
            self.hist.pop_front();
        }
        if self.push.next() <= v.now + 1e-9 {
            self.push.advance();
            let (t0, i0) = self.hist.front().copied().unwrap_or((v.now, 0.0));
            self.reported = Some(if v.now > t0 {
                (v.lag_integral - i0) / (v.now - t0)
            } else {
                v.lag() as f64
            });
        }
        let Some(curr) = self.target_replicas else {
            // The deployment starts with min_replicas.
            self.target_replicas = Some(self.k.min);
            return Some(self.k.min);
        };
        let total = self.reported?;
        let next = self.decide(total, v.ready, curr);
        self.target_replicas = Some(next);
        (next != curr).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upscale_waits_for_the_delay_then_jumps_to_ceil() {
        // 4 running, target 2 each, 40 ongoing: error ratio 5, desired 20.
        // Applied on the 301st consecutive loop (counter > int(30 / 0.1)).
        let mut r = Ray::new("ray", RayKnobs::defaults(100), 0.0);
        for _ in 0..300 {
            assert_eq!(r.decide(40.0, 4, 4), 4);
        }
        assert_eq!(r.decide(40.0, 4, 4), 20);
    }

    #[test]
    fn downscale_waits_600s_and_resets_on_a_contrary_loop() {
        let mut r = Ray::new("ray", RayKnobs::defaults(100), 0.0);
        for _ in 0..5000 {
            assert_eq!(r.decide(2.0, 10, 10), 10);
        }
        // One loop wanting more resets the down counter.
        assert_eq!(r.decide(40.0, 10, 10), 10);
        for _ in 0..6000 {
            assert_eq!(r.decide(2.0, 10, 10), 10);
        }
        // 2 ongoing / (2 * 10) -> ceil(10 * 0.1) = 1.
        assert_eq!(r.decide(2.0, 10, 10), 1);
    }

    #[test]
    fn from_zero_running_any_request_gives_one() {
        let mut r = Ray::new("ray", RayKnobs::defaults(100), 0.0);
        assert_eq!(r.decide(3.0, 0, 0), 1);
        assert_eq!(r.decide(0.0, 0, 0), 0);
    }
}
