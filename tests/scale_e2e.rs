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

/// Publishes `rate` tasks a second of `work_ms` each on every stream in
/// `streams` until `stop` is set, with publish acks, in 100 ms steps.
async fn steady_load(
    client: async_nats::Client,
    streams: Vec<String>,
    rate: u64,
    work_ms: u64,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let js = async_nats::jetstream::new(client);
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let started = Instant::now();
    let mut sent = 0u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        tick.tick().await;
        // Catch up to the schedule, so a slow publish does not lower the rate.
        let due = (started.elapsed().as_secs_f64() * rate as f64) as u64;
        let mut acks = Vec::new();
        for id in sent..due {
            for s in &streams {
                let payload = format!("{{\"id\":{id},\"work_ms\":{work_ms}}}");
                acks.push(
                    js.publish(format!("{s}.tasks"), payload.into())
                        .await
                        .expect("publish"),
                );
            }
        }
        sent = due;
        for a in acks {
            a.await.expect("publish ack");
        }
    }
}

/// Agents report how many tasks they hold at once (`capacity`), so a pool
/// sizes by it with no `concurrency` key: under the same steady load (40
/// tasks/s of 750 ms, 30 busy slots) a pool of `--concurrency 4` agents
/// settles at about a quarter of the agents a `--concurrency 1` pool needs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reported_capacity_sizes_the_pool_without_a_concurrency_key() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let (one, four) = (unique("it-cap1"), unique("it-cap4"));
    let _guards = (PoolGuard(one.clone()), PoolGuard(four.clone()));
    let (s1, s4) = ("CAPONE", "CAPFOUR");
    for s in [s1, s4] {
        setup_stream(&nats, s, "work", Duration::from_secs(30)).await;
    }
    // A short down window, so the overshoot of the first seconds (a queue
    // built while the first agents start) is gone before the settled part.
    let scaling = "scale_down_delay = \"10s\"";
    let toml = [
        TestPool::new(&one, s1)
            .bounds(0, 60)
            .reported_concurrency(1),
        TestPool::new(&four, s4)
            .bounds(0, 60)
            .reported_concurrency(4),
    ]
    .map(|p| p.scaling(scaling).toml())
    .join("\n");
    assert!(
        !toml.contains("concurrency ="),
        "no concurrency key:\n{toml}"
    );
    let svc = Service::start(&nats, &toml);

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn(steady_load(
        nats.client().await,
        vec![s1.to_string(), s4.to_string()],
        40,
        750,
        stop.clone(),
    ));
    // Settled: after 40 s of load, sampled every 500 ms for 30 s.
    let t0 = Instant::now();
    eventually(Duration::from_secs(45), "40 s of steady load", || async {
        (t0.elapsed() >= Duration::from_secs(40)).then_some(())
    })
    .await;
    let (mut sum1, mut sum4, mut n) = (0.0, 0.0, 0.0);
    let mut slots = None;
    let mut measured_capacity = None;
    while t0.elapsed() < Duration::from_secs(70) {
        let body = svc.metrics().await;
        if let (Some(a), Some(b)) = (
            metric_value(&body, "jetpool_pool_desired_replicas", &one),
            metric_value(&body, "jetpool_pool_desired_replicas", &four),
        ) {
            sum1 += a;
            sum4 += b;
            n += 1.0;
        }
        let capacity = metric_value(&body, "jetpool_pool_agent_capacity_tasks", &four);
        if capacity.is_some() {
            measured_capacity = capacity;
        }
        let st = svc.status().await;
        slots = st["pools"].as_array().and_then(|p| {
            p.iter().find(|p| p["pool"] == four.as_str())?["decision"]["estimates"]["concurrency"]
                .as_f64()
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.expect("load task");
    assert!(n > 20.0, "desired read from /metrics ({n} samples)");
    let (a1, a4) = (sum1 / n, sum4 / n);
    let ratio = 4.0 * a4 / a1;
    println!(
        "settled: {a1:.1} agents of 1 slot, {a4:.1} agents of 4 slots; 4 x {a4:.1} / {a1:.1} = {ratio:.2}"
    );
    assert_eq!(slots, Some(4.0), "the pool of 4-slot agents measured k = 4");
    assert_eq!(
        measured_capacity,
        Some(4.0),
        "jetpool_pool_agent_capacity_tasks shows the measured k"
    );
    assert!(
        (0.8..=1.2).contains(&ratio),
        "agents of 4 slots settle at a quarter of agents of 1 slot within 20%: {a4:.1} vs {a1:.1}"
    );
    assert!(
        a1 >= 30.0,
        "30 busy slots need at least 30 agents of 1 slot: {a1:.1}"
    );
    svc.stop().await;
}
