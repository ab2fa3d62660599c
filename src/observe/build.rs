//! The one [`Observation`] builder: the live loop and the simulator both
//! turn what they saw into `decide`'s input here, so they cannot disagree
//! on what the decision core is told.
//!
//! The rules: the consumer's numbers are passed as read (with the failure
//! of the latest attempt, if any); the agents' stats are the sum of the
//! reports of the agents that work (not starting, standby, draining or
//! stopping), and only when every one of them has a fresh report: a
//! partial sum would undercount, and the consumer's own numbers are the
//! better source then. Completions are counted from every report,
//! draining agents' included; so are the slots per agent, from every fresh
//! report in any state.

use std::time::Duration;

use jiff::Timestamp;

use super::AgentRegistry;
use crate::policy::cold_start::Landings;
use crate::policy::{ConsumerStats, Observation, Replicas, TriggerReading};

/// What one tick saw, besides the agents' reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tick {
    /// The most recent successful consumer read, however old.
    pub consumer: Option<ConsumerStats>,
    /// Why the latest read failed, if it did.
    pub failure: Option<String>,
    /// The containers, counted by role.
    pub replicas: Replicas,
    /// The cold starts measured since the previous observation.
    pub cold_starts: Landings,
    /// This pool's grant from the global agent budget.
    pub budget: Option<u32>,
    /// The latest reading of each trigger, in the policy's order.
    pub triggers: Vec<TriggerReading>,
}

/// Builds `decide`'s input from `tick` and the reports of the `working`
/// agents, taking the completions reported since the previous call.
pub fn observation<'a>(
    tick: Tick,
    reports: &mut AgentRegistry,
    working: impl IntoIterator<Item = &'a str>,
    fresh_within: Duration,
    now: Timestamp,
) -> Observation {
    let agents = reports.aggregate(working, now, fresh_within);
    let landed = tick.cold_starts.mean();
    Observation {
        consumer: tick.consumer,
        failure: tick.failure,
        agents,
        slots_per_agent: reports.slots_per_agent(now, fresh_within),
        replicas: tick.replicas,
        cold_start_s: landed.map(|(s, _)| s),
        cold_start_requested_s: landed.map(|(_, at)| at),
        budget: tick.budget,
        triggers: tick.triggers,
    }
}
