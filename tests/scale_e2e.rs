//! End to end with a real nats-server and the real Docker engine: a burst
//! of tasks scales a pool out, every task is acknowledged exactly once, and
//! the pool returns to zero with its containers gone.

mod common;

use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_scales_out_and_back_to_zero() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-burst");
    let _guard = PoolGuard(pool.clone());
    let stream = "BURST";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let toml = policy_toml(
        &pool,
        stream,
        "work",
        0,
        8,
        "scale_down_delay = \"3s\"\ntarget_drain_time = \"10s\"",
    );
    let svc = Service::start(&nats, &toml);

    publish(&nats, stream, 400, 250).await;
    let t0 = Instant::now();
    eventually(
        Duration::from_secs(10),
        "at least 4 agent containers running",
        || async { (running(&pool).len() >= 4).then_some(()) },
    )
    .await;
    println!(
        "4 agents running {:.2}s after the burst",
        t0.elapsed().as_secs_f64()
    );
    assert!(running(&pool).len() <= 8, "never more than max");

    let info = eventually(
        Duration::from_secs(60),
        "every task acknowledged",
        || async {
            let i = consumer_info(&nats, stream, "work").await;
            (i.num_pending == 0 && i.num_ack_pending == 0).then_some(i)
        },
    )
    .await;
    assert_eq!(info.num_redelivered, 0, "nothing redelivered");
    assert_eq!(
        info.delivered.consumer_sequence, 400,
        "each task delivered exactly once"
    );
    assert_eq!(info.ack_floor.stream_sequence, 400, "all 400 acknowledged");
    println!(
        "400 tasks acked {:.2}s after the burst",
        t0.elapsed().as_secs_f64()
    );

    eventually(
        Duration::from_secs(40),
        "the pool back at zero with no containers left",
        || async { all_containers(&pool).is_empty().then_some(()) },
    )
    .await;
    let body = svc.metrics().await;
    assert_eq!(
        metric_value(&body, "jetpool_pool_desired_replicas", &pool),
        Some(0.0)
    );
    // Counters exist from the pool's start at 0: count what they hold.
    let label = format!("pool=\"{pool}\"");
    let ups = counter_sum(
        &body,
        "jetpool_scale_events_total",
        &[&label, "direction=\"up\""],
    );
    let downs = counter_sum(
        &body,
        "jetpool_scale_events_total",
        &[&label, "direction=\"down\""],
    );
    assert!(
        ups > 0.0 && downs > 0.0,
        "scale events counted in both directions:\n{body}"
    );
    svc.stop().await;
}
