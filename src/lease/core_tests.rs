//! The lease core: its steps one by one, and a property test that plays
//! two instances against a model of the bucket (key expiry at write time
//! plus `max_age`, compare-and-set on the revision) with arbitrary request
//! delays and losses, and checks they never both lead at one instant.

use std::time::Duration;

use proptest::prelude::*;

use super::*;

const LEASE: Duration = Duration::from_secs(3);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn a_follower_creates_at_once_and_leads_until_lease_less_margin() {
    let t = Timing::new(LEASE);
    let mut e = Elector::new(t, ms(0));
    assert_eq!(e.next(ms(0)), Step::Create);
    e.created(ms(0), Created::Ok { revision: 7 }, ms(40));
    let held = e.leading(ms(40)).expect("leads");
    assert_eq!(held.term, 7);
    // From the send time, not the answer's.
    assert_eq!(held.deadline, LEASE - t.margin);
    assert_eq!(e.leading(LEASE - t.margin), None);
    assert_eq!(e.next(ms(100)), Step::Wait { until: ms(1000) });
    assert_eq!(e.next(ms(1000)), Step::Renew { revision: 7 });
}

#[test]
fn a_renewal_extends_from_its_send_time_and_keeps_the_term() {
    let t = Timing::new(LEASE);
    let mut e = Elector::new(t, ms(0));
    e.created(ms(0), Created::Ok { revision: 7 }, ms(10));
    e.renewed(ms(1000), Renewed::Ok { revision: 9 }, ms(1500));
    let held = e.leading(ms(1500)).expect("leads");
    assert_eq!(held.term, 7);
    assert_eq!(held.deadline, ms(1000) + LEASE - t.margin);
    assert_eq!(e.next(ms(2000)), Step::Renew { revision: 9 });
}

#[test]
fn a_failed_renewal_is_retried_and_the_lead_lapses_at_the_deadline() {
    let t = Timing::new(LEASE);
    let mut e = Elector::new(t, ms(0));
    e.created(ms(0), Created::Ok { revision: 7 }, ms(10));
    e.renewed(ms(1000), Renewed::Failed, ms(2000));
    assert_eq!(e.next(ms(2000)), Step::Wait { until: ms(2150) });
    assert!(e.leading(ms(2399)).is_some());
    assert!(e.leading(ms(2400)).is_none(), "lapsed at lease less margin");
    // Still holding as far as it knows: it keeps renewing.
    assert_eq!(e.next(ms(2400)), Step::Renew { revision: 7 });
    e.renewed(ms(2400), Renewed::Ok { revision: 8 }, ms(2410));
    assert_eq!(e.leading(ms(2410)).map(|h| h.term), Some(7));
}

#[test]
fn a_lost_renewal_or_a_taken_key_makes_a_follower() {
    let t = Timing::new(LEASE);
    let mut e = Elector::new(t, ms(0));
    e.created(ms(0), Created::Taken, ms(10));
    assert_eq!(e.leading(ms(10)), None);
    assert_eq!(e.next(ms(10)), Step::Wait { until: ms(160) });
    e.created(ms(160), Created::Ok { revision: 3 }, ms(170));
    e.renewed(ms(1160), Renewed::Lost, ms(1170));
    assert_eq!(e.leading(ms(1170)), None);
    assert_eq!(e.held(), None);
    assert_eq!(e.next(ms(1320)), Step::Create);
}

/// The bucket as the server keeps it: one key, history 1, expiring
/// `max_age` after its last write.
#[derive(Default)]
struct Bucket {
    /// The stream's last sequence.
    seq: u64,
    /// The key's revision, when it was written, and by whom.
    key: Option<(u64, Duration, usize)>,
}

impl Bucket {
    fn live(&self, now: Duration) -> Option<(u64, usize)> {
        self.key
            .filter(|&(_, at, _)| now < at + LEASE)
            .map(|(rev, _, by)| (rev, by))
    }

    fn write(&mut self, now: Duration, by: usize) -> u64 {
        self.seq += 1;
        self.key = Some((self.seq, now, by));
        self.seq
    }

    /// Applies `by`'s request arriving at `now`: the new revision, or when
    /// refused the live key's revision if `by` wrote it (what the edge
    /// reads after a refusal).
    fn apply(&mut self, req: Step, now: Duration, by: usize) -> Result<u64, Option<u64>> {
        match (req, self.live(now)) {
            (Step::Create, None) => Ok(self.write(now, by)),
            (Step::Renew { revision }, Some((r, _))) if r == revision => Ok(self.write(now, by)),
            (_, Some((r, holder))) if holder == by => Err(Some(r)),
            _ => Err(None),
        }
    }
}

/// A request on its way: what, when sent, and how it ends.
struct InFlight {
    req: Step,
    sent: Duration,
    /// When the server applies it (`None`: it never gets there).
    arrives: Option<Duration>,
    /// The server's answer, once it has one.
    answer: Option<Result<u64, Option<u64>>>,
    /// When the answer is back (or the edge gives up).
    back: Duration,
    /// Whether the answer is lost (the edge times out).
    lost: bool,
}

