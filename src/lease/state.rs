//! What a pool's acting jetpool keeps about it for the next one (a `--ha`
//! successor, or the same jetpool restarted): the drains under way with
//! their deadlines and what the estimator learned (the [`Handover`]), when
//! it is worth writing again, and what of it a reader may take. Pure: the
//! bucket is [`super::store`]'s.

use std::time::Duration;

use jiff::Timestamp;

use crate::clock::since;
use crate::plan::KnownDrain;
use crate::policy::Learned;

/// How often at most the estimates alone are written again: they move
/// slowly (time constants of 3 to 120 s), and a few seconds' lag costs a
/// successor nothing it does not learn again in as many seconds.
pub const WRITE_EVERY: Duration = Duration::from_secs(5);

/// How old a hand-over's estimates may be and still seed a successor:
/// past a few of the longest time constant (120 s) the arrival rate it
/// holds says little about now. What belongs to the agents (the measured
/// cold start, their capacity) is taken whatever its age, and its drains
/// too (they are matched to agents that still drain).
pub const MAX_AGE: Duration = Duration::from_secs(600);

/// One pool's state as its leader last wrote it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Handover {
    /// When the leader took it, by its clock.
    pub at: Timestamp,
    /// The drains under way whose agents acknowledged them.
    pub drains: Vec<KnownDrain>,
    /// What the pool's estimator had learned.
    pub learned: Learned,
    /// The id of the agents' template (image, command, environment...)
    /// the estimates were learned on: a cold start is the container's, and
    /// another container's is not this one's. `None` from a jetpool of an
    /// earlier version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
}

impl Handover {
    /// Whether this one should be written, `last` being the one written
    /// before: the drains changed (a drain began, was acknowledged,
    /// ended), or the estimates are [`WRITE_EVERY`] old.
    pub fn due(&self, last: Option<&Handover>) -> bool {
        last.is_none_or(|l| l.drains != self.drains || since(l.at, self.at) >= WRITE_EVERY)
    }

    /// Whether its estimates are recent enough to seed an estimator at
    /// `now` ([`MAX_AGE`]).
    pub fn fresh(&self, now: Timestamp) -> bool {
        since(self.at, now) <= MAX_AGE
    }

    /// What of its estimates may seed a pool whose agents run `template`
    /// at `now`: within [`MAX_AGE`], all of them; past it, only what
    /// belongs to the agents ([`Learned::durable`]), so a restart hours
    /// later still knows how long an agent takes to start, and the first
    /// surge is not sized for a guess. The agents' facts are taken only
    /// from the same template (or, while fresh, from a hand-over that
    /// names none, as an earlier version wrote it).
    pub fn learned_for(&self, now: Timestamp, template: &str) -> Learned {
        let fresh = self.fresh(now);
        let same = self.template.as_deref().map_or(fresh, |t| t == template);
        let learned = if fresh {
            self.learned.clone()
        } else {
            self.learned.durable()
        };
        if same {
            learned
        } else {
            learned.without_agent_facts()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::after;
    use crate::plan::DrainCause;
    use crate::policy::Estimator;

    fn at(secs: u64) -> Handover {
        Handover {
            at: after(Timestamp::UNIX_EPOCH, Duration::from_secs(secs)),
            drains: Vec::new(),
            learned: Estimator::default().learned(),
            template: None,
        }
    }

    #[test]
    fn written_when_drains_change_and_every_few_seconds() {
        assert!(at(0).due(None));
        assert!(!at(4).due(Some(&at(0))));
        assert!(at(5).due(Some(&at(0))));
        let mut drained = at(1);
        drained.drains.push(KnownDrain {
            name: "a".into(),
            cause: DrainCause::ScaleIn,
            since: Timestamp::UNIX_EPOCH,
            deadline: Timestamp::UNIX_EPOCH,
            held: 0,
        });
        assert!(drained.due(Some(&at(0))));
        let json = serde_json::to_vec(&drained).unwrap();
        assert_eq!(serde_json::from_slice::<Handover>(&json).unwrap(), drained);
    }

    #[test]
    fn old_estimates_do_not_seed() {
        let h = at(0);
        assert!(h.fresh(after(h.at, MAX_AGE)));
        assert!(!h.fresh(after(h.at, MAX_AGE + Duration::from_secs(1))));
    }

    /// A hand-over from a pool that watched 60 s of 10 tasks/s and measured
    /// a 12 s cold start, written at `at(0)` by a jetpool naming `template`.
    fn learned_on(template: Option<&str>) -> Handover {
        let mut e = Estimator::default();
        for i in 0..60u64 {
            let c = crate::policy::ConsumerStats {
                at: after(Timestamp::UNIX_EPOCH, Duration::from_secs(i)),
                pending: 5,
                delivered_consumer_seq: 10 * i,
                ..Default::default()
            };
            e.update(&c, None, (i == 30).then_some(12.0));
        }
        Handover {
            template: template.map(str::to_string),
            learned: e.learned(),
            ..at(0)
        }
    }

    /// What a successor at `now` running `template` learns from `h`:
    /// (arrival rate, measured cold start).
    fn taken(h: &Handover, now: Duration, template: &str) -> (f64, Option<f64>) {
        let mut e = Estimator::default();
        e.seed(&h.learned_for(after(h.at, now), template));
        let est = e.estimates(1, None, 99.0);
        (
            est.arrival_rate,
            est.cold_start_measured.then_some(est.horizon_s),
        )
    }

    #[test]
    fn the_cold_start_outlives_the_rates_on_the_same_template() {
        let h = learned_on(Some("v1"));
        let soon = Duration::from_secs(60);
        let hours = Duration::from_secs(6 * 3600);
        let (rate, cold) = taken(&h, soon, "v1");
        assert!(rate > 5.0, "{rate}");
        assert_eq!(cold, Some(12.0));
        // Hours later: the load is forgotten, the start is not.
        assert_eq!(taken(&h, hours, "v1"), (0.0, Some(12.0)));
        // Another container: its start is not this one's.
        let (rate, cold) = taken(&h, soon, "v2");
        assert!(rate > 5.0, "{rate}");
        assert_eq!(cold, None);
        assert_eq!(taken(&h, hours, "v2"), (0.0, None));
        // An earlier version named no template: fresh, it seeds as it did.
        let old = learned_on(None);
        assert_eq!(taken(&old, soon, "v1").1, Some(12.0));
        assert_eq!(taken(&old, hours, "v1"), (0.0, None));
    }
}
