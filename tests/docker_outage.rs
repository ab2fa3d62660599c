//! The Docker daemon stopped and started again, on an engine this test
//! owns (a private `dockerd`; the machine's own is never touched):
//! - while it is down, jetpool holds (`/healthz` 503 naming the engine),
//!   retries at most once per tick and creates nothing;
//! - when it is back, the pool converges to its count again: the agents
//!   the daemon stopped on its way down are replaced, the exited ones
//!   removed, nothing else started;
//! - tasks published meanwhile are all done, each acked once.

mod common;

use std::time::{Duration, Instant};

use common::dockerd::Dockerd;
use common::*;

/// `jetpool_docker_errors_total`, all operations.
async fn docker_errors(listen: &str) -> f64 {
    let body = http_get(listen, "/metrics")
        .await
        .map(|r| r.1)
        .unwrap_or_default();
    counter_sum(&body, "jetpool_docker_errors_total", &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_daemon_stopped_and_started_again() {
    if !docker_available() {
        return;
    }
    let mut engine = Dockerd::start();
    let nats = Nats::start();
    let pool = unique("it-dockerd");
    let stream = "DOUT";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let acks = AckCounts::watch(&nats, stream, "work").await;
    let toml = TestPool::new(&pool, stream)
        .bounds(2, 4)
        .interval("500ms")
        .toml();
    let dir = policy_dir(&toml);
    let listen = format!("127.0.0.1:{}", free_port());
    let host = engine.host();
    let _jetpool = JetpoolProcess::start_env(
        dir.path(),
        &nats.url,
        &listen,
        &[],
        &[("DOCKER_HOST", &host)],
    );
    eventually(
        Duration::from_secs(60),
        "2 agents on the private engine",
        || async { (engine.containers(&pool, false).len() == 2).then_some(()) },
    )
    .await;
    publish(&nats, stream, 10, 100).await;
    eventually(Duration::from_secs(30), "the first tasks done", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.ack_floor.stream_sequence == 10).then_some(())
    })
    .await;
    let first: Vec<String> = engine.containers(&pool, true);

    // Down: the daemon stops its containers and exits.
    engine.stop();
    let down = Instant::now();
    eventually(Duration::from_secs(10), "/healthz 503", || async {
        (health(&listen).await == Some(503)).then_some(())
    })
    .await;
    let errors_at_down = docker_errors(&listen).await;
    publish(&nats, stream, 10, 100).await;
    // The outage lasts 10 s: a scenario length, not a synchronisation.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let errors = docker_errors(&listen).await - errors_at_down;
    let outage = down.elapsed().as_secs_f64();
    // Each 500 ms tick lists once; the events stream retries with its
    // own back-off (1 s doubling).
    let ceiling = 2.0 * outage / 0.5 + 10.0;
    assert!(
        errors <= ceiling,
        "bounded retries: {errors} failed Docker calls in {outage:.1} s"
    );

    // Back: converge.
    engine.resume();
    let back = Instant::now();
    // The backlog published meanwhile may ask for more than 2: converged
    // is at least 2 running and no exited container left.
    let agents = eventually(
        Duration::from_secs(60),
        "the pool running again, nothing exited",
        || async {
            let all = engine.containers(&pool, true);
            let up = engine.containers(&pool, false);
            (up.len() >= 2 && all == up).then_some(all)
        },
    )
    .await;
    let converged = back.elapsed().as_secs_f64();
    eventually(Duration::from_secs(20), "/healthz 200", || async {
        (health(&listen).await == Some(200)).then_some(())
    })
    .await;
    let healthy = back.elapsed().as_secs_f64();
    eventually(Duration::from_secs(60), "every task acked", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.ack_floor.stream_sequence == 20 && i.num_ack_pending == 0).then_some(())
    })
    .await;
    acks.assert_each_once(20);
    let made = agents.len();
    assert!(made <= 4, "no runaway creation: {agents:?}");
    // The daemon's restart left the first agents exited; they were
    // replaced, not restarted behind jetpool's back, and no more were
    // made than needed.
    assert!(
        agents.iter().all(|a| !first.contains(a)),
        "the exited agents were replaced: before {first:?}, after {agents:?}"
    );
    println!(
        "dockerd down {outage:.1} s: {errors} failed Docker calls, 0 containers created; \
         back: {made} agents in {converged:.2} s, /healthz 200 in {healthy:.2} s"
    );
}
