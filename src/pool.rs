//! One pool's control loop: observe the consumer, decide, reconcile the
//! containers. One task owns all of a pool's state; `/status` and the
//! metrics get snapshots, never references.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

use crate::clock::Clock;
use crate::config::PoolSpec;
use crate::docker::{AgentContainer, Phase, ScaleTarget};
use crate::error::Error;
use crate::observe::{MetricsSource, ObserveError};
use crate::policy::{ConsumerStats, Decision, Observation, PoolState, Replicas, decide};
use crate::telemetry;

/// A snapshot of one pool for `/status` and health checks.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolStatus {
    /// Pool name.
    pub pool: String,
    /// Stream and consumer the pool watches.
    pub stream: String,
    /// Durable consumer name.
    pub consumer: String,
    /// Configured bounds.
    pub min: u32,
    /// Configured bounds.
    pub max: u32,
    /// The last consumer numbers read.
    pub observation: Option<ConsumerStats>,
    /// Why the latest read failed, if it did.
    pub failure: Option<String>,
    /// The last decision, with its estimates, guardrail and reason.
    pub decision: Option<Decision>,
    /// The containers as counted for that decision.
    pub replicas: Replicas,
    /// When this snapshot was taken.
    pub updated_at: Option<Timestamp>,
    /// Whether the metrics were fresh at the last tick.
    pub fresh: bool,
}

impl PoolStatus {
    fn new(spec: &PoolSpec) -> Self {
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
            updated_at: None,
            fresh: false,
        }
    }
}

/// The outcome of a container operation run in the background.
enum Op {
    /// A start finished.
    Started {
        name: String,
        requested: Instant,
        result: Result<String, Error>,
    },
    /// A stop (and removal) finished.
    Stopped {
        id: String,
        name: String,
        result: Result<(), Error>,
    },
    /// Removal of a container that exited on its own finished.
    Removed { id: String },
}

/// Exponential back-off for a template that fails to start.
#[derive(Debug, Default)]
struct Backoff {
    /// Consecutive failures.
    failures: u32,
    /// No start is attempted before this instant.
    until: Option<Instant>,
}

impl Backoff {
    fn fail(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let delay = Duration::from_millis(500u64.saturating_mul(1 << self.failures.min(7)))
            .min(Duration::from_secs(60));
        self.until = Some(Instant::now() + delay);
        delay
    }

    fn reset(&mut self) {
        self.failures = 0;
        self.until = None;
    }

    fn blocked(&self) -> bool {
        self.until.is_some_and(|u| Instant::now() < u)
    }
}

/// One pool's loop and everything it owns.
pub struct PoolRunner<S, T> {
    /// The pool's validated configuration.
    spec: Arc<PoolSpec>,
    /// Where consumer numbers come from.
    source: S,
    /// Where containers run.
    target: Arc<T>,
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
    /// Names of containers being created and started, with when.
    starting: HashMap<String, Instant>,
    /// Ids of containers being stopped or removed.
    stopping: HashSet<String>,
    /// Container operations in flight.
    ops: JoinSet<Op>,
    /// Start back-off.
    backoff: Backoff,
    /// The last decision, to log changes only.
    last: Option<Decision>,
    /// Measured start time of the latest agent, not yet handed to decide.
    cold_start_sample: Option<f64>,
    /// Where snapshots are published.
    status: watch::Sender<PoolStatus>,
}

impl<S: MetricsSource, T: ScaleTarget> PoolRunner<S, T> {
    /// A loop for `spec`, reading from `source` and acting on `target`.
    /// Returns it with the receiver of its status snapshots.
    pub fn new(
        spec: PoolSpec,
        source: S,
        target: Arc<T>,
        agent_nats_url: String,
    ) -> (Self, watch::Receiver<PoolStatus>) {
        let (tx, rx) = watch::channel(PoolStatus::new(&spec));
        let runner = PoolRunner {
            spec: Arc::new(spec),
            source,
            target,
            agent_nats_url,
            clock: Clock::new(),
            state: PoolState::default(),
            latest: None,
            failing: None,
            starting: HashMap::new(),
            stopping: HashSet::new(),
            ops: JoinSet::new(),
            backoff: Backoff::default(),
            last: None,
            cold_start_sample: None,
            status: tx,
        };
        (runner, rx)
    }

