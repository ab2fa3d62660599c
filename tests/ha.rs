//! Two jetpools with `--ha` on one pool.
//!
//! The leader is killed (`kill -9`) while two agents drain; the other
//! takes the lead within the lease plus one tick, finishes the drain (the
//! drained agents exit and are removed, one is left), every task is acked
//! once, and the two never act at the same time: each logs every Docker or
//! drain call it makes (`acting`, with a timestamp), and the follower's
//! first comes after the leader's last, after the kill.
//!
//! And a jetpool started only after the leader died mid-drain takes over
//! what the leader kept in the state bucket: its first decision already
//! has the measured service time, and the drains keep their deadlines
//! (the agents are stopped at the leader's deadline, not one counted
//! from the restart).

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::jetstream;
use common::*;
use jiff::Timestamp;

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

/// The pool's draining agents with their drain deadlines, by name, in
/// `/status` at `listen`.
async fn drain_deadlines(listen: &str) -> Vec<(String, Timestamp)> {
    let Some((_, body)) = http_get(listen, "/status").await else {
        return Vec::new();
    };
    let st: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    let mut v: Vec<(String, Timestamp)> = st["pools"][0]["agents"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|x| x["role"] == "draining")
                .filter_map(|x| {
                    let at = x["drain_deadline"].as_str()?.parse().ok()?;
                    Some((x["name"].as_str()?.to_string(), at))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Waits until the leader has written `drains` drains of `pool` to the
/// state bucket.
async fn state_written(nats: &Nats, pool: &str, drains: usize) {
    let js = jetstream::new(nats.client().await);
    eventually(
        Duration::from_secs(10),
        "the drains in the state bucket",
        || async {
            let kv = js.get_key_value("jetpool_state").await.ok()?;
            let value = kv.get(pool).await.ok()??;
            let h: serde_json::Value = serde_json::from_slice(&value).ok()?;
            (h["drains"].as_array()?.len() == drains).then_some(())
        },
    )
    .await;
}

/// `jetpool pin <pool> <n>`.
fn pin(nats: &Nats, pool: &str, n: u32) {
    let out = Command::new(bin())
        .args(["pin", pool, &n.to_string(), "--nats", &nats.url])
        .output()
        .expect("jetpool pin");
    assert!(out.status.success(), "pin: {out:?}");
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
    pin(&nats, &pool, 1);
    // Agents that have not reported yet are stopped (SIGTERM, on which the
    // reference agent drains) rather than asked to drain.
    eventually(Duration::from_secs(10), "two agents leaving", || async {
        let r = roles(&first.listen).await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jetpool_started_after_the_leader_died_keeps_its_drains_and_estimates() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-ha-state");
    let _guard = PoolGuard(pool.clone());
    let stream = "HASTATE";
    setup_stream(&nats, stream, "work", Duration::from_secs(600)).await;
    let drain_timeout = Duration::from_secs(20);
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 3)
        .interval("1s")
        .stop_timeout("2s")
        .scaling("scale_down_delay = \"1s\"")
        .agents("drain_timeout = \"20s\"")
        .toml();
    let dir = policy_dir(&toml);

    let mut first = Instance::start(dir.path(), &nats.url);
    eventually(Duration::from_secs(20), "the first to lead", || async {
        (first.role().await.as_deref() == Some("leader")).then_some(())
    })
    .await;
    // Three agents learn the service time on short tasks, then each
    // holds a long one.
    pin(&nats, &pool, 3);
    // Short tasks keep coming until the estimator has measured them: how
    // many it takes depends on when the ticks sample the work.
    let short = std::sync::atomic::AtomicU64::new(0);
    eventually(
        Duration::from_secs(90),
        "the service time measured",
        || async {
            let e = estimates(&first.listen).await;
            if e.as_ref()
                .is_some_and(|e| e["service_time_measured"] == true)
            {
                return Some(());
            }
            let i = consumer_info(&nats, stream, "work").await;
            if i.num_pending == 0 {
                short.fetch_add(10, std::sync::atomic::Ordering::Relaxed);
                publish(&nats, stream, 10, 200).await;
            }
            None
        },
    )
    .await;
    let short = short.load(std::sync::atomic::Ordering::Relaxed);
    publish(&nats, stream, 3, 600_000).await;
    eventually(
        Duration::from_secs(30),
        "3 agents each holding a long task",
        || async {
            let i = consumer_info(&nats, stream, "work").await;
            let held = i.ack_floor.stream_sequence == short && i.num_ack_pending == 3;
            (held && running(&pool).len() == 3).then_some(())
        },
    )
    .await;
    pin(&nats, &pool, 1);
    let drains = eventually(
        Duration::from_secs(10),
        "two drains acknowledged",
        || async {
            let d = drain_deadlines(&first.listen).await;
            (d.len() == 2).then_some(d)
        },
    )
    .await;
    state_written(&nats, &pool, 2).await;
    let deadline = drains.iter().map(|d| d.1).min().expect("two drains");

    // Not a synchronisation: the kill is placed 8 s before the deadline, so
    // a deadline counted again from the restart (20 s) would come 12 s
    // late, far beyond what a tick and the stop take.
    let kill_at = deadline - jiff::SignedDuration::from_secs(8);
    let wait = Timestamp::now().duration_until(kill_at).unsigned_abs();
    tokio::time::sleep(wait).await;
    first.kill();
    let killed = Timestamp::now();
    let second = Instance::start(dir.path(), &nats.url);

    // Its very first decision has what the leader learned.
    let est = eventually(
        Duration::from_secs(20),
        "the second's first decision",
        || estimates(&second.listen),
    )
    .await;
    println!(
        "the new jetpool's first estimates: service time {} s (measured {}), per agent {} tasks/s",
        est["service_time_s"], est["service_time_measured"], est["per_agent_rate"]
    );
    assert_eq!(est["service_time_measured"], true, "{est}");
    assert_ne!(est["service_time_s"].as_f64(), Some(1.0), "{est}");

    eventually(
        Duration::from_secs(20),
        "the drains with their original deadlines",
        || async { (drain_deadlines(&second.listen).await == drains).then_some(()) },
    )
    .await;
    eventually(Duration::from_secs(15), "the second to lead", || async {
        (second.role().await.as_deref() == Some("leader")).then_some(())
    })
    .await;
    let names: Vec<&String> = drains.iter().map(|d| &d.0).collect();
    let gone = eventually(
        Duration::from_secs(40),
        "the drained agents stopped",
        || async {
            let r = running(&pool);
            (!names.iter().any(|n| r.contains(n))).then(Timestamp::now)
        },
    )
    .await;
    let late = deadline.duration_until(gone).as_secs_f64();
    println!("the drained agents were stopped {late:.2} s after the leader's deadline");
    // The tasks run 10 minutes: nothing ends a drain before its deadline.
    assert!(late >= -0.5, "stopped {late} s before the deadline");
    // At the deadline: a tick (1 s) and the stop (2 s) later at most, well
    // before the one a restart would count (the kill + 20 s).
    assert!(late <= 5.0, "stopped {late} s after the deadline");
    assert!(gone < killed + drain_timeout);
    assert_eq!(
        second
            .logs
            .matching("drain taken over with its original deadline")
            .len(),
        2
    );
    assert_eq!(running(&pool).len(), 1);
}
