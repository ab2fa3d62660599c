//! One pool's control loop: observe the consumer and the agents, decide,
//! reconcile the containers. One task owns all of a pool's state; `/status`
//! and the metrics get snapshots, never references.
//!
//! Scale-in is a drain: the least busy agents are asked (over the agent
//! protocol) to stop fetching and finish what they hold; they count as
//! leaving and are stopped only once they exit, or when the drain deadline
//! passes. Agents that do not speak the protocol get `docker stop`. When
//! demand returns during a drain, the drain is cancelled before any new
//! container is started; warm standbys are activated next.
//!
//! Rolling is the same path: an agent made from an older template (a
//! compose service's configuration changed, or a policy file's container
//! table did across a restart) is drained like a scale-in victim, one at a
//! time, and the loop's own decision starts its replacement from the
//! current template. One owner starts and stops the pool's containers.

mod factory;
mod members;
mod ops;
mod status;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

pub use factory::{Runner, RunnerFactory};
pub use status::{AgentView, PoolStatus};

use crate::budget::BudgetClient;
use crate::clock::Clock;
use crate::config::PoolSpec;
use crate::observe::{AgentControl, AgentRegistry, MetricsSource, ObserveError};
use crate::policy::{ConsumerStats, Decision, Observation, Override, PoolState, decide};
use crate::target::{ContainerId, Listed, Phase, ScaleTarget, TargetEvent};
use crate::telemetry;
use members::Members;
use ops::{Backoff, Op};

/// The three edges a pool loop talks to.
pub struct PoolIo<S, T, A> {
    /// Where consumer numbers come from.
    pub source: S,
    /// Where containers run.
    pub target: Arc<T>,
    /// How agents are reached over the agent protocol.
    pub agents: Arc<A>,
}

