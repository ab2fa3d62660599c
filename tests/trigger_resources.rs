//! The `cpu` and `memory` triggers against the real Docker engine: agents
//! that keep their CPU busy (`jetpool agent --work-mode cpu`, limited to
//! half a core each) or hold memory (`--work-mode memory`, 80 MiB under a
//! 128 MiB limit) scale the pool out on their utilisation while the
//! backlog alone asks for no more agents than work in flight.

mod common;

use std::time::Duration;

use common::*;

/// How one resource trigger is exercised.
struct Case {
    /// The trigger type, also the agents' `--work-mode`.
    trigger: &'static str,
    /// The stream (one per test).
    stream: &'static str,
    /// The `[pool.container]` limit line.
    limit: &'static str,
    /// The trigger's target utilisation.
    target: f64,
    /// The lowest utilisation the busy agent must be measured at, for
    /// `ceil(1 x utilisation / target)` to be 2.
    at_least: f64,
}

/// One long task, queued before jetpool starts (so the arrival-rate
/// estimate sees no burst): the agent holding it uses its resource while
/// the queue is empty and the backlog model asks for the 1 agent that holds
/// the work. The trigger asks for 2, and the pool runs 2.
async fn scales_out_on(case: Case) {
    if !docker_available() {
        return;
    }
    let Case {
        trigger,
        stream,
        limit,
        target,
        at_least,
    } = case;
    let nats = Nats::start();
    let pool = unique(&format!("it-{trigger}"));
    let _guard = PoolGuard(pool.clone());
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let toml = format!(
        r#"
[[pool]]
name = "{pool}"
stream = "{stream}"
consumer = "work"
min = 1
max = 3
interval = "500ms"

[pool.container]
image = "{image}"
command = ["agent", "--stream", "{stream}", "--consumer", "work", "--work-mode", "{trigger}", "--work-memory-mb", "80"]
env = {{ JETPOOL_STATS_INTERVAL = "1s" }}
network = "host"
stop_timeout = "5s"
{limit}

[pool.scaling]
concurrency = 1

[[pool.trigger]]
type = "{trigger}"
target = {target}
"#,
        image = image()
    );
    publish(&nats, stream, 1, 120_000).await;
    let svc = Service::start(&nats, &toml);
    let d = eventually(
        Duration::from_secs(60),
        &format!("a second agent for the {trigger} trigger"),
        || async {
            let st = svc.status().await;
            let d = st["pools"][0]["decision"].clone();
            (d["desired"].as_u64() == Some(2) && d["limit"] == "trigger").then_some(d)
        },
    )
    .await;
    let triggers = d["triggers"].as_array().cloned().unwrap_or_default();
    let by = |name: &str| {
        triggers
            .iter()
            .find(|t| t["name"] == name)
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by("backlog")["recommended"], 1, "{d}");
    assert_eq!(by(trigger)["recommended"], 2, "{d}");
    let utilisation = by(trigger)["value"].as_f64().unwrap_or(0.0);
    assert!(
        utilisation > at_least,
        "the busy agent's {trigger} is high: {d}"
    );
    assert!(
        d["reason"]
            .as_str()
            .is_some_and(|r| r.contains(&format!("raised to 2 by trigger {trigger}"))),
        "{d}"
    );
    let info = consumer_info(&nats, stream, "work").await;
    assert_eq!(info.num_pending, 0, "no backlog behind the scale-out");
    eventually(Duration::from_secs(30), "2 agents running", || async {
        (running(&pool).len() == 2).then_some(())
    })
    .await;
    let body = svc.metrics().await;
    let errors = counter_sum(
        &body,
        "jetpool_trigger_errors_total",
        &[&format!("pool=\"{pool}\"")],
    );
    assert_eq!(errors, 0.0, "the stats were read without errors");
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_agents_scale_out_on_cpu() {
    // About 100% of the half core against 60%: ceil(1 x 1.0 / 0.6) = 2.
    scales_out_on(Case {
        trigger: "cpu",
        stream: "CPUTRIG",
        limit: "cpus = 0.5",
        target: 0.6,
        at_least: 0.66,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_holding_memory_scale_out_on_memory() {
    // 80 MiB held plus the agent's own under 128 MiB, about 65% to 75%,
    // against 50%: ceil(1 x 0.65 / 0.5) = 2. An idle agent uses a few
    // MiB (well under 50%), so the second one is asked for by the first.
    scales_out_on(Case {
        trigger: "memory",
        stream: "MEMTRIG",
        limit: "memory_mb = 128",
        target: 0.5,
        at_least: 0.55,
    })
    .await;
}
