//! The Kubernetes HorizontalPodAutoscaler (autoscaling/v2) on an external
//! metric with an `AverageValue` target, as `pkg/controller/podautoscaler`
//! computes it:
//!
//! - `replica_calculator.go`, `GetExternalPerPodMetricReplicas`:
//!   `ratio = usage / (target * statusReplicas)`; if `|1 - ratio| > 0.1`
//!   (the default tolerance) the count becomes `ceil(usage / target)`,
//!   else it stays.
//! - `horizontal.go`, without `behavior` (the legacy path a KEDA
//!   ScaledObject gets by default): `stabilizeRecommendation` takes the
//!   highest recommendation of the last 300 s
//!   (`--horizontal-pod-autoscaler-downscale-stabilization`), then
//!   `convertDesiredReplicasWithRules` caps a scale-up at
//!   `max(2 * current, 4)` and clamps to `[minReplicas, maxReplicas]`.
//! - With `behavior` (`normalizeDesiredReplicasWithBehaviors`): the result
//!   lies between the lowest recommendation of the scale-up window and the
//!   highest of the scale-down window; then the rate policies limit the step
//!   from the count at the start of each policy's period (Pods: `start + v`,
//!   Percent: `ceil(start * (1 + v/100))` up, `floor(start * (1 - v/100))`
//!   down), `selectPolicy: Max` taking the largest change.
//! - The sync loop runs every 15 s (`--horizontal-pod-autoscaler-sync-period`)
//!   and does nothing while the target has 0 replicas and minReplicas > 0.

use std::collections::VecDeque;

use crate::sim::controller::{Clock, Controller, View};

/// One rate policy of an HPA `behavior` rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RatePolicy {
    /// At most this many pods per period.
    Pods(u32, f64),
    /// At most this percentage of the period's starting count per period.
    Percent(u32, f64),
}

/// How the HPA turns raw recommendations into a count.
#[derive(Debug, Clone, PartialEq)]
pub enum Behavior {
    /// No `behavior` section: 300 s downscale stabilisation, scale-up capped
    /// at `max(2 * current, 4)` per sync.
    Legacy,
    /// An explicit `behavior` (selectPolicy Max in both directions).
    Explicit {
        /// Scale-up stabilisation window, seconds (default 0).
        up_window: f64,
        /// Scale-down stabilisation window, seconds (default 300).
        down_window: f64,
        /// Scale-up policies (default Pods 4 and Percent 100 per 15 s).
        up: Vec<RatePolicy>,
        /// Scale-down policies (default Percent 100 per 15 s).
        down: Vec<RatePolicy>,
    },
}

impl Behavior {
    /// `behavior` with the API server's defaults except the scale-down
    /// stabilisation window.
    pub fn with_down_window(down_window: f64) -> Self {
        Behavior::Explicit {
            up_window: 0.0,
            down_window,
            up: vec![RatePolicy::Pods(4, 15.0), RatePolicy::Percent(100, 15.0)],
            down: vec![RatePolicy::Percent(100, 15.0)],
        }
    }
}

/// The HPA's recommendation logic and memory.
#[derive(Debug, Clone)]
pub struct HpaCore {
    /// `AverageValue` target per pod.
    pub target: f64,
    /// Tolerance around a ratio of 1 (default 0.1).
    pub tolerance: f64,
    /// minReplicas.
    pub min: u32,
    /// maxReplicas.
    pub max: u32,
    /// Stabilisation and rate rules.
    pub behavior: Behavior,
    /// `(time, raw recommendation)`, oldest first.
    recs: VecDeque<(f64, u32)>,
    /// `(time, replica change)` of the HPA's own scale events.
    events: VecDeque<(f64, i64)>,
}

