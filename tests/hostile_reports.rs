//! Hostile agent reports on a pool's stats subjects (malformed, oversized,
//! NaN, negative or huge numbers, naming another pool, from agents that
//! are not the pool's, and a burst of 20,000 forged ids) are counted by reason in
//! `jetpool_agent_reports_rejected_total` and ignored: the pool stays at
//! zero with no agent, and jetpool's memory stays bounded.

mod common;

use std::time::Duration;

use common::*;

/// A stats report body.
fn report(pool: &str, id: &str, in_flight: &str, capacity: &str) -> String {
    format!(
        r#"{{"v":1,"id":"{id}","pool":"{pool}","state":"busy","in_flight":{in_flight},"capacity":{capacity},"completed":0,"failed":0}}"#
    )
}

/// jetpool's resident set, MiB (it runs in this process).
fn rss_mib() -> f64 {
    usage(std::process::id()).1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_reports_are_counted_and_ignored() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-hostile");
    let _guard = PoolGuard(pool.clone());
    let stream = "HOSTILE";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let toml = TestPool::new(&pool, stream).bounds(0, 4).toml();
    let svc = Service::start(&nats, &toml);
    eventually(Duration::from_secs(20), "a first decision", || async {
        (!svc.status().await["pools"][0]["decision"].is_null()).then_some(())
    })
    .await;
    let client = nats.client().await;
    let subject = |id: &str| format!("jetpool.agent.{pool}.{id}.stats");
    let sends: Vec<(String, String, f64)> = vec![
        (subject("a1"), "not json".into(), 100.0),
        (subject("a1"), report(&pool, "a1", "-1", "4"), 100.0),
        (subject("a1"), report(&pool, "a1", "NaN", "4"), 100.0),
        (subject("a1"), "x".repeat(64 * 1024), 100.0),
        (subject("a1"), report("another-pool", "a1", "1", "4"), 100.0),
        (subject("a1"), report(&pool, "a1", "1", "4000000000"), 100.0),
        (subject("a1"), report(&pool, "a1", "1", "4"), 100.0),
    ];
    for (subject, body, n) in &sends {
        for _ in 0..*n as usize {
            client
                .publish(subject.clone(), body.clone().into())
                .await
                .expect("publish");
        }
    }
    // A flood of forged agent ids: each new, none the pool's.
    let before = rss_mib();
    for i in 0..20_000u32 {
        let id = format!("forged-{i}");
        client
            .publish(subject(&id), report(&pool, &id, "1", "4").into())
            .await
            .expect("publish");
    }
    client.flush().await.expect("flush");
    let label = format!("pool=\"{pool}\"");
    let metric = "jetpool_agent_reports_rejected_total";
    let by =
        |m: &str, reason: &str| counter_sum(m, metric, &[&label, &format!("reason=\"{reason}\"")]);
    let m = eventually(Duration::from_secs(30), "every report counted", || async {
        let m = svc.metrics().await;
        (by(&m, "unknown_agent") >= 20_100.0).then_some(m)
    })
    .await;
    assert_eq!(by(&m, "malformed"), 300.0, "{m}");
    assert_eq!(by(&m, "oversized"), 100.0);
    assert_eq!(by(&m, "mismatch"), 100.0);
    assert_eq!(by(&m, "implausible"), 100.0);
    assert_eq!(by(&m, "unknown_agent"), 20_100.0);
    let grew = rss_mib() - before;
    println!("RSS grew {grew:.1} MiB over 20,000 forged reports");
    assert!(grew < 50.0, "memory grew {grew:.1} MiB");
    // Decisions unaffected: still at zero, no agent recorded.
    let st = svc.status().await;
    assert_eq!(st["pools"][0]["decision"]["desired"], 0, "{st}");
    assert_eq!(
        st["pools"][0]["agents"].as_array().map_or(0, Vec::len),
        0,
        "{st}"
    );
    svc.stop().await;
}
