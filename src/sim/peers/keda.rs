//! KEDA's `nats-jetstream` scaler behind the HPA.
//!
//! - Scaler (`pkg/scalers/nats_jetstream_scaler.go`): the metric is
//!   `lag = num_pending + num_ack_pending` (ack pending since PR #3809),
//!   exposed as an external metric with an `AverageValue` target of
//!   `lagThreshold` (default 10); activation when `lag >
//!   activationLagThreshold` (default 0).
//! - KEDA core (ScaledObject defaults): every `pollingInterval` (30 s) KEDA
//!   itself decides only activation: 0 -> `max(minReplicaCount, 1)` when
//!   active, and N -> 0 once the scaler has been inactive for
//!   `cooldownPeriod` (300 s) with `minReplicaCount` 0. Between 1 and N the
//!   HPA decides (minReplicas 1), reading the metric live at each 15 s sync
//!   (`useCachedMetrics` is false by default).
//! - The phases of KEDA's poll and the HPA's sync are drawn per run from
//!   the seed: neither is aligned with the trace, nor with each other.

use super::hpa::HpaCore;
use crate::sim::controller::{Clock, Controller, View};

/// KEDA's own knobs (ScaledObject and trigger metadata).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KedaKnobs {
    /// `pollingInterval`, seconds (default 30).
    pub polling_interval: f64,
    /// `cooldownPeriod`, seconds (default 300).
    pub cooldown_period: f64,
    /// `minReplicaCount` (default 0).
    pub min_replica_count: u32,
    /// `activationLagThreshold` (default 0, compared with `>`).
    pub activation_lag_threshold: f64,
}

impl Default for KedaKnobs {
    fn default() -> Self {
        KedaKnobs {
            polling_interval: 30.0,
            cooldown_period: 300.0,
            min_replica_count: 0,
            activation_lag_threshold: 0.0,
        }
    }
}

/// `keda` and `keda-tuned`.
#[derive(Debug, Clone)]
pub struct Keda {
    name: String,
    knobs: KedaKnobs,
    hpa: HpaCore,
    poll: Clock,
    sync: Clock,
    /// When the scaler was last seen active (`lastActiveTime`); the run
    /// starts as if it had just been active (initialCooldownPeriod 0 would
    /// scale an idle target to zero at once, and there is none at start).
    last_active: f64,
}

impl Keda {
    /// A ScaledObject with `knobs` whose HPA is `hpa`; `poll_phase` and
    /// `sync_phase` are the first poll and sync times.
    pub fn new(
        name: &str,
        knobs: KedaKnobs,
        hpa: HpaCore,
        poll_phase: f64,
        sync_phase: f64,
    ) -> Self {
        Keda {
            name: name.to_string(),
            knobs,
            hpa,
            poll: Clock::new(knobs.polling_interval, poll_phase),
            sync: Clock::new(15.0, sync_phase),
            last_active: 0.0,
        }
    }
}

impl Controller for Keda {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_tick(&self) -> f64 {
        self.poll.next().min(self.sync.next())
    }

    fn tick(&mut self, v: &View) -> Option<u32> {
        let lag = v.lag() as f64;
        if self.poll.next() <= self.sync.next() {
            self.poll.advance();
            // KEDA's scale loop: activation and deactivation only.
            if lag > self.knobs.activation_lag_threshold {
                self.last_active = v.now;
                if v.current() == 0 {
                    return Some(self.knobs.min_replica_count.max(1));
                }
            } else if v.current() > self.knobs.min_replica_count
                && self.knobs.min_replica_count == 0
                && v.now - self.last_active >= self.knobs.cooldown_period
            {
                return Some(0);
            }
            None
        } else {
            self.sync.advance();
            self.hpa.sync(v.now, lag, v.current())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::hpa::Behavior;
    use super::*;

    #[test]
    fn activation_then_hpa_doubling_then_ceil() {
        // A step from 0 to a lag of 300 held constant: KEDA activates at its
        // poll (0 -> 1); the HPA then doubles at most, max(2*cur, 4), per
        // sync until ceil(300 / 10) = 30.
        let hpa = HpaCore::new(10.0, 1, 1000, Behavior::Legacy);
        let mut k = Keda::new("keda", KedaKnobs::default(), hpa, 0.0, 5.0);
        let mut cur = 0;
        let mut seq = Vec::new();
        while k.next_tick() <= 70.0 {
            let now = k.next_tick();
            if let Some(d) = k.tick(&View::at(now, 300, cur)) {
                if d != cur {
                    seq.push((now, d));
                }
                cur = d;
            }
        }
        assert_eq!(
            seq,
            vec![(0.0, 1), (5.0, 4), (20.0, 8), (35.0, 16), (50.0, 30)]
        );
    }

    #[test]
    fn scale_to_zero_only_after_cooldown() {
        let hpa = HpaCore::new(10.0, 1, 1000, Behavior::Legacy);
        let mut k = Keda::new("keda", KedaKnobs::default(), hpa, 0.0, 7.0);
        assert_eq!(k.tick(&View::at(0.0, 5, 0)), Some(1));
        // Idle from t=0 on: HPA holds minReplicas 1, KEDA's poll at 300 s
        // (cooldown elapsed since last active at 0) scales to zero.
        let mut zero_at = None;
        let mut cur = 1;
        while k.next_tick() <= 400.0 {
            let now = k.next_tick();
            if let Some(d) = k.tick(&View::at(now, 0, cur)) {
                if d == 0 && zero_at.is_none() {
                    zero_at = Some(now);
                }
                cur = d;
            }
        }
        assert_eq!(zero_at, Some(300.0));
    }
}
