//! Several engines (`jetpool run --engine NAME=URL`): the machine's
//! engine and a private `dockerd` this test owns (the machine's own is
//! never stopped). Its containers use the host network, as the private
//! engine runs without a bridge.
//! - agents are spread over both;
//! - the second engine stopped: its agents count as lost and the pool
//!   gets its count back on the first, `jetpool_engine_up` says so and
//!   `/healthz` stays 200 (one engine still answers);
//! - started again: its exited agents are removed, nothing new starts
//!   anywhere, nothing is left exited, no name is on both engines.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_spread_over_two_engines_and_survive_losing_one() {
    if !docker_available() {
        return;
    }
    let mut second = Dockerd::start();
    let nats = Nats::start();
    let pool = unique("it-engines");
    let _guard = PoolGuard(pool.clone());
    let stream = "ENGINES";
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
    let _jetpool = JetpoolProcess::start(
        dir.path(),
        &nats.url,
        &listen,
        &["--engine", &first_flag, "--engine", &second_flag],
    );
    let pool_label = format!("pool=\"{pool}\"");

    // Spread: 2 and 2.
    let began = Instant::now();
    eventually(
        Duration::from_secs(60),
        "2 agents on each engine",
        || async {
            (running(&pool).len() == 2 && second.containers(&pool, false).len() == 2).then_some(())
        },
    )
    .await;
    let spread = began.elapsed().as_secs_f64();
    let on_second = eventually(Duration::from_secs(10), "the engine gauges", || async {
        let up = gauge(&listen, "jetpool_engine_up", &["engine=\"second\""]).await?;
        let n = gauge(
            &listen,
            "jetpool_pool_engine_replicas",
            &[&pool_label, "engine=\"second\""],
        )
        .await?;
        (up == 1.0 && n == 2.0).then_some(n)
    })
    .await;
    let first_agents: BTreeSet<String> = running(&pool).into_iter().collect();

    // The second engine stops: its containers stop with it (`stop` returns
    // once the daemon has exited; jetpool may have replaced them by then).
    let down = Instant::now();
    second.stop();
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
        let up = gauge(&listen, "jetpool_engine_up", &["engine=\"second\""]).await?;
        (up == 0.0).then_some(())
    })
    .await;
    assert_eq!(
        health(&listen).await,
        Some(200),
        "one engine answers: jetpool is healthy"
    );

    // The second engine comes back with its agents exited.
    second.resume();
    let back = Instant::now();
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
        let up = gauge(&listen, "jetpool_engine_up", &["engine=\"second\""]).await?;
        (up == 1.0).then_some(())
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
        "spread 2+2 in {spread:.1} s (gauge {on_second}); second engine down: 4 on the first in \
         {recovered:.1} s; back: emptied in {cleaned:.1} s, 4 agents, none duplicated"
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
