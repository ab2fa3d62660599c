//! The `cpu` trigger against the real Docker engine: agents that keep
//! their CPU busy (`jetpool agent --work-mode cpu`, limited to half a
//! core each) scale the pool out on their utilisation while the backlog
//! alone asks for no more agents than work in flight.

mod common;

use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_agents_scale_out_on_cpu() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-cpu");
    let _guard = PoolGuard(pool.clone());
    let stream = "CPUTRIG";
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
command = ["agent", "--stream", "{stream}", "--consumer", "work", "--work-mode", "cpu"]
env = {{ JETPOOL_STATS_INTERVAL = "1s" }}
network = "host"
stop_timeout = "5s"
cpus = 0.5

[pool.scaling]
concurrency = 1

[[pool.trigger]]
type = "cpu"
target = 0.6
"#,
        image = image()
    );
    // One long task, queued before jetpool starts (so the arrival-rate
    // estimate sees no burst): the agent holding it burns its half core
    // (about 100% of its limit against a target of 60%: ceil(1 x 1.0 /
    // 0.6) = 2), while the queue is empty and the backlog model asks for
    // the 1 agent that holds the work.
    publish(&nats, stream, 1, 120_000).await;
    let svc = Service::start(&nats, &toml);
    let d = eventually(
        Duration::from_secs(60),
        "a second agent for the cpu trigger",
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
    assert_eq!(by("cpu")["recommended"], 2, "{d}");
    let utilisation = by("cpu")["value"].as_f64().unwrap_or(0.0);
    assert!(utilisation > 0.66, "the busy agent's cpu is high: {d}");
    assert!(
        d["reason"]
            .as_str()
            .is_some_and(|r| r.contains("raised to 2 by trigger cpu")),
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
