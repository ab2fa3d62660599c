//! The README's Quick start, run end to end on every `make test`, so a demo
//! cannot rot unseen: `make demo` and `make compose-demo`, each checked by
//! its own closing `== done: ...` line and by what it leaves behind.
//!
//! Each of those Makefile targets is `deps image` followed by one script
//! with one or two variables (see the Makefile): `make demo` is
//! `JETPOOL_BIN=<static binary> JETPOOL_IMAGE=$(IMAGE) compose/demo.sh`,
//! `make compose-demo` is `JETPOOL_IMAGE=$(IMAGE) compose/compose-demo.sh`.
//! `make test` has done `deps`, `image` and `compose-images` before any
//! test runs, so the tests call the scripts themselves with those variables
//! rather than have make rebuild inside a test. `JETPOOL_BIN` is the binary
//! cargo built for this run (the same code as the static one); the image is
//! `JETPOOL_IMAGE`, so CI's own image is used.
//!
//! Both run side by side, and beside any other test on the engine: the
//! demo's pool, the compose project and every port are unique to the run
//! (`DEMO_POOL`, `COMPOSE_PROJECT_NAME`, free ports), never the scripts'
//! defaults.

mod common;

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::compose::{Project, compose_available, required};
use common::{PoolGuard, all_containers, docker_available, free_port, image, unique};

/// Longer than either script's own deadline (DEMO_TIMEOUT, 180 s by
/// default, counted from the burst) plus its set-up and teardown.
const LIMIT: Duration = Duration::from_secs(300);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// True when `tool --version` runs; otherwise skips or, with
/// `JETPOOL_REQUIRE_DOCKER=1`, fails.
fn tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    required(ok, tool)
}

/// What a script did.
struct Run {
    status: ExitStatus,
    out: String,
    took: Duration,
}

/// Runs `cmd` to its end, with its stdout and stderr together. Past
/// [`LIMIT`] the script gets SIGTERM (its EXIT trap then tears down what it
/// started), and SIGKILL a minute later.
fn run(mut cmd: Command) -> Run {
    let (mut reader, writer) = std::io::pipe().expect("pipe");
    let err = writer.try_clone().expect("pipe");
    let started = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(err)
        .spawn()
        .expect("start the demo script");
    // The command holds the pipe's write ends: drop them, so the reader
    // sees the end once the script (and whatever it started) is gone.
    drop(cmd);
    let collect = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    let mut termed = false;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the script") {
            break status;
        }
        let took = started.elapsed();
        if took > LIMIT && !termed {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            termed = true;
        } else if took > LIMIT + Duration::from_secs(60) {
            let _ = child.kill();
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = collect.join().expect("collect the script's output");
    Run {
        status,
        out,
        took: started.elapsed(),
    }
}

/// Fails unless the script succeeded and printed `done` as a whole line.
fn assert_done(what: &str, r: &Run, done: &str) {
    eprintln!("{what} took {:.0?}", r.took);
    assert!(
        r.status.success() && r.out.lines().any(|l| l.trim_end() == done),
        "{what} failed ({}, after {:.0?}); expected the line\n{done}\nits output:\n{}",
        r.status,
        r.took,
        r.out
    );
}

#[test]
fn make_demo_scales_out_for_the_burst_and_back_to_zero() {
    if !docker_available() || !tool("nats-server") {
        return;
    }
    // A pool name of its own: jetpool owns every container labelled with
    // its pool's name, and the compose stack's pool is "demo" too.
    let pool = unique("jp-it-demo");
    let _guard = PoolGuard(pool.clone());
    let mut cmd = Command::new(repo().join("compose/demo.sh"));
    cmd.env("JETPOOL_BIN", env!("CARGO_BIN_EXE_jetpool"))
        .env("JETPOOL_IMAGE", image())
        .env("DEMO_POOL", &pool)
        .env("DEMO_NATS_PORT", free_port().to_string())
        .env("DEMO_LISTEN", format!("127.0.0.1:{}", free_port()));
    let r = run(cmd);
    assert_done(
        "make demo",
        &r,
        "== done: the pool scaled out for the burst, worked it off, and scaled back to zero",
    );
    assert!(
        r.out.contains(&format!("pool=\"{pool}\",direction=\"up\"")),
        "the demo reports its scale-out events:\n{}",
        r.out
    );
    assert_eq!(
        all_containers(&pool),
        Vec::<String>::new(),
        "make demo leaves no agent behind"
    );
}

#[test]
fn make_compose_demo_scales_the_stack_out_and_back_and_leaves_nothing() {
    if !compose_available() || !tool("nats-server") || !tool("prometheus") {
        return;
    }
    // The project's name and its clean-up should the script not finish;
    // the script itself runs `up` and `down` under that name.
    let project = Project::existing("demo", &repo().join("compose/docker-compose.yml"), vec![]);
    let mut cmd = Command::new(repo().join("compose/compose-demo.sh"));
    cmd.env("JETPOOL_IMAGE", image())
        .env("COMPOSE_PROJECT_NAME", &project.name)
        .env("PROMETHEUS_PORT", free_port().to_string())
        .env("JETPOOL_PORT", free_port().to_string());
    let r = run(cmd);
    let peak = r
        .out
        .lines()
        .find_map(|l| l.strip_prefix("== done: the pool scaled out to "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    assert_done(
        "make compose-demo",
        &r,
        &format!(
            "== done: the pool scaled out to {peak} agents for the burst and back to 1; down -v left nothing behind"
        ),
    );
    assert!(
        peak >= 3,
        "the burst scales the pool out (peak {peak}):\n{}",
        r.out
    );
    // Not root: the image's own user, with the socket's group only.
    let gid = common::compose::docker_gid();
    let line = format!("jetpool runs as user 65532:65532 with group(s) {gid}");
    assert!(r.out.contains(&line), "{line}:\n{}", r.out);
    assert_eq!(
        project.leftovers(),
        Vec::<String>::new(),
        "make compose-demo leaves nothing behind"
    );
}