    /// Runs until `shutdown` resolves. Agents are left running: stopping
    /// the autoscaler must not stop the work.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        let mut ticker = tokio::time::interval(self.spec.policy.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        info!(pool = %self.spec.name, stream = %self.spec.stream, consumer = %self.spec.consumer,
              min = self.spec.policy.min, max = self.spec.policy.max, "pool started");
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ticker.tick() => self.tick().await,
                Some(done) = self.ops.join_next(), if !self.ops.is_empty() => match done {
                    Ok(op) => self.finish(op),
                    Err(e) => error!(pool = %self.spec.name, error = %e, "container operation panicked"),
                },
            }
        }
        info!(pool = %self.spec.name, "pool loop stopped; agents left running");
    }

    /// One observe-decide-act step.
    async fn tick(&mut self) {
        let began = Instant::now();
        let name = self.spec.name.clone();
        let failure = match self.source.read().await {
            Ok(mut stats) => {
                stats.at = self.clock.now();
                self.latest = Some(stats);
                if self.failing.take().is_some() {
                    info!(pool = %name, "consumer metrics recovered");
                }
                None
            }
            Err(e) => {
                telemetry::observe_error(&name, e.reason());
                if self.failing != Some(e.reason()) {
                    log_observe_error(&name, &e);
                    self.failing = Some(e.reason());
                }
                Some(e.to_string())
            }
        };
        let containers = match self.target.list(&name).await {
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
        self.reap_exited(&containers);
        let replicas = self.replicas(&containers);
        let obs = Observation {
            consumer: self.latest,
            failure,
            agents: None,
            replicas,
            cold_start_s: self.cold_start_sample.take(),
        };
        let now = self.clock.now();
        let d = decide(&self.spec.policy, &mut self.state, &obs, now);
        telemetry::decision_latency(&name, began.elapsed().as_secs_f64());
        let prev_limit = self.last.as_ref().map(|l| l.limit.as_str());
        telemetry::record_decision(&name, &d, &replicas, obs.consumer.as_ref(), prev_limit);
        self.log_decision(&d);
        self.act(&d, &containers);
        let fresh = obs.failure.is_none()
            && d.staleness_s <= self.spec.policy.scaling.stale_after.as_secs_f64();
        self.status.send_modify(|s| {
            s.observation = obs.consumer;
            s.failure = obs.failure.clone();
            s.decision = Some(d.clone());
            s.replicas = replicas;
            s.updated_at = Some(now);
            s.fresh = fresh;
        });
        self.last = Some(d);
    }

    /// Removes containers that exited without being asked to: their
    /// capacity is gone, and the next decision replaces them.
    fn reap_exited(&mut self, containers: &[AgentContainer]) {
        for c in containers {
            if c.phase == Phase::Exited
                && !self.stopping.contains(&c.id)
                && !self.starting.contains_key(&c.name)
            {
                warn!(pool = %self.spec.name, agent = %c.name, "agent exited on its own; removing it");
                telemetry::agent_exit(&self.spec.name);
                self.stopping.insert(c.id.clone());
                let target = self.target.clone();
                let id = c.id.clone();
                self.ops.spawn(async move {
                    let _ = target.remove(&id).await;
                    Op::Removed { id }
                });
            }
        }
    }

    /// Counts containers by state, consistently with the operations in
    /// flight (a container being started is "starting" whether or not
    /// Docker lists it yet).
    fn replicas(&self, containers: &[AgentContainer]) -> Replicas {
        let mut r = Replicas {
            starting: self.starting.len() as u32,
            ..Default::default()
        };
        for c in containers {
            if self.stopping.contains(&c.id) {
                if c.phase != Phase::Exited {
                    r.draining += 1;
                }
                continue;
            }
            if self.starting.contains_key(&c.name) {
                continue;
            }
            match c.phase {
                Phase::Running => r.ready += 1,
                Phase::Created => r.starting += 1,
                Phase::Exited | Phase::Removing => {}
            }
        }
        r
    }

    fn log_decision(&self, d: &Decision) {
        let changed = self
            .last
            .as_ref()
            .is_none_or(|l| l.desired != d.desired || l.limit != d.limit);
        let e = &d.estimates;
        if changed {
            info!(pool = %self.spec.name, desired = d.desired, current = d.current, recommended = d.recommended,
                  limit = d.limit.as_str(), arrival_rate = e.arrival_rate, per_agent_rate = e.per_agent_rate,
                  staleness_s = d.staleness_s, reason = %d.reason, "decision");
        } else {
            debug!(pool = %self.spec.name, desired = d.desired, current = d.current, reason = %d.reason, "decision");
        }
    }

    /// Starts or stops containers to move toward `d.desired`.
    fn act(&mut self, d: &Decision, containers: &[AgentContainer]) {
        let current = d.current;
        if d.desired > current {
            if self.backoff.blocked() {
                debug!(pool = %self.spec.name, "start back-off in effect");
                return;
            }
            let n = d.desired - current;
            telemetry::scale_event(&self.spec.name, true);
            for _ in 0..n {
                self.spawn_start();
            }
        } else if d.desired < current {
            let victims = self.pick_victims(containers, (current - d.desired) as usize);
            if victims.is_empty() {
                return;
            }
            telemetry::scale_event(&self.spec.name, false);
            for c in victims {
                self.spawn_stop(c);
            }
        }
    }

    /// Containers to stop: not-yet-started ones first, then the newest
    /// running ones (the oldest have proven healthy).
    fn pick_victims(&self, containers: &[AgentContainer], n: usize) -> Vec<AgentContainer> {
        let mut candidates: Vec<&AgentContainer> = containers
            .iter()
            .filter(|c| {
                matches!(c.phase, Phase::Created | Phase::Running)
                    && !self.stopping.contains(&c.id)
                    && !self.starting.contains_key(&c.name)
            })
            .collect();
        candidates.sort_by_key(|c| {
            (
                c.phase != Phase::Created,
                std::cmp::Reverse(c.created),
                c.name.clone(),
            )
        });
        candidates.into_iter().take(n).cloned().collect()
    }

    fn spawn_start(&mut self) {
        // The template names the container (compose numbers its replicas),
        // so the request is prepared here, in order, before the spawn.
        let req = self
            .spec
            .template
            .start_request(&self.spec.name, &self.agent_nats_url);
        let name = req.name.clone();
        self.starting.insert(name.clone(), Instant::now());
        let target = self.target.clone();
        let requested = Instant::now();
        self.ops.spawn(async move {
            let result = target.start(req).await;
            Op::Started {
                name,
                requested,
                result,
            }
        });
    }

    fn spawn_stop(&mut self, c: AgentContainer) {
        info!(pool = %self.spec.name, agent = %c.name, "stopping agent");
        self.stopping.insert(c.id.clone());
        let target = self.target.clone();
        let timeout = self.spec.template.stop_timeout();
        self.ops.spawn(async move {
            let result = match target.stop(&c.id, timeout).await {
                Ok(()) => target.remove(&c.id).await,
                Err(e) => Err(e),
            };
            Op::Stopped {
                id: c.id,
                name: c.name,
                result,
            }
        });
    }

    fn finish(&mut self, op: Op) {
        let pool = &self.spec.name;
        match op {
            Op::Started {
                name,
                requested,
                result,
            } => {
                self.starting.remove(&name);
                match result {
                    Ok(_) => {
                        let secs = requested.elapsed().as_secs_f64();
                        telemetry::container_op(pool, true);
                        self.cold_start_sample = Some(secs);
                        self.backoff.reset();
                        info!(pool = %pool, agent = %name, seconds = secs, "agent started");
                    }
                    Err(e) => {
                        telemetry::docker_error(pool, "start");
                        let delay = self.backoff.fail();
                        error!(pool = %pool, agent = %name, error = %e, retry_in = ?delay,
                               "cannot start agent; backing off");
                    }
                }
            }
            Op::Stopped { id, name, result } => {
                self.stopping.remove(&id);
                match result {
                    Ok(()) => {
                        telemetry::container_op(pool, false);
                        info!(pool = %pool, agent = %name, "agent stopped and removed");
                    }
                    Err(e) => {
                        telemetry::docker_error(pool, "stop");
                        error!(pool = %pool, agent = %name, error = %e, "cannot stop agent");
                    }
                }
            }
            Op::Removed { id } => {
                self.stopping.remove(&id);
            }
        }
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
