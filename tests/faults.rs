//! Faults of the things a pool depends on, on one nats-server: its stream
//! deleted and created again (the pool holds, `/healthz` names it, and it
//! is healthy again after), and an image that cannot be pulled (the start
//! backs off, `/status` and the metrics say why, nothing is left behind).

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use common::*;

/// The stream deleted under a running pool, then created again.
async fn stream_deleted_and_recreated(nats: &Nats) {
    let pool = unique("it-nostream");
    let stream = "FAULTS";
    setup_stream(nats, stream, "work", Duration::from_secs(30)).await;
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 6)
        .interval("250ms")
        .scaling("stale_after = \"2s\"")
        .toml();
    let dir = policy_dir(&toml);
    let listen = format!("127.0.0.1:{}", free_port());
    // A dry run: the pool decides on the backlog, no container is made.
    let _jetpool = JetpoolProcess::start(dir.path(), &nats.url, &listen, &["--dry-run"]);
    publish(nats, stream, 40, 10_000).await;
    let before = eventually(Duration::from_secs(15), "the pool scaled out", || async {
        desired(&listen).await.filter(|&d| d >= 1)
    })
    .await;
    let js = jetstream::new(nats.client().await);
    js.delete_stream(stream).await.expect("delete stream");
    let body = eventually(
        Duration::from_secs(15),
        "/healthz 503 naming the stream",
        || async {
            let (code, body) = http_get(&listen, "/healthz").await?;
            (code == 503 && body.contains("not found")).then_some(body)
        },
    )
    .await;
    assert!(body.contains(&pool), "{body}");
    let held_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < held_until {
        let d = desired(&listen).await.unwrap_or(0);
        assert!(d >= before, "scaled in without its stream: {before} -> {d}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    setup_stream(nats, stream, "work", Duration::from_secs(30)).await;
    let back = Instant::now();
    eventually(
        Duration::from_secs(10),
        "/healthz 200 with the stream back",
        || async { (health(&listen).await == Some(200)).then_some(()) },
    )
    .await;
    println!(
        "stream back: healthy after {:.2}s",
        back.elapsed().as_secs_f64()
    );
    assert!(back.elapsed() < Duration::from_secs(2));
}

/// An image that cannot be pulled: the reason in `/status` and the
/// metrics, starts backing off, no container left.
async fn image_that_cannot_be_pulled(nats: &Nats) {
    let pool = unique("it-noimage");
    let _guard = PoolGuard(pool.clone());
    let stream = "NOIMAGE";
    setup_stream(nats, stream, "work", Duration::from_secs(30)).await;
    // A registry on a closed loopback port: the pull fails at once.
    let toml = TestPool::new(&pool, stream).bounds(0, 4).toml().replace(
        &format!("image = \"{}\"", image()),
        "image = \"127.0.0.1:1/jetpool-missing:none\"",
    );
    let svc = Service::start(nats, &toml);
    publish(nats, stream, 10, 1000).await;
    let began = Instant::now();
    let error = eventually(
        Duration::from_secs(20),
        "the start error in /status",
        || async {
            let st = svc.status().await;
            st["pools"][0]["last_start_error"]["error"]
                .as_str()
                .map(str::to_string)
        },
    )
    .await;
    assert!(error.contains("jetpool-missing"), "{error}");
    // Ten seconds of failing starts: back-off, not a loop.
    tokio::time::sleep_until((began + Duration::from_secs(10)).into()).await;
    let m = svc.metrics().await;
    let label = format!("pool=\"{pool}\"");
    let failed = counter_sum(&m, "jetpool_docker_errors_total", &[&label, "op=\"start\""]);
    println!("{failed} failed starts in 10 s");
    assert!(
        (1.0..=8.0).contains(&failed),
        "{failed} failed starts in 10 s:\n{m}"
    );
    assert!(
        all_containers(&pool).is_empty(),
        "a failed start left a container"
    );
    svc.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dependencies_failing_are_held_reported_and_recovered() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    stream_deleted_and_recreated(&nats).await;
    image_that_cannot_be_pulled(&nats).await;
}
