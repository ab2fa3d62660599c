//! The triggers' background readers. The loop never waits on a trigger's
//! source: each reader polls on its own task, bounded by a timeout per
//! read, and publishes its latest reading through a `watch`; the tick
//! takes whatever is there (a stale or failing reading holds the pool, as
//! [`policy::triggers`](crate::policy::triggers) rules).
//!
//! - one task per `prometheus` trigger, running its query;
//! - one task for the `cpu` and `memory` triggers together, reading each
//!   working agent's usage from the scale target (Docker's stats API),
//!   all agents at once.
//!
//! Readers end when the loop drops their [`Readers`] (their `watch`
//! senders see no receiver left), so a reload that changes the triggers
//! replaces them, and a stopped pool leaves none behind.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::Instant;

use super::PoolRunner;
use crate::clock::Clock;
use crate::observe::prometheus;
use crate::observe::{AgentControl, MetricsSource};
use crate::policy::triggers::MIN_READ_INTERVAL;
use crate::policy::{PromQuery, Source, Trigger, TriggerReading};
use crate::target::{Listed, ScaleTarget, Usage};
use crate::telemetry::{
    self,
    events::{TriggerFailed, TriggerRecovered},
};

/// The longest one agent's usage read may take.
const USAGE_TIMEOUT: Duration = Duration::from_secs(5);

/// Agents younger than this are not measured: a starting process burns
/// CPU that says nothing about the work (the HPA ignores CPU samples of
/// pods that just became ready for the same reason). Until then they
/// count as unmeasured, which the HPA's rule treats conservatively.
pub(super) const USAGE_WARMUP: Duration = Duration::from_secs(10);

/// The working agents whose container has run at least [`USAGE_WARMUP`]
/// by `now`: the ones the cpu and memory triggers measure.
pub(super) fn measurable<'a>(
    working: impl Iterator<Item = &'a str>,
    listed: &[Listed],
    now: Timestamp,
) -> Vec<String> {
    let cutoff = now.as_second() - USAGE_WARMUP.as_secs() as i64;
    let settled: HashSet<&str> = listed
        .iter()
        .filter(|c| c.created <= cutoff)
        .map(|c| c.name.as_str())
        .collect();
    working
        .filter(|n| settled.contains(n))
        .map(str::to_string)
        .collect()
}

/// A pool's trigger readers, and the receivers of their readings.
pub(super) struct Readers {
    /// The triggers they read, to tell whether a new spec needs new ones.
    triggers: Vec<Trigger>,
    /// One receiver per trigger, in the policy's order.
    readings: Vec<watch::Receiver<TriggerReading>>,
    /// The agents whose usage the cpu and memory triggers measure.
    agents: watch::Sender<Vec<String>>,
}

impl Readers {
    /// Starts a reader for each trigger of `triggers`, reading every
    /// `interval` (at least a second).
    pub fn start<T: ScaleTarget>(
        pool: &str,
        triggers: &[Trigger],
        target: &Arc<T>,
        interval: Duration,
        clock: Clock,
    ) -> Self {
        let cadence = interval.max(MIN_READ_INTERVAL);
        let names: Vec<String> = triggers.iter().map(|t| t.name.clone()).collect();
        telemetry::triggers_started(pool, &names);
        let (agents, agents_rx) = watch::channel(Vec::new());
        let mut readings = Vec::new();
        let mut resources = Vec::new();
        for t in triggers {
            let (tx, rx) = watch::channel(TriggerReading::default());
            readings.push(rx);
            let name = Named {
                pool: pool.to_string(),
                trigger: t.name.clone(),
            };
            match &t.source {
                Source::Prometheus(q) => {
                    tokio::spawn(read_prometheus(name, q.clone(), tx, cadence, clock));
                }
                Source::Cpu => resources.push((false, name, tx)),
                Source::Memory => resources.push((true, name, tx)),
            }
        }
        if !resources.is_empty() {
            tokio::spawn(read_usage(
                resources,
                target.clone(),
                agents_rx,
                cadence,
                clock,
            ));
        }
        Readers {
            triggers: triggers.to_vec(),
            readings,
            agents,
        }
    }

    /// Whether these readers read exactly `triggers`.
    pub fn serve(&self, triggers: &[Trigger]) -> bool {
        self.triggers == triggers
    }

    /// The latest reading of every trigger, in the policy's order.
    pub fn readings(&self) -> Vec<TriggerReading> {
        self.readings.iter().map(|r| r.borrow().clone()).collect()
    }

    /// Tells the usage reader which agents work now.
    pub fn measure(&self, names: Vec<String>) {
        self.agents.send_if_modified(|v| {
            let changed = *v != names;
            *v = names;
            changed
        });
    }
}

