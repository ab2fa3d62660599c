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
    let mut child = std::process::Command::new(bin())
        .args(["run", "--dry-run", "--policies"])
        .arg(dir.path())
        .args(["--nats", &nats.url, "--listen", &listen])
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start jetpool");
    publish(&nats, stream, 60, 10_000).await;
    let desired = || async {
        let (_, body) = http_get(&listen, "/status").await?;
        let st: serde_json::Value = serde_json::from_str(&body).ok()?;
        st["pools"][0]["decision"]["desired"].as_u64()
    };
    let before = eventually(Duration::from_secs(15), "the pool scaled out", || async {
        desired().await.filter(|&d| d >= 1)
    })
    .await;
    let health = || async { http_get(&listen, "/healthz").await.map(|(code, _)| code) };
    eventually(Duration::from_secs(10), "healthy", || async {
        (health().await == Some(200)).then_some(())
    })
    .await;

    nats.kill();
    eventually(
        Duration::from_secs(15),
        "/healthz 503 while blind",
        || async { (health().await == Some(503)).then_some(()) },
    )
    .await;
    // Blind for 10 s: the client's retries back off meanwhile.
    let blind_until = Instant::now() + Duration::from_secs(10);
    while Instant::now() < blind_until {
        let d = desired().await.unwrap_or(0);
        assert!(d >= before, "scaled in while blind: {before} -> {d}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    nats.restart();
    let back = Instant::now();
    eventually(
        Duration::from_secs(15),
        "/healthz 200 after NATS returns",
        || async { (health().await == Some(200)).then_some(()) },
    )
    .await;
    let secs = back.elapsed().as_secs_f64();
    println!("healthy {secs:.2}s after NATS returned");
    assert!(secs < 2.0, "healthy only {secs:.2}s after NATS returned");
    let _ = child.kill();
    let _ = child.wait();
}
