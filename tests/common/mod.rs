//! Shared fixtures for integration tests: a private nats-server per test,
//! the local Docker engine, unique names, and clean-up on drop.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod compose;
pub mod prometheus;

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use rand::Rng;

/// A nats-server with JetStream on a free loopback port and a temporary
/// store, killed when dropped.
pub struct Nats {
    child: Child,
    /// The port it listens on.
    pub port: u16,
    /// `nats://127.0.0.1:<port>`.
    pub url: String,
    _store: tempfile::TempDir,
}

impl Nats {
    /// Starts a server and waits until it accepts connections.
    pub fn start() -> Nats {
        let store = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed (make deps installs it)");
        wait_until(
            Duration::from_secs(10),
            "nats-server to accept connections",
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
        Nats {
            child,
            port,
            url: format!("nats://127.0.0.1:{port}"),
            _store: store,
        }
    }

    /// A client connection.
    pub async fn client(&self) -> async_nats::Client {
        async_nats::connect(&self.url)
            .await
            .expect("connect to test nats-server")
    }

    /// Kills the server (for outage tests); the store stays.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on loopback (bound, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// Polls `cond` every 50 ms until it holds, panicking after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Async version of [`wait_until`]; returns the value once `f` yields `Some`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A short random suffix for per-test names.
pub fn unique(prefix: &str) -> String {
    let n: u32 = rand::rng().random();
    format!("{prefix}-{n:08x}")
}

/// The image agents run from (built by `make image`).
pub fn image() -> String {
    std::env::var("JETPOOL_IMAGE").unwrap_or_else(|_| "jetpool:local".into())
}

/// True when Docker answers and the agent image exists. When it does not:
/// with `JETPOOL_REQUIRE_DOCKER=1` (CI) the test fails; otherwise it is
/// skipped with a message.
pub fn docker_available() -> bool {
    let ok = Command::new("docker")
        .args(["image", "inspect", &image()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let msg = format!(
            "Docker is not reachable or the image {} is missing (run `make image`)",
            image()
        );
        if std::env::var("JETPOOL_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!("{msg}; JETPOOL_REQUIRE_DOCKER=1, so this is a failure");
        }
        eprintln!("skipping: {msg}");
    }
    ok
}

/// Names of the running containers of `pool`.
pub fn running(pool: &str) -> Vec<String> {
    containers(pool, false)
}

/// Names of all containers of `pool`, running or not.
pub fn all_containers(pool: &str) -> Vec<String> {
    containers(pool, true)
}

fn containers(pool: &str, all: bool) -> Vec<String> {
    let mut cmd = Command::new("docker");
    cmd.arg("ps");
    if all {
        cmd.arg("-a");
    }
    let out = cmd
        .args(["--format", "{{.Names}}", "--filter"])
        .arg(format!("label=jetpool.pool={pool}"))
        .output()
        .expect("docker ps");
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|s| !s.is_empty())
        .collect();
    v.sort();
    v
}

/// Removes every container of `pool` when dropped, so a failing test
/// leaves nothing behind.
pub struct PoolGuard(pub String);

impl Drop for PoolGuard {
    fn drop(&mut self) {
        let names = all_containers(&self.0);
        if !names.is_empty() {
            let _ = Command::new("docker")
                .args(["rm", "-f"])
                .args(&names)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Creates the stream (subject `<stream>.tasks`) and a durable pull
/// consumer, as `jetpool load --consumer` does.
pub async fn setup_stream(nats: &Nats, stream: &str, consumer: &str, ack_wait: Duration) {
    let js = jetstream::new(nats.client().await);
    let s = js
        .get_or_create_stream(jetstream::stream::Config {
            name: stream.to_string(),
            subjects: vec![format!("{stream}.tasks")],
            ..Default::default()
        })
        .await
        .expect("create stream");
    s.get_or_create_consumer(
        consumer,
        jetstream::consumer::pull::Config {
            durable_name: Some(consumer.to_string()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ack_wait,
            ..Default::default()
        },
    )
    .await
    .expect("create consumer");
}

/// Publishes `count` tasks of `work_ms` each, with publish acks.
pub async fn publish(nats: &Nats, stream: &str, count: u64, work_ms: u64) {
    let js = jetstream::new(nats.client().await);
    let mut acks = Vec::new();
    for i in 0..count {
        let payload = format!("{{\"id\":{i},\"work_ms\":{work_ms}}}");
        acks.push(
            js.publish(format!("{stream}.tasks"), payload.into())
                .await
                .expect("publish"),
        );
    }
    for a in acks {
        a.await.expect("publish ack");
    }
}

/// The consumer's info.
pub async fn consumer_info(nats: &Nats, stream: &str, consumer: &str) -> jetstream::consumer::Info {
    let js = jetstream::new(nats.client().await);
    let s = js.get_stream(stream).await.expect("get stream");
    s.consumer_info(consumer).await.expect("consumer info")
}

/// A policy file for a test pool whose agents reach `nats` over the host
/// network; `extra_scaling` is appended to `[pool.scaling]`.
pub fn policy_toml(
    pool: &str,
    stream: &str,
    consumer: &str,
    min: u32,
    max: u32,
    extra_scaling: &str,
) -> String {
    format!(
        r#"
[[pool]]
name = "{pool}"
stream = "{stream}"
consumer = "{consumer}"
min = {min}
max = {max}
interval = "500ms"

[pool.container]
image = "{image}"
command = ["agent", "--stream", "{stream}", "--consumer", "{consumer}"]
network = "host"
stop_timeout = "20s"

[pool.scaling]
{extra_scaling}
"#,
        image = image()
    )
}

/// Writes `toml` as the only policy in a new temporary directory.
pub fn policy_dir(toml: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("pool.toml"), toml).expect("write policy");
    dir
}

/// Path of the jetpool binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_jetpool"))
}

/// Fetches `http://<addr><path>`: (status, body), or `None` when nothing
/// answers. Runs the blocking client off the async workers.
pub async fn http_get(addr: &str, path: &str) -> Option<(u16, String)> {
    let url = format!("http://{addr}{path}");
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(3)))
            .http_status_as_error(false)
            .build()
            .into();
        let mut resp = agent.get(&url).call().ok()?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_string().ok()?;
        Some((status, body))
    })
    .await
    .ok()
    .flatten()
}

/// The value of `metric` with label `pool="<pool>"` in a Prometheus text body.
pub fn metric_value(body: &str, metric: &str, pool: &str) -> Option<f64> {
    let label = format!("pool=\"{pool}\"");
    body.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .next()
}
