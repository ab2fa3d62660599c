//! NATS down while a pool has work: nothing scales in while jetpool is
//! blind, `/healthz` says so, and it answers 200 again within 2 s of the
//! server's return (the client retries at most every 500 ms, not the
//! library's 4 s).

mod common;

use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blind_pools_hold_and_recover_within_two_seconds() {
    if !docker_available() {
        return;
    }
    let mut nats = Nats::start();
    let pool = unique("it-outage");
    let stream = "OUTAGE";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 6)
        .interval("250ms")
        .scaling("stale_after = \"2s\"")
        .toml();
    let dir = policy_dir(&toml);
    let listen = format!("127.0.0.1:{}", free_port());
    // A dry run: the pool decides on the backlog, no container is made.
    let _jetpool = JetpoolProcess::start(dir.path(), &nats.url, &listen, &["--dry-run"]);
    publish(&nats, stream, 60, 10_000).await;
    let before = eventually(Duration::from_secs(15), "the pool scaled out", || async {
        desired(&listen).await.filter(|&d| d >= 1)
    })
    .await;
    eventually(Duration::from_secs(10), "healthy", || async {
        (health(&listen).await == Some(200)).then_some(())
    })
    .await;

    nats.kill();
    eventually(
        Duration::from_secs(15),
        "/healthz 503 while blind",
        || async { (health(&listen).await == Some(503)).then_some(()) },
    )
    .await;
    // Blind for 30 s while the agents hold their tasks: the client's
    // retries back off meanwhile.
    let blind_until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < blind_until {
        let d = desired(&listen).await.unwrap_or(0);
        assert!(d >= before, "scaled in while blind: {before} -> {d}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    nats.restart();
    let back = Instant::now();
    eventually(
        Duration::from_secs(15),
        "/healthz 200 after NATS returns",
        || async { (health(&listen).await == Some(200)).then_some(()) },
    )
    .await;
    let secs = back.elapsed().as_secs_f64();
    println!("healthy {secs:.2}s after NATS returned");
    assert!(secs < 2.0, "healthy only {secs:.2}s after NATS returned");
}
