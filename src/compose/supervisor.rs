//! The dynamic set of compose pools. Scans (at start, after Docker events,
//! after a reload of the policy files, and every few seconds) decide which
//! labelled services are pools; each pool is a [`PoolRunner`](crate::pool::PoolRunner), started and
//! stopped here. New parameters (changed labels, or a changed table they
//! name in `jetpool.policy`) go to the running loop, which keeps its state;
//! a new pool name or consumer starts it anew.
//!
//! While compose itself acts on a service (`down`, `stop`, an `up` that
//! recreates or rescales), its pool is paused: a stop or removal of one of
//! the service's containers that jetpool did not make (an event it has no
//! record of) pauses it, so jetpool never starts a replica that `down` would
//! miss. The pool resumes once no outside act has been seen for a few
//! seconds and a container of the service runs; it ends when the service's
//! containers are gone.

mod lifecycle;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tracing::info;

use super::labels::PoolParams;
use super::target::{Act, OwnActs};
use super::{LABEL_PROJECT, LABEL_SERVICE, ServiceKey, discover};
use crate::config::RawPool;
use crate::http::Registry;
use crate::pool::{PoolNames, PoolSpec, RunnerFactory};
use crate::target::docker::DockerTarget;
use crate::target::virt::VirtualTarget;
use crate::target::{ContainerEvent, Template, WatchEvent};
use crate::telemetry::ComposeErrorReason;
use crate::telemetry::events::{DiscoveryFailed, ServiceNotPooled};

/// Events arriving within this window cause one scan.
const DEBOUNCE: Duration = Duration::from_millis(250);
/// Scan cadence while a pool is paused (to resume it promptly).
const PAUSED_SCAN: Duration = Duration::from_secs(1);
/// Scan cadence otherwise: a safety net under the events stream.
const IDLE_SCAN: Duration = Duration::from_secs(10);
/// A paused pool resumes after this long without outside acts.
const QUIET: Duration = Duration::from_secs(3);

/// A compose pool's tasks while it runs.
struct Running {
    /// Tells the runner to stop.
    stop: watch::Sender<bool>,
    /// The runner.
    tasks: JoinSet<()>,
    /// New parameters for the running loop, taken in place.
    spec: watch::Sender<Arc<PoolSpec>>,
}

/// One discovered pool: its settings, its live template, and its tasks
/// unless paused.
struct Entry {
    /// Pool parameters from the labels.
    params: PoolParams,
    /// The template, kept while paused so the pool can come back.
    template: Template,
    /// `None` while paused.
    running: Option<Running>,
    /// The latest act by someone other than jetpool.
    last_outside: Option<Instant>,
}

/// Everything the compose pools share.
pub struct Supervisor {
    /// The engine.
    docker: Arc<DockerTarget>,
    /// Builds the pools' loops, wired like every other pool.
    factory: RunnerFactory,
    /// Only this project's services, when set.
    project: Option<String>,
    /// The policy files' tables as they change (reloads), for
    /// `jetpool.policy`; `None` once their sender is gone.
    policies: Option<watch::Receiver<Arc<Vec<RawPool>>>>,
    /// The tables the pools were last resolved against.
    lent: Arc<Vec<RawPool>>,
    /// Pool names in use, shared with the policy-file pools.
    names: PoolNames,
    /// Where pools are published for `/status` and `/healthz`.
    registry: Registry,
    /// In a dry run, the virtual containers; else `None`.
    dry_run: Option<Arc<VirtualTarget>>,
    /// jetpool's own recent acts, shared with every [`ComposeTarget`].
    own: Arc<OwnActs>,
    /// The pools, by service.
    pools: BTreeMap<ServiceKey, Entry>,
    /// The last problem logged per service, so each is logged and counted once.
    problems: HashMap<ServiceKey, String>,
    /// Tasks of stopped pools, finishing.
    retiring: JoinSet<()>,
}

impl Supervisor {
    /// A supervisor with no pools yet. `policies` are the policy files'
    /// tables, sent again on every reload: compose pools naming one in
    /// `jetpool.policy` are updated in place. `names` is shared with the
    /// policy-file pools, so a name runs once.
    pub fn new(
        docker: Arc<DockerTarget>,
        factory: RunnerFactory,
        project: Option<String>,
        policies: watch::Receiver<Arc<Vec<RawPool>>>,
        names: PoolNames,
        registry: Registry,
        dry_run: Option<Arc<VirtualTarget>>,
    ) -> Self {
        let lent = policies.borrow().clone();
        Supervisor {
            docker,
            factory,
            project,
            policies: Some(policies),
            lent,
            names,
            registry,
            dry_run,
            own: Arc::new(OwnActs::default()),
            pools: BTreeMap::new(),
            problems: HashMap::new(),
            retiring: JoinSet::new(),
        }
    }

