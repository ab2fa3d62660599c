//! One pool's loop. Each tick it observes (the consumer, the containers,
//! the agents' reports), calls the two pure cores — [`decide`] for how
//! many agents, [`plan`] for what to do about it — runs the actions as
//! background operations, and folds their outcomes back into the roster.
//! It owns all of its pool's state; `/status` and the metrics get
//! snapshots, never references.
//!
//! The loop never waits on Docker or an agent inline: a slow `docker stop`
//! must not delay the next decision. The tick is the safety net; the
//! engine's events (a container died) wake it at once.

mod events;
mod factory;
mod handover;
mod names;
mod ops;
pub mod spec;
mod status;
mod triggers;
mod update;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};
use update::{next_update, override_changed};

pub use factory::{Runner, RunnerFactory, wait_for};
pub use names::PoolNames;
pub use spec::{Policies, PoolSpec};
pub use status::{AgentView, PoolStatus};

use crate::budget::BudgetClient;
use crate::clock::Clock;
use crate::observe::{self, AgentControl, AgentRegistry, Expectation, MetricsSource};
use crate::plan::{self, Action, Outcome, Roster};
use crate::policy::cold_start::Landings;
use crate::policy::{ConsumerStats, Decision, Override, PoolState, decide};
use crate::target::{ScaleTarget, TargetEvent};
use crate::telemetry::events::{ArrivalWoke, ListFailed, ObserveFailed, ReportIgnored};
use crate::telemetry::{self, ObserveReason, ReportRejected};

/// The three edges a pool loop talks to.
pub struct PoolIo<S, T, A> {
    /// Where consumer numbers come from.
    pub source: S,
    /// Where containers run.
    pub target: Arc<T>,
    /// How agents are reached over the agent protocol.
    pub agents: Arc<A>,
}

/// What a loop is told besides its spec, set once when it is built.
#[derive(Default)]
struct Options {
    /// `NATS_URL` given to agents whose template names none.
    agent_nats_url: String,
    /// The global agent budget, when one is set.
    budget: Option<BudgetClient>,
    /// Whether containers are only simulated (`--dry-run`), for the logs.
    dry_run: bool,
    /// Every action the loop runs, for tests and tools that replay it.
    tap: Option<mpsc::UnboundedSender<Action>>,
    /// New specs for this pool (a policy file or compose labels changed).
    updates: Option<watch::Receiver<Arc<PoolSpec>>>,
    /// The pool's runtime override (`jetpool pause`, `pin`), folded into
    /// the policy at each tick; `None` when the service follows none.
    overrides: Option<watch::Receiver<Override>>,
    /// With `--ha`: the lease; the loop acts only while it leads.
    fence: Option<crate::lease::Fence>,
    /// With `--ha`: where the leader keeps drains and estimates.
    state: Option<crate::lease::StateStore>,
}

/// The last consumer read.
#[derive(Debug, Default)]
struct Consumer {
    /// The most recent successful read.
    latest: Option<ConsumerStats>,
    /// The latest failure's reason, to log on change only.
    failing: Option<ObserveReason>,
}

