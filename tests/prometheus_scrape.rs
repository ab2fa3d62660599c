//! A real Prometheus (the Debian package's binary) scrapes jetpool, and its
//! HTTP API returns the pool's desired and actual replicas and its backlog
//! with the values that hold: three agents (max) each holding one long
//! task, 17 tasks waiting. Real NATS, real Docker.

mod common;

use std::time::Duration;

use common::compose::prometheus_available;
use common::prometheus::{Prometheus, query, query_all};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_sees_desired_and_actual_replicas_and_backlog() {
    if !docker_available() || !prometheus_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-prom");
    let _guard = PoolGuard(pool.clone());
    setup_stream(&nats, "PROM", "work", Duration::from_secs(30)).await;
    // 20 tasks of 10 minutes: the agents hold one each for the whole test,
    // so the numbers stand still while Prometheus scrapes them.
    publish(&nats, "PROM", 20, 600_000).await;
    // Told the tasks are that long, the model wants far more agents than
    // the max of 3.
    let toml = policy_toml(&pool, "PROM", "work", 0, 3, "service_time = \"10m\"");
    let svc = Service::start(&nats, &toml);
    let prom = Prometheus::start(&svc.listen);

    let sel = format!("pool=\"{pool}\"");
    let expected = [
        (format!("jetpool_pool_desired_replicas{{{sel}}}"), 3.0),
        (
            format!("jetpool_pool_replicas{{{sel},state=\"ready\"}}"),
            3.0,
        ),
        (
            format!("jetpool_pool_replicas{{{sel},state=\"starting\"}}"),
            0.0,
        ),
        (format!("jetpool_consumer_pending_messages{{{sel}}}"), 17.0),
        (
            format!("jetpool_consumer_ack_pending_messages{{{sel}}}"),
            3.0,
        ),
    ];
    eventually(
        Duration::from_secs(40),
        "Prometheus to hold the pool's settled numbers",
        || async {
            for (q, want) in &expected {
                if query(&prom.addr, q).await != Some(*want) {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;
    // What Prometheus holds is what runs and what NATS reports.
    assert_eq!(running(&pool).len(), 3, "three agent containers run");
    let info = consumer_info(&nats, "PROM", "work").await;
    assert_eq!((info.num_pending, info.num_ack_pending), (17, 3));

    assert_eq!(query(&prom.addr, r#"up{job="jetpool"}"#).await, Some(1.0));
    assert_eq!(query(&prom.addr, "jetpool_build_info").await, Some(1.0));
    let limit = query_all(
        &prom.addr,
        &format!("jetpool_pool_guardrail_active{{{sel}}} == 1"),
    )
    .await;
    assert_eq!(limit.len(), 1, "one active guardrail: {limit:?}");
    assert_eq!(limit[0].0["limit"], "max");
    let ticks = query(
        &prom.addr,
        &format!("jetpool_decision_duration_seconds_count{{{sel}}}"),
    )
    .await;
    assert!(
        ticks.is_some_and(|n| n > 0.0),
        "decision latency histogram: {ticks:?}"
    );
    for op in ["list", "create", "start"] {
        let q =
            format!("jetpool_docker_request_duration_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}}");
        let n = query(&prom.addr, &q).await;
        assert!(
            n.is_some_and(|n| n >= 1.0),
            "Docker latency recorded for {op}: {n:?}"
        );
    }

    svc.stop().await;
}
