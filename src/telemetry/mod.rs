//! Metrics and logs. Every notable event is recorded here in one place,
//! under bounded label sets (pool, direction, a fixed reason enum); never
//! an error's text as a label.
//!
//! - [`labels`]: one enum per label, with `as_str()` and `ALL`;
//! - [`events`]: the notable events, each logging and counting together;
//! - this file: the recorder, the metric descriptions, the decision gauges
//!   and the registration of a pool's series at zero.
//!
//! Naming follows Prometheus's conventions: a `jetpool_` prefix, base
//! units in the name (`_seconds`), `_total` on counters, `_info` for the
//! constant build gauge. A pool's counters are registered at zero when the
//! pool starts ([`pool_started`]), so `rate()` and `increase()` count
//! their first events too.

mod describe;
pub mod events;
pub mod labels;

use std::sync::OnceLock;

use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use labels::{
    ComposeErrorReason, DockerOp, DrainOutcome, HeldWork, JobOutcome, MetricLabel, ObserveReason,
    ReloadOutcome, ReplaceReason, ReplicaState, ReportRejected, ScaleDirection,
};

use crate::policy::overrides::OVERRIDE_KINDS;
use crate::policy::{ConsumerStats, Decision, Policy, Replicas};

/// The process-wide Prometheus recorder. A `OnceLock` because the `metrics`
/// facade has one global recorder; tests that start several services in one
/// process share it.
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder (once) and returns its handle.
pub fn prometheus() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                    10.0, 30.0,
                ])
                .ok()?
                .install_recorder()
                .ok()?;
            describe::describe();
            Some(handle)
        })
        .clone()
}

/// Records the controls the last decision ran under: paused, pinned (by
/// a runtime override or the policy file) and the stale window.
pub fn record_controls(pool: &str, policy: &Policy) {
    let p = pool.to_string();
    for (kind, on) in [
        ("paused", policy.paused),
        ("pinned", policy.pinned.is_some()),
    ] {
        gauge!("jetpool_pool_override", "pool" => p.clone(), "kind" => kind).set(if on {
            1.0
        } else {
            0.0
        });
    }
    gauge!("jetpool_pool_stale_after_seconds", "pool" => p)
        .set(policy.scaling.stale_after.as_secs_f64());
}

/// Records one decision and the observation behind it.
pub fn record_decision(
    pool: &str,
    d: &Decision,
    replicas: &Replicas,
    consumer: Option<&ConsumerStats>,
    previous_limit: Option<&'static str>,
) {
    let p = pool.to_string();
    gauge!("jetpool_pool_desired_replicas", "pool" => p.clone()).set(f64::from(d.desired));
    gauge!("jetpool_pool_recommended_replicas", "pool" => p.clone()).set(f64::from(d.recommended));
    for &state in ReplicaState::ALL {
        let n = match state {
            ReplicaState::Ready => replicas.ready,
            ReplicaState::Starting => replicas.starting,
            ReplicaState::Draining => replicas.draining,
            ReplicaState::Standby => replicas.standby,
        };
        gauge!("jetpool_pool_replicas", "pool" => p.clone(), "state" => state.as_str())
            .set(f64::from(n));
    }
    if let Some(c) = consumer {
        gauge!("jetpool_consumer_pending_messages", "pool" => p.clone()).set(c.pending as f64);
        gauge!("jetpool_consumer_oldest_pending_age_seconds", "pool" => p.clone())
            .set(c.oldest_pending_age_s().unwrap_or(0.0));
        gauge!("jetpool_consumer_ack_pending_messages", "pool" => p.clone())
            .set(c.ack_pending as f64);
        gauge!("jetpool_consumer_waiting_requests", "pool" => p.clone()).set(c.waiting as f64);
        gauge!("jetpool_consumer_redelivered_messages", "pool" => p.clone())
            .set(c.redelivered as f64);
    }
    let e = &d.estimates;
    gauge!("jetpool_pool_arrival_rate_tasks_per_second", "pool" => p.clone()).set(e.arrival_rate);
    gauge!("jetpool_pool_forecast_arrival_rate_tasks_per_second", "pool" => p.clone())
        .set(e.forecast_rate);
    gauge!("jetpool_pool_agent_throughput_tasks_per_second", "pool" => p.clone())
        .set(e.per_agent_rate);
    gauge!("jetpool_pool_service_time_seconds", "pool" => p.clone()).set(e.service_time_s);
    gauge!("jetpool_pool_agent_capacity_tasks", "pool" => p.clone()).set(e.concurrency);
    gauge!("jetpool_pool_cold_start_seconds", "pool" => p.clone()).set(e.horizon_s);
    if let Some(late) = d.slo_late_share {
        gauge!("jetpool_pool_slo_late_ratio", "pool" => p.clone()).set(late);
    }
    // An infinite age (never read) is exported as -1: Prometheus accepts
    // +Inf, but dashboards and alerts handle a sentinel more predictably.
    let age = if d.staleness_s.is_finite() {
        d.staleness_s
    } else {
        -1.0
    };
    gauge!("jetpool_pool_metrics_staleness_seconds", "pool" => p.clone()).set(age);
    let limit = d.limit.as_str();
    if let Some(prev) = previous_limit.filter(|&l| l != limit) {
        gauge!("jetpool_pool_guardrail_active", "pool" => p.clone(), "limit" => prev).set(0.0);
    }
    gauge!("jetpool_pool_guardrail_active", "pool" => p.clone(), "limit" => limit).set(1.0);
    for o in &d.triggers {
        // A blind trigger's series keeps its last value: a gap would read
        // as a recommendation of zero on a dashboard.
        if let Some(n) = o.recommended {
            gauge!("jetpool_trigger_recommended_replicas", "pool" => p.clone(), "trigger" => o.name.clone())
                .set(f64::from(n));
        }
        if let Some(v) = o.value {
            gauge!("jetpool_trigger_value", "pool" => p.clone(), "trigger" => o.name.clone())
                .set(v);
        }
    }
}