impl HpaCore {
    /// An HPA with `target` per pod and the given bounds and behavior.
    pub fn new(target: f64, min: u32, max: u32, behavior: Behavior) -> Self {
        HpaCore {
            target,
            tolerance: 0.1,
            min,
            max,
            behavior,
            recs: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The raw replica count for a metric total of `usage` (sum over the
    /// external metric) with `current` replicas.
    pub fn raw(&self, usage: f64, current: u32) -> u32 {
        let ratio = usage / (self.target * f64::from(current));
        if (1.0 - ratio).abs() > self.tolerance {
            (usage / self.target).ceil() as u32
        } else {
            current
        }
    }

    /// One sync: the count the HPA sets, or `None` when it leaves the
    /// target alone (0 replicas with minReplicas > 0: scaling disabled).
    pub fn sync(&mut self, now: f64, usage: f64, current: u32) -> Option<u32> {
        if current == 0 && self.min > 0 {
            return None;
        }
        let desired = if current > self.max {
            self.max
        } else if current < self.min {
            self.min
        } else {
            let raw = self.raw(usage, current);
            match self.behavior.clone() {
                Behavior::Legacy => {
                    let stab = self.stabilize(now, 300.0, raw, |a, b| a.max(b));
                    let up_limit = (2 * current).max(4).min(self.max);
                    stab.clamp(self.min, up_limit.max(self.min))
                }
                Behavior::Explicit { .. } => self.with_behavior(now, raw, current),
            }
        };
        if desired != current {
            self.events
                .push_back((now, i64::from(desired) - i64::from(current)));
        }
        Some(desired)
    }

    /// Legacy `stabilizeRecommendation`: the highest recommendation not
    /// older than the window, this one included; then records this one.
    fn stabilize(&mut self, now: f64, window: f64, raw: u32, pick: fn(u32, u32) -> u32) -> u32 {
        while self.recs.front().is_some_and(|r| r.0 < now - window) {
            self.recs.pop_front();
        }
        let best = self.recs.iter().fold(raw, |acc, r| pick(acc, r.1));
        self.recs.push_back((now, raw));
        best
    }

    /// `stabilizeRecommendationWithBehaviors`, then
    /// `convertDesiredReplicasWithBehaviorRate`.
    fn with_behavior(&mut self, now: f64, raw: u32, current: u32) -> u32 {
        let Behavior::Explicit {
            up_window,
            down_window,
            up,
            down,
        } = self.behavior.clone()
        else {
            return raw;
        };
        let keep = up_window.max(down_window);
        while self.recs.front().is_some_and(|r| r.0 < now - keep) {
            self.recs.pop_front();
        }
        let mut up_rec = raw;
        let mut down_rec = raw;
        for &(t, r) in &self.recs {
            if t > now - up_window {
                up_rec = up_rec.min(r);
            }
            if t > now - down_window {
                down_rec = down_rec.max(r);
            }
        }
        self.recs.push_back((now, raw));
        let stab = current.max(up_rec).min(down_rec);

        let longest = up
            .iter()
            .chain(&down)
            .map(|p| match *p {
                RatePolicy::Pods(_, s) | RatePolicy::Percent(_, s) => s,
            })
            .fold(0.0, f64::max);
        while self.events.front().is_some_and(|e| e.0 <= now - longest) {
            self.events.pop_front();
        }
        let change_in = |period: f64, sign: i64| -> i64 {
            self.events
                .iter()
                .filter(|e| e.0 > now - period && e.1.signum() == sign)
                .map(|e| e.1)
                .sum()
        };
        let start = |period: f64| -> i64 {
            i64::from(current) - change_in(period, 1) - change_in(period, -1)
        };
        let cur = i64::from(current);
        if i64::from(stab) > cur {
            let limit = up
                .iter()
                .map(|p| match *p {
                    RatePolicy::Pods(v, s) => start(s) + i64::from(v),
                    RatePolicy::Percent(v, s) => {
                        (start(s) as f64 * (1.0 + f64::from(v) / 100.0)).ceil() as i64
                    }
                })
                .max()
                .unwrap_or(cur)
                .max(cur);
            let allowed = limit.min(i64::from(self.max));
            i64::from(stab).min(allowed) as u32
        } else if i64::from(stab) < cur {
            let limit = down
                .iter()
                .map(|p| match *p {
                    RatePolicy::Pods(v, s) => start(s) - i64::from(v),
                    RatePolicy::Percent(v, s) => {
                        (start(s) as f64 * (1.0 - f64::from(v) / 100.0)) as i64
                    }
                })
                .min()
                .unwrap_or(cur)
                .min(cur);
            let allowed = limit.max(i64::from(self.min));
            i64::from(stab).max(allowed) as u32
        } else {
            stab
        }
    }
}

/// `hpa`: a plain HPA on the consumer lag as an external `AverageValue`
/// metric (through a metrics adapter), without KEDA: minReplicas 1, no
/// scale to zero, the metric read live at each sync.
#[derive(Debug, Clone)]
pub struct Hpa {
    name: String,
    core: HpaCore,
    sync: Clock,
    created: bool,
}

impl Hpa {
    /// An HPA syncing every 15 s from `phase`.
    pub fn new(name: &str, core: HpaCore, phase: f64) -> Self {
        Hpa {
            name: name.to_string(),
            core,
            sync: Clock::new(15.0, phase),
            created: false,
        }
    }
}

impl Controller for Hpa {
    fn name(&self) -> &str {
        &self.name
    }
    fn next_tick(&self) -> f64 {
        self.sync.next()
    }
    fn tick(&mut self, v: &View) -> Option<u32> {
        self.sync.advance();
        if !self.created {
            // The Deployment is created with minReplicas; from 0 the HPA
            // would never act.
            self.created = true;
            return Some(self.core.min.max(1));
        }
        self.core.sync(v.now, v.lag() as f64, v.current())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Syncs every 15 s on a constant lag of 300 (target 10: 30 pods),
    /// starting from 1 replica; the counts the HPA sets.
    fn step(core: HpaCore) -> Vec<u32> {
        let mut h = Hpa::new("hpa", core, 0.0);
        let mut cur = h.tick(&View::default()).unwrap_or(0);
        let mut seq = vec![cur];
        for i in 0..5 {
            let v = View {
                now: f64::from(i) * 15.0,
                pending: 300,
                ready: cur,
                ..View::default()
            };
            cur = h.tick(&v).unwrap_or(cur);
            seq.push(cur);
        }
        seq
    }

    #[test]
    fn legacy_scale_up_doubles_at_most() {
        // max(2 * current, 4) per sync, then ceil(300 / 10) = 30.
        let seq = step(HpaCore::new(10.0, 1, 1000, Behavior::Legacy));
        assert_eq!(seq, vec![1, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn behavior_defaults_allow_four_pods_or_double() {
        // Pods 4 / Percent 100 per 15 s, selectPolicy Max:
        // max(1 + 4, 2) = 5, max(9, 10) = 10, 20, then 30.
        let seq = step(HpaCore::new(
            10.0,
            1,
            1000,
            Behavior::with_down_window(60.0),
        ));
        assert_eq!(seq, vec![1, 5, 10, 20, 30, 30]);
    }

    #[test]
    fn tolerance_and_downscale_window() {
        let mut core = HpaCore::new(10.0, 1, 1000, Behavior::Legacy);
        // Ratio 105 / (10 * 10) = 1.05: within 0.1, no change.
        assert_eq!(core.raw(105.0, 10), 10);
        assert_eq!(core.raw(115.0, 10), 12);
        // Legacy: the highest recommendation of the last 300 s holds.
        assert_eq!(core.sync(0.0, 300.0, 30), Some(30));
        assert_eq!(core.sync(15.0, 0.0, 30), Some(30));
        assert_eq!(core.sync(300.0, 0.0, 30), Some(30));
        assert_eq!(core.sync(315.0, 0.0, 30), Some(1));
    }
}
