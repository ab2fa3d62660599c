//! Test fixtures shared by the policy tests: a driver that feeds `decide`
//! consistent consumer snapshots, as the live loop would.

#![allow(dead_code)] // Each test binary uses its own part of the fixtures.

use std::time::Duration;

use jetpool::config::Scaling;
use jetpool::policy::{
    ConsumerStats, Decision, Limit, Observation, Policy, PoolState, Replicas, decide,
};
use jiff::Timestamp;

/// An instant `secs` after a fixed origin.
pub fn ts(secs: f64) -> Timestamp {
    let ms = 1_700_000_000_000 + (secs * 1000.0).round() as i64;
    Timestamp::from_millisecond(ms).unwrap()
}

/// One tick: seconds since start, pending, ack pending, arrivals since the
/// previous tick.
#[derive(Debug, Clone, Copy)]
pub struct Tick(pub f64, pub u64, pub u64, pub u64);

/// Feeds ticks to `decide`, keeping the consumer's counters consistent
/// (deliveries = arrivals - growth of the backlog).
pub struct Driver {
    pub policy: Policy,
    pub state: PoolState,
    delivered: u64,
    prev_pending: u64,
    /// What runs; follows each decision (the service acting at once).
    pub current: u32,
    /// The grant passed in `Observation::budget`.
    pub budget: Option<u32>,
}

impl Driver {
    pub fn new(policy: Policy, current: u32) -> Self {
        Driver {
            policy,
            state: PoolState::default(),
            delivered: 0,
            prev_pending: 0,
            current,
            budget: None,
        }
    }

    /// The observation for `tick`, advancing the delivery counter.
    pub fn observation(&mut self, Tick(at, pending, ack, arrived): Tick) -> Observation {
        self.delivered += (arrived + self.prev_pending).saturating_sub(pending);
        self.prev_pending = pending;
        Observation {
            consumer: Some(ConsumerStats {
                at: ts(at),
                pending,
                ack_pending: ack,
                delivered_consumer_seq: self.delivered,
                ..Default::default()
            }),
            replicas: Replicas {
                ready: self.current,
                ..Default::default()
            },
            budget: self.budget,
            ..Default::default()
        }
    }

    pub fn step(&mut self, tick: Tick) -> Decision {
        let obs = self.observation(tick);
        self.decide(&obs, tick.0)
    }

    pub fn decide(&mut self, obs: &Observation, now: f64) -> Decision {
        let d = decide(&self.policy, &mut self.state, obs, ts(now));
        self.current = d.desired;
        d
    }

    /// Runs every tick, returning the decisions.
    pub fn run(&mut self, ticks: &[Tick]) -> Vec<Decision> {
        ticks.iter().map(|&t| self.step(t)).collect()
    }
}

/// The default policy with a 1 s service-time hint and a 30 s drain time
/// (round numbers: a backlog B alone asks for B / 30 agents), changed by `f`.
pub fn policy(f: impl FnOnce(&mut Policy)) -> Policy {
    let mut p = Policy {
        scaling: Scaling {
            service_time: Some(Duration::from_secs(1)),
            target_drain_time: Duration::from_secs(30),
            ..Default::default()
        },
        ..Default::default()
    };
    f(&mut p);
    p
}

/// Changes of direction in a sequence of counts: up then down (or down
/// then up) counts one, however long the pause between them.
pub fn direction_changes(counts: &[u32]) -> usize {
    let mut last = 0i8;
    let mut changes = 0;
    for w in counts.windows(2) {
        let d = match w[1].cmp(&w[0]) {
            std::cmp::Ordering::Greater => 1,
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => continue,
        };
        if last != 0 && d != last {
            changes += 1;
        }
        last = d;
    }
    changes
}

/// One decision from a fresh state.
pub struct Row {
    name: &'static str,
    policy: Policy,
    pending: u64,
    ack: u64,
    current: u32,
    budget: Option<u32>,
    want: (u32, Limit),
}

pub fn row(name: &'static str, policy: Policy, pending: u64, ack: u64, current: u32) -> Row {
    Row {
        name,
        policy,
        pending,
        ack,
        current,
        budget: None,
        want: (0, Limit::None),
    }
}

impl Row {
    pub fn budget(mut self, b: u32) -> Self {
        self.budget = Some(b);
        self
    }

    pub fn expect(mut self, desired: u32, limit: Limit) -> Self {
        self.want = (desired, limit);
        self
    }
}

pub fn check(rows: Vec<Row>) {
    for r in rows {
        let mut d = Driver::new(r.policy, r.current);
        d.budget = r.budget;
        let got = d.step(Tick(0.0, r.pending, r.ack, 0));
        assert_eq!(
            (got.desired, got.limit),
            r.want,
            "{}: {}",
            r.name,
            got.reason
        );
    }
}

/// A policy whose scale-down is not held by the restart window.
pub fn down_now(f: impl FnOnce(&mut Policy)) -> Policy {
    policy(|p| {
        p.scaling.scale_down_delay = Some(Duration::ZERO);
        f(p);
    })
}
