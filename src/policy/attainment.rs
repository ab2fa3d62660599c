//! The wait SLO as attained, measured: the share of recent deliveries that
//! started later than the SLO, read from the consumer alone, so a pool's
//! dashboard shows whether its SLO holds and not only how old the queue is.
//!
//! Between two snapshots the consumer delivered `Δ` tasks in stream order:
//! the first was the oldest pending task of the earlier snapshot, the last
//! one was just ahead of the oldest pending task of the later one. Their
//! waits run from about the first age to about the second, so the share of
//! the `Δ` past the SLO is the share of that span past it. Summed with an
//! exponential window ([`WINDOW_S`]), late over delivered is the SLO's
//! miss rate over about the last hour, what an SRE's burn-rate alert
//! watches (`jetpool_pool_slo_late_ratio`). It is an estimate: between two
//! reads the waits are taken as evenly spread, and a task delivered again
//! counts as a new delivery.

use jiff::Timestamp;

use super::ConsumerStats;
use super::ewma::secs_between;

/// The error budget's window, seconds: misses older than about an hour
/// no longer count.
pub const WINDOW_S: f64 = 3600.0;

/// Late and delivered tasks over the recent window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Attainment {
    /// The previous snapshot: when, deliveries so far, oldest pending age.
    prev: Option<(Timestamp, u64, f64)>,
    /// Deliveries that started past the SLO, decayed.
    late: f64,
    /// Deliveries, decayed.
    delivered: f64,
    /// The latest snapshot with a delivery, and the latest one of all:
    /// decay keeps the ratio of an idle pool, so its misses would count
    /// for ever without this.
    last_delivery: Option<Timestamp>,
    /// When the latest snapshot was taken.
    latest: Option<Timestamp>,
}

impl Attainment {
    /// Folds in a snapshot, for an SLO of `slo_s`.
    pub fn update(&mut self, c: &ConsumerStats, slo_s: f64) {
        let age = c.oldest_pending_age_s().unwrap_or(0.0);
        // Deliveries by the consumer's own count: the stream's sequence also
        // moves past messages that a filtered consumer never sees.
        let seq = c.delivered_consumer_seq;
        let Some((at, prev_seq, prev_age)) = self.prev.replace((c.at, seq, age)) else {
            return;
        };
        let dt = secs_between(at, c.at);
        if dt <= 0.0 || seq < prev_seq {
            return;
        }
        let delivered = (seq - prev_seq) as f64;
        self.latest = Some(c.at);
        if delivered > 0.0 {
            self.last_delivery = Some(c.at);
        }
        let late = delivered * share_past(prev_age, age, slo_s);
        let keep = (-dt / WINDOW_S).exp();
        self.late = self.late * keep + late;
        self.delivered = self.delivered * keep + delivered;
    }

    /// The share of the window's deliveries that started past the SLO;
    /// `None` before any delivery and once nothing was delivered for a
    /// whole window (an idle pool's old misses say nothing about now).
    pub fn late_share(&self) -> Option<f64> {
        let (last, latest) = (self.last_delivery?, self.latest?);
        if secs_between(last, latest) > WINDOW_S {
            return None;
        }
        (self.delivered > 0.0).then(|| self.late / self.delivered)
    }
}

/// The share of a span of waits, running evenly from `a` to `b`, that is
/// past `slo`.
fn share_past(a: f64, b: f64, slo: f64) -> f64 {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    if lo >= slo {
        1.0
    } else if hi <= slo {
        0.0
    } else {
        (hi - slo) / (hi - lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(at_s: i64, delivered: u64, age_s: Option<i64>) -> ConsumerStats {
        let at = Timestamp::from_second(1_700_000_000 + at_s).expect("in range");
        ConsumerStats {
            at,
            delivered_consumer_seq: delivered,
            oldest_pending_at: age_s
                .map(|a| Timestamp::from_second(1_700_000_000 + at_s - a).expect("in range")),
            ..ConsumerStats::default()
        }
    }

    #[test]
    fn counts_the_share_of_deliveries_past_the_slo() {
        let mut b = Attainment::default();
        b.update(&snap(0, 0, None), 30.0);
        assert_eq!(b.late_share(), None);
        // 100 delivered with waits from 0 to 10 s: none late.
        b.update(&snap(1, 100, Some(10)), 30.0);
        assert_eq!(b.late_share(), Some(0.0));
        // 100 more with waits from 10 s to 50 s: half past 30 s.
        b.update(&snap(2, 200, Some(50)), 30.0);
        let share = b.late_share().expect("delivered");
        assert!((share - 0.25).abs() < 1e-3, "{share}");
        // An hour of on-time deliveries: the misses fade out.
        for i in 0..3600 {
            b.update(&snap(3 + i, 300 + 100 * i as u64, None), 30.0);
        }
        assert!(b.late_share().expect("delivered") < 0.001);
    }

    #[test]
    fn an_idle_hour_forgets_the_misses() {
        let mut b = Attainment::default();
        b.update(&snap(0, 0, Some(40)), 30.0);
        b.update(&snap(1, 100, Some(50)), 30.0);
        assert_eq!(b.late_share(), Some(1.0));
        // Nothing delivered since: the share holds for a window, then
        // there is no share to speak of.
        b.update(&snap(1800, 100, None), 30.0);
        assert_eq!(b.late_share(), Some(1.0));
        b.update(&snap(3602, 100, None), 30.0);
        assert_eq!(b.late_share(), None);
    }

    #[test]
    fn the_share_past_a_threshold() {
        assert_eq!(share_past(0.0, 10.0, 30.0), 0.0);
        assert_eq!(share_past(40.0, 35.0, 30.0), 1.0);
        assert!((share_past(20.0, 40.0, 30.0) - 0.5).abs() < 1e-12);
        assert!((share_past(40.0, 20.0, 30.0) - 0.5).abs() < 1e-12);
    }
}
