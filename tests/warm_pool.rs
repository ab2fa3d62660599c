//! A warm pool of 2 turns a burst into working agents faster than cold
//! starts: activation is one NATS message, not a container start.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Seconds from a burst to two agents holding a task each.
async fn time_to_two_working(warm: u32) -> f64 {
    let nats = Nats::start();
    let pool = unique(if warm > 0 { "it-warm" } else { "it-cold" });
    let _guard = PoolGuard(pool.clone());
    let stream = "WARM";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let agents = format!("warm = {warm}");
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 2)
        .interval("100ms")
        .scaling("scale_down_delay = \"30s\"")
        .agents(&agents)
        .toml();
    let svc = Service::start(&nats, &toml);
    if warm > 0 {
        eventually(
            Duration::from_secs(20),
            "the standbys to report",
            || async {
                let st = svc.status().await;
                let standby = st["pools"][0]["agents"]
                    .as_array()
                    .map_or(0, |a| a.iter().filter(|x| x["state"] == "standby").count());
                (standby == warm as usize).then_some(())
            },
        )
        .await;
    } else {
        eventually(Duration::from_secs(10), "a first decision", || async {
            (!svc.status().await["pools"][0]["decision"].is_null()).then_some(())
        })
        .await;
    }
    let t0 = Instant::now();
    publish(&nats, stream, 20, 2000).await;
    eventually(Duration::from_secs(20), "two agents working", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.num_ack_pending >= 2).then_some(())
    })
    .await;
    let secs = t0.elapsed().as_secs_f64();
    if warm > 0 {
        let m = svc.metrics().await;
        assert!(
            counter_sum(&m, "jetpool_warm_activations_total", &[]) >= 2.0,
            "{m}"
        );
    }
    svc.stop().await;
    secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_pool_is_faster_than_cold_starts() {
    if !docker_available() {
        return;
    }
    // The median of three runs each, so one slow container start or one
    // tick's phase does not decide the comparison.
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    for _ in 0..3 {
        cold.push(time_to_two_working(0).await);
        warm.push(time_to_two_working(2).await);
    }
    println!(
        "burst to 2 working agents, 3 runs each: cold starts {cold:.3?}s, warm pool of 2 {warm:.3?}s"
    );
    cold.sort_by(f64::total_cmp);
    warm.sort_by(f64::total_cmp);
    let (cold, warm) = (cold[1], warm[1]);
    println!("median: cold starts {cold:.3}s, warm pool of 2 {warm:.3}s");
    assert!(warm < cold, "warm ({warm:.3}s) must beat cold ({cold:.3}s)");
}
