//! Killing jetpool (SIGKILL) while agents run, then starting it again: the
//! new process adopts the running agents (no duplicates, none orphaned) and
//! later scales them in itself.
//!
//! And a jetpool restarted without `--ha` remembers the cold start it
//! measured (kept in the state bucket): its first decision already plans
//! with it, where one started with `--no-state` assumes one.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_adopts_running_agents() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-adopt");
    let _guard = PoolGuard(pool.clone());
    let stream = "ADOPT";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let dir = policy_dir(&policy_toml(
        &pool,
        stream,
        "work",
        0,
        4,
        "scale_down_delay = \"2s\"\nservice_time = \"1500ms\"\ntarget_drain_time = \"5s\"",
    ));
    let listen = format!("127.0.0.1:{}", free_port());

    let mut first = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    publish(&nats, stream, 40, 1500).await;
    eventually(Duration::from_secs(15), "4 agents running", || async {
        (running(&pool).len() == 4).then_some(())
    })
    .await;
    first.0.kill().expect("SIGKILL jetpool");
    first.0.wait().expect("reap jetpool");
    let before: BTreeSet<String> = running(&pool).into_iter().collect();
    assert_eq!(before.len(), 4, "agents keep running when jetpool dies");

    let _second = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    // Wait until the new process has decided at least once...
    eventually(
        Duration::from_secs(10),
        "the restarted jetpool to decide",
        || async {
            let (_, body) = http_get(&listen, "/status").await?;
            body.contains("\"decision\":{").then_some(())
        },
    )
    .await;
    // ...then, for a few of its ticks, the set of agents must stay exactly
    // the adopted one: no duplicates started, none lost.
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        let now: BTreeSet<String> = all_containers(&pool).into_iter().collect();
        assert!(
            now.is_subset(&before),
            "no new containers while load holds: {now:?} vs {before:?}"
        );
        let info = consumer_info(&nats, stream, "work").await;
        if info.num_pending > 4 {
            assert_eq!(now, before, "all adopted agents kept while backlog remains");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // The adopted agents are the new process's to scale in: once the work
    // is done they are stopped and removed, none orphaned.
    eventually(
        Duration::from_secs(60),
        "the adopted agents scaled in and removed",
        || async {
            let i = consumer_info(&nats, stream, "work").await;
            (i.num_pending == 0 && i.num_ack_pending == 0 && all_containers(&pool).is_empty())
                .then_some(())
        },
    )
    .await;
    let info = consumer_info(&nats, stream, "work").await;
    assert_eq!(info.ack_floor.stream_sequence, 40, "every task done");
}

/// The first decision's estimates of a jetpool just started at `listen`.
async fn first_estimates(listen: &str) -> serde_json::Value {
    eventually(Duration::from_secs(20), "the first decision", || {
        estimates(listen)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_jetpool_remembers_the_measured_cold_start() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-remember");
    let _guard = PoolGuard(pool.clone());
    let stream = "REMEMBER";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    // One agent from the start (min 1): its create-to-first-report is the
    // cold start measured.
    let toml = TestPool::new(&pool, stream)
        .bounds(1, 2)
        .interval("500ms")
        .scaling("wait_slo = \"30s\"")
        .toml();
    let dir = policy_dir(&toml);
    let listen = format!("127.0.0.1:{}", free_port());

    let mut first = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    let measured = eventually(
        Duration::from_secs(30),
        "the cold start measured",
        || async {
            let e = estimates(&listen).await?;
            (e["cold_start_measured"] == true).then(|| e["horizon_s"].as_f64())?
        },
    )
    .await;
    println!("measured cold start: {measured:.3} s");
    // Written within one write period (5 s) of the measurement.
    let js = async_nats::jetstream::new(nats.client().await);
    eventually(
        Duration::from_secs(15),
        "the cold start in the state bucket",
        || async {
            let kv = js.get_key_value("jetpool_state").await.ok()?;
            let value = kv.get(&pool).await.ok()??;
            let h: serde_json::Value = serde_json::from_slice(&value).ok()?;
            let samples = h["learned"]["cold_start_samples"].as_array()?;
            (!samples.is_empty()).then_some(())
        },
    )
    .await;
    first.kill();
    assert_eq!(running(&pool).len(), 1, "the agent outlives jetpool");
    // What the killed jetpool last wrote: the cold start it planned with
    // (it may have measured more than the first by then).
    let kv = js.get_key_value("jetpool_state").await.expect("the bucket");
    let value = kv.get(&pool).await.expect("read").expect("the pool's key");
    let h: serde_json::Value = serde_json::from_slice(&value).expect("json");
    let kept = h["learned"]["cold_start_s"].as_f64().expect("a cold start");

    // Restarted: the agent that runs is adopted (no new start to measure),
    // and the first decision plans with the cold start measured before.
    let mut second = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    let e = first_estimates(&listen).await;
    assert_eq!(e["cold_start_measured"], true, "{e}");
    let horizon = e["horizon_s"].as_f64().expect("a horizon");
    assert!(
        (horizon - kept).abs() < 1e-9,
        "{horizon} vs {kept} kept: {e}"
    );
    second.kill();

    // With --no-state it assumes one, as every jetpool did before.
    let _third = JetpoolProcess::start(dir.path(), &nats.url, &listen, &["--no-state"]);
    let e = first_estimates(&listen).await;
    assert_eq!(e["cold_start_measured"], false, "{e}");
    assert_eq!(running(&pool).len(), 1);
}
