//! An agent that hangs holding a task (`docker pause`: it stops reporting
//! and acks nothing) is replaced once it has been silent for
//! `stats_timeout`. Its task is done exactly once: by the agent itself if
//! the stop thaws it within its grace period (Docker unpauses a container
//! it stops), else by another agent after AckWait. Nothing is lost.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_agent_is_replaced_and_its_task_done_once() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-hung");
    let _guard = PoolGuard(pool.clone());
    let stream = "HUNG";
    setup_stream(&nats, stream, "work", Duration::from_secs(4)).await;
    let acks = AckCounts::watch(&nats, stream, "work").await;
    let toml = TestPool::new(&pool, stream)
        .bounds(2, 2)
        .stop_timeout("2s")
        .agents("stats_timeout = \"3s\"")
        .toml();
    let svc = Service::start(&nats, &toml);
    eventually(Duration::from_secs(20), "two agents reporting", || async {
        let st = svc.status().await;
        let ready = st["pools"][0]["agents"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|x| x["state"].is_string()).count());
        (ready == 2).then_some(())
    })
    .await;
    let tasks = 8;
    publish(&nats, stream, tasks, 1500).await;
    eventually(Duration::from_secs(10), "both agents busy", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.num_ack_pending == 2).then_some(())
    })
    .await;
    let hung = running(&pool).into_iter().next().expect("an agent");
    let out = Command::new("docker")
        .args(["pause", &hung])
        .output()
        .expect("docker pause");
    assert!(out.status.success(), "docker pause: {out:?}");

    eventually(
        Duration::from_secs(30),
        "the hung agent replaced",
        || async {
            let all = all_containers(&pool);
            (!all.contains(&hung) && running(&pool).len() == 2).then_some(())
        },
    )
    .await;
    eventually(Duration::from_secs(60), "every task acked", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.ack_floor.stream_sequence == tasks && i.num_pending == 0 && i.num_ack_pending == 0)
            .then_some(())
    })
    .await;
    let label = format!("pool=\"{pool}\"");
    let silent = counter_sum(
        &svc.metrics().await,
        "jetpool_agents_replaced_total",
        &[&label, "reason=\"silent\""],
    );
    assert!(silent >= 1.0, "replaced as silent: {silent}");
    acks.assert_each_once(tasks);
    let i = consumer_info(&nats, stream, "work").await;
    println!(
        "{tasks} tasks, {} deliveries, each acked once",
        i.delivered.consumer_sequence
    );
    svc.stop().await;
}