/// One pool's loop and everything it owns.
pub struct PoolRunner<S, T, A> {
    /// The pool's validated configuration, replaced in place on updates.
    spec: Arc<PoolSpec>,
    /// The edges.
    io: PoolIo<S, T, A>,
    /// Monotonic wall-clock time: the one clock of the tick.
    clock: Clock,
    /// The decision core's memory.
    state: PoolState,
    /// Who is what.
    roster: Roster,
    /// The agents' own reports.
    reports: AgentRegistry,
    /// The consumer's numbers.
    consumer: Consumer,
    /// Operations in flight.
    ops: JoinSet<Outcome>,
    /// The last decision, to log changes only.
    last: Option<Decision>,
    /// Cold starts measured since the last decision.
    cold_starts: Landings,
    /// Where snapshots are published.
    status: watch::Sender<PoolStatus>,
    /// The container names of the latest listing: reports from others
    /// (not yet started by this loop) are ignored.
    listed: std::collections::HashSet<String>,
    /// What the latest decision expects of arrivals, for the watcher that
    /// wakes the loop when a task is news ([`observe::wake`]).
    expect: watch::Sender<Expectation>,
    /// The last container listing failed: exits seen at the next one
    /// happened while the engine was away.
    engine_lost: bool,
    /// Settings fixed at build time.
    options: Options,
    /// The background readers of the policy's triggers, while it has any.
    readers: Option<triggers::Readers>,
    /// The `--ha` hand-over: what was read, what was written.
    carry: handover::Carry,
}

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    /// A loop for `spec` over `io`. Returns it with the receiver of its
    /// status snapshots.
    pub fn new(
        spec: PoolSpec,
        io: PoolIo<S, T, A>,
        agent_nats_url: String,
    ) -> (Self, watch::Receiver<PoolStatus>) {
        let (tx, rx) = watch::channel(PoolStatus::new(&spec));
        let clock = Clock::new();
        let runner = PoolRunner {
            roster: Roster::new(clock.now(), spec.agents.max_backoff),
            spec: Arc::new(spec),
            io,
            clock,
            state: PoolState::default(),
            reports: AgentRegistry::default(),
            consumer: Consumer::default(),
            ops: JoinSet::new(),
            last: None,
            cold_starts: Landings::default(),
            status: tx,
            expect: watch::Sender::new(Expectation::initial()),
            listed: Default::default(),
            engine_lost: false,
            options: Options {
                agent_nats_url,
                ..Options::default()
            },
            readers: None,
            carry: handover::Carry::default(),
        };
        (runner, rx)
    }

    /// Runs until `shutdown` resolves, then waits (a bounded time) for the
    /// operations in flight. Agents are left running: stopping the
    /// autoscaler must not stop the work.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let name = self.spec.name.clone();
        let mut ticker = tokio::time::interval(self.spec.policy.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stats = self.io.agents.stats(&name).await;
        let mut events = self.io.target.events(&name);
        let mut arrivals = self.io.source.arrivals(self.expect.subscribe(), &name);
        let mut updates = self.options.updates.take();
        // A clone to wait on; `tick` reads the value through the field.
        let mut override_changes = self.options.overrides.clone();
        self.start_readers();
        tokio::pin!(shutdown);
        info!(pool = %name, stream = %self.spec.stream, consumer = %self.spec.consumer,
              min = self.spec.policy.min, max = self.spec.policy.max, warm = self.spec.agents.warm, "pool started");
        loop {
            // Biased, in this order, so the same inputs always make the
            // same run (a replay is exact), and a flood of reports cannot
            // starve the tick or the outcomes.
            tokio::select! {
                biased;
                _ = &mut shutdown => break,
                due = ticker.tick() => {
                    telemetry::tick_lateness(due.elapsed().as_secs_f64());
                    self.tick().await
                }
                Some(done) = self.ops.join_next(), if !self.ops.is_empty() => match done {
                    Ok(outcome) => self.finish(outcome),
                    Err(e) => error!(pool = %name, error = %e, "pool operation panicked"),
                },
                Some(spec) = next_update(&mut updates) => self.update(spec, &mut ticker),
                Some(()) = override_changed(&mut override_changes) => {
                    debug!(pool = %name, "runtime override changed; deciding now");
                    ticker.reset_immediately();
                }
                Some(event) = events.next() => {
                    match &event {
                        TargetEvent::Died { name: agent } => debug!(pool = %name, agent = %agent, "container died"),
                        TargetEvent::Unhealthy { name: agent } => warn!(pool = %name, agent = %agent, "container unhealthy"),
                    }
                    // React now rather than at the next tick; several
                    // events in a burst collapse into one tick.
                    ticker.reset_immediately();
                }
                Some(()) = arrivals.next() => {
                    // The first task for a pool with no working agent.
                    ArrivalWoke { pool: &name }.emit();
                    ticker.reset_immediately();
                }
                Some(report) = stats.next() => self.report(report),
            }
        }
        self.wind_down().await;
    }

    /// One observe-decide-plan-act step.
    async fn tick(&mut self) {
        let began = Instant::now();
        let name = self.spec.name.clone();
        // Once per tick: a lead gained mid-tick acts from the next one, after
        // the hand-over is read.
        let leading = self.leads();
        self.take_over(leading).await;
        let failure = self.read_consumer().await;
        let listed = match self.io.target.list(&name).await {
            Ok(c) => c,
            Err(e) => {
                ListFailed {
                    pool: &name,
                    error: &e,
                }
                .emit();
                self.status.send_modify(|s| {
                    s.failure = Some(e.to_string());
                    s.fresh = false;
                });
                self.engine_lost = true;
                return;
            }
        };
        let now = self.clock.now();
        self.listed = listed.iter().map(|c| c.name.clone()).collect();
        let (roster, names) = (&self.roster, &self.listed);
        self.reports
            .retain(|agent| roster.is_pending(agent) || names.contains(agent));
        let synced = self
            .roster
            .sync(&listed, &self.reports, &self.spec.agents, now);
        self.emit(synced);
        self.restore(now);
        let cold = std::mem::take(&mut self.cold_starts);
        let tick = observe::Tick {
            consumer: self.consumer.latest,
            failure,
            replicas: self.roster.replicas(&listed),
            cold_starts: cold,
            budget: self.options.budget.as_ref().and_then(|b| b.grant(&name)),
            triggers: self
                .readers
                .as_ref()
                .map(triggers::Readers::readings)
                .unwrap_or_default(),
        };
        let fresh_within = self.spec.agents.stats_timeout;
        if let Some(r) = &self.readers {
            r.measure(triggers::measurable(
                self.roster.working(&listed),
                &listed,
                now,
            ));
        }
        let working = self.roster.working(&listed);
        let obs = observe::observation(tick, &mut self.reports, working, fresh_within, now);
        let overrides = self
            .options
            .overrides
            .as_ref()
            .map(|rx| rx.borrow().clone())
            .unwrap_or_default();
        let policy = overrides.apply(&self.spec.policy);
        let d = decide(&policy, &mut self.state, &obs, now);
        if let Some(b) = &self.options.budget {
            b.request(&name, self.spec.policy.priority, &d);
        }
        telemetry::decision_latency(&name, began.elapsed().as_secs_f64());
        let prev_limit = self.last.as_ref().map(|l| l.limit.as_str());
        telemetry::record_decision(&name, &d, &obs.replicas, obs.consumer.as_ref(), prev_limit);
        telemetry::record_controls(&name, &policy);
        self.log_decision(&d);
        let template = self.spec.template.id();
        let actions = plan::plan(&plan::Input {
            decision: &d,
            roster: &self.roster,
            listed: &listed,
            reports: &self.reports,
            agents: &self.spec.agents,
            template: &template,
            nats_ok: self.consumer.failing.is_none(),
            engine_back: std::mem::take(&mut self.engine_lost),
            jobs: plan::JobRules::of(&policy),
            ack_pending: self.consumer.latest.map(|c| c.ack_pending),
            now,
        });
        // A follower (`--ha`) decides and publishes, and acts on nothing.
        if leading {
            self.act(actions, now);
            self.save(now);
        }
        self.expect.send_replace(Expectation {
            idle: d.desired == 0,
        });
        self.publish(obs, &d, &listed, overrides, now);
        self.last = Some(d);
    }

    /// Records an agent's report, or counts why it was ignored: screened
    /// at the edge, and from one of this pool's containers (a flood of
    /// forged ids must not grow the registry).
    fn report(&mut self, report: observe::Report) {
        let reason = match report {
            Ok(stats) if self.listed.contains(&stats.id) || self.roster.is_pending(&stats.id) => {
                self.reports.record(stats, self.clock.now());
                return;
            }
            Ok(_) => ReportRejected::UnknownAgent,
            Err(reason) => reason,
        };
        ReportIgnored {
            pool: &self.spec.name,
            reason,
        }
        .emit();
    }

    /// Reads the consumer, keeping the last good numbers; returns the
    /// failure description when the read failed.
    async fn read_consumer(&mut self) -> Option<String> {
        let name = &self.spec.name;
        match self.io.source.read().await {
            Ok(mut stats) => {
                stats.at = self.clock.now();
                self.consumer.latest = Some(stats);
                if self.consumer.failing.take().is_some() {
                    info!(pool = %name, "consumer metrics recovered");
                }
                None
            }
            Err(e) => {
                ObserveFailed {
                    pool: name,
                    reason: e.reason(),
                    error: &e,
                    first: self.consumer.failing != Some(e.reason()),
                }
                .emit();
                self.consumer.failing = Some(e.reason());
                Some(e.to_string())
            }
        }
    }
}

/// How long a control request may take before the agent counts as not
/// speaking the protocol.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(2);

/// How long shutdown waits for operations in flight.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
