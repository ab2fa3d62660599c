//! `kill -9` of jetpool in the middle of its work, and a restarted
//! jetpool that finishes it:
//! - while two of its three agents drain: the drained agents finish what
//!   they hold and exit; the restarted jetpool adopts the one that keeps
//!   running, removes the exited ones, starts no duplicate;
//! - while it scales out: the restarted jetpool adopts what was started,
//!   starts or removes what was only created, and brings the pool to its
//!   count with no duplicate and no agent stopped;
//! - between a create and its start, made certain: a container of the
//!   pool left created is replaced by a running agent once it has waited
//!   `stats_timeout` (it used to count as a starting agent for ever).
//!
//! In the first two, every task is acked exactly once.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;

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

/// Now, in Unix seconds.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Ids of the containers of `pool` that had event `action` between
/// `since` and `until` (Unix seconds).
fn events(pool: &str, action: &str, since: u64, until: u64) -> BTreeSet<String> {
    let out = Command::new("docker")
        .args(["events", "--since", &since.to_string()])
        .args(["--until", &until.to_string()])
        .args(["--filter", "type=container", "--filter"])
        .arg(format!("event={action}"))
        .arg("--filter")
        .arg(format!("label=jetpool.pool={pool}"))
        .args(["--format", "{{.Actor.ID}}"])
        .output()
        .expect("docker events");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_scale_out_a_restarted_jetpool_completes_it() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-midout");
    let _guard = PoolGuard(pool.clone());
    let stream = "MIDOUT";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let acks = AckCounts::watch(&nats, stream, "work").await;
    // A backlog to drain in 2 s asks for all 6 agents; two per 4 s makes
    // the scale-out take several steps, so the kill lands in its middle.
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 6)
        .scaling("target_drain_time = \"2s\"\nscale_up_limits = [{ pods = 2, period = \"4s\" }]")
        .toml();
    let dir = policy_dir(&toml);
    let listen = format!("127.0.0.1:{}", free_port());
    let since = unix_now();
    // 30 tasks of 3 s: 15 s of work for 6 agents, so the backlog still
    // asks for 6 when the restarted jetpool decides.
    let tasks = 30;
    publish(&nats, stream, tasks, 3000).await;
    let first = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    let early = eventually(
        Duration::from_secs(20),
        "the scale-out under way",
        || async {
            let all = all_containers(&pool);
            (!all.is_empty()).then_some(all)
        },
    )
    .await;
    drop(first); // SIGKILL, with starts in flight
    assert!(
        early.len() < 6,
        "killed before the scale-out ended: {early:?}"
    );

    let _second = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    let settled = eventually(
        Duration::from_secs(60),
        "6 agents running, nothing else",
        || async {
            let all = all_containers(&pool);
            (all.len() == 6 && running(&pool).len() == 6).then_some(all)
        },
    )
    .await;
    // Before the backlog is done, so no scale-in can have begun.
    let until = unix_now() + 1;
    eventually(Duration::from_secs(90), "every task acked", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.ack_floor.stream_sequence == tasks && i.num_ack_pending == 0).then_some(())
    })
    .await;
    acks.assert_each_once(tasks);
    // No agent that ever started was stopped: whatever the restart found
    // half made, it finished or removed before it ran.
    let started = events(&pool, "start", since, until);
    let died = events(&pool, "die", since, until);
    let created = events(&pool, "create", since, until);
    assert!(
        started.is_disjoint(&died),
        "an agent was stopped: started {started:?}, died {died:?}"
    );
    assert_eq!(started.len(), 6, "6 agents started in all: {started:?}");
    println!(
        "killed with {} container(s) made; after the restart: {} running, {} created in all",
        early.len(),
        settled.len(),
        created.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_left_created_is_replaced() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-created");
    let _guard = PoolGuard(pool.clone());
    let stream = "CREATED";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    // What a jetpool killed between its create and its start leaves: a
    // container of the pool, labelled as jetpool labels its agents, never
    // started.
    let leftover = format!("{pool}-leftover");
    let made = Command::new("docker")
        .args(["create", "--name", &leftover, "--network", "host"])
        .args(["--label", "jetpool.managed=true", "--label"])
        .arg(format!("jetpool.pool={pool}"))
        .arg(image())
        .args(["agent", "--stream", stream, "--consumer", "work"])
        .output()
        .expect("docker create");
    assert!(made.status.success(), "{made:?}");
    let toml = TestPool::new(&pool, stream)
        .bounds(1, 1)
        .agents("stats_timeout = \"3s\"")
        .toml();
    let dir = policy_dir(&toml);
    let listen = format!("127.0.0.1:{}", free_port());
    let began = std::time::Instant::now();
    let _jetpool = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);
    let agents = eventually(
        Duration::from_secs(30),
        "the leftover replaced by a running agent",
        || async {
            let all = all_containers(&pool);
            let up = running(&pool);
            (all.len() == 1 && up.len() == 1 && !all.contains(&leftover)).then_some(up)
        },
    )
    .await;
    let body = eventually(
        Duration::from_secs(10),
        "the replacement counted",
        || async {
            let (_, body) = http_get(&listen, "/metrics").await?;
            let n = counter_sum(
                &body,
                "jetpool_agents_replaced_total",
                &["reason=\"never_started\""],
            );
            (n == 1.0).then_some(body)
        },
    )
    .await;
    drop(body);
    println!(
        "left created: replaced by {agents:?} in {:.1} s",
        began.elapsed().as_secs_f64()
    );
}
