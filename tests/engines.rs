//! Several engines (`jetpool run --engine NAME=URL`): the machine's
//! engine and a private `dockerd` this test owns (the machine's own is
//! never stopped). Its containers use the host network, as the private
//! engine runs without a bridge.
//! - agents are spread over both;
//! - the second engine stopped: its agents count as lost and the pool
//!   gets its count back on the first, `jetpool_engine_up` says so and
//!   `/healthz` stays 200 (one engine still answers);
//! - started again: its exited agents are removed, nothing new starts
//!   anywhere, nothing is left exited, no name is on both engines;
//! - frozen instead (SIGSTOP: no answer, its agents keep running): after
//!   one listing that times out no tick waits on it, its agents are
//!   replaced on the first without a drain or stop sent to them; thawed:
//!   its agents are adopted and the pool scales back in to its count;
//! - down when jetpool starts: jetpool runs on the first, connects the
//!   second when it answers, and places the next agent there.
//!
//! And, without Docker: a malformed `--engine` and a pool naming an engine
//! jetpool does not run with exit 2 before anything connects.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::dockerd::Dockerd;
use common::*;

/// The value of `metric` whose labels include all of `labels`.
async fn gauge(listen: &str, metric: &str, labels: &[&str]) -> Option<f64> {
    let (_, body) = http_get(listen, "/metrics").await?;
    body.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")))
        .filter(|l| labels.iter().all(|x| l.contains(x)))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// jetpool on two engines, the machine's (`first`) and a private one
/// (`second`), running a pool of 4 agents. Dropped in field order: jetpool
/// first, then the containers of both engines.
struct TwoEngines {
    _jetpool: JetpoolProcess,
    _guard: PoolGuard,
    second: Dockerd,
    _nats: Nats,
    _dir: tempfile::TempDir,
    pool: String,
    listen: String,
}

impl TwoEngines {
    /// Starts both; with `second_down`, the second engine is stopped
    /// before jetpool starts.
    async fn start(stream: &str, second_down: bool) -> TwoEngines {
        let mut second = Dockerd::start();
        if second_down {
            second.stop();
        }
        let nats = Nats::start();
        let pool = unique("it-engines");
        let guard = PoolGuard(pool.clone());
        setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
        let toml = TestPool::new(&pool, stream)
            .bounds(4, 4)
            .interval("500ms")
            .stop_timeout("5s")
            .toml();
        let dir = policy_dir(&toml);
        let listen = format!("127.0.0.1:{}", free_port());
        let machine =
            std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
        let first_flag = format!("first={machine}");
        let second_flag = format!("second={}", second.host());
        let jetpool = JetpoolProcess::start(
            dir.path(),
            &nats.url,
            &listen,
            &["--engine", &first_flag, "--engine", &second_flag],
        );
        TwoEngines {
            _jetpool: jetpool,
            _guard: guard,
            second,
            _nats: nats,
            _dir: dir,
            pool,
            listen,
        }
    }

    /// Waits for 2 agents on each engine and the gauges saying so.
    async fn spread(&self) {
        let (pool, second) = (&self.pool, &self.second);
        eventually(
            Duration::from_secs(60),
            "2 agents on each engine",
            || async {
                (running(pool).len() == 2 && second.containers(pool, false).len() == 2)
                    .then_some(())
            },
        )
        .await;
        let on_second = [&format!("pool=\"{pool}\"") as &str, "engine=\"second\""];
        eventually(Duration::from_secs(10), "the engine gauges", || async {
            let n = gauge(&self.listen, "jetpool_pool_engine_replicas", &on_second).await?;
            (self.second_up().await? == 1.0 && n == 2.0).then_some(())
        })
        .await;
    }

    /// `jetpool_engine_up{engine="second"}`.
    async fn second_up(&self) -> Option<f64> {
        gauge(&self.listen, "jetpool_engine_up", &["engine=\"second\""]).await
    }

    /// A counter of the pool, summed over its labels.
    async fn counter(&self, metric: &str) -> f64 {
        let (_, body) = http_get(&self.listen, "/metrics").await.unwrap_or_default();
        counter_sum(&body, metric, &[&format!("pool=\"{}\"", self.pool)])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_spread_over_two_engines_and_survive_losing_one() {
    if !docker_available() {
        return;
    }
    let stream = "ENGINES";
    let mut t = TwoEngines::start(stream, false).await;
    let began = Instant::now();
    t.spread().await;
    let spread = began.elapsed().as_secs_f64();
    let (pool, listen) = (t.pool.clone(), t.listen.clone());
    let first_agents: BTreeSet<String> = running(&pool).into_iter().collect();

    // The second engine stops: its containers stop with it (`stop` returns
    // once the daemon has exited; jetpool may have replaced them by then).
    let down = Instant::now();
    t.second.stop();
    let mut most_on_first = 0;
    eventually(
        Duration::from_secs(60),
        "4 agents on the first engine",
        || {
            let n = running(&pool).len();
            most_on_first = most_on_first.max(n);
            async move { (n == 4).then_some(()) }
        },
    )
    .await;
    let recovered = down.elapsed().as_secs_f64();
    let now_first: BTreeSet<String> = running(&pool).into_iter().collect();
    assert!(
        first_agents.is_subset(&now_first),
        "the first engine's agents kept running: {first_agents:?} then {now_first:?}"
    );
    eventually(Duration::from_secs(10), "engine second down", || async {
        (t.second_up().await? == 0.0).then_some(())
    })
    .await;
    assert_eq!(
        health(&listen).await,
        Some(200),
        "one engine answers: jetpool is healthy"
    );

    // The second engine comes back with its agents exited.
    t.second.resume();
    let back = Instant::now();
    let second = &t.second;
    eventually(
        Duration::from_secs(60),
        "the second engine emptied, 4 running on the first, nothing exited",
        || async {
            let ok = second.containers(&pool, true).is_empty()
                && running(&pool).len() == 4
                && all_containers(&pool).len() == 4;
            ok.then_some(())
        },
    )
    .await;
    let cleaned = back.elapsed().as_secs_f64();
    eventually(Duration::from_secs(10), "engine second up", || async {
        (t.second_up().await? == 1.0).then_some(())
    })
    .await;
    // Settled: for 3 s (six ticks) nothing is started or left anywhere.
    let settled: BTreeSet<String> = running(&pool).into_iter().collect();
    let watch_until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < watch_until {
        let now: BTreeSet<String> = all_containers(&pool).into_iter().collect();
        assert_eq!(now, settled, "nothing started or left on the first engine");
        assert!(
            second.containers(&pool, true).is_empty(),
            "nothing started on the second engine"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(most_on_first <= 4, "never above max: {most_on_first}");
    println!(
        "spread 2+2 in {spread:.1} s; second engine down: 4 on the first in \
         {recovered:.1} s; back: emptied in {cleaned:.1} s, 4 agents, none duplicated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_engine_is_replaced_and_its_agents_scaled_in_when_it_answers() {
    if !docker_available() {
        return;
    }
    let mut t = TwoEngines::start("FROZEN", false).await;
    t.spread().await;
    let pool = t.pool.clone();
    let frozen_agents = t.second.containers(&pool, false);

    // Frozen: the second engine's agents keep running, unseen.
    let frozen = Instant::now();
    t.second.freeze();
    eventually(
        Duration::from_secs(30),
        "4 agents on the first engine",
        || async { (running(&pool).len() == 4).then_some(()) },
    )
    .await;
    let replaced = frozen.elapsed().as_secs_f64();
    eventually(Duration::from_secs(10), "engine second down", || async {
        (t.second_up().await? == 0.0).then_some(())
    })
    .await;
    // Once it is known lost, no tick waits on the frozen engine: the pool
    // is fresh; nothing was drained or stopped (its agents are
    // unreachable).
    let (code, body) = http_get(&t.listen, "/status").await.expect("/status");
    assert_eq!(code, 200);
    let st: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(st["pools"][0]["fresh"], true, "{st}");
    assert_eq!(t.counter("jetpool_drains_started_total").await, 0.0);
    assert_eq!(t.counter("jetpool_containers_stopped_total").await, 0.0);

    // Thawed: 6 agents for a pool of 4; two are drained, on either engine.
    t.second.thaw();
    let thawed = Instant::now();
    let second = &t.second;
    let left = eventually(
        Duration::from_secs(90),
        "4 agents in all, nothing exited on either engine",
        || async {
            let (a, b) = (running(&pool), second.containers(&pool, false));
            let settled = a.len() + b.len() == 4
                && all_containers(&pool) == a
                && second.containers(&pool, true) == b;
            settled.then_some((a, b))
        },
    )
    .await;
    let converged = thawed.elapsed().as_secs_f64();
    // An adopted agent that has not reported since gets the stop signal
    // (and its stop timeout) instead of a drain request.
    let drains = t.counter("jetpool_drains_started_total").await;
    let stops = t.counter("jetpool_containers_stopped_total").await;
    assert_eq!(
        drains + stops,
        2.0,
        "the two extra agents drained or stopped"
    );
    let names: BTreeSet<&String> = left.0.iter().chain(&left.1).collect();
    assert_eq!(names.len(), 4, "no agent twice: {left:?}");
    println!(
        "frozen: replaced on the first in {replaced:.1} s ({frozen_agents:?} kept running); \
         thawed: back to 4 ({} + {}) in {converged:.1} s, {drains} drained, {stops} stopped",
        left.0.len(),
        left.1.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_down_at_start_is_used_once_it_answers() {
    if !docker_available() {
        return;
    }
    let mut t = TwoEngines::start("LATE", true).await;
    let pool = t.pool.clone();
    eventually(
        Duration::from_secs(60),
        "4 agents on the first engine",
        || async { (running(&pool).len() == 4).then_some(()) },
    )
    .await;
    eventually(Duration::from_secs(10), "engine second down", || async {
        (t.second_up().await? == 0.0).then_some(())
    })
    .await;
    assert_eq!(health(&t.listen).await, Some(200));

    t.second.resume();
    let answered = Instant::now();
    eventually(Duration::from_secs(20), "engine second up", || async {
        (t.second_up().await? == 1.0).then_some(())
    })
    .await;
    let connected = answered.elapsed().as_secs_f64();
    // An agent removed from outside: its replacement goes to the engine
    // with the fewest agents, the second.
    let victim = running(&pool)[0].clone();
    let removed = std::process::Command::new("docker")
        .args(["rm", "-f", &victim])
        .output()
        .expect("docker rm");
    assert!(removed.status.success());
    let second = &t.second;
    eventually(
        Duration::from_secs(30),
        "3 agents on the first, the replacement on the second",
        || async {
            (running(&pool).len() == 3 && second.containers(&pool, true).len() == 1).then_some(())
        },
    )
    .await;
    assert_eq!(all_containers(&pool).len(), 3, "nothing exited left");
    println!(
        "engine down at start: connected {connected:.1} s after it answers; the next agent placed on it"
    );
}

/// `jetpool run` with `args`, which must exit 2 before connecting to
/// anything; its stderr.
fn refused(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(bin())
        .args(["run", "--policies"])
        .arg(dir)
        .args(["--nats", "nats://127.0.0.1:1"])
        .args(args)
        .env_remove("JETPOOL_ENGINES")
        .output()
        .expect("run jetpool");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn malformed_engines_and_unknown_engine_names_are_refused_at_start() {
    let toml = TestPool::new("p", "S").toml().replace(
        "network = \"host\"",
        "network = \"host\"\nengines = [\"a\", \"gpu\"]",
    );
    let dir = policy_dir(&toml);
    let err = refused(
        dir.path(),
        &[
            "--engine",
            "a=unix:///run/a.sock",
            "--engine",
            "b=tcp://h:2375",
        ],
    );
    assert!(
        err.contains("pool.toml:3:")
            && err.contains("unknown engine gpu (jetpool runs with: a, b)"),
        "{err}"
    );
    // Without --engine the one engine is `local`.
    let err = refused(dir.path(), &[]);
    assert!(
        err.contains("unknown engine a, gpu (jetpool runs with: local)"),
        "{err}"
    );
    for (flags, want) in [
        (
            vec!["--engine", "b=ssh://h"],
            "engine \"b\": \"ssh://h\" is not",
        ),
        (vec!["--engine", "b"], "--engine \"b\" is not NAME=VALUE"),
        (
            vec!["--engine", "b=tcp://h:1", "--engine-weight", "c=2"],
            "--engine-weight names engine \"c\"",
        ),
    ] {
        let err = refused(dir.path(), &flags);
        assert!(err.contains(want), "{flags:?}: {err}");
    }
}
