//! Bad input gives a clear error naming the cause, and nothing panics: a
//! missing consumer, an unknown key, min > max, unreachable NATS or Docker.

mod common;

use std::process::{Command, Output};
use std::time::Duration;

use common::*;

fn run_jetpool(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args).env_remove("NATS_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run jetpool");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "jetpool panicked:\n{stderr}");
    out
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

const VALID: &str = r#"
[[pool]]
name = "p"
stream = "S"
consumer = "c"
max = 2
[pool.container]
image = "jetpool:local"
"#;

#[test]
fn unknown_key_names_file_line_and_key() {
    let dir = policy_dir(&VALID.replace("max = 2", "max = 2\nmaxx = 3"));
    for args in [vec!["check"], vec!["run", "--policies"]] {
        let mut a: Vec<&str> = args.clone();
        let p = dir.path().to_str().expect("utf-8 path");
        a.push(p);
        let out = run_jetpool(&a, &[]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(
            err.contains("pool.toml:7:1"),
            "{args:?}: location in:\n{err}"
        );
        assert!(
            err.contains("unknown field `maxx`"),
            "{args:?}: key in:\n{err}"
        );
    }
}

#[test]
fn a_template_outside_the_allow_lists_is_refused() {
    let with_bind = VALID.replace(
        "image = \"jetpool:local\"",
        "image = \"jetpool:local\"\nvolumes = [\"/etc:/host-etc:ro\"]",
    );
    let dir = policy_dir(&with_bind);
    let p = dir.path().to_str().expect("utf-8");
    let cases = [
        (
            vec!["--allow-image", "registry.example.com/agents/*"],
            "image \"jetpool:local\" is not allowed (--allow-image registry.example.com/agents/*)",
        ),
        (
            vec!["--allow-mount", "/srv/agents"],
            "host path \"/etc\" is not allowed (--allow-mount /srv/agents)",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["run", "--policies", p];
        args.extend(flags.iter().copied());
        let out = run_jetpool(&args, &[]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(want), "{flags:?}: {err}");
        assert!(
            err.contains("pool.toml:3:1"),
            "{flags:?}: location in {err}"
        );
    }
    // A bad list is named too.
    let out = run_jetpool(&["run", "--policies", p, "--allow-mount", "srv"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--allow-mount \"srv\" must be an absolute path"));
}

#[test]
fn min_above_max_is_rejected_with_location() {
    let dir = policy_dir(&VALID.replace("max = 2", "min = 5\nmax = 2"));
    let out = run_jetpool(
        &["run", "--policies", dir.path().to_str().expect("utf-8")],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("pool.toml:6:1"), "{err}");
    assert!(err.contains("min (5) must not exceed max (2)"), "{err}");
}

#[test]
fn unreachable_nats_names_the_server() {
    let dir = policy_dir(VALID);
    let port = free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let out = run_jetpool(
        &[
            "run",
            "--policies",
            dir.path().to_str().expect("utf-8"),
            "--nats",
            &url,
            "--nats-connect-timeout",
            "1s",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot connect to NATS at {url}")),
        "{err}"
    );
}

#[test]
fn missing_creds_file_is_named() {
    let dir = policy_dir(VALID);
    let out = run_jetpool(
        &[
            "run",
            "--policies",
            dir.path().to_str().expect("utf-8"),
            "--nats-creds",
            "/nonexistent/user.creds",
        ],
        &[],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot read NATS creds file /nonexistent/user.creds"),
        "{err}"
    );
}

#[test]
fn unreachable_docker_names_the_host() {
    let nats = Nats::start();
    let dir = policy_dir(VALID);
    let listen = format!("127.0.0.1:{}", free_port());
    let out = run_jetpool(
        &[
            "run",
            "--policies",
            dir.path().to_str().expect("utf-8"),
            "--nats",
            &nats.url,
            "--listen",
            &listen,
        ],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot reach Docker at unix:///nonexistent/docker.sock"),
        "{err}"
    );
}

/// A consumer that does not exist is an error for that pool: logged,
/// counted, reported by /healthz, and the pool holds (never scales to max).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_consumer_holds_the_pool() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-missing");
    let _guard = PoolGuard(pool.clone());
    // The stream exists and has a backlog, but the consumer does not.
    setup_stream(&nats, "MISS", "other", Duration::from_secs(30)).await;
    publish(&nats, "MISS", 50, 100).await;
    let toml = policy_toml(&pool, "MISS", "absent", 0, 8, "");
    let svc = Service::start(&nats, &toml);
    let listen = svc.listen.clone();
    let status = eventually(
        Duration::from_secs(10),
        "status to report the missing consumer",
        || async {
            let (_, body) = http_get(&listen, "/status").await?;
            body.contains("consumer absent not found on stream MISS")
                .then_some(body)
        },
    )
    .await;
    assert!(
        status.contains("\"desired\":0"),
        "pool holds at its count: {status}"
    );
    let (code, health) = http_get(&listen, "/healthz")
        .await
        .expect("healthz answers");
    assert_eq!(code, 503, "not healthy while blind: {health}");
    assert!(health.contains("consumer absent not found"), "{health}");
    let (_, metrics) = http_get(&listen, "/metrics").await.expect("metrics");
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("jetpool_observe_errors_total")
                && l.contains("consumer_not_found")
                && l.contains(&pool)
                && !l.ends_with(" 0")),
        "error counted:\n{metrics}"
    );
    assert!(
        running(&pool).is_empty(),
        "no agents started for a pool it cannot see"
    );
    svc.stop().await;
}