/// Registers the error counter of each of a pool's triggers at zero.
pub fn triggers_started(pool: &str, triggers: &[String]) {
    for t in triggers {
        counter!("jetpool_trigger_errors_total", "pool" => pool.to_string(), "trigger" => t.clone())
            .increment(0);
    }
}

/// Registers `metric` at zero for `pool` under every value of label `key`.
fn register<L: MetricLabel>(metric: &'static str, pool: &str, key: &'static str) {
    for value in L::ALL {
        counter!(metric, "pool" => pool.to_string(), key => value.as_str()).increment(0);
    }
}

/// Registers a pool's counters (at zero when new; a pool that restarts
/// keeps its counts, as counters must).
pub fn pool_started(pool: &str) {
    register::<ScaleDirection>("jetpool_scale_events_total", pool, "direction");
    register::<ObserveReason>("jetpool_observe_errors_total", pool, "reason");
    register::<ReportRejected>("jetpool_agent_reports_rejected_total", pool, "reason");
    register::<DockerOp>("jetpool_docker_errors_total", pool, "op");
    register::<ReplaceReason>("jetpool_agents_replaced_total", pool, "reason");
    register::<DrainOutcome>("jetpool_drains_total", pool, "outcome");
    register::<JobOutcome>("jetpool_jobs_total", pool, "outcome");
    for name in [
        "jetpool_containers_started_total",
        "jetpool_containers_stopped_total",
        "jetpool_warm_activations_total",
        "jetpool_pool_updates_total",
        "jetpool_arrival_wakes_total",
    ] {
        counter!(name, "pool" => pool.to_string()).increment(0);
    }
    register::<HeldWork>("jetpool_drains_started_total", pool, "held_work");
}

/// Registers compose discovery's counters, or with `pool` a compose
/// pool's roll counter.
pub fn compose_started(pool: Option<&str>) {
    match pool {
        None => {
            for reason in ComposeErrorReason::ALL {
                counter!("jetpool_compose_errors_total", "reason" => reason.as_str()).increment(0);
            }
        }
        Some(p) => {
            counter!("jetpool_replicas_rolled_total", "pool" => p.to_string()).increment(0);
        }
    }
}

/// Registers the policy reload counter (when a directory is followed).
pub fn reloads_started() {
    for outcome in ReloadOutcome::ALL {
        counter!("jetpool_policy_reloads_total", "outcome" => outcome.as_str()).increment(0);
    }
}

/// Counts a scale action.
pub fn scale_event(pool: &str, direction: ScaleDirection) {
    counter!("jetpool_scale_events_total", "pool" => pool.to_string(), "direction" => direction.as_str())
        .increment(1);
}

/// Records the latency of one Docker call.
pub fn docker_latency(op: DockerOp, seconds: f64) {
    histogram!("jetpool_docker_request_duration_seconds", "op" => op.as_str()).record(seconds);
}

/// Records whether engine `engine` answered its latest call.
pub fn engine_up(engine: &str, up: bool) {
    gauge!("jetpool_engine_up", "engine" => engine.to_string()).set(if up { 1.0 } else { 0.0 });
}

/// Records a pool's live (not exited) containers on one engine, as its
/// latest listing found them; 0 on an engine that did not answer.
pub fn engine_replicas(pool: &str, engine: &str, n: u32) {
    gauge!("jetpool_pool_engine_replicas", "pool" => pool.to_string(), "engine" => engine.to_string())
        .set(f64::from(n));
}

/// Records the latency of one observe-and-decide step.
pub fn decision_latency(pool: &str, seconds: f64) {
    histogram!("jetpool_decision_duration_seconds", "pool" => pool.to_string()).record(seconds);
}

/// Records how late a pool's tick ran after it fell due: the loop's
/// timeliness under load (a flood of reports, a slow Docker), in one
/// series for all pools because lateness comes from the process, not the
/// pool.
pub fn tick_lateness(seconds: f64) {
    histogram!("jetpool_tick_lateness_seconds").record(seconds);
}

/// Exports the time left in the start back-off.
pub fn start_backoff(pool: &str, seconds: f64) {
    gauge!("jetpool_pool_start_backoff_seconds", "pool" => pool.to_string()).set(seconds);
}

/// Records whether this instance leads (`--ha`): 1 while it holds the
/// lease and acts, 0 while it follows.
pub fn leader(on: bool) {
    gauge!("jetpool_leader").set(if on { 1.0 } else { 0.0 });
}

/// Records how many compose pools run and how many are paused.
pub fn compose_pools(running: usize, paused: usize) {
    gauge!("jetpool_compose_pools", "state" => "running").set(running as f64);
    gauge!("jetpool_compose_pools", "state" => "paused").set(paused as f64);
}

/// Zeroes the replica gauges of a pool that stopped (a compose service
/// went away or paused), so dashboards do not show its last count forever.
pub fn pool_removed(pool: &str) {
    let p = pool.to_string();
    gauge!("jetpool_pool_desired_replicas", "pool" => p.clone()).set(0.0);
    for state in ReplicaState::ALL {
        gauge!("jetpool_pool_replicas", "pool" => p.clone(), "state" => state.as_str()).set(0.0);
    }
    for kind in OVERRIDE_KINDS {
        gauge!("jetpool_pool_override", "pool" => p.clone(), "kind" => kind).set(0.0);
    }
}
