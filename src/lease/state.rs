//! What a `--ha` leader keeps about each pool for the next one: the drains
//! under way with their deadlines and what the estimator learned (the
//! [`Handover`]), and when it is worth writing again. Pure: the bucket is
//! [`super::store`]'s.

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
/// holds says little about now. Its drains are used whatever their age
/// (they are matched to agents that still drain).
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
}
