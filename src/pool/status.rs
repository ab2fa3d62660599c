//! The read-only snapshot of a pool that `/status` and `/healthz` serve.

use jiff::Timestamp;

use crate::config::PoolSpec;
use crate::policy::{ConsumerStats, Decision, Observation, Override, Replicas};
use crate::protocol::AgentState;

/// One agent as the pool sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentView {
    /// Container name (the agent id).
    pub name: String,
    /// jetpool's view: ready, starting, standby, activating, draining, stopping.
    pub role: &'static str,
    /// The agent's own last report, if it speaks the protocol.
    pub state: Option<AgentState>,
    /// Tasks held, from its last report.
    pub in_flight: Option<u64>,
}

/// A snapshot of one pool.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolStatus {
    /// Pool name.
    pub pool: String,
    /// The stream the consumer reads.
    pub stream: String,
    /// Durable consumer name.
    pub consumer: String,
    /// Configured lower bound.
    pub min: u32,
    /// Configured upper bound.
    pub max: u32,
    /// The last consumer numbers read.
    pub observation: Option<ConsumerStats>,
    /// Why the latest read failed, if it did.
    pub failure: Option<String>,
    /// The last decision, with its estimates, guardrail and reason.
    pub decision: Option<Decision>,
    /// The containers as counted for that decision.
    pub replicas: Replicas,
    /// Every agent container and what it is doing.
    pub agents: Vec<AgentView>,
    /// Seconds until the next start is allowed (crash-loop back-off).
    pub start_backoff_s: f64,
    /// When this snapshot was taken.
    pub updated_at: Option<Timestamp>,
    /// Whether the metrics were fresh at the last tick.
    pub fresh: bool,
    /// The runtime override (`jetpool pause`, `pin`) the last decision
    /// applied.
    pub overrides: Override,
    /// Everything the last decision saw (consumer, agents' reports,
    /// replicas, cold start, budget), for `jetpool explain`.
    pub inputs: Option<Observation>,
}

impl PoolStatus {
    /// The empty snapshot of a pool that has not ticked yet.
    pub fn new(spec: &PoolSpec) -> Self {
        PoolStatus {
            pool: spec.name.clone(),
            stream: spec.stream.clone(),
            consumer: spec.consumer.clone(),
            min: spec.policy.min,
            max: spec.policy.max,
            observation: None,
            failure: None,
            decision: None,
            replicas: Replicas::default(),
            agents: Vec::new(),
            start_backoff_s: 0.0,
            updated_at: None,
            fresh: false,
            overrides: Override::default(),
            inputs: None,
        }
    }
}
