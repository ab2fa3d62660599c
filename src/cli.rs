//! Command-line interface: one binary, one subcommand per role. Each
//! subcommand's arguments live beside the code that runs it.

use clap::{Parser, Subcommand};

/// Autoscales pools of agent containers from NATS JetStream backlog.
#[derive(Debug, Parser)]
#[command(name = "jetpool", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The roles the one binary plays.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the autoscaler service.
    Run(crate::service::RunArgs),
    /// Run the reference agent: a pull-consumer worker.
    Agent(crate::agent::AgentArgs),
    /// Publish a batch of tasks.
    Load(crate::load::LoadArgs),
    /// Validate policy files.
    Check(crate::check::CheckArgs),
    /// Replay a workload trace through jetpool's policy and its peers' in
    /// virtual time.
    Simulate(crate::sim::SimulateArgs),
    /// The robustness matrix: a suite of traces over cold starts, agent
    /// concurrencies and seeds, jetpool against every peer, as a table and
    /// a heat map.
    Matrix(crate::sim::matrix::MatrixArgs),
    /// One line per pool of a running jetpool: desired, running, backlog,
    /// arrivals, override, guardrail and reason.
    Status(crate::inspect::StatusArgs),
    /// A pool's last decisions, each with every input it saw.
    Explain(crate::inspect::ExplainArgs),
    /// Hold a pool's count (no automatic scaling) until `resume`, on every
    /// jetpool instance, across restarts.
    Pause(crate::overrides::cmd::PauseArgs),
    /// Undo `pause`.
    Resume(crate::overrides::cmd::PoolTarget),
    /// Fix a pool's count at N (within its bounds) until `unpin`.
    Pin(crate::overrides::cmd::PinArgs),
    /// Undo `pin`.
    Unpin(crate::overrides::cmd::PoolTarget),
}
