//! Near an empty queue with steady arrivals, KEDA's JetStream formula
//! `ceil((pending + ack_pending) / 10)` flaps; jetpool's decision holds.
//!
//! The input is a real recording (`tests/data/oscillating-queue.csv`, see
//! its header for how it was made): ten minutes of consumer info, once a
//! second, from a nats-server with tasks arriving at random at 2/s and
//! three workers taking about a second each, so the backlog hovers around
//! zero. Both policies see the same snapshots; jetpool starts by adopting
//! the three running agents, and what runs follows each of its decisions.

mod policy_common;

use jetpool::policy::{ConsumerStats, Observation, Policy, PoolState, Replicas, decide};
use policy_common::{direction_changes, ts};

/// The recording, one snapshot per second.
fn recording() -> Vec<ConsumerStats> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/oscillating-queue.csv"
    );
    let text = std::fs::read_to_string(path).expect("read the recording");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("t_ms"))
        .map(|l| {
            let f: Vec<u64> = l
                .split(',')
                .map(|x| x.trim().parse().expect("a number"))
                .collect();
            ConsumerStats {
                at: ts(f[0] as f64 / 1000.0),
                pending: f[1],
                ack_pending: f[2],
                waiting: f[3],
                redelivered: f[4],
                delivered_consumer_seq: f[5],
                delivered_stream_seq: f[6],
                ack_floor_consumer_seq: f[7],
                ack_floor_stream_seq: f[8],
                max_ack_pending: None,
                oldest_pending_at: None,
            }
        })
        .collect()
}

#[test]
fn jetpool_holds_where_keda_flaps() {
    let rec = recording();
    assert!(
        rec.len() > 600,
        "ten minutes at 1 s: {} snapshots",
        rec.len()
    );

    // The data is what the test claims: the backlog hovers around zero.
    let mut backlog: Vec<u64> = rec.iter().map(|c| c.pending).collect();
    backlog.sort_unstable();
    assert_eq!(backlog[backlog.len() / 2], 0, "median backlog");
    let arrivals = rec[rec.len() - 1].delivered_stream_seq as f64 / rec.len() as f64;
    assert!(
        (1.5..2.5).contains(&arrivals),
        "steady arrivals: {arrivals}/s"
    );

    // KEDA: the HPA's ceil(lag / lagThreshold) with the default threshold 10.
    let keda: Vec<u32> = rec
        .iter()
        .map(|c| (c.pending + c.ack_pending).div_ceil(10) as u32)
        .collect();

    // jetpool with the default policy, adopting the three running agents.
    let jetpool = run_jetpool(&rec, 3);
    let (k, j) = (direction_changes(&keda), direction_changes(&jetpool));
    let ticks = keda.len();
    eprintln!(
        "{ticks} ticks: KEDA formula changed direction {k} times (every {:.1} ticks), jetpool {j} times; jetpool ran {}..={} agents",
        ticks as f64 / k.max(1) as f64,
        jetpool.iter().min().unwrap_or(&0),
        jetpool.iter().max().unwrap_or(&0),
    );
    assert!(
        k * 10 >= ticks,
        "KEDA should flap every few ticks: {k} changes in {ticks}"
    );
    assert!(j <= 2, "jetpool changed direction {j} times: {jetpool:?}");
    // Holding still is only good if it serves the load: never fewer agents
    // than the ~2 busy ones, never more than twice that.
    assert!(jetpool.iter().all(|&n| (2..=6).contains(&n)), "{jetpool:?}");

    // Starting from zero instead: it wakes on the first backlog, finds its
    // level within the first minute, and still holds.
    let cold = run_jetpool(&rec, 0);
    let j = direction_changes(&cold);
    eprintln!(
        "from zero: jetpool changed direction {j} times, {:?} in the first 10 s",
        &cold[..10]
    );
    assert!(
        j <= 2,
        "from zero, jetpool changed direction {j} times: {cold:?}"
    );
    assert!(cold[60..].iter().all(|&n| (2..=6).contains(&n)), "{cold:?}");
}

/// jetpool's decisions on the recording, with what runs following them.
fn run_jetpool(rec: &[ConsumerStats], start: u32) -> Vec<u32> {
    let policy = Policy::default();
    let mut state = PoolState::default();
    let mut current = start;
    let mut out = Vec::new();
    for c in rec {
        let obs = Observation {
            consumer: Some(*c),
            replicas: Replicas {
                ready: current,
                ..Default::default()
            },
            ..Default::default()
        };
        current = decide(&policy, &mut state, &obs, c.at).desired;
        out.push(current);
    }
    out
}