/// One instance: its elector and its request, if any.
struct Peer {
    e: Elector,
    flight: Option<InFlight>,
    wake: Duration,
}

/// Delays of one request: to the server, back, and whether lost.
type Delays = (u64, u64, bool);

fn simulate(plan: [Vec<Delays>; 2], starts: [u64; 2]) -> Result<(), TestCaseError> {
    let t = Timing::new(LEASE);
    let timeout = t.request_timeout();
    let mut bucket = Bucket::default();
    let mut peers: Vec<Peer> = starts
        .iter()
        .map(|&s| Peer {
            e: Elector::new(t, ms(s)),
            flight: None,
            wake: ms(s),
        })
        .collect();
    let mut used = [0usize; 2];
    for now in (0..12_000).map(ms) {
        // Arrivals first, in the order they reach the server.
        for (i, p) in peers.iter_mut().enumerate() {
            if let Some(f) = p.flight.as_mut()
                && f.arrives == Some(now)
            {
                f.answer = Some(bucket.apply(f.req, now, i));
            }
        }
        for (i, p) in peers.iter_mut().enumerate() {
            if let Some(f) = p.flight.take_if(|f| f.back <= now) {
                match (f.req, f.answer, f.lost) {
                    (Step::Create, Some(Ok(revision)), false) => {
                        p.e.created(f.sent, Created::Ok { revision }, now)
                    }
                    (Step::Create, Some(Err(Some(revision))), false) => {
                        p.e.created(f.sent, Created::Unconfirmed { revision }, now)
                    }
                    (Step::Create, Some(Err(None)), false) => {
                        p.e.created(f.sent, Created::Taken, now)
                    }
                    (Step::Create, _, _) => p.e.created(f.sent, Created::Failed, now),
                    (Step::Renew { .. }, Some(Ok(revision)), false) => {
                        p.e.renewed(f.sent, Renewed::Ok { revision }, now)
                    }
                    (Step::Renew { .. }, Some(Err(Some(revision))), false) => {
                        p.e.renewed(f.sent, Renewed::Unconfirmed { revision }, now)
                    }
                    (Step::Renew { .. }, Some(Err(None)), false) => {
                        p.e.renewed(f.sent, Renewed::Lost, now)
                    }
                    (Step::Renew { .. }, _, _) => p.e.renewed(f.sent, Renewed::Failed, now),
                    (Step::Wait { .. }, ..) => {}
                }
                p.wake = now;
            }
            if p.flight.is_none() && now >= p.wake {
                match p.e.next(now) {
                    Step::Wait { until } => p.wake = until,
                    req => {
                        let (to, from, lost) = plan[i][used[i] % plan[i].len()];
                        used[i] += 1;
                        let arrives = now + ms(to);
                        let answered = arrives + ms(from);
                        let lost = lost || answered > now + timeout;
                        p.flight = Some(InFlight {
                            req,
                            sent: now,
                            arrives: Some(arrives),
                            answer: None,
                            back: if lost { now + timeout } else { answered },
                            lost,
                        });
                    }
                }
            }
        }
        let leaders: Vec<usize> = (0..2)
            .filter(|&i| peers[i].e.leading(now).is_some())
            .collect();
        prop_assert!(leaders.len() < 2, "both lead at {now:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the delays (a request may arrive long after the sender gave
    /// up on it) and losses, two instances never lead at the same instant.
    #[test]
    fn two_instances_never_lead_at_once(
        a in prop::collection::vec((0u64..1500, 0u64..1500, any::<bool>()), 1..20),
        b in prop::collection::vec((0u64..1500, 0u64..1500, any::<bool>()), 1..20),
        start_a in 0u64..3000,
        start_b in 0u64..3000,
    ) {
        simulate([a, b], [start_a, start_b])?;
    }
}

#[test]
fn with_prompt_answers_one_instance_leads_and_keeps_the_lead() {
    let t = Timing::new(LEASE);
    let mut bucket = Bucket::default();
    let mut e = Elector::new(t, ms(0));
    let mut now = ms(0);
    while now < ms(20_000) {
        match e.next(now) {
            Step::Wait { until } => now = until,
            Step::Create => {
                let r = bucket.apply(Step::Create, now, 0).ok();
                let outcome = r.map_or(Created::Taken, |revision| Created::Ok { revision });
                e.created(now, outcome, now + ms(5));
                now += ms(5);
            }
            req @ Step::Renew { .. } => {
                let r = bucket.apply(req, now, 0).ok();
                let outcome = r.map_or(Renewed::Lost, |revision| Renewed::Ok { revision });
                e.renewed(now, outcome, now + ms(5));
                now += ms(5);
            }
        }
        assert_eq!(e.leading(now).map(|h| h.term), Some(1), "at {now:?}");
    }
}
