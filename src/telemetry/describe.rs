//! The help text of every metric, registered once with the recorder.

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram, gauge};

use super::labels::{
    ComposeErrorReason, DockerOp, DrainOutcome, JobOutcome, MetricLabel, ObserveReason,
    ReloadOutcome, ReplaceReason, ReplicaState, ReportRejected, ScaleDirection,
};

/// A label's values as a description lists them: `up, down`.
fn values<L: MetricLabel>() -> String {
    let all: Vec<&str> = L::ALL.iter().map(|l| l.as_str()).collect();
    all.join(", ")
}

/// Describes every metric (and sets the build info gauge).
pub(super) fn describe() {
    describe_gauge!(
        "jetpool_build_info",
        "Build information; the value is always 1."
    );
    describe_gauge!(
        "jetpool_leader",
        "With --ha: 1 while this instance holds the leader lease and acts, 0 while it only observes."
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
        "jetpool_trigger_recommended_replicas",
        "Agents each trigger recommends (backlog, cpu, memory, prometheus; the highest wins); a blind trigger keeps its last value."
    );
    describe_gauge!(
        "jetpool_trigger_value",
        "What each trigger last read: the agents' mean utilisation of their limit (cpu, memory) or the query's value (prometheus)."
    );
    describe_counter!(
        "jetpool_trigger_errors_total",
        "Failed reads of a trigger (Docker stats, Prometheus query); while one fails, the pool does not scale in."
    );
    describe_gauge!(
        "jetpool_pool_replicas",
        format!("Agent containers by state ({}).", values::<ReplicaState>())
    );
    describe_gauge!(
        "jetpool_pool_engine_replicas",
        "Live agent containers of the pool on each Docker engine (engine), as last listed; 0 on an engine that did not answer."
    );
    describe_gauge!(
        "jetpool_engine_up",
        "1 while the Docker engine (engine: `local`, or a --engine name) answered its latest call, else 0."
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
        "Cold start in force: the median of the last 32 measured from container create to the agent's first working report, else the policy's hint."
    );
    describe_gauge!(
        "jetpool_pool_slo_late_ratio",
        "wait_slo pools: share of the last hour's deliveries that started later than the SLO, measured from the consumer (the SLO holds while it stays under 1 - wait_slo_quantile)."
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
        "jetpool_jobs_total",
        format!(
            "Jobs of job pools (mode = \"job\") that ended, by outcome ({}).",
            values::<JobOutcome>()
        )
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
        "jetpool_tick_lateness_seconds",
        Unit::Seconds,
        "How long after it fell due each pool tick began (all pools together)."
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
