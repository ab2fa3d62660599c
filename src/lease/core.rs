//! The lease's pure state machine: what to send next and what an answer
//! means, with time passed in as the [`Duration`] since an arbitrary
//! origin (the edge's start). No I/O and no clock, so the safety argument
//! of the [module doc](super) can be checked by a property test that
//! plays two instances against a model of the bucket.

use std::time::Duration;

/// The lease's timings, all derived from the lease length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// How long a write keeps the key alive on the server (the bucket's
    /// `max_age`).
    pub lease: Duration,
    /// How often the leader renews: three tries per lease, so one lost
    /// renewal does not cost the lead.
    pub renew_every: Duration,
    /// How much sooner than the server the leader gives up: covers the
    /// time between a fence check and the Docker call it admits, and any
    /// small difference between the two clocks' rates.
    pub margin: Duration,
    /// How often a follower tries to take the key, and a failed renewal is
    /// retried: short, since it bounds how late after the key's expiry a
    /// follower takes over.
    pub retry_every: Duration,
}

impl Timing {
    /// The timings of a lease of `lease`.
    pub fn new(lease: Duration) -> Self {
        Timing {
            lease,
            renew_every: lease / 3,
            margin: lease / 5,
            retry_every: (lease / 20).max(Duration::from_millis(50)),
        }
    }

    /// How long one request may take before it counts as failed: a
    /// renewal must be answered before the next is due.
    pub fn request_timeout(&self) -> Duration {
        self.renew_every
    }
}

/// What the edge does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Try to create the key (it fails while another holds it).
    Create,
    /// Renew the key, compare-and-set on `revision`.
    Renew {
        /// The revision this instance last wrote.
        revision: u64,
    },
    /// Nothing to send before `until`.
    Wait {
        /// When to ask again.
        until: Duration,
    },
}

/// How a create ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// The key is ours, at this revision.
    Ok {
        /// The key's revision: the term's number.
        revision: u64,
    },
    /// Another instance holds it.
    Taken,
    /// The key holds a value this instance wrote, at `revision`, when we
    /// do not know: an earlier create whose answer was lost. It leads
    /// once a renewal lands (nobody else can have written in between).
    Unconfirmed {
        /// The key's revision.
        revision: u64,
    },
    /// No answer, or an error: unknown whether the write landed.
    Failed,
}

/// How a renewal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewed {
    /// The key is still ours, now at this revision.
    Ok {
        /// The new revision.
        revision: u64,
    },
    /// The revision moved on or the key is gone: another may lead.
    Lost,
    /// The revision moved on, but to a value this instance wrote: a
    /// renewal whose answer was lost landed. The deadline stays (when it
    /// was sent is unknown); the next renewal uses `revision`.
    Unconfirmed {
        /// The key's revision.
        revision: u64,
    },
    /// No answer, or an error: unknown whether the write landed.
    Failed,
}

/// The lease as this instance holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Held {
    /// The revision the key was created with: it names the term, and is
    /// the fencing token an act carries.
    pub term: u64,
    /// Until when this instance may act, unless renewed.
    pub deadline: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not holding the key; the next create is due at `next_try`.
    Follower { next_try: Duration },
    /// Holding the key as last written; leading while `now < deadline`.
    Leader {
        /// The term.
        term: u64,
        /// The revision of our last write that we know landed.
        revision: u64,
        /// The send time of our last successful write, plus the lease,
        /// less the margin.
        deadline: Duration,
        /// When the next renewal is due.
        renew_at: Duration,
    },
}

/// One instance's side of the election.
#[derive(Debug, Clone)]
pub struct Elector {
    timing: Timing,
    state: State,
}

impl Elector {
    /// A follower that tries to lead at once.
    pub fn new(timing: Timing, now: Duration) -> Self {
        Elector {
            timing,
            state: State::Follower { next_try: now },
        }
    }

    /// The timings in force.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// What to do at `now`. A leader past its deadline keeps renewing: a
    /// renewal that still lands proves nobody else wrote the key since
    /// (the compare-and-set), so the term goes on; one that is refused
    /// makes it a follower.
    pub fn next(&self, now: Duration) -> Step {
        match self.state {
            State::Follower { next_try } if now >= next_try => Step::Create,
            State::Follower { next_try } => Step::Wait { until: next_try },
            State::Leader {
                revision, renew_at, ..
            } if now >= renew_at => Step::Renew { revision },
            State::Leader {
                renew_at, deadline, ..
            } => Step::Wait {
                // Waking at the deadline lets the edge say it stepped down.
                until: if deadline > now {
                    renew_at.min(deadline)
                } else {
                    renew_at
                },
            },
        }
    }

    /// Folds in the answer to a create sent at `sent`, received at `now`.
    pub fn created(&mut self, sent: Duration, outcome: Created, now: Duration) {
        self.state = match outcome {
            Created::Ok { revision } => State::Leader {
                term: revision,
                revision,
                // From the send, not the answer: the server wrote the key
                // at or after `sent`, so it expires no sooner than
                // `sent + lease`.
                deadline: sent + self.timing.lease - self.timing.margin,
                renew_at: sent + self.timing.renew_every,
            },
            Created::Unconfirmed { revision } => State::Leader {
                term: revision,
                revision,
                // Not leading until a renewal says since when.
                deadline: Duration::ZERO,
                renew_at: now,
            },
            Created::Taken | Created::Failed => State::Follower {
                next_try: now + self.timing.retry_every,
            },
        };
    }

    /// Folds in the answer to a renewal sent at `sent`, received at `now`.
    pub fn renewed(&mut self, sent: Duration, outcome: Renewed, now: Duration) {
        let State::Leader {
            term,
            revision,
            deadline,
            ..
        } = self.state
        else {
            return;
        };
        self.state = match outcome {
            Renewed::Ok { revision } => State::Leader {
                term,
                revision,
                deadline: deadline.max(sent + self.timing.lease - self.timing.margin),
                renew_at: sent + self.timing.renew_every,
            },
            Renewed::Unconfirmed { revision } => State::Leader {
                term,
                revision,
                deadline,
                renew_at: now,
            },
            Renewed::Lost => State::Follower {
                next_try: now + self.timing.retry_every,
            },
            Renewed::Failed => State::Leader {
                term,
                revision,
                deadline,
                renew_at: now + self.timing.retry_every,
            },
        };
    }

    /// The lease, if this instance leads at `now`.
    pub fn leading(&self, now: Duration) -> Option<Held> {
        match self.state {
            State::Leader { term, deadline, .. } if now < deadline => Some(Held { term, deadline }),
            _ => None,
        }
    }

    /// The lease as held, even past its deadline (the edge publishes it
    /// with its deadline, and the fence compares that with the clock).
    pub fn held(&self) -> Option<Held> {
        match self.state {
            State::Leader { term, deadline, .. } => Some(Held { term, deadline }),
            State::Follower { .. } => None,
        }
    }

    /// The revision last written, when leading: what a release deletes.
    pub fn revision(&self) -> Option<u64> {
        match self.state {
            State::Leader { revision, .. } => Some(revision),
            State::Follower { .. } => None,
        }
    }
}

#[cfg(test)]
#[path = "core_tests.rs"]
mod tests;
