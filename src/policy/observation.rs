//! What the decision core sees: one snapshot per tick, with timestamps so
//! staleness is explicit rather than guessed.

use jiff::Timestamp;

/// Consumer numbers read through the JetStream API (`CONSUMER.INFO`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ConsumerStats {
    /// When the server answered.
    pub at: Timestamp,
    /// Messages not yet delivered to any agent (`num_pending`).
    pub pending: u64,
    /// Delivered but not yet acknowledged (`num_ack_pending`).
    pub ack_pending: u64,
    /// Open pull requests: a rough measure of idle agent capacity.
    pub waiting: u64,
    /// Messages currently redelivered at least once (`num_redelivered`).
    pub redelivered: u64,
    /// Deliveries so far, redeliveries included (`delivered.consumer_seq`).
    pub delivered_consumer_seq: u64,
    /// Stream sequence of the last delivered message.
    pub delivered_stream_seq: u64,
    /// Consumer sequence below which everything is acknowledged.
    pub ack_floor_consumer_seq: u64,
    /// Stream sequence below which everything is acknowledged.
    pub ack_floor_stream_seq: u64,
    /// The consumer's `max_ack_pending`, if limited: deliveries stall at it,
    /// so it caps how many agents can be useful.
    pub max_ack_pending: Option<u64>,
    /// When the oldest pending task was stored: the queue's real wait is
    /// `at` minus this. `None` with nothing pending, or when the message
    /// could not be read (the age is feedback, never a precondition).
    pub oldest_pending_at: Option<Timestamp>,
}

impl ConsumerStats {
    /// How long the oldest pending task has waited at `at`, seconds.
    pub fn oldest_pending_age_s(&self) -> Option<f64> {
        self.oldest_pending_at
            .map(|t| (self.at.as_millisecond() - t.as_millisecond()).max(0) as f64 / 1000.0)
    }
}

/// Sums of the stats agents report over the agent protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct AgentStats {
    /// When the newest report included here was received.
    pub at: Timestamp,
    /// Agents whose reports are fresh.
    pub reporting: u32,
    /// Tasks the reporting agents hold right now.
    pub in_flight: u64,
    /// Tasks the reporting agents can hold at once.
    pub capacity: u64,
    /// Tasks completed (acked or failed) since the previous observation.
    pub completed_delta: u64,
}

/// The pool's containers as the scale target sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Replicas {
    /// Running and ready for work.
    pub ready: u32,
    /// Created or started, not yet ready.
    pub starting: u32,
    /// Draining or stopping: already leaving, not counted as capacity.
    pub draining: u32,
    /// Warm standby agents: connected but not fetching.
    pub standby: u32,
}

impl Replicas {
    /// The count the decision compares against: agents that are or will
    /// soon be working.
    pub fn current(&self) -> u32 {
        self.ready + self.starting
    }
}

/// One tick's input to [`decide`](super::decide).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Observation {
    /// The most recent successful consumer read, however old; `None` until
    /// the first one succeeds.
    pub consumer: Option<ConsumerStats>,
    /// Set when the latest attempt to read the consumer failed (NATS down,
    /// consumer missing, ...): a short, fixed description for the reason.
    pub failure: Option<String>,
    /// Aggregated agent reports, when agents speak the protocol.
    pub agents: Option<AgentStats>,
    /// Tasks one agent holds at once, from the fresh reports of every
    /// agent in any state (a `starting` agent's included, so it is known
    /// before the first agent works); `None` without reports.
    pub slots_per_agent: Option<f64>,
    /// What runs now.
    pub replicas: Replicas,
    /// Measured time from container create to a ready agent, when known.
    pub cold_start_s: Option<f64>,
    /// When the agents whose start `cold_start_s` measures were asked for
    /// (Unix seconds, their mean): the measurements are kept in the order
    /// of the requests ([`cold_start`](super::cold_start)).
    pub cold_start_requested_s: Option<f64>,
    /// This pool's ceiling from the global agent budget
    /// ([`budget::allocate`](super::budget::allocate)); `None` when no
    /// budget is set (`jetpool run` without `--max-agents`).
    pub budget: Option<u32>,
    /// The latest reading of each of the policy's triggers, in the
    /// policy's order; a missing one counts as not read yet.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<super::triggers::TriggerReading>,
}
