//! jetpool's own row: the same pure [`decide`] the live service calls, fed
//! the same way. Every `policy.interval` the loop reads the consumer (the
//! snapshot's `at` is the read time, as a CONSUMER.INFO answer is), sums
//! the agents' protocol reports (in flight, capacity, completions since the
//! previous observation), counts the containers, and applies the decision.

use jiff::Timestamp;

use super::controller::{Clock, Controller, Retire, Victims, View};
use crate::policy::{AgentStats, ConsumerStats, Observation, Policy, PoolState, Replicas, decide};

/// Virtual time 0 as a wall-clock instant (2023-11-14T22:13:20Z): any fixed
/// instant works, since `decide` only looks at differences.
const EPOCH_MS: i64 = 1_700_000_000_000;

/// Virtual seconds as a timestamp, at the millisecond resolution the
/// decision core uses. Always in range: virtual time is at most a few
/// years.
pub fn timestamp(t: f64) -> Timestamp {
    let ms = EPOCH_MS + (t * 1000.0).round() as i64;
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The `jetpool` controller.
#[derive(Debug, Clone)]
pub struct Jetpool {
    policy: Policy,
    state: PoolState,
    clock: Clock,
    prev_completed: u64,
    prev_cold: (f64, u64),
    /// The last decision's reason, for debugging a run.
    pub last_reason: String,
}

impl Jetpool {
    /// A controller for `policy`, observing from time 0.
    pub fn new(policy: Policy) -> Self {
        let period = policy.interval.as_secs_f64().max(1e-3);
        Jetpool {
            policy,
            state: PoolState::default(),
            clock: Clock::new(period, 0.0),
            prev_completed: 0,
            prev_cold: (0.0, 0),
            last_reason: String::new(),
        }
    }

    /// The observation the live loop would build from this view.
    pub fn observe(&mut self, v: &View) -> Observation {
        let at = timestamp(v.now);
        let delivered_stream = v.delivered.saturating_sub(v.redelivered);
        let consumer = ConsumerStats {
            at,
            pending: v.pending,
            ack_pending: v.ack_pending,
            waiting: v.capacity.saturating_sub(v.in_flight),
            redelivered: v.redelivered,
            delivered_consumer_seq: v.delivered,
            delivered_stream_seq: delivered_stream,
            ack_floor_consumer_seq: v.delivered.saturating_sub(v.ack_pending),
            ack_floor_stream_seq: delivered_stream.saturating_sub(v.ack_pending),
            max_ack_pending: v.max_ack_pending,
        };
        let agents = AgentStats {
            at,
            reporting: v.ready + v.draining,
            in_flight: v.in_flight,
            capacity: v.capacity,
            completed_delta: v.completed - self.prev_completed,
        };
        self.prev_completed = v.completed;
        let new_starts = v.cold_start_count - self.prev_cold.1;
        let cold_start_s =
            (new_starts > 0).then(|| (v.cold_start_sum - self.prev_cold.0) / new_starts as f64);
        self.prev_cold = (v.cold_start_sum, v.cold_start_count);
        Observation {
            consumer: Some(consumer),
            failure: None,
            agents: Some(agents),
            replicas: Replicas {
                ready: v.ready,
                starting: v.starting,
                draining: v.draining,
                standby: 0,
            },
            cold_start_s,
            budget: None,
        }
    }
}

impl Controller for Jetpool {
    fn name(&self) -> &str {
        "jetpool"
    }

    fn next_tick(&self) -> f64 {
        self.clock.next()
    }

    fn tick(&mut self, v: &View) -> Option<u32> {
        self.clock.advance();
        let obs = self.observe(v);
        let d = decide(&self.policy, &mut self.state, &obs, timestamp(v.now));
        self.last_reason = d.reason;
        Some(d.desired)
    }

    fn victims(&self) -> Victims {
        Victims::IdleFirst
    }

    fn retire(&self) -> Retire {
        Retire::Drain
    }
}
