//! The interface between the simulated world and a scaling policy: a
//! controller wakes up on its own cadence, looks at a [`View`] of the
//! consumer and the containers, and may set a new replica count.

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
    /// ∫ (pending + ack_pending) dt since the start, task-seconds: window
    /// averages of the lag are differences of this integral.
    pub lag_integral: f64,
    /// Sum of the cold starts of agents that became ready so far, seconds.
    pub cold_start_sum: f64,
    /// How many agents became ready so far.
    pub cold_start_count: u64,
    /// `max_ack_pending` of the consumer, if limited.
    pub max_ack_pending: Option<u64>,
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

/// How a controller's orchestrator picks the agents to remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Victims {
    /// jetpool: agents still starting, then idle agents, then those with the
    /// fewest tasks in flight (newest first on ties).
    IdleFirst,
    /// Kubernetes' ReplicaSet ranking (and, to the same effect, Nomad's and
    /// Ray's): not-yet-ready pods first, then an order that ignores the
    /// work a pod holds; drawn from the run's seeded RNG.
    Orchestrator,
}

/// How a removed agent leaves under `--scale-in graceful`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retire {
    /// jetpool's drain protocol: the agent stops pulling, finishes its
    /// tasks however long they take, reports done and is stopped.
    Drain,
    /// SIGTERM, then SIGKILL after the grace period: a well-behaved worker
    /// stops pulling and finishes what it can; tasks still running at the
    /// kill are lost and redelivered after AckWait.
    Sigterm,
}

/// A scaling policy under simulation.
pub trait Controller: Send {
    /// The name shown in reports (`jetpool`, `keda`, `keda-tuned`, ...).
    fn name(&self) -> &str;
    /// When this controller next wants to look, seconds.
    fn next_tick(&self) -> f64;
    /// Looks at the world; returns the replica count to set, if any.
    /// Must advance [`Controller::next_tick`].
    fn tick(&mut self, view: &View) -> Option<u32>;
    /// How victims are picked on scale-in.
    fn victims(&self) -> Victims {
        Victims::Orchestrator
    }
    /// How victims leave on graceful scale-in.
    fn retire(&self) -> Retire {
        Retire::Sigterm
    }
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
