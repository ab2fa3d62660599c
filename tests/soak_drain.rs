//! Soak: 20,000 tasks of mixed length through a pool shaped by 10 waves of
//! load, so the pool scales in again and again while agents hold work.
//! With drain, every task is delivered and acknowledged exactly once; the
//! same run with drain disabled (plain `docker stop`, a 1 s stop timeout)
//! loses tasks held by stopped agents, which the consumer redelivers.

mod common;

use std::time::{Duration, Instant};

use common::*;

const TASKS: u64 = 20_000;
const WAVES: u64 = 10;

struct Outcome {
    busy_drains: f64,
    drains: f64,
    scale_ins: f64,
    redeliveries: u64,
    seconds: f64,
}

async fn run(drain: bool) -> Outcome {
    let nats = Nats::start();
    let pool = unique(if drain { "it-soak" } else { "it-nodrain" });
    let _guard = PoolGuard(pool.clone());
    let stream = "SOAK";
    // A short AckWait, so a task lost with a killed agent comes back
    // within the test.
    setup_stream(&nats, stream, "work", Duration::from_secs(4)).await;
    let agents = if drain {
        "drain = true"
    } else {
        "drain = false"
    };
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 10)
        .concurrency(8)
        .stop_timeout("1s")
        .scaling("scale_down_delay = \"1s\"\ntarget_drain_time = \"3s\"\nservice_time = \"60ms\"")
        .agents(agents)
        .toml();
    let svc = Service::start(&nats, &toml);
    let t0 = Instant::now();
    let per_wave = TASKS / WAVES;
    for w in 0..WAVES {
        // 1% of 4 s tasks: when a wave's backlog is gone, most agents still
        // hold one, so each scale-in drains agents that hold work.
        publish_mixed(&nats, stream, w * per_wave, per_wave, 100, 4000).await;
        // Let the wave's backlog go, then let its long tasks finish: the
        // pool shrinks meanwhile, draining agents that still hold them.
        eventually(
            Duration::from_secs(60),
            "the wave's backlog delivered",
            || async {
                let i = consumer_info(&nats, stream, "work").await;
                (i.num_pending == 0).then_some(())
            },
        )
        .await;
        let scale_ins_before = counter_sum(
            &svc.metrics().await,
            "jetpool_scale_events_total",
            &["direction=\"down\""],
        );
        eventually(
            Duration::from_secs(30),
            "the wave worked off, with a scale-in meanwhile",
            || async {
                let i = consumer_info(&nats, stream, "work").await;
                let m = svc.metrics().await;
                let scaled_in =
                    counter_sum(&m, "jetpool_scale_events_total", &["direction=\"down\""])
                        > scale_ins_before;
                (i.num_ack_pending == 0 && scaled_in).then_some(())
            },
        )
        .await;
    }
    let info = eventually(
        Duration::from_secs(120),
        "every task acknowledged",
        || async {
            let i = consumer_info(&nats, stream, "work").await;
            (i.num_pending == 0 && i.num_ack_pending == 0 && i.ack_floor.stream_sequence == TASKS)
                .then_some(i)
        },
    )
    .await;
    let seconds = t0.elapsed().as_secs_f64();
    let m = svc.metrics().await;
    let outcome = Outcome {
        busy_drains: counter_sum(&m, "jetpool_drains_started_total", &["held_work=\"true\""]),
        drains: counter_sum(&m, "jetpool_drains_started_total", &[]),
        scale_ins: counter_sum(&m, "jetpool_scale_events_total", &["direction=\"down\""]),
        redeliveries: info.delivered.consumer_sequence - TASKS,
        seconds,
    };
    assert_eq!(
        info.ack_floor.stream_sequence, TASKS,
        "every task acknowledged"
    );
    svc.stop().await;
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_loses_nothing_and_plain_stop_does() {
    if !docker_available() {
        return;
    }
    let with = run(true).await;
    println!(
        "drain on:  {TASKS} tasks in {:.1}s, {} scale-in events, {} drains ({} while holding work), {} redeliveries",
        with.seconds, with.scale_ins, with.drains, with.busy_drains, with.redeliveries
    );
    let without = run(false).await;
    println!(
        "drain off: {TASKS} tasks in {:.1}s, {} scale-in events, {} redeliveries",
        without.seconds, without.scale_ins, without.redeliveries
    );
    assert!(
        with.busy_drains >= 20.0,
        "at least 20 agents drained while holding work"
    );
    assert_eq!(
        with.redeliveries, 0,
        "with drain every task is delivered exactly once"
    );
    assert!(
        without.scale_ins >= 10.0,
        "the plain-stop run scaled in as often"
    );
    assert!(
        without.redeliveries > 0,
        "plain docker stop kills held tasks, which are redelivered"
    );
}
