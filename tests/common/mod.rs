//! Shared fixtures for integration tests: a private nats-server per test,
//! the local Docker engine, unique names, and clean-up on drop.
#![allow(dead_code)] // each test binary uses a different part of this module

pub mod chromium;
pub mod cluster;
pub mod compose;
pub mod dockerd;
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
        Nats::start_with(&[])
    }

    /// Starts a server with extra command-line options (auth, TLS, a
    /// config file) and waits until it accepts connections.
    pub fn start_with(extra: &[&str]) -> Nats {
        let store = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string()])
            .args(extra)
            .arg("-sd")
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

    /// Starts a killed server again on the same port and store, and waits
    /// until it accepts connections.
    pub fn restart(&mut self) {
        self.child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(self._store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("restart nats-server");
        let port = self.port;
        wait_until(
            Duration::from_secs(10),
            "nats-server to accept connections again",
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
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

/// A test pool of reference agents over the host network, built step by
/// step: `TestPool::new(pool, stream).max(4).concurrency(8).toml()`.
#[derive(Debug, Clone)]
pub struct TestPool {
    pool: String,
    stream: String,
    min: u32,
    max: u32,
    concurrency: u32,
    concurrency_key: bool,
    interval: String,
    stop_timeout: String,
    scaling: String,
    agents: String,
}

impl TestPool {
    /// A pool `pool` on `stream` (consumer `work`), min 0, max 4, one task
    /// per agent, stats every second.
    pub fn new(pool: &str, stream: &str) -> Self {
        TestPool {
            pool: pool.into(),
            stream: stream.into(),
            min: 0,
            max: 4,
            concurrency: 1,
            concurrency_key: true,
            interval: "250ms".into(),
            stop_timeout: "10s".into(),
            scaling: String::new(),
            agents: String::new(),
        }
    }
    /// Bounds.
    pub fn bounds(mut self, min: u32, max: u32) -> Self {
        self.min = min;
        self.max = max;
        self
    }
    /// Tasks per agent (the agent's `--concurrency` and the policy's).
    pub fn concurrency(mut self, k: u32) -> Self {
        self.concurrency = k;
        self
    }
    /// Tasks per agent, on the agent's command line only: the policy has
    /// no `concurrency` key, so the pool must learn it from the reports.
    pub fn reported_concurrency(mut self, k: u32) -> Self {
        self.concurrency = k;
        self.concurrency_key = false;
        self
    }
    /// Observation interval.
    pub fn interval(mut self, i: &str) -> Self {
        self.interval = i.into();
        self
    }
    /// The template's stop timeout.
    pub fn stop_timeout(mut self, t: &str) -> Self {
        self.stop_timeout = t.into();
        self
    }
    /// Body of `[pool.scaling]` (besides `concurrency`).
    pub fn scaling(mut self, body: &str) -> Self {
        self.scaling = body.into();
        self
    }
    /// Body of `[pool.agents]`.
    pub fn agents(mut self, body: &str) -> Self {
        self.agents = body.into();
        self
    }
    /// The policy file.
    pub fn toml(&self) -> String {
        let TestPool {
            pool,
            stream,
            min,
            max,
            concurrency,
            concurrency_key,
            interval,
            stop_timeout,
            scaling,
            agents,
        } = self;
        let key = if *concurrency_key {
            format!("concurrency = {concurrency}")
        } else {
            String::new()
        };
        format!(
            r#"
[[pool]]
name = "{pool}"
stream = "{stream}"
consumer = "work"
min = {min}
max = {max}
interval = "{interval}"

[pool.container]
image = "{image}"
command = ["agent", "--stream", "{stream}", "--consumer", "work", "--concurrency", "{concurrency}"]
env = {{ JETPOOL_STATS_INTERVAL = "1s" }}
network = "host"
stop_timeout = "{stop_timeout}"

[pool.scaling]
{key}
{scaling}

[pool.agents]
{agents}
"#,
            image = image()
        )
    }
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

/// Publishes `count` tasks of mixed length, deterministic by index: one in
/// `long_every` of `long_ms`, the next four of 50 ms, the rest 5 ms.
pub async fn publish_mixed(
    nats: &Nats,
    stream: &str,
    first_id: u64,
    count: u64,
    long_every: u64,
    long_ms: u64,
) {
    let js = jetstream::new(nats.client().await);
    let mut acks = std::collections::VecDeque::new();
    for i in first_id..first_id + count {
        let work_ms = match i % long_every {
            0 => long_ms,
            1..=4 => 50,
            _ => 5,
        };
        let payload = format!("{{\"id\":{i},\"work_ms\":{work_ms}}}");
        acks.push_back(
            js.publish(format!("{stream}.tasks"), payload.into())
                .await
                .expect("publish"),
        );
        if acks.len() >= 512 {
            acks.pop_front()
                .expect("non-empty")
                .await
                .expect("publish ack");
        }
    }
    for a in acks {
        a.await.expect("publish ack");
    }
}

/// Sum of a counter over all its series whose labels contain every one of
/// `labels` (`key="value"` strings).
pub fn counter_sum(body: &str, metric: &str, labels: &[&str]) -> f64 {
    body.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && labels.iter().all(|x| l.contains(x)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Sends `signal` (`HUP`, `TERM`) to a child process.
pub fn send_signal(child: &std::process::Child, signal: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{signal} {}", child.id());
}

/// Stops a child jetpool with SIGTERM and checks it exits cleanly.
pub fn terminate(mut child: std::process::Child) {
    send_signal(&child, "TERM");
    let status = child.wait().expect("jetpool exits");
    assert!(status.success(), "clean exit on SIGTERM: {status}");
}

/// A child jetpool's JSON log lines (`--log-format json`), collected from
/// its stderr as they come.
#[derive(Clone, Default)]
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>);

impl Logs {
    /// Collects `child`'s stderr (which must be piped).
    pub fn follow(child: &mut std::process::Child) -> Logs {
        let logs = Logs::default();
        let stderr = child.stderr.take().expect("stderr");
        let sink = logs.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(v) = serde_json::from_str(&line) {
                    sink.0.lock().expect("logs").push(v);
                }
            }
        });
        logs
    }

    /// The lines with this message (and, when given, this trigger).
    pub fn count(&self, message: &str, trigger: Option<&str>) -> usize {
        let lines = self.0.lock().expect("logs");
        lines
            .iter()
            .filter(|l| l["message"] == message)
            .filter(|l| trigger.is_none_or(|t| l["trigger"] == t))
            .count()
    }

    /// Every line with `message`, in order.
    pub fn matching(&self, message: &str) -> Vec<serde_json::Value> {
        let lines = self.0.lock().expect("logs");
        lines
            .iter()
            .filter(|l| l["message"] == message)
            .cloned()
            .collect()
    }

    /// The `field` of every line with `message`, in order.
    pub fn fields(&self, message: &str, field: &str) -> Vec<String> {
        let lines = self.0.lock().expect("logs");
        lines
            .iter()
            .filter(|l| l["message"] == message)
            .filter_map(|l| l[field].as_str().map(str::to_string))
            .collect()
    }

    /// The `problem` fields of the refused reloads so far.
    pub fn refusals(&self) -> Vec<String> {
        self.fields(
            "policy reload refused; the running policies stay",
            "problem",
        )
    }
}

/// Runs `jetpool::service::run` in-process for `pools` until the returned
/// guard is dropped or stopped.
pub struct Service {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<jetpool::Result<()>>>,
    /// The HTTP address.
    pub listen: String,
}

impl Service {
    /// Starts the service on a free port.
    pub fn start(nats: &Nats, toml: &str) -> Service {
        let policies = jetpool::pool::spec::parse_policies(std::path::Path::new("test.toml"), toml)
            .expect("valid policy");
        let listen = format!("127.0.0.1:{}", free_port());
        let cfg = jetpool::service::ServiceConfig {
            policies,
            policy_dir: None,
            nats: jetpool::nats::NatsArgs::for_url(&nats.url),
            listen: listen.clone(),
            dry_run: false,
            agent_nats_url: nats.url.clone(),
            max_agents: None,
            compose: Default::default(),
            swarm: Default::default(),
            overrides_bucket: jetpool::overrides::DEFAULT_BUCKET.into(),
            allowed: Default::default(),
            engines: Vec::new(),
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(jetpool::service::run(cfg, async {
            let _ = rx.await;
        }));
        Service {
            stop: Some(tx),
            task: Some(task),
            listen,
        }
    }

    /// The metrics text.
    pub async fn metrics(&self) -> String {
        http_get(&self.listen, "/metrics")
            .await
            .map(|(_, b)| b)
            .unwrap_or_default()
    }

    /// The status JSON.
    pub async fn status(&self) -> serde_json::Value {
        http_get(&self.listen, "/status")
            .await
            .and_then(|(_, b)| serde_json::from_str(&b).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// Stops the service and checks it exits cleanly.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let r = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("service stops promptly");
            assert!(matches!(r, Ok(Ok(()))), "service exits cleanly: {r:?}");
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// A `jetpool run` process on a policy directory (warnings only, output
/// discarded), killed when dropped so a failing test leaves none.
pub struct JetpoolProcess(pub Child);

impl JetpoolProcess {
    /// `jetpool run --policies dir --nats nats --listen listen`, plus
    /// `extra` arguments (`--dry-run`).
    pub fn start(dir: &std::path::Path, nats: &str, listen: &str, extra: &[&str]) -> Self {
        Self::start_env(dir, nats, listen, extra, &[])
    }

    /// As [`JetpoolProcess::start`], with extra environment variables
    /// (`DOCKER_HOST` of a private engine).
    pub fn start_env(
        dir: &std::path::Path,
        nats: &str,
        listen: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        // `JETPOOL_TEST_LOGS=DIR` keeps each process's info log in DIR,
        // for finding out why a test failed.
        let (level, stderr) = match std::env::var_os("JETPOOL_TEST_LOGS") {
            Some(logs) => {
                let file = std::path::Path::new(&logs).join(format!("jetpool-{listen}.log"));
                let f = std::fs::File::create(file).expect("log file");
                ("info", Stdio::from(f))
            }
            None => ("warn", Stdio::null()),
        };
        let child = Command::new(bin())
            .envs(env.iter().copied())
            .args(["run", "--policies"])
            .arg(dir)
            .args(["--nats", nats, "--listen", listen])
            .args(extra)
            .env("RUST_LOG", level)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start jetpool");
        JetpoolProcess(child)
    }

    /// SIGKILL, and reap it.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for JetpoolProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `+ACK`s per stream sequence for one consumer, as the server receives
/// them: a plain subscriber on `$JS.ACK.<stream>.<consumer>.>` gets a copy.
#[derive(Clone, Default)]
pub struct AckCounts(std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<u64, u32>>>);

impl AckCounts {
    /// Starts counting on `nats`.
    pub async fn watch(nats: &Nats, stream: &str, consumer: &str) -> AckCounts {
        use futures::StreamExt;
        let client = nats.client().await;
        let mut sub = client
            .subscribe(format!("$JS.ACK.{stream}.{consumer}.>"))
            .await
            .expect("subscribe to acks");
        client.flush().await.expect("flush");
        let counts = AckCounts::default();
        let sink = counts.clone();
        tokio::spawn(async move {
            // Keeps the connection for as long as the subscription lives.
            let _client = client;
            while let Some(m) = sub.next().await {
                // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.…
                let seq = m
                    .subject
                    .split('.')
                    .nth(5)
                    .and_then(|s| s.parse::<u64>().ok());
                if let (true, Some(seq)) = (m.payload.starts_with(b"+ACK"), seq) {
                    *sink.0.lock().expect("acks").entry(seq).or_default() += 1;
                }
            }
        });
        counts
    }

    /// Checks that tasks 1 to `tasks` were each acked exactly once.
    pub fn assert_each_once(&self, tasks: u64) {
        let acks = self.0.lock().expect("acks").clone();
        assert_eq!(acks.len() as u64, tasks, "every task acked: {acks:?}");
        assert!(
            acks.values().all(|&n| n == 1),
            "each task acked once: {acks:?}"
        );
    }
}

/// `/healthz`'s status code at `listen`.
pub async fn health(listen: &str) -> Option<u16> {
    http_get(listen, "/healthz").await.map(|(code, _)| code)
}

/// A process's CPU time (user + system) in seconds and RSS in MiB.
pub fn usage(pid: u32) -> (f64, f64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (1-based), 12 and 13 here.
    let hz = 100.0;
    let cpu = (ticks(11) + ticks(12)) / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0);
    (cpu, rss_kb / 1024.0)
}

/// The roles of the first pool's agents in `/status` at `listen`.
pub async fn roles(listen: &str) -> Vec<String> {
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

/// The first pool's desired count in `/status` at `listen`.
pub async fn desired(listen: &str) -> Option<u64> {
    let (_, body) = http_get(listen, "/status").await?;
    let st: serde_json::Value = serde_json::from_str(&body).ok()?;
    st["pools"][0]["decision"]["desired"].as_u64()
}

/// The estimates of the first pool's last decision in `/status` at
/// `listen`.
pub async fn estimates(listen: &str) -> Option<serde_json::Value> {
    let (_, body) = http_get(listen, "/status").await?;
    let st: serde_json::Value = serde_json::from_str(&body).ok()?;
    let e = &st["pools"][0]["decision"]["estimates"];
    e.is_object().then(|| e.clone())
}
