//! Two jetpools with `--ha` on one pool: the leader is killed (`kill -9`)
//! while two agents drain; the other takes the lead within the lease plus
//! one tick, finishes the drain (the drained agents exit and are removed,
//! one is left), every task is acked once, and the two never act at the
//! same time: each logs every Docker or drain call it makes (`acting`,
//! with a timestamp), and the follower's first comes after the leader's
//! last, after the kill.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

/// The lease both instances use.
const LEASE: Duration = Duration::from_secs(3);
/// The pool's tick.
const TICK: Duration = Duration::from_secs(1);

/// A `jetpool run --ha` process whose JSON log is collected, killed when
/// dropped.
struct Instance {
    child: Child,
    logs: Logs,
    listen: String,
}

impl Instance {
    fn start(dir: &std::path::Path, nats: &str) -> Instance {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(bin())
            .args(["run", "--policies"])
            .arg(dir)
            .args(["--nats", nats, "--listen", &listen, "--log-format", "json"])
            .args(["--ha", "--ha-lease", "3s"])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start jetpool");
        let logs = Logs::follow(&mut child);
        Instance {
            child,
            logs,
            listen,
        }
    }

    /// `/status`'s role, once the pool has ticked.
    async fn role(&self) -> Option<String> {
        let (_, body) = http_get(&self.listen, "/status").await?;
        let st: serde_json::Value = serde_json::from_str(&body).ok()?;
        st["pools"][0]["decision"].as_object()?;
        st["role"].as_str().map(str::to_string)
    }

    /// The times (Unix ms) of the acts it logged.
    fn acts(&self) -> Vec<i64> {
        self.logs
            .matching("acting")
            .iter()
            .filter_map(|l| l["at_ms"].as_i64())
            .collect()
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The roles of the pool's agents in `/status` at `listen`.
async fn agent_roles(listen: &str) -> Vec<String> {
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

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_leader_mid_drain_the_follower_takes_over_and_finishes() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-ha");
    let _guard = PoolGuard(pool.clone());
    let stream = "HAFAIL";
    setup_stream(&nats, stream, "work", Duration::from_secs(60)).await;
    let acks = AckCounts::watch(&nats, stream, "work").await;
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 3)
        .interval("1s")
        .stop_timeout("30s")
        .scaling("scale_down_delay = \"1s\"\ntarget_drain_time = \"2s\"")
        .toml();
    let dir = policy_dir(&toml);

    let mut first = Instance::start(dir.path(), &nats.url);
    eventually(Duration::from_secs(20), "the first to lead", || async {
        (first.role().await.as_deref() == Some("leader")).then_some(())
    })
    .await;
    let second = Instance::start(dir.path(), &nats.url);
    eventually(Duration::from_secs(20), "the second to follow", || async {
        (second.role().await.as_deref() == Some("follower")).then_some(())
    })
    .await;

    // More tasks than agents, long enough that the drains outlast the
    // failover.
    let tasks = 4;
    publish(&nats, stream, tasks, 8000).await;
    eventually(
        Duration::from_secs(30),
        "3 agents each holding a task",
        || async {
            let i = consumer_info(&nats, stream, "work").await;
            (running(&pool).len() == 3 && i.num_ack_pending == 3).then_some(())
        },
    )
    .await;
    let out = Command::new(bin())
        .args(["pin", &pool, "1", "--nats", &nats.url])
        .output()
        .expect("jetpool pin");
    assert!(out.status.success(), "pin: {out:?}");
    eventually(Duration::from_secs(10), "two agents draining", || async {
        let r = agent_roles(&first.listen).await;
        let leaving = r.iter().filter(|x| *x == "draining" || *x == "stopping");
        (leaving.count() == 2).then_some(())
    })
    .await;
    assert!(
        second.acts().is_empty(),
        "the follower acted while the leader lived"
    );

    let killed_ms = unix_ms();
    let killed = Instant::now();
    first.kill(); // SIGKILL, in the middle of the drains
    let took = eventually(Duration::from_secs(15), "the second to lead", || async {
        (second.role().await.as_deref() == Some("leader")).then(|| killed.elapsed())
    })
    .await;
    println!(
        "the follower led {:.2} s after the kill (lease {LEASE:?} + tick {TICK:?})",
        took.as_secs_f64()
    );
    assert!(took <= LEASE + TICK, "took the lead in {took:?}");

    eventually(
        Duration::from_secs(40),
        "the drain finished: one agent left, nothing else",
        || async {
            let all = all_containers(&pool);
            (all.len() == 1 && running(&pool).len() == 1).then_some(())
        },
    )
    .await;
    eventually(Duration::from_secs(60), "every task acked", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.ack_floor.stream_sequence == tasks && i.num_ack_pending == 0).then_some(())
    })
    .await;
    acks.assert_each_once(tasks);

    let (a, b) = (first.acts(), second.acts());
    let last_a = a.iter().max().copied().expect("the leader acted");
    let first_b = b.iter().min().copied().expect("the new leader acted");
    println!(
        "acts: the first {} (last at the kill - {} ms), the second {} (first at the kill + {} ms)",
        a.len(),
        killed_ms - last_a,
        b.len(),
        first_b - killed_ms
    );
    assert!(
        last_a < first_b,
        "acts overlap: the first's last at {last_a}, the second's first at {first_b}"
    );
    assert!(
        first_b >= killed_ms,
        "the follower acted before the takeover"
    );
}
