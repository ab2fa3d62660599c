//! A pool reacts to the first task as it is published, not at its next
//! tick: with a 10 s interval, a pool at zero starts its first container,
//! and a warm standby is activated, within a fraction of that.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Runs a pool with a 10 s tick, waits for its first decision (and its
/// standby, when `warm`), publishes one task and returns the seconds until
/// it is acknowledged, with the service's arrival wakes.
async fn first_task_done(warm: u32) -> (f64, f64) {
    let nats = Nats::start();
    let pool = unique(if warm > 0 {
        "it-react-warm"
    } else {
        "it-react-zero"
    });
    let _guard = PoolGuard(pool.clone());
    let stream = "REACT";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let agents = format!("warm = {warm}");
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 2)
        .interval("10s")
        .agents(&agents)
        .toml();
    let svc = Service::start(&nats, &toml);
    eventually(Duration::from_secs(20), "a first decision", || async {
        let st = svc.status().await;
        let standby = st["pools"][0]["agents"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|x| x["state"] == "standby").count());
        (!st["pools"][0]["decision"].is_null() && standby == warm as usize).then_some(())
    })
    .await;
    let t0 = Instant::now();
    publish(&nats, stream, 1, 0).await;
    eventually(Duration::from_secs(9), "the task acknowledged", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.ack_floor.stream_sequence >= 1).then_some(())
    })
    .await;
    let secs = t0.elapsed().as_secs_f64();
    let wakes = counter_sum(&svc.metrics().await, "jetpool_arrival_wakes_total", &[]);
    svc.stop().await;
    (secs, wakes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_at_zero_starts_on_the_first_task() {
    if !docker_available() {
        return;
    }
    let (secs, wakes) = first_task_done(0).await;
    println!("pool at zero, 10 s tick: first task acknowledged after {secs:.3}s ({wakes} wakes)");
    assert!(wakes >= 1.0, "the arrival woke the pool");
    // A container start here takes about 0.2 s; the next tick is 10 s away.
    assert!(secs < 5.0, "{secs:.3}s: the pool waited for its tick");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_warm_standby_is_activated_on_the_first_task() {
    if !docker_available() {
        return;
    }
    let (secs, wakes) = first_task_done(1).await;
    println!("warm standby, 10 s tick: first task acknowledged after {secs:.3}s ({wakes} wakes)");
    assert!(wakes >= 1.0, "the arrival woke the pool");
    assert!(secs < 1.0, "{secs:.3}s: activation waited for the tick");
}
