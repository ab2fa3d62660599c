//! Self-healing with real containers: `kill -9` of a busy agent. Its tasks
//! come back after AckWait and are done by the others, and the container is
//! replaced within 5 s, driven by the Docker events stream.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_busy_agent_is_replaced_and_its_tasks_redone() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-heal");
    let _guard = PoolGuard(pool.clone());
    let stream = "HEAL";
    setup_stream(&nats, stream, "work", Duration::from_secs(3)).await;
    let toml = TestPool::new(&pool, stream)
        .bounds(2, 2)
        .concurrency(4)
        .toml();
    let svc = Service::start(&nats, &toml);
    eventually(Duration::from_secs(15), "2 agents running", || async {
        (running(&pool).len() == 2).then_some(())
    })
    .await;
    publish(&nats, stream, 24, 1500).await;
    // Wait until a named agent reports work in flight.
    let victim = eventually(Duration::from_secs(15), "a busy agent", || async {
        let st = svc.status().await;
        st["pools"][0]["agents"].as_array().and_then(|a| {
            a.iter()
                .find(|x| x["in_flight"].as_u64().unwrap_or(0) > 0)
                .and_then(|x| x["name"].as_str().map(str::to_string))
        })
    })
    .await;
    let before: BTreeSet<String> = running(&pool).into_iter().collect();
    let killed = Instant::now();
    let status = Command::new("docker")
        .args(["kill", "-s", "KILL", &victim])
        .status()
        .expect("docker kill");
    assert!(status.success());
    let replacement = eventually(
        Duration::from_secs(5),
        "a replacement within 5 s",
        || async {
            let now: BTreeSet<String> = running(&pool).into_iter().collect();
            let new: Vec<String> = now.difference(&before).cloned().collect();
            (now.len() == 2 && !now.contains(&victim) && !new.is_empty()).then(|| new[0].clone())
        },
    )
    .await;
    println!(
        "killed {victim}; replaced by {replacement} after {:.2}s",
        killed.elapsed().as_secs_f64()
    );
    let info = eventually(Duration::from_secs(60), "every task done", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.num_pending == 0 && i.num_ack_pending == 0 && i.ack_floor.stream_sequence == 24)
            .then_some(i)
    })
    .await;
    let redelivered = info.delivered.consumer_sequence - 24;
    println!("tasks redelivered after the kill: {redelivered}");
    assert!(redelivered > 0, "the killed agent's tasks were redelivered");
    let m = svc.metrics().await;
    assert!(
        counter_sum(&m, "jetpool_agents_replaced_total", &["reason=\"exited\""]) >= 1.0,
        "{m}"
    );
    svc.stop().await;
}