/// One pool's loop and everything it owns.
pub struct PoolRunner<S, T, A> {
    /// The pool's validated configuration.
    spec: Arc<PoolSpec>,
    /// The edges.
    io: PoolIo<S, T, A>,
    /// `NATS_URL` given to agents.
    agent_nats_url: String,
    /// Monotonic wall-clock time.
    clock: Clock,
    /// The decision core's memory.
    state: PoolState,
    /// The most recent successful consumer read.
    latest: Option<ConsumerStats>,
    /// The last read failure's reason label, to log on change only.
    failing: Option<&'static str>,
    /// Transitions in flight and warm standbys.
    members: Members,
    /// The agents' own reports.
    registry: AgentRegistry,
    /// Container and protocol operations in flight.
    ops: JoinSet<Op>,
    /// Start back-off (failed starts, crash loops).
    backoff: Backoff,
    /// The last decision, to log changes only.
    last: Option<Decision>,
    /// Measured start time of the latest agent, not yet handed to decide.
    cold_start_sample: Option<f64>,
    /// Where snapshots are published.
    status: watch::Sender<PoolStatus>,
    /// The global agent budget, when one is set.
    budget: Option<BudgetClient>,
    /// Whether containers are only simulated (`--dry-run`), for the logs.
    dry_run: bool,
    /// When this loop was made: until `stats_timeout` has passed, an agent
    /// that has not reported yet may still speak the protocol.
    up_since: Instant,
    /// The pool's runtime override (`jetpool pause`, `pin`), folded into
    /// the policy at each tick; `None` when the service follows none.
    overrides: Option<watch::Receiver<Override>>,
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
        let backoff = Backoff::new(spec.agents.max_backoff);
        let runner = PoolRunner {
            spec: Arc::new(spec),
            io,
            agent_nats_url,
            clock: Clock::new(),
            state: PoolState::default(),
            latest: None,
            failing: None,
            members: Members::default(),
            registry: AgentRegistry::default(),
            ops: JoinSet::new(),
            backoff,
            last: None,
            cold_start_sample: None,
            status: tx,
            budget: None,
            dry_run: false,
            up_since: Instant::now(),
            overrides: None,
        };
        (runner, rx)
    }

    /// Marks the loop as a dry run (its target is virtual), so its log
    /// lines say so.
    pub fn dry_run(mut self, yes: bool) -> Self {
        self.dry_run = yes;
        self
    }

    /// Shares the global agent budget with the other pools.
    pub fn with_budget(mut self, budget: BudgetClient) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Follows the pool's runtime override: each tick decides with it
    /// folded into the policy ([`Override::apply`]), and a change wakes the
    /// loop at once, so it takes effect within one tick.
    pub fn with_overrides(mut self, rx: watch::Receiver<Override>) -> Self {
        self.overrides = Some(rx);
        self
    }

    /// Runs until `shutdown` resolves. Agents are left running: stopping
    /// the autoscaler must not stop the work.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let name = self.spec.name.clone();
        let mut ticker = tokio::time::interval(self.spec.policy.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut stats = self.io.agents.stats(&name).await;
        let mut events = self.io.target.events(&name);
        // A clone to wait on; `tick` reads the value through the field.
        let mut override_changes = self.overrides.clone();
        tokio::pin!(shutdown);
        info!(pool = %name, stream = %self.spec.stream, consumer = %self.spec.consumer,
              min = self.spec.policy.min, max = self.spec.policy.max, warm = self.spec.agents.warm, "pool started");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticker.tick() => self.tick().await,
                Some(report) = stats.next() => self.registry.record(report, Instant::now()),
                Some(event) = events.next() => {
                    match &event {
                        TargetEvent::Died { name: agent } => debug!(pool = %name, agent = %agent, "container died"),
                        TargetEvent::Unhealthy { name: agent } => warn!(pool = %name, agent = %agent, "container unhealthy"),
                    }
                    // React now rather than at the next tick; several
                    // events in a burst collapse into one tick.
                    ticker.reset_immediately();
                }
                Some(()) = override_changed(&mut override_changes) => {
                    debug!(pool = %name, "runtime override changed; deciding now");
                    ticker.reset_immediately();
                }
                Some(done) = self.ops.join_next(), if !self.ops.is_empty() => match done {
                    Ok(op) => self.finish(op),
                    Err(e) => error!(pool = %name, error = %e, "pool operation panicked"),
                },
            }
        }
        info!(pool = %name, "pool loop stopped; agents left running");
    }

    /// One observe-decide-act step.
    async fn tick(&mut self) {
        let began = Instant::now();
        let name = self.spec.name.clone();
        let failure = self.read_consumer().await;
        let containers = match self.io.target.list(&name).await {
            Ok(c) => c,
            Err(e) => {
                telemetry::docker_error(&name, "list");
                warn!(pool = %name, error = %e, "cannot list containers; holding");
                self.status.send_modify(|s| {
                    s.failure = Some(e.to_string());
                    s.fresh = false;
                });
                return;
            }
        };
        self.members.retain_listed(&containers, &mut self.registry);
        self.members.adopt_standbys(&containers, &self.registry);
        self.reap_exited(&containers);
        // An agent started after the latest failure that outlived the
        // crash window proves the template works: no more back-off.
        let window = self.spec.agents.crash_window;
        if let Some(failed) = self.backoff.last_failure()
            && self
                .members
                .started_at
                .values()
                .any(|t| *t > failed && t.elapsed() >= window)
        {
            self.backoff.reset();
        }
        self.heal(&containers);
        self.enforce_drain_deadlines(&containers);
        self.roll(&containers);

        let replicas = self.members.replicas(&containers);
        let now = Instant::now();
        let fresh_within = self.spec.agents.stats_timeout;
        let working: Vec<&str> = containers
            .iter()
            .filter(|c| c.phase == Phase::Running && !self.members.busy(c))
            .map(|c| c.name.as_str())
            .collect();
        let at = self.clock.now();
        let agents = self.registry.aggregate(working, now, fresh_within, at);
        let obs = Observation {
            consumer: self.latest,
            failure,
            agents,
            replicas,
            cold_start_s: self.cold_start_sample.take(),
            budget: self.budget.as_ref().and_then(|b| b.grant(&name)),
        };
        let overrides = self
            .overrides
            .as_ref()
            .map(|rx| rx.borrow().clone())
            .unwrap_or_default();
        let policy = overrides.apply(&self.spec.policy);
        let d = decide(&policy, &mut self.state, &obs, at);
        if let Some(b) = &self.budget {
            b.request(&name, self.spec.policy.priority, &d);
        }
        telemetry::decision_latency(&name, began.elapsed().as_secs_f64());
        let prev_limit = self.last.as_ref().map(|l| l.limit.as_str());
        telemetry::record_decision(&name, &d, &replicas, obs.consumer.as_ref(), prev_limit);
        telemetry::record_controls(&name, &policy);
        self.log_decision(&d);
        self.act(&d, &containers);
        self.refill_warm(&replicas);
        let backoff_s = self.backoff.remaining().as_secs_f64();
        telemetry::start_backoff(&name, backoff_s);
        let fresh = obs.failure.is_none()
            && d.staleness_s <= self.spec.policy.scaling.stale_after.as_secs_f64();
        let views = self.members.views(&containers, &self.registry);
        self.status.send_modify(|s| {
            s.observation = obs.consumer;
            s.failure = obs.failure.clone();
            s.decision = Some(d.clone());
            s.replicas = replicas;
            s.agents = views;
            s.start_backoff_s = backoff_s;
            s.updated_at = Some(at);
            s.fresh = fresh;
            s.overrides = overrides;
            s.inputs = Some(obs.clone());
        });
        self.last = Some(d);
    }

    /// Reads the consumer, keeping the last good numbers; returns the
    /// failure description when the read failed.
    async fn read_consumer(&mut self) -> Option<String> {
        let name = &self.spec.name;
        match self.io.source.read().await {
            Ok(mut stats) => {
                stats.at = self.clock.now();
                self.latest = Some(stats);
                if self.failing.take().is_some() {
                    info!(pool = %name, "consumer metrics recovered");
                }
                None
            }
            Err(e) => {
                telemetry::observe_error(name, e.reason());
                if self.failing != Some(e.reason()) {
                    log_observe_error(name, &e);
                    self.failing = Some(e.reason());
                }
                Some(e.to_string())
            }
        }
    }

    /// Handles containers that exited: a finished drain is removed; one
    /// that exited on its own is removed, counted, and (if it died soon
    /// after its start) backs off further starts.
    fn reap_exited(&mut self, containers: &[Listed]) {
        for c in containers.iter().filter(|c| c.phase == Phase::Exited) {
            if self.members.stopping.contains(&c.id) || self.members.starting.contains_key(&c.name)
            {
                continue;
            }
            if let Some(d) = self.members.draining.remove(&c.id) {
                info!(pool = %self.spec.name, agent = %d.name, held = d.held, "agent drained and exited");
                telemetry::drain_outcome(&self.spec.name, "drained");
            } else {
                let crashed = self
                    .members
                    .started_at
                    .get(&c.name)
                    .is_some_and(|t| t.elapsed() < self.spec.agents.crash_window);
                telemetry::agent_replaced(&self.spec.name, "exited");
                if crashed {
                    let delay = self.backoff.fail();
                    error!(pool = %self.spec.name, agent = %c.name, crashes = self.backoff.failures(), next_start_in = ?delay,
                           "agent exited within {:?} of its start: the template is crash-looping; backing off",
                           self.spec.agents.crash_window);
                } else {
                    warn!(pool = %self.spec.name, agent = %c.name, "agent exited on its own; replacing it");
                }
            }
            self.spawn_remove(c);
        }
    }

    /// Replaces running agents that Docker reports unhealthy, or that
    /// reported stats and then went silent (only while jetpool's own NATS
    /// connection works: otherwise every agent would look silent).
    fn heal(&mut self, containers: &[Listed]) {
        let now = Instant::now();
        let nats_ok = self.failing.is_none();
        for c in containers {
            if c.phase != Phase::Running || self.members.stopping.contains(&c.id) {
                continue;
            }
            let silent = nats_ok
                && !self.members.starting.contains_key(&c.name)
                && self.registry.get(&c.name).is_some_and(|s| {
                    now.saturating_duration_since(s.at) > self.spec.agents.stats_timeout
                });
            let reason = if c.unhealthy {
                "unhealthy"
            } else if silent {
                "silent"
            } else {
                continue;
            };
            warn!(pool = %self.spec.name, agent = %c.name, reason, "replacing agent");
            telemetry::agent_replaced(&self.spec.name, reason);
            self.members.draining.remove(&c.id);
            self.members.standby.remove(&c.name);
            self.spawn_stop(c.clone());
        }
    }

    /// Stops drains that outlived their deadline.
    fn enforce_drain_deadlines(&mut self, containers: &[Listed]) {
        let now = Instant::now();
        let overdue: Vec<Listed> = containers
            .iter()
            .filter(|c| {
                self.members
                    .draining
                    .get(&c.id)
                    .is_some_and(|d| now >= d.deadline)
                    && !self.members.stopping.contains(&c.id)
            })
            .cloned()
            .collect();
        for c in overdue {
            warn!(pool = %self.spec.name, agent = %c.name, "drain deadline passed; stopping the agent");
            telemetry::drain_outcome(&self.spec.name, "deadline");
            self.members.draining.remove(&c.id);
            self.spawn_stop(c);
        }
    }

    fn log_decision(&self, d: &Decision) {
        let changed = self
            .last
            .as_ref()
            .is_none_or(|l| l.desired != d.desired || l.limit != d.limit);
        let e = &d.estimates;
        let (pending, ack_pending) = self.latest.map_or((0, 0), |c| (c.pending, c.ack_pending));
        if changed {
            // One line per change, with every input the reason refers to,
            // so a log pipeline can replay why the pool moved.
            info!(pool = %self.spec.name, desired = d.desired, current = d.current, recommended = d.recommended,
                  demand = d.demand, min = d.min, max = d.max, limit = d.limit.as_str(),
                  pending, ack_pending, arrival_rate = e.arrival_rate, forecast_rate = e.forecast_rate,
                  service_time_s = e.service_time_s, per_agent_rate = e.per_agent_rate,
                  staleness_s = d.staleness_s, dry_run = self.dry_run, reason = %d.reason, "decision");
        } else {
            debug!(pool = %self.spec.name, desired = d.desired, current = d.current, reason = %d.reason, "decision");
        }
    }

    /// Moves toward `d.desired`: out by cancelling drains, then activating
    /// standbys, then starting containers; in by draining the least busy.
    fn act(&mut self, d: &Decision, containers: &[Listed]) {
        let current = d.current;
        if d.desired > current {
            let mut need = d.desired - current;
            telemetry::scale_event(&self.spec.name, true);
            need -= self.resume_drains(containers, need);
            need -= self.activate_standbys(need);
            if need == 0 {
                return;
            }
            if self.backoff.blocked() {
                debug!(pool = %self.spec.name, "start back-off in effect");
                return;
            }
            for _ in 0..need {
                self.spawn_start(false);
            }
        } else if d.desired < current {
            let n = (current - d.desired) as usize;
            let average = self
                .latest
                .map_or(0.0, |c| c.ack_pending as f64 / f64::from(current.max(1)));
            let victims = self.members.victims(
                containers,
                &self.registry,
                average,
                &self.spec.template.id(),
                Instant::now(),
                self.spec.agents.stats_timeout,
                n,
            );
            if victims.is_empty() {
                return;
            }
            telemetry::scale_event(&self.spec.name, false);
            for (c, held) in victims {
                self.retire(c, held.unwrap_or(0));
            }
        }
    }

    /// Takes an agent out of service: a drain when it speaks the protocol
    /// (and drains are on), else `docker stop`.
    fn retire(&mut self, c: Listed, held: u64) {
        let speaks = self.registry.get(&c.name).is_some();
        if self.spec.agents.drain && speaks && c.phase == Phase::Running {
            self.spawn_drain(c, held);
        } else {
            self.spawn_stop(c);
        }
    }

    /// Retires one agent made from an older template, when no other roll,
    /// start or back-off is in progress: the pool then counts one agent
    /// fewer and its next decision starts the replacement from the current
    /// template, so capacity dips by at most one agent at a time. A warm
    /// standby of an older template is simply stopped and refilled.
    fn roll(&mut self, containers: &[Listed]) {
        if self.members.rolling.is_some()
            || !self.members.starting.is_empty()
            || self.backoff.blocked()
        {
            return;
        }
        let current = self.spec.template.id();
        // Right after a restart an agent's first report may not be in yet:
        // wait for it (or for `stats_timeout`) so a protocol speaker is
        // drained, not stopped.
        let settled = self.up_since.elapsed() >= self.spec.agents.stats_timeout;
        let outdated = |c: &&Listed| {
            c.phase == Phase::Running
                && c.template.as_deref().is_some_and(|t| t != current)
                && (settled || self.registry.get(&c.name).is_some())
        };
        let standby = containers.iter().filter(outdated).find(|c| {
            self.members.standby.contains(&c.name)
                && !self.members.activating.contains(&c.name)
                && !self.members.stopping.contains(&c.id)
        });
        let old = match standby {
            Some(c) => Some(c),
            None => containers
                .iter()
                .filter(outdated)
                .filter(|c| !self.members.busy(c))
                .min_by_key(|c| (c.created, c.name.clone())),
        };
        let Some(old) = old.cloned() else { return };
        info!(pool = %self.spec.name, agent = %old.name, from = old.template.as_deref().unwrap_or("-"),
              to = %current, "rolling an agent to the pool's current template");
        telemetry::replica_rolled(&self.spec.name);
        self.members.rolling = Some(old.id.clone());
        if self.members.standby.remove(&old.name) {
            self.spawn_stop(old);
        } else {
            let held = self
                .registry
                .get(&old.name)
                .map_or(0, |s| s.stats.in_flight);
            self.retire(old, held);
        }
    }

    /// Cancels up to `need` drains; returns how many were asked.
    fn resume_drains(&mut self, containers: &[Listed], need: u32) -> u32 {
        // The agents holding the most work are the furthest from exiting.
        let mut draining: Vec<(ContainerId, String, u64)> = containers
            .iter()
            .filter(|c| c.phase == Phase::Running && !self.members.stopping.contains(&c.id))
            // A rolled-out agent runs an old template: replace it, not resume it.
            .filter(|c| self.members.rolling.as_ref() != Some(&c.id))
            .filter_map(|c| {
                self.members
                    .draining
                    .get(&c.id)
                    .map(|d| (c.id.clone(), d.name.clone(), d.held))
            })
            .collect();
        draining.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| a.1.cmp(&b.1)));
        let mut asked = 0;
        for (id, name, _) in draining.into_iter().take(need as usize) {
            if let Some(d) = self.members.draining.remove(&id) {
                self.members.resuming.insert(id.clone());
                self.spawn_control_resume(id, name, d);
                asked += 1;
            }
        }
        asked
    }

    /// Activates up to `need` standbys; returns how many were asked.
    fn activate_standbys(&mut self, need: u32) -> u32 {
        let mut ready: Vec<String> = self
            .members
            .standby
            .iter()
            .filter(|n| {
                !self.members.starting.contains_key(*n) && !self.members.activating.contains(*n)
            })
            .cloned()
            .collect();
        ready.sort();
        let mut asked = 0;
        for name in ready.into_iter().take(need as usize) {
            self.members.activating.insert(name.clone());
            self.spawn_activate(name);
            asked += 1;
        }
        asked
    }

    /// Keeps `warm` standbys started (never during a crash-loop back-off).
    fn refill_warm(&mut self, replicas: &crate::policy::Replicas) {
        let want = self.spec.agents.warm;
        let have = replicas.standby;
        if have < want && !self.backoff.blocked() {
            for _ in 0..(want - have) {
                self.spawn_start(true);
            }
        }
    }
}

/// Resolves when the override changes; never without one. `None` when
/// its sender is gone (the branch is then skipped).
async fn override_changed(rx: &mut Option<watch::Receiver<Override>>) -> Option<()> {
    match rx {
        Some(rx) => rx.changed().await.ok(),
        None => std::future::pending().await,
    }
}

fn log_observe_error(pool: &str, e: &ObserveError) {
    match e {
        ObserveError::StreamNotFound { .. } | ObserveError::ConsumerNotFound { .. } => {
            error!(pool = %pool, error = %e, "cannot read the consumer; the pool holds its count until it exists")
        }
        _ => {
            warn!(pool = %pool, error = %e, "cannot read the consumer; metrics are stale, the pool will not scale in")
        }
    }
}

/// How long a control request may take before the agent counts as not
/// speaking the protocol.
pub const CONTROL_TIMEOUT: Duration = Duration::from_secs(2);
