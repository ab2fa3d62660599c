//! A pool reacts to the first task as it is published, not at its next
//! tick: with a 10 s interval, a pool at zero starts its first container,
//! and a warm standby is activated, within a fraction of that.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Runs a pool with a 10 s tick, waits for its first decision (and its
/// standby, when `warm`), publishes one task and returns the seconds until
/// it is acknowledged, with the service's arrival wakes.
async fn first_task_done(nats: &Nats, warm: u32) -> (f64, f64) {
    let pool = unique(if warm > 0 {
        "it-react-warm"
    } else {
        "it-react-zero"
    });
    let _guard = PoolGuard(pool.clone());
    let stream = if warm > 0 { "REACTWARM" } else { "REACTZERO" };
    setup_stream(nats, stream, "work", Duration::from_secs(30)).await;
    let agents = format!("warm = {warm}");
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 2)
        .interval("10s")
        .agents(&agents)
        .toml();
    let svc = Service::start(nats, &toml);
    // The status refreshes at each 10 s tick: the standby's first report
    // shows at the tick after it, three ticks at most on a loaded machine.
    eventually(Duration::from_secs(35), "a first decision", || async {
        let st = svc.status().await;
        let standby = st["pools"][0]["agents"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|x| x["state"] == "standby").count());
        (!st["pools"][0]["decision"].is_null() && standby == warm as usize).then_some(())
    })
    .await;
    let t0 = Instant::now();
    publish(nats, stream, 1, 0).await;
    eventually(Duration::from_secs(9), "the task acknowledged", || async {
        let i = consumer_info(nats, stream, "work").await;
        (i.ack_floor.stream_sequence >= 1).then_some(())
    })
    .await;
    let secs = t0.elapsed().as_secs_f64();
    let label = format!("pool=\"{pool}\"");
    let wakes = counter_sum(
        &svc.metrics().await,
        "jetpool_arrival_wakes_total",
        &[&label],
    );
    svc.stop().await;
    (secs, wakes)
}

/// Both cases on one nats-server, one after the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_task_wakes_an_idle_pool() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let (secs, wakes) = first_task_done(&nats, 0).await;
    println!("pool at zero, 10 s tick: first task acknowledged after {secs:.3}s ({wakes} wakes)");
    assert!(wakes >= 1.0, "the arrival woke the pool at zero");
    // A container start here takes about 0.1 s; the next tick is 10 s away.
    assert!(
        secs < 5.0,
        "{secs:.3}s: the pool at zero waited for its tick"
    );

    let (secs, wakes) = first_task_done(&nats, 1).await;
    println!("warm standby, 10 s tick: first task acknowledged after {secs:.3}s ({wakes} wakes)");
    assert!(wakes >= 1.0, "the arrival woke the warm pool");
    assert!(secs < 1.0, "{secs:.3}s: activation waited for the tick");
}
