//! The interface between the simulated world and a scaling policy: a
//! controller wakes up on its own cadence, looks at a [`View`] of the
//! consumer and the containers, and either sets a new replica count (the
//! peers, through their emulated orchestrator) or acts on containers one
//! by one (jetpool, through the live service's planner).

use crate::plan::Phase;
use crate::protocol::{AgentState, Command, Reply};

/// What a controller can see at one of its ticks: the consumer's counters
/// as JetStream reports them and the containers as the orchestrator does.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct View {
    /// Virtual time, seconds from the start of the trace.
    pub now: f64,
    /// Messages never delivered (`num_pending`).
    pub pending: u64,
    /// Delivered and not yet acknowledged (`num_ack_pending`), including
    /// messages lost with a killed agent that wait for their AckWait.
    pub ack_pending: u64,
    /// Messages in `ack_pending` that were delivered more than once.
    pub redelivered: u64,
    /// Deliveries so far, redeliveries included (`delivered.consumer_seq`).
    pub delivered: u64,
    /// Tasks held by agents right now.
    pub in_flight: u64,
    /// Free plus used slots of ready agents.
    pub capacity: u64,
    /// Tasks acknowledged so far.
    pub completed: u64,
    /// Agents running and taking work.
    pub ready: u32,
    /// Agents in their cold start.
    pub starting: u32,
    /// Agents leaving (draining, or terminating within their grace period).
    pub draining: u32,
    /// Warm standbys: up, not fetching.
    pub standby: u32,
    /// ∫ (pending + ack_pending) dt since the start, task-seconds: window
    /// averages of the lag are differences of this integral.
    pub lag_integral: f64,
    /// Sum of the cold starts of agents that became ready so far, seconds.
    pub cold_start_sum: f64,
    /// How many agents became ready so far.
    pub cold_start_count: u64,
    /// `max_ack_pending` of the consumer, if limited.
    pub max_ack_pending: Option<u64>,
    /// Arrival time of the oldest task never delivered, seconds (as live
    /// jetpool reads it from the stream).
    pub oldest_pending_arrival: Option<f64>,
}

impl View {
    /// The lag KEDA's nats-jetstream scaler reports:
    /// `num_pending + num_ack_pending`.
    pub fn lag(&self) -> u64 {
        self.pending + self.ack_pending
    }

    /// The replica count an orchestrator compares against: what runs or is
    /// starting (`spec.replicas`), not what is already leaving.
    pub fn current(&self) -> u32 {
        self.ready + self.starting
    }
}

#[cfg(test)]
impl View {
    /// A view at `now` with `pending` tasks and `ready` agents, nothing
    /// else, for the peers' hand-computed tests.
    pub(crate) fn at(now: f64, pending: u64, ready: u32) -> View {
        View {
            now,
            pending,
            ready,
            ..View::default()
        }
    }
}

/// One container as a per-container controller sees it: the engine's
/// listing and the agent's own last report.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentSnapshot {
    /// Container name, which is also its id and the agent id.
    pub name: String,
    /// Lifecycle phase: running from its start request (its cold start is
    /// the time until it first reports), exited once it drained.
    pub phase: Phase,
    /// Creation order.
    pub created: i64,
    /// Once exited: 0 when its process ended on its own, 137 when killed.
    pub exit_code: Option<i64>,
    /// Its report, once it is up.
    pub report: Option<Report>,
}

/// What a simulated agent reports over the agent protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Its state.
    pub state: AgentState,
    /// Tasks it holds.
    pub in_flight: u64,
    /// Tasks it can hold at once.
    pub capacity: u64,
    /// Tasks it completed so far.
    pub completed: u64,
}

/// The engine as a per-container controller drives it: the Docker engine
/// and the agent protocol of the live loop, in virtual time. Every call
/// takes effect at once.
pub trait Containers {
    /// Creates and starts an agent named `name`.
    fn start(&mut self, name: &str, standby: bool);
    /// Sends an agent-protocol command; `None` when nobody answers (the
    /// agent is not up yet, or gone).
    fn control(&mut self, name: &str, command: Command) -> Option<Reply>;
    /// `docker stop`: the stop signal (the agent stops fetching, finishes
    /// what it can), SIGKILL after the grace period.
    fn stop(&mut self, name: &str);
    /// Removes an exited container.
    fn remove(&mut self, name: &str);
}

/// A scaling policy under simulation.
pub trait Controller: Send {
    /// The name shown in reports (`jetpool`, `keda`, `keda-tuned`, ...).
    fn name(&self) -> &str;
    /// When this controller next wants to look, seconds.
    fn next_tick(&self) -> f64;
    /// Looks at the world; returns the replica count to set, if any, which
    /// the emulated orchestrator applies: it removes not-yet-ready agents
    /// first, then in an order that ignores the work an agent holds
    /// (Kubernetes' ReplicaSet ranking; Nomad's and Ray's to the same
    /// effect), sending SIGTERM and SIGKILL after the grace period. Must
    /// advance [`Controller::next_tick`].
    fn tick(&mut self, view: &View) -> Option<u32>;
    /// True for a controller that acts per container through
    /// [`Controller::act`] (jetpool's planner) instead of setting a count.
    fn per_container(&self) -> bool {
        false
    }
    /// Looks at the world and at each container, and acts on them. Must
    /// advance [`Controller::next_tick`]. Called instead of
    /// [`Controller::tick`] when [`Controller::per_container`] is true.
    fn act(&mut self, _view: &View, _agents: &[AgentSnapshot], _containers: &mut dyn Containers) {}
    /// A task was published at `now`: a controller that watches arrivals
    /// may bring its next tick forward. The peers poll and ignore it.
    fn arrival(&mut self, _now: f64) {}
}

/// Ticks on a fixed period from a phase offset, with no drift: the `n`-th
/// tick is at `phase + n * period` exactly, as a timer loop would be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// Seconds between ticks.
    pub period: f64,
    /// Time of the first tick.
    pub phase: f64,
    /// Ticks taken so far.
    pub n: u64,
}

impl Clock {
    /// A clock with its first tick at `phase`.
    pub fn new(period: f64, phase: f64) -> Self {
        Clock {
            period,
            phase,
            n: 0,
        }
    }

    /// Time of the next tick.
    pub fn next(&self) -> f64 {
        self.phase + self.n as f64 * self.period
    }

    /// Marks the next tick taken.
    pub fn advance(&mut self) {
        self.n += 1;
    }
}
