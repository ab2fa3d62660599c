//! The latency phases of the live benchmark: the raw container start, a
//! pool at zero, a warm pool, and a step in the arrival rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use jiff::Timestamp;

use super::probe::{Acks, Jetpool, secs};
use crate::common::{
    Nats, TestPool, all_containers, eventually, image, policy_dir, setup_stream, unique,
};

/// Repetitions of every latency measurement.
pub const REPS: usize = 10;

/// Publishes one task of no work on `stream`.
pub async fn publish_one(client: &async_nats::Client, stream: &str) {
    client
        .publish(format!("{stream}.tasks"), "{\"work_ms\":0}".into())
        .await
        .expect("publish");
    client.flush().await.expect("flush");
}

/// The agent's command line for `stream`.
fn agent_cmd(stream: &str) -> Vec<String> {
    ["agent", "--stream", stream, "--consumer", "work"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

/// Raw: one task waits; from the create request (Docker API, as jetpool
/// makes it) or `docker run` (the CLI) to the agent's first ack. Returns
/// (API seconds, CLI seconds).
pub async fn raw(nats: &Nats, client: &async_nats::Client) -> (Vec<f64>, Vec<f64>) {
    let stream = "RAW";
    setup_stream(nats, stream, "work", Duration::from_secs(30)).await;
    let acks = Acks::watch(client, stream, "work").await;
    let docker = Docker::connect_with_defaults()
        .expect("docker")
        .negotiate_version()
        .await
        .expect("negotiate");
    let (mut api, mut cli) = (Vec::new(), Vec::new());
    for i in 0..REPS * 2 {
        let name = unique("bench-raw");
        publish_one(client, stream).await;
        let t0 = Instant::now();
        if i % 2 == 0 {
            let body = ContainerCreateBody {
                image: Some(image()),
                cmd: Some(agent_cmd(stream)),
                env: Some(vec![format!("NATS_URL={}", nats.url)]),
                host_config: Some(HostConfig {
                    network_mode: Some("host".into()),
                    ..Default::default()
                }),
                ..Default::default()
            };
            let opts = CreateContainerOptions {
                name: Some(name.clone()),
                ..Default::default()
            };
            docker
                .create_container(Some(opts), body)
                .await
                .expect("create");
            docker.start_container(&name, None).await.expect("start");
        } else {
            let out = std::process::Command::new("docker")
                .args(["run", "-d", "--network", "host", "--name", &name, "-e"])
                .arg(format!("NATS_URL={}", nats.url))
                .arg(image())
                .args(agent_cmd(stream))
                .output()
                .expect("docker run");
            assert!(out.status.success(), "docker run: {out:?}");
        }
        let acked = acks.first_after(t0, Duration::from_secs(20)).await;
        let s = (acked - t0).as_secs_f64();
        if i % 2 == 0 { &mut api } else { &mut cli }.push(s);
        let opts = RemoveContainerOptions {
            force: true,
            ..Default::default()
        };
        docker
            .remove_container(&name, Some(opts))
            .await
            .expect("remove");
    }
    (api, cli)
}

/// A pool of reference agents of `k` slots on `stream`, 0 to `max`, at a
/// 1 s interval, with `scaling` and `agents` as its tables' bodies.
fn pool_toml(pool: &str, stream: &str, max: u32, scaling: &str, agents: &str, k: u32) -> String {
    TestPool::new(pool, stream)
        .bounds(0, max)
        .reported_concurrency(k)
        .interval("1s")
        .stop_timeout("5s")
        .scaling(scaling)
        .agents(agents)
        .toml()
}

/// The quick way back to zero between repetitions.
const BACK_TO_ZERO: &str = "scale_down_delay = \"1s\"\nscale_to_zero_after = \"1s\"";

/// What one pool-at-zero repetition saw, in seconds from the publish.
pub struct ZeroRun {
    /// To the decision that asked for an agent.
    pub decision: f64,
    /// To the container started (the start call returned).
    pub running: f64,
    /// To the task's ack.
    pub ack: f64,
}

/// Counts the agents of `pool` in `state` in `/status`.
fn in_state(st: &serde_json::Value, state: &str) -> usize {
    st["pools"][0]["agents"]
        .as_array()
        .map_or(0, |a| a.iter().filter(|x| x["state"] == state).count())
}

/// Waits until the pool is back where a repetition starts: desired 0 and
/// exactly `standby` containers, all standbys.
async fn settle(jp: &Jetpool, pool: &str, standby: usize) {
    eventually(Duration::from_secs(60), "the pool back at rest", || async {
        let st = jp.status().await;
        let agents = st["pools"][0]["agents"].as_array().map_or(99, Vec::len);
        let rest = st["pools"][0]["decision"]["desired"] == 0
            && agents == standby
            && in_state(&st, "standby") == standby
            && all_containers(pool).len() == standby;
        rest.then_some(())
    })
    .await;
}

/// A pool at zero (`warm` = 0) or with one warm standby: from a task's
/// publish to its ack, `REPS` times.
pub async fn pool(nats: &Nats, client: &async_nats::Client, warm: u32) -> Vec<ZeroRun> {
    let stream = if warm == 0 { "ZERO" } else { "WARM" };
    let pool = unique(if warm == 0 {
        "bench-zero"
    } else {
        "bench-warm"
    });
    let _guard = crate::common::PoolGuard(pool.clone());
    setup_stream(nats, stream, "work", Duration::from_secs(30)).await;
    let acks = Acks::watch(client, stream, "work").await;
    let toml = pool_toml(&pool, stream, 2, BACK_TO_ZERO, &format!("warm = {warm}"), 1);
    let dir = policy_dir(&toml);
    let jp = Jetpool::start(dir.path(), &nats.url, &[]);
    let mut runs = Vec::new();
    for _ in 0..REPS {
        settle(&jp, &pool, warm as usize).await;
        let wall = Timestamp::now();
        let t0 = Instant::now();
        publish_one(client, stream).await;
        let acked = acks.first_after(t0, Duration::from_secs(20)).await;
        let ack = (acked - t0).as_secs_f64();
        let decision = jp
            .lines_since("decision", wall)
            .into_iter()
            .find(|(_, l)| l["desired"].as_u64().is_some_and(|d| d >= 1))
            .map_or(f64::NAN, |(t, _)| secs(wall, t));
        let running = if warm == 0 {
            jp.lines_since("agent started", wall)
                .first()
                .map_or(f64::NAN, |(t, _)| secs(wall, *t))
        } else {
            jp.lines_since("activating warm agent", wall)
                .first()
                .map_or(f64::NAN, |(t, _)| secs(wall, *t))
        };
        runs.push(ZeroRun {
            decision,
            running,
            ack,
        });
    }
    drop(jp);
    runs
}

/// A publisher of `rate` tasks per second (changeable) of `work_ms` each.
pub struct Publisher {
    /// Tasks per second, as f64 bits.
    rate: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Publisher {
    /// Starts publishing on every subject in `subjects`, `rate` per second
    /// on each.
    pub fn start(
        client: async_nats::Client,
        subjects: Vec<String>,
        rate: f64,
        work_ms: u64,
    ) -> Publisher {
        let shared = Arc::new(AtomicU64::new(rate.to_bits()));
        let r = shared.clone();
        let task = tokio::spawn(async move {
            let payload = format!("{{\"work_ms\":{work_ms}}}");
            let began = Instant::now();
            let mut owed = 0.0;
            let mut last = began;
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            loop {
                tick.tick().await;
                let now = Instant::now();
                owed += f64::from_bits(r.load(Ordering::Relaxed)) * (now - last).as_secs_f64();
                last = now;
                while owed >= 1.0 {
                    owed -= 1.0;
                    for s in &subjects {
                        let _ = client.publish(s.clone(), payload.clone().into()).await;
                    }
                }
                let _ = client.flush().await;
            }
        });
        Publisher { rate: shared, task }
    }

    /// Changes the rate.
    pub fn set(&self, rate: f64) {
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A step in the arrival rate under steady load: seconds from the step
/// until `desired` first reaches the count it settles at under the new
/// rate, `REPS` times; with the rates and the settled counts.
pub async fn step(nats: &Nats, client: &async_nats::Client) -> (Vec<f64>, String) {
    let stream = "STEP";
    let pool = unique("bench-step");
    let _guard = crate::common::PoolGuard(pool.clone());
    setup_stream(nats, stream, "work", Duration::from_secs(30)).await;
    let (low, high, work_ms, k) = (8.0, 48.0, 250, 4);
    let toml = pool_toml(&pool, stream, 12, "scale_down_delay = \"5s\"", "", k);
    let dir = policy_dir(&toml);
    let jp = Jetpool::start(dir.path(), &nats.url, &[]);
    let publisher = Publisher::start(
        client.clone(),
        vec![format!("{stream}.tasks")],
        low,
        work_ms,
    );
    let desired_at = |t: Timestamp, lines: &[(Timestamp, serde_json::Value)]| {
        lines
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .and_then(|(_, l)| l["desired"].as_u64())
            .unwrap_or(0)
    };
    let mut reactions = Vec::new();
    let mut settled = Vec::new();
    let began = Timestamp::now();
    tokio::time::sleep(Duration::from_secs(20)).await;
    for _ in 0..REPS {
        let at = Timestamp::now();
        publisher.set(high);
        tokio::time::sleep(Duration::from_secs(12)).await;
        let lines = jp.lines_since("decision", began);
        let end = Timestamp::now();
        let target = desired_at(end, &lines);
        let before = desired_at(at, &lines);
        let reached = lines
            .iter()
            .find(|(t, l)| *t >= at && l["desired"].as_u64().is_some_and(|d| d >= target))
            .map(|(t, _)| secs(at, *t));
        if target > before
            && let Some(r) = reached
        {
            reactions.push(r);
            settled.push(format!("{before}→{target}"));
        }
        publisher.set(low);
        tokio::time::sleep(Duration::from_secs(15)).await;
    }
    drop(publisher);
    let note = format!(
        "{low}/s to {high}/s of {work_ms} ms tasks, agents of {k} slots, 1 s interval; desired before→after per step: {}",
        settled.join(", ")
    );
    (reactions, note)
}