    /// Follows the services until `shutdown` resolves, then stops every
    /// compose pool's loop (leaving the containers as they are).
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        info!(
            project = self.project.as_deref().unwrap_or("(all)"),
            "discovering pools from compose labels"
        );
        // The watch reconnects by itself, replaying what it missed.
        let mut events: BoxStream<'static, WatchEvent> = self
            .docker
            .watch(&discover::filters(self.project.as_deref()));
        let mut due: Option<Instant> = None;
        let mut last_scan = Instant::now();
        let mut tick = tokio::time::interval(PAUSED_SCAN);
        self.rescan().await;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                Some(ev) = events.next() => match ev {
                    WatchEvent::Container(ev) => {
                        self.on_event(&ev);
                        due.get_or_insert(Instant::now() + DEBOUNCE);
                    }
                    WatchEvent::Lost { error, retry_in } => {
                        DiscoveryFailed {
                            reason: ComposeErrorReason::Events,
                            error: &error,
                            retry_in: Some(retry_in),
                        }
                        .emit();
                        due = Some(Instant::now() + retry_in);
                    }
                },
                lent = next_tables(&mut self.policies) => {
                    self.lent = lent;
                    due = Some(Instant::now());
                }
                _ = until(due) => {
                    due = None;
                    self.rescan().await;
                    last_scan = Instant::now();
                }
                _ = tick.tick() => {
                    let paused = self.pools.values().any(|e| e.running.is_none());
                    if paused || last_scan.elapsed() >= IDLE_SCAN {
                        self.rescan().await;
                        last_scan = Instant::now();
                    }
                }
            }
            while self.retiring.try_join_next().is_some() {}
        }
        let keys: Vec<ServiceKey> = self.pools.keys().cloned().collect();
        for key in keys {
            self.pause(&key);
        }
        while self.retiring.join_next().await.is_some() {}
        info!("compose discovery stopped; agents left running");
    }

    /// Notes an event; pauses a pool when someone else stops or removes
    /// one of its containers.
    fn on_event(&mut self, ev: &ContainerEvent) {
        let action = &ev.action;
        let (Some(project), Some(service)) =
            (ev.labels.get(LABEL_PROJECT), ev.labels.get(LABEL_SERVICE))
        else {
            return;
        };
        let id = ev.id.as_str();
        let name = ev.name.as_str();
        let Some(act) = Act::of_event(action) else {
            return;
        };
        if self.own.contains(act, id) || self.own.contains(act, name) {
            return;
        }
        let key = ServiceKey {
            project: project.clone(),
            service: service.clone(),
        };
        if !self.pools.contains_key(&key) {
            return;
        }
        if let Some(e) = self.pools.get_mut(&key) {
            e.last_outside = Some(Instant::now());
        }
        let running = self.pools.get(&key).is_some_and(|e| e.running.is_some());
        if running && act != Act::Start {
            info!(service = %key, container = %name, action = %action,
                  "a container of the service was stopped or removed from outside jetpool (docker-compose down/stop/up?); pausing its pool until compose is done");
            self.pause(&key);
        }
    }
}

/// The policy files' tables when they change; never, once their sender
/// is gone.
async fn next_tables(rx: &mut Option<watch::Receiver<Arc<Vec<RawPool>>>>) -> Arc<Vec<RawPool>> {
    if let Some(r) = rx
        && r.changed().await.is_ok()
    {
        return r.borrow_and_update().clone();
    }
    *rx = None;
    std::future::pending().await
}

/// Resolves at `at`, or never when `None`.
async fn until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Logs and counts `msg` about a service that is not pooled, once until
/// it changes: discovery runs every few seconds and must not repeat it.
/// Shared by the compose and Swarm supervisors.
pub fn report_once(
    problems: &mut HashMap<ServiceKey, String>,
    key: &ServiceKey,
    reason: ComposeErrorReason,
    msg: String,
) {
    if problems.get(key) != Some(&msg) {
        ServiceNotPooled {
            service: key,
            reason,
            problem: &msg,
        }
        .emit();
        problems.insert(key.clone(), msg);
    }
}
