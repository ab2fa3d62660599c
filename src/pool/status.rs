//! The read-only snapshot of a pool that `/status` and `/healthz` serve.

use jiff::Timestamp;

use super::{PoolRunner, PoolSpec};
use crate::observe::{AgentControl, AgentRegistry, MetricsSource};
use crate::plan::{Listed, Role, Roster};
use crate::policy::{ConsumerStats, Decision, Observation, Override, Replicas};
use crate::protocol::AgentState;
use crate::target::ScaleTarget;
use crate::telemetry;

/// One agent as the pool sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AgentView {
    /// Container name (the agent id).
    pub name: String,
    /// jetpool's view: starting, ready, standby, activating, draining,
    /// rolling, resuming, stopping, gone; `exited` for a container that
    /// exited and is about to be removed.
    pub role: &'static str,
    /// The agent's own last report, if it speaks the protocol.
    pub state: Option<AgentState>,
    /// Tasks held, from its last report.
    pub in_flight: Option<u64>,
    /// When a drain under way is cut short by a stop, if the agent drains
    /// and acknowledged it.
    pub drain_deadline: Option<Timestamp>,
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
    /// The last failed start, with the engine's reason.
    pub last_start_error: Option<StartError>,
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
            last_start_error: None,
            updated_at: None,
            fresh: false,
            overrides: Override::default(),
            inputs: None,
        }
    }
}

/// A start that failed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StartError {
    /// When.
    pub at: Timestamp,
    /// The engine's reason.
    pub error: String,
}

/// Every listed container with its role and last report, by name.
pub fn views(roster: &Roster, listed: &[Listed], reports: &AgentRegistry) -> Vec<AgentView> {
    let mut v: Vec<AgentView> = listed
        .iter()
        .map(|c| {
            let seen = reports.get(&c.name);
            let drain_deadline = match roster.get(c.id.as_str()).map(|m| m.role) {
                Some(Role::Draining(d) | Role::Rolling(d) | Role::Resuming(d)) => d.deadline,
                Some(Role::Stopping { prior: Some(d), .. }) => d.deadline,
                _ => None,
            };
            let role = match roster.get(c.id.as_str()).map(|m| m.role) {
                Some(r @ (Role::Stopping { .. } | Role::Gone)) => r.as_str(),
                _ if c.phase == crate::plan::Phase::Exited => "exited",
                Some(r) => r.as_str(),
                None if roster.is_pending(&c.name) => "starting",
                None => "unknown",
            };
            AgentView {
                name: c.name.clone(),
                role,
                state: seen.map(|s| s.stats.state),
                in_flight: seen.map(|s| s.stats.in_flight),
                drain_deadline,
            }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    /// Publishes the tick's snapshot for `/status`, the page and
    /// `/healthz`: a copy, so readers never hold the loop's state.
    pub(super) fn publish(
        &mut self,
        obs: Observation,
        d: &Decision,
        listed: &[Listed],
        overrides: Override,
        now: Timestamp,
    ) {
        let backoff_s = self.roster.backoff.remaining(now).as_secs_f64();
        telemetry::start_backoff(&self.spec.name, backoff_s);
        let fresh = obs.failure.is_none()
            && d.staleness_s <= self.spec.policy.scaling.stale_after.as_secs_f64();
        let views = views(&self.roster, listed, &self.reports);
        let replicas = self.roster.replicas(listed);
        let start_error = self.roster.last_start_error.clone();
        self.status.send_modify(|s| {
            s.observation = obs.consumer;
            s.failure = obs.failure.clone();
            s.decision = Some(d.clone());
            s.replicas = replicas;
            s.agents = views;
            s.start_backoff_s = backoff_s;
            s.last_start_error = start_error.map(|(at, e)| StartError { at, error: e });
            s.updated_at = Some(now);
            s.fresh = fresh;
            s.overrides = overrides;
            s.inputs = Some(obs);
        });
    }
}
