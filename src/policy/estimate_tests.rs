//! Tests of the estimator: service time, capacity, and the hand-over of
//! what it learned to a new `--ha` leader.

use super::*;

/// 100 tasks/s completed with 20 in flight: S = 0.2 s. The agents'
/// reports say 4 in flight (a snapshot from before they filled up, or
/// with the draining agents left out); the consumer's ack pending is
/// the fresher count and keeps S from reading 5 times short.
#[test]
fn stale_agent_in_flight_does_not_shorten_the_service_time() {
    let mut e = Estimator::default();
    let t0 = Timestamp::UNIX_EPOCH;
    for i in 0..60u64 {
        let at = t0 + jiff::SignedDuration::from_secs(i as i64);
        let c = ConsumerStats {
            at,
            pending: 500,
            ack_pending: 20,
            delivered_consumer_seq: 100 * i,
            ..Default::default()
        };
        let a = AgentStats {
            at,
            reporting: 5,
            in_flight: 4,
            capacity: 20,
            completed_delta: if i == 0 { 0 } else { 100 },
        };
        e.update(&c, Some(&a), None);
    }
    let est = e.estimates(4, Some(1.0), 2.0);
    assert!(est.service_time_measured);
    assert!(
        (est.service_time_s - 0.2).abs() < 0.02,
        "S = {}",
        est.service_time_s
    );
}

/// An estimator that watched 60 s of 100 tasks/s at S = 0.2 s.
fn warmed() -> Estimator {
    let mut e = Estimator::default();
    for i in 0..60u64 {
        let c = ConsumerStats {
            at: Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_secs(i as i64),
            pending: 0,
            ack_pending: 20,
            delivered_consumer_seq: 100 * i,
            ..Default::default()
        };
        e.update(&c, None, Some(3.0));
    }
    e.note_slots(Some(2.0));
    e
}

/// A new leader seeded with what the last one learned (through its
/// JSON form) reports the same estimates, not the assumed defaults,
/// and its next consumer snapshot starts a fresh delta.
#[test]
fn a_seeded_estimator_starts_where_the_last_one_was() {
    let old = warmed();
    let json = serde_json::to_string(&old.learned()).unwrap();
    let learned: Learned = serde_json::from_str(&json).unwrap();
    let mut new = Estimator::default();
    assert!(new.seed(&learned));
    let (a, b) = (old.estimates(1, None, 9.0), new.estimates(1, None, 9.0));
    assert_eq!(a, b);
    assert!(b.service_time_measured);
    assert!(
        (b.service_time_s - 0.2).abs() < 0.01,
        "S = {}",
        b.service_time_s
    );
    assert_eq!(b.horizon_s, 3.0);
    assert_eq!(b.concurrency, 2.0);
    assert_eq!(new.last_at(), None);
}

/// A follower that watched as long keeps its own rates; one that knows
/// nothing of cold starts takes the leader's.
#[test]
fn a_follower_with_as_much_evidence_keeps_its_own() {
    let leader = warmed();
    let mut follower = warmed();
    follower.cold_starts = ColdStarts::default();
    let before = follower.estimates(1, None, 9.0).arrival_rate;
    assert!(follower.seed(&leader.learned()));
    assert_eq!(follower.estimates(1, None, 9.0).arrival_rate, before);
    assert_eq!(follower.cold_starts.median(), Some(3.0));
    // Nothing new to take: nothing taken.
    assert!(!follower.seed(&leader.learned()));
    // A young leader's snapshot does not replace a warmed follower's.
    let young = Estimator::default().learned();
    assert!(!follower.seed(&young));
}

/// Numbers that are not finite (a hand-edited value) are refused.
#[test]
fn an_insane_snapshot_is_refused() {
    let mut learned = warmed().learned();
    learned.weight = 2.0;
    assert!(!Estimator::default().seed(&learned));
}

/// Agents that report 4 slots each make k = 4 whatever the policy
/// says; before any report, the policy's `concurrency` stands.
#[test]
fn reported_capacity_replaces_the_configured_concurrency() {
    let mut e = Estimator::default();
    let c = ConsumerStats::default();
    assert_eq!(e.estimates(1, Some(1.0), 0.0).concurrency, 1.0);
    e.note_slots(Some(4.0));
    e.update(&c, None, None);
    let est = e.estimates(1, Some(1.0), 0.0);
    assert!(est.concurrency_measured);
    assert_eq!(est.concurrency, 4.0);
    assert_eq!(est.per_agent_rate, 4.0);
    // Agents that stop reporting leave the last measurement in place.
    e.note_slots(None);
    assert_eq!(e.estimates(2, Some(1.0), 0.0).concurrency, 4.0);
}

/// A hand-over written before the samples were kept (the estimate alone)
/// still seeds a follower's cold start.
#[test]
fn a_hand_over_without_samples_still_seeds_the_cold_start() {
    let leader = warmed();
    let mut json = serde_json::to_value(leader.learned()).expect("json");
    let map = json.as_object_mut().expect("an object");
    assert!(map.remove("cold_start_samples").is_some());
    let old: Learned = serde_json::from_value(json).expect("the old form");
    let mut follower = Estimator::default();
    assert!(follower.seed(&old));
    assert_eq!(follower.cold_starts.median(), Some(3.0));
}

/// What outlasts the moment: a durable snapshot seeds the cold start and
/// the capacity and none of the rates; one without the agents' facts
/// seeds the rates alone.
#[test]
fn a_durable_snapshot_keeps_the_agents_facts_only() {
    let leader = warmed().learned();
    let mut later = Estimator::default();
    assert!(later.seed(&leader.durable()));
    let est = later.estimates(1, None, 9.0);
    assert!(est.cold_start_measured);
    assert_eq!(est.horizon_s, 3.0);
    assert_eq!(est.concurrency, 2.0);
    assert!(!est.service_time_measured);
    assert_eq!(est.arrival_rate, 0.0);

    let mut other = Estimator::default();
    assert!(other.seed(&leader.without_agent_facts()));
    let est = other.estimates(1, None, 9.0);
    assert!(!est.cold_start_measured);
    assert!(!est.concurrency_measured);
    assert!(est.service_time_measured);
}
