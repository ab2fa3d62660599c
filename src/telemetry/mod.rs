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

pub mod events;
pub mod labels;

use std::sync::OnceLock;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use labels::{
    ComposeErrorReason, DockerOp, DrainOutcome, HeldWork, MetricLabel, ObserveReason,
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
            describe();
            Some(handle)
        })
        .clone()
}

/// A label's values as a description lists them: `up, down`.
fn values<L: MetricLabel>() -> String {
    let all: Vec<&str> = L::ALL.iter().map(|l| l.as_str()).collect();
    all.join(", ")
}

fn describe() {
    describe_gauge!(
        "jetpool_build_info",
        "Build information; the value is always 1."
    );
    describe_gauge!(
        "jetpool_pool_desired_replicas",
        "Agents the pool should run, as last decided."
    );
    describe_gauge!(
        "jetpool_pool_recommended_replicas",
        "Agents the sizing model asked for before guardrails."
    );
    describe_gauge!(
        "jetpool_pool_replicas",
        format!("Agent containers by state ({}).", values::<ReplicaState>())
    );
    describe_gauge!(
        "jetpool_consumer_pending_messages",
        "Messages not yet delivered (num_pending)."
    );
    describe_gauge!(
        "jetpool_consumer_oldest_pending_age_seconds",
        "How long the oldest pending task has waited (0 with none pending): the queue's real wait, read from the stream."
    );
    describe_gauge!(
        "jetpool_consumer_ack_pending_messages",
        "Messages delivered but not yet acknowledged (num_ack_pending)."
    );
    describe_gauge!(
        "jetpool_consumer_waiting_requests",
        "Open pull requests (num_waiting)."
    );
    describe_gauge!(
        "jetpool_consumer_redelivered_messages",
        "Messages redelivered at least once (num_redelivered)."
    );
    describe_gauge!(
        "jetpool_pool_arrival_rate_tasks_per_second",
        "Estimated arrival rate (lambda), tasks per second."
    );
    describe_gauge!(
        "jetpool_pool_forecast_arrival_rate_tasks_per_second",
        "Arrival rate forecast at the time new agents would be ready, tasks per second."
    );
    describe_gauge!(
        "jetpool_pool_agent_throughput_tasks_per_second",
        "Estimated throughput of one agent (mu), tasks per second."
    );
    describe_gauge!(
        "jetpool_pool_service_time_seconds",
        Unit::Seconds,
        "Estimated time to process one task."
    );
    describe_gauge!(
        "jetpool_pool_agent_capacity_tasks",
        "Tasks one agent holds at once: the agents' reported capacity, else the policy's concurrency."
    );
    describe_gauge!(
        "jetpool_pool_cold_start_seconds",
        "Cold start in force: measured from container create to the agent's first working report, else the policy's hint."
    );
    describe_gauge!(
        "jetpool_pool_metrics_staleness_seconds",
        Unit::Seconds,
        "Age of the consumer metrics the last decision used."
    );
    describe_gauge!(
        "jetpool_pool_guardrail_active",
        "1 for the guardrail that bounded the last decision (limit label), else 0."
    );
    describe_counter!(
        "jetpool_scale_events_total",
        format!(
            "Scale actions (agents started or stopped toward the desired count), by direction ({}).",
            values::<ScaleDirection>()
        )
    );
    describe_counter!(
        "jetpool_observe_errors_total",
        format!(
            "Failed consumer reads, by reason ({}).",
            values::<ObserveReason>()
        )
    );
    describe_counter!(
        "jetpool_agent_reports_rejected_total",
        format!(
            "Agent stats reports ignored, by reason ({}).",
            values::<ReportRejected>()
        )
    );
    describe_counter!(
        "jetpool_docker_errors_total",
        format!(
            "Failed container operations, by operation ({}).",
            values::<DockerOp>()
        )
    );
    describe_counter!(
        "jetpool_containers_started_total",
        "Agent containers started."
    );
    describe_counter!(
        "jetpool_containers_stopped_total",
        "Agent containers stopped and removed."
    );
    describe_counter!(
        "jetpool_agents_replaced_total",
        format!(
            "Agents replaced, by reason ({}).",
            values::<ReplaceReason>()
        )
    );
    describe_counter!(
        "jetpool_drains_started_total",
        "Drains acknowledged by agents; held_work is true when the agent held tasks."
    );
    describe_counter!(
        "jetpool_drains_total",
        format!("Finished drains by outcome ({}).", values::<DrainOutcome>())
    );
    describe_counter!(
        "jetpool_policy_reloads_total",
        format!(
            "Reloads of the policy files (SIGHUP or a change), by outcome ({}).",
            values::<ReloadOutcome>()
        )
    );
    describe_counter!(
        "jetpool_pool_updates_total",
        "New specs a running pool took in place (a policy file or compose label changed); its loop and state went on."
    );
    describe_counter!(
        "jetpool_warm_activations_total",
        "Warm standby agents activated instead of starting a container."
    );
    describe_gauge!(
        "jetpool_pool_start_backoff_seconds",
        Unit::Seconds,
        "Time left before the next agent start is allowed (crash-loop back-off)."
    );
    describe_histogram!(
        "jetpool_decision_duration_seconds",
        Unit::Seconds,
        "Time of one tick's observation (consumer read, container list) and decision; starts and stops run apart."
    );
    describe_histogram!(
        "jetpool_docker_request_duration_seconds",
        Unit::Seconds,
        format!(
            "Latency of each Docker Engine API call, by operation ({}).",
            values::<DockerOp>()
        )
    );
    describe_gauge!(
        "jetpool_compose_pools",
        "Pools discovered from compose labels, by state (running, paused while compose acts)."
    );
    describe_counter!(
        "jetpool_compose_errors_total",
        format!(
            "Compose services not pooled or discovery failures, by reason ({}).",
            values::<ComposeErrorReason>()
        )
    );
    describe_counter!(
        "jetpool_replicas_rolled_total",
        "Agents rolled out (drained or stopped, then replaced) because their template changed."
    );
    describe_gauge!(
        "jetpool_pool_override",
        "1 while the pool is paused or pinned (kind), by `jetpool pause`/`pin` or its policy file, else 0."
    );
    describe_gauge!(
        "jetpool_pool_stale_after_seconds",
        Unit::Seconds,
        "The pool's stale window: older consumer metrics hold the pool (the blind alert compares the staleness with it)."
    );
    describe_counter!(
        "jetpool_arrival_wakes_total",
        "Decisions made at once, not at the tick, because a task arrived for a pool with no working agent (at zero, or warm standbys only)."
    );
    gauge!("jetpool_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
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
    gauge!("jetpool_pool_guardrail_active", "pool" => p, "limit" => limit).set(1.0);
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

/// Records the latency of one observe-and-decide step.
pub fn decision_latency(pool: &str, seconds: f64) {
    histogram!("jetpool_decision_duration_seconds", "pool" => pool.to_string()).record(seconds);
}

/// Exports the time left in the start back-off.
pub fn start_backoff(pool: &str, seconds: f64) {
    gauge!("jetpool_pool_start_backoff_seconds", "pool" => pool.to_string()).set(seconds);
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
