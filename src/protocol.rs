//! The agent protocol, version 1: JSON messages over NATS between jetpool
//! and the agents it runs. Public and small on purpose, so an agent in any
//! language can speak it in a few dozen lines; `docs/agent-protocol.md` is
//! the reference with examples.
//!
//! - Agents publish [`Stats`] on `jetpool.agent.<pool>.<id>.stats` every
//!   few seconds and on every state change.
//! - jetpool sends a [`Control`] request to `jetpool.agent.<pool>.<id>.control`
//!   (`drain`, `resume`, `activate`) and the agent answers with a [`Reply`].

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// Subject prefix of every protocol message.
pub const PREFIX: &str = "jetpool.agent";

/// The subject an agent publishes its stats on.
pub fn stats_subject(pool: &str, id: &str) -> String {
    format!("{PREFIX}.{pool}.{id}.stats")
}

/// The wildcard subject jetpool subscribes to for a pool's stats.
pub fn pool_stats_subject(pool: &str) -> String {
    format!("{PREFIX}.{pool}.*.stats")
}

/// The subject an agent receives control requests on.
pub fn control_subject(pool: &str, id: &str) -> String {
    format!("{PREFIX}.{pool}.{id}.control")
}

/// What an agent is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentState {
    /// Running, not fetching yet: still connecting or loading (a model, a
    /// cache). Optional: it tells jetpool the agent's capacity before the
    /// agent can work; its cold start lasts until a report in any other
    /// state.
    Starting,
    /// Fetching, nothing in flight.
    Ready,
    /// Fetching, working on at least one task.
    Busy,
    /// Not fetching; finishing what it holds, then exiting.
    Draining,
    /// Drained: holds nothing, about to exit 0.
    Drained,
    /// Warm: connected, not fetching, waiting for `activate`.
    Standby,
}

/// Periodic report from one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Protocol version.
    pub v: u32,
    /// Agent id (jetpool sets `JETPOOL_AGENT_ID` to the container name).
    pub id: String,
    /// Pool name (`JETPOOL_POOL`).
    pub pool: String,
    /// Current state.
    pub state: AgentState,
    /// Tasks held right now.
    pub in_flight: u64,
    /// Tasks the agent can hold at once.
    pub capacity: u64,
    /// Tasks acknowledged since the agent started (monotonic).
    pub completed: u64,
    /// Tasks that failed since the agent started (monotonic).
    pub failed: u64,
}

/// A command from jetpool to one agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Stop fetching, finish and ack what you hold, report `drained`, exit 0.
    Drain,
    /// Cancel a drain: fetch again (refused once SIGTERM was received).
    Resume,
    /// Leave standby and start fetching.
    Activate,
}

/// A control request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Control {
    /// Protocol version.
    pub v: u32,
    /// What to do.
    pub command: Command,
}

/// An agent's answer to a [`Control`] request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// Protocol version.
    pub v: u32,
    /// Whether the command was carried out.
    pub ok: bool,
    /// The agent's state after the command.
    pub state: AgentState,
    /// Tasks held when answering.
    pub in_flight: u64,
    /// Why the command was refused, when `ok` is false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_round_trip_and_tolerate_unknown_fields() {
        let json = r#"{"v":1,"id":"a-1","pool":"p","state":"busy","in_flight":2,"capacity":4,"completed":10,"failed":1,"extra":"ignored"}"#;
        let s: Stats = serde_json::from_str(json).unwrap();
        assert_eq!(s.state, AgentState::Busy);
        assert_eq!(s.in_flight, 2);
        let back = serde_json::to_string(&s).unwrap();
        assert!(back.contains("\"state\":\"busy\""));
    }

    #[test]
    fn control_wire_form() {
        let c = Control {
            v: VERSION,
            command: Command::Drain,
        };
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            r#"{"v":1,"command":"drain"}"#
        );
        assert_eq!(control_subject("p", "a-1"), "jetpool.agent.p.a-1.control");
        assert_eq!(pool_stats_subject("p"), "jetpool.agent.p.*.stats");
    }
}