impl<S: MetricsSource, T: ScaleTarget, A: AgentControl> PoolRunner<S, T, A> {
    /// Starts the readers of the spec's triggers (none without triggers),
    /// replacing those of an earlier spec; unchanged triggers keep theirs.
    pub(super) fn start_readers(&mut self) {
        let triggers = &self.spec.policy.triggers;
        if self.readers.as_ref().is_some_and(|r| r.serve(triggers)) {
            return;
        }
        self.readers = (!triggers.is_empty()).then(|| {
            Readers::start(
                &self.spec.name,
                triggers,
                &self.io.target,
                self.spec.policy.interval,
                self.clock,
            )
        });
    }
}

/// A trigger's pool and name, for its log lines and counter.
struct Named {
    pool: String,
    trigger: String,
}

/// Publishes the outcome of one read: a new reading, or the failure
/// beside the last good value (which is then not used).
fn publish(
    name: &Named,
    tx: &watch::Sender<TriggerReading>,
    outcome: Result<(f64, u32), String>,
    clock: Clock,
) {
    match outcome {
        Ok((value, agents)) => {
            if tx.borrow().failure.is_some() {
                TriggerRecovered {
                    pool: &name.pool,
                    trigger: &name.trigger,
                }
                .emit();
            }
            tx.send_replace(TriggerReading {
                at: Some(clock.now()),
                value,
                agents,
                failure: None,
            });
        }
        Err(why) => {
            TriggerFailed {
                pool: &name.pool,
                trigger: &name.trigger,
                error: &why,
                first: tx.borrow().failure.is_none(),
            }
            .emit();
            tx.send_modify(|r| r.failure = Some(why));
        }
    }
}

/// Waits until `began + cadence`; false once nobody reads `tx` any more.
async fn next_round(tx: &watch::Sender<TriggerReading>, began: Instant, cadence: Duration) -> bool {
    tokio::select! {
        _ = tx.closed() => false,
        _ = tokio::time::sleep_until(began + cadence) => true,
    }
}

/// Runs one prometheus trigger's query every `cadence`.
async fn read_prometheus(
    name: Named,
    q: PromQuery,
    tx: watch::Sender<TriggerReading>,
    cadence: Duration,
    clock: Clock,
) {
    loop {
        let began = Instant::now();
        let outcome = prometheus::query(&q)
            .await
            .map(|v| (v, 0))
            .map_err(|e| e.to_string());
        publish(&name, &tx, outcome, clock);
        if !next_round(&tx, began, cadence).await {
            return;
        }
    }
}

/// Reads every working agent's usage every `cadence` and publishes the
/// mean CPU and memory utilisation to the cpu and memory triggers
/// (`(is_memory, name, sender)`). An agent that cannot be read (it just
/// exited) is left out, as the HPA leaves out pods without metrics;
/// only a round in which no agent could be read is a failure.
async fn read_usage<T: ScaleTarget>(
    triggers: Vec<(bool, Named, watch::Sender<TriggerReading>)>,
    target: Arc<T>,
    agents: watch::Receiver<Vec<String>>,
    cadence: Duration,
    clock: Clock,
) {
    let Some((_, _, first)) = triggers.first() else {
        return;
    };
    let first = first.clone();
    loop {
        let began = Instant::now();
        let names = agents.borrow().clone();
        let target = &target;
        let reads = names.iter().map(|n| async move {
            match tokio::time::timeout(USAGE_TIMEOUT, target.usage(n)).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!("agent {n}: no stats within {USAGE_TIMEOUT:?}")),
            }
        });
        let results = futures::future::join_all(reads).await;
        let mut usage: Vec<Usage> = Vec::new();
        let mut errors = Vec::new();
        for r in results {
            match r {
                Ok(u) => usage.push(u),
                Err(e) => errors.push(e),
            }
        }
        let blind = usage.is_empty() && !errors.is_empty();
        for (is_memory, name, tx) in &triggers {
            let values: Vec<f64> = if *is_memory {
                usage.iter().filter_map(Usage::memory_utilisation).collect()
            } else {
                usage.iter().map(Usage::cpu_utilisation).collect()
            };
            let outcome = if blind {
                Err(errors.join("; "))
            } else {
                let n = values.len();
                let mean = if n == 0 {
                    0.0
                } else {
                    values.iter().sum::<f64>() / n as f64
                };
                Ok((mean, u32::try_from(n).unwrap_or(u32::MAX)))
            };
            publish(name, tx, outcome, clock);
        }
        if !next_round(&first, began, cadence).await {
            return;
        }
    }
}
