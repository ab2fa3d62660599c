//! `make bench-live`: how fast jetpool reacts, and what it costs, against a
//! real nats-server and the local Docker engine. Ignored by `make test`;
//! run with `cargo test --release --test bench_live -- --ignored`. Prints
//! the tables and writes them to `bench/results/live.md`.

mod common;

#[path = "bench_live/overhead.rs"]
mod overhead;
#[path = "bench_live/phases.rs"]
mod phases;
#[path = "bench_live/probe.rs"]
mod probe;

use std::fmt::Write as _;

use common::*;
use probe::{median_p95, row};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: make bench-live"]
async fn bench_live() {
    assert!(docker_available(), "bench-live needs the Docker engine");
    let began = std::time::Instant::now();
    let nats = Nats::start();
    let client = nats.client().await;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Live reaction and overhead\n\nOne run of `make bench-live` against nats-server {} and Docker {} on this machine ({} cores), {}.\n",
        version(&["nats-server", "--version"]).trim_start_matches("nats-server: "),
        version(&["docker", "version", "--format", "{{.Server.Version}}"]),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC"),
    );

    let (api, cli) = phases::raw(&nats, &client).await;
    let zero = phases::pool(&nats, &client, 0).await;
    let warm = phases::pool(&nats, &client, 1).await;
    let pick = |runs: &[phases::ZeroRun], f: fn(&phases::ZeroRun) -> f64| -> Vec<f64> {
        runs.iter().map(f).filter(|x| x.is_finite()).collect()
    };
    let _ = writeln!(
        out,
        "## Latency\n\n| from publish (or start request) to | n | median ms | p95 ms |\n|---|---|---|---|"
    );
    for line in [
        row("raw: Docker API create + start to first ack", &api),
        row("raw: `docker run` to first ack", &cli),
        row("pool at zero: decision", &pick(&zero, |r| r.decision)),
        row(
            "pool at zero: container started",
            &pick(&zero, |r| r.running),
        ),
        row("pool at zero: first ack", &pick(&zero, |r| r.ack)),
        row("warm standby: decision", &pick(&warm, |r| r.decision)),
        row("warm standby: activation sent", &pick(&warm, |r| r.running)),
        row("warm standby: first ack", &pick(&warm, |r| r.ack)),
    ] {
        let _ = writeln!(out, "{line}");
    }
    let (raw_med, _) = median_p95(&api);
    let (zero_med, _) = median_p95(&pick(&zero, |r| r.ack));
    let _ = writeln!(
        out,
        "\nPool at zero, publish to first ack, over the raw start to first ack (medians): **{:.2}x**.\n",
        zero_med / raw_med
    );

    let (steps, note) = phases::step(&nats, &client).await;
    let (m, p) = median_p95(&steps);
    let _ = writeln!(
        out,
        "## A step in the arrival rate\n\nSeconds from the step until `desired` first reaches the count it settles at: median **{m:.2} s**, p95 {p:.2} s over {} steps ({note}).\n",
        steps.len()
    );

    let _ = writeln!(
        out,
        "## Overhead (`--dry-run`, 1 s interval, 20 s windows)\n\n| case | tasks/s published | CPU % of one core | RSS MiB |\n|---|---|---|---|"
    );
    let mut costs = Vec::new();
    for n in [1, 50, 200] {
        costs.extend(overhead::pools_cost(&nats, &client, n, 10.0).await);
    }
    costs.push(overhead::flood_cost(&nats, &client, 10_000.0).await);
    for c in &costs {
        let _ = writeln!(
            out,
            "| {} | {:.0} | {:.1} | {:.1} |",
            c.case, c.published, c.cpu, c.rss
        );
    }
    let _ = writeln!(out, "\nWhole run: {:.0} s.", began.elapsed().as_secs_f64());
    println!("{out}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/results/live.md");
    std::fs::write(&path, &out).expect("write bench/results/live.md");
    println!("written to {}", path.display());
}

/// The first line a version command prints.
fn version(cmd: &[&str]) -> String {
    std::process::Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_else(|| "?".into())
}
