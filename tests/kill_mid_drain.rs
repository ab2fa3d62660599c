//! `kill -9` of jetpool while two of its three agents drain: the drained
//! agents finish what they hold and exit; a restarted jetpool adopts the
//! one that keeps running, removes the exited ones, starts no duplicate,
//! and every task is acked exactly once.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use common::*;

/// The roles of the pool's agents in `/status`.
async fn roles(listen: &str) -> Vec<String> {
    let Some((_, body)) = http_get(listen, "/status").await else {
        return Vec::new();
    };
    let st: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    st["pools"][0]["agents"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x["role"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_drain_a_restarted_jetpool_finishes_the_job() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-middrain");
    let _guard = PoolGuard(pool.clone());
    let stream = "MIDDRAIN";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let acks = AckCounts::watch(&nats, stream, "work").await;
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 3)
        .stop_timeout("20s")
        .scaling("scale_down_delay = \"1s\"\ntarget_drain_time = \"2s\"")
        .toml();
    let dir = policy_dir(&toml);
    let listen = format!("127.0.0.1:{}", free_port());
    let first = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    // More tasks than agents, so the backlog holds the pool at its max.
    let tasks = 6;
    publish(&nats, stream, tasks, 5000).await;
    eventually(
        Duration::from_secs(20),
        "3 agents each holding a task",
        || async {
            let i = consumer_info(&nats, stream, "work").await;
            (running(&pool).len() == 3 && i.num_ack_pending == 3).then_some(())
        },
    )
    .await;
    let before: BTreeSet<String> = running(&pool).into_iter().collect();

    let out = Command::new(bin())
        .args(["pin", &pool, "1", "--nats", &nats.url])
        .output()
        .expect("jetpool pin");
    assert!(out.status.success(), "pin: {out:?}");
    eventually(Duration::from_secs(10), "two agents leaving", || async {
        // Told to drain, they are leaving (draining, or stopping once
        // their drain is acknowledged) while they finish their tasks.
        let r = roles(&listen).await;
        let leaving = r.iter().filter(|x| *x == "draining" || *x == "stopping");
        (leaving.count() == 2).then_some(())
    })
    .await;
    drop(first); // SIGKILL, in the middle of the drains

    let _second = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    eventually(
        Duration::from_secs(40),
        "one agent left, nothing else",
        || async {
            let all = all_containers(&pool);
            (all.len() == 1 && running(&pool).len() == 1).then_some(all)
        },
    )
    .await;
    eventually(Duration::from_secs(60), "every task acked", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.ack_floor.stream_sequence == tasks && i.num_ack_pending == 0).then_some(())
    })
    .await;
    let left = running(&pool);
    assert!(
        left.iter().all(|n| before.contains(n)),
        "a duplicate was started: before {before:?}, after {left:?}"
    );
    acks.assert_each_once(tasks);
}
