//! Stabilisation windows, the Kubernetes HPA's model: every tick's
//! recommendation is remembered; a scale-up goes only as high as the
//! lowest recommendation within `scale_up_delay`, a scale-down only as low
//! as the highest within `scale_down_delay`. So a higher need must last the
//! up window and a lower need the down window before the count follows.

use std::collections::VecDeque;
use std::time::Duration;

use jiff::Timestamp;

use crate::config::{Scaling, format_duration};

use super::decision::{Limit, Trail};
use super::ewma::secs_between;

/// Recent recommendations, newest last.
#[derive(Debug, Clone, Default)]
pub(crate) struct Windows {
    /// (when, recommendation), pruned to the longer window.
    recs: VecDeque<(Timestamp, u32)>,
    /// The count that ran at the first decision, as a recommendation for
    /// the down window only (what the HPA does on start): a restarted
    /// jetpool knows nothing yet and must not read that as "need nothing".
    seed: Option<(Timestamp, u32)>,
}

impl Windows {
    /// Remembers this tick's recommendation.
    pub fn record(&mut self, now: Timestamp, rec: u32, s: &Scaling) {
        self.recs.push_back((now, rec));
        let keep = s.scale_up_delay.max(s.scale_down_delay()).as_secs_f64();
        while self
            .recs
            .front()
            .is_some_and(|&(t, _)| secs_between(t, now) > keep)
        {
            self.recs.pop_front();
        }
    }

    /// Seeds the down window with what runs at the first decision.
    pub fn seed(&mut self, now: Timestamp, current: u32) {
        self.seed = Some((now, current));
    }

    /// Forgets every recommendation: used when the pool went idle and its
    /// old needs no longer say anything about the next one.
    pub fn clear(&mut self) {
        self.recs.clear();
        self.seed = None;
    }

    /// Extreme of the recommendations within `window` of `now`.
    fn extreme(&self, now: Timestamp, window: Duration, highest: bool) -> Option<u32> {
        let w = window.as_secs_f64();
        // The seed holds strictly inside the window, so a window of 0
        // holds nothing at all.
        let seed = self
            .seed
            .filter(|&(t, _)| highest && secs_between(t, now) < w);
        let within = self
            .recs
            .iter()
            .filter(|&&(t, _)| secs_between(t, now) <= w)
            .chain(seed.iter())
            .map(|&(_, r)| r);
        if highest { within.max() } else { within.min() }
    }

    /// Moves the count from `previous` towards the recommendation (already
    /// recorded) only as far as both windows allow. `release`, when set,
    /// is the most agents the down window may hold: with a standing queue
    /// that ran empty, only the busy ones (an idle agent then costs
    /// agent time and buys nothing, while the window exists to spare
    /// restarts of agents that had work).
    pub fn stabilize(
        &self,
        t: &mut Trail,
        s: &Scaling,
        now: Timestamp,
        previous: u32,
        release: Option<u32>,
    ) {
        let want = t.value;
        if want > previous {
            let low = self
                .extreme(now, s.scale_up_delay, false)
                .unwrap_or(want)
                .max(previous);
            t.bound(low, Limit::ScaleUpDelay, |n| {
                format!(
                    "held at {n} until the higher need lasts {} (scale_up_delay)",
                    format_duration(s.scale_up_delay)
                )
            });
        } else if want < previous {
            let held = self
                .extreme(now, s.scale_down_delay(), true)
                .unwrap_or(want)
                .min(previous);
            let high = release.map_or(held, |r| held.min(r.max(want)));
            if high < held {
                t.note(format!(
                    "queue empty: {} idle agents released past scale_down_delay",
                    held - high
                ));
            }
            t.bound(high, Limit::ScaleDownDelay, |n| {
                format!(
                    "held at {n} until the lower need lasts {} (scale_down_delay)",
                    format_duration(s.scale_down_delay())
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn run(s: &Scaling, recs: &[(i64, u32)], previous: u32) -> (u32, Limit) {
        let mut w = Windows::default();
        for &(at, r) in recs {
            w.record(ts(at), r, s);
        }
        let (now, last) = recs[recs.len() - 1];
        let mut t = Trail::new(last);
        w.stabilize(&mut t, s, ts(now), previous, None);
        (t.value, t.limit)
    }

    #[test]
    fn table() {
        let s = Scaling {
            scale_up_delay: Duration::from_secs(3),
            scale_down_delay: Some(Duration::from_secs(10)),
            ..Default::default()
        };
        type Case<'a> = (&'a [(i64, u32)], u32, (u32, Limit));
        let cases: &[Case] = &[
            // Up: the lowest in the last 3 s wins.
            (
                &[(0, 2), (1, 9), (2, 8), (3, 9)],
                2,
                (2, Limit::ScaleUpDelay),
            ),
            (
                &[(0, 2), (1, 9), (2, 8), (3, 9), (4, 9)],
                2,
                (8, Limit::ScaleUpDelay),
            ),
            (
                &[(2, 8), (3, 9), (4, 9), (5, 9), (6, 9)],
                2,
                (9, Limit::None),
            ),
            // Down: the highest in the last 10 s wins.
            (&[(0, 9), (5, 3), (10, 2)], 9, (9, Limit::ScaleDownDelay)),
            (&[(0, 9), (5, 3), (11, 2)], 9, (3, Limit::ScaleDownDelay)),
            (&[(0, 9), (5, 3), (16, 2)], 9, (2, Limit::None)),
            // Never moves against the recommendation.
            (&[(0, 1), (1, 7)], 5, (5, Limit::ScaleUpDelay)),
        ];
        for (recs, prev, want) in cases {
            assert_eq!(run(&s, recs, *prev), *want, "{recs:?} from {prev}");
        }
    }

    #[test]
    fn release_caps_what_the_down_window_holds() {
        let s = Scaling {
            scale_down_delay: Some(Duration::from_secs(60)),
            ..Default::default()
        };
        let mut w = Windows::default();
        w.record(ts(0), 20, &s);
        w.record(ts(1), 4, &s);
        let down = |release: Option<u32>| {
            let mut t = Trail::new(4);
            w.stabilize(&mut t, &s, ts(1), 20, release);
            (t.value, t.limit)
        };
        // The window alone holds 20; a release of 12 busy agents lets the
        // 8 idle ones go at once; never below the recommendation.
        assert_eq!(down(None), (20, Limit::ScaleDownDelay));
        assert_eq!(down(Some(12)), (12, Limit::ScaleDownDelay));
        assert_eq!(down(Some(2)), (4, Limit::None));
        // A release never raises the count.
        assert_eq!(down(Some(30)), (20, Limit::ScaleDownDelay));
    }
}
