//! Load: 200 pools under 50,000 agent reports a second. Every pool's tick
//! stays on time (p99 lateness under 100 ms, read from jetpool's own
//! `jetpool_tick_lateness_seconds`), every report is taken in (none
//! dropped as a slow consumer: each forged one is counted), decisions are
//! unaffected and the resident set stays bounded.
//!
//! The pools run `--dry-run` (virtual containers, one each), so what is
//! loaded is jetpool's report path and its loops, not Docker. The jetpool
//! under test is the release build `make image` leaves behind when it
//! exists: the figure is about the product, not a debug build.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use bytes::Bytes;
use common::*;

/// Pools.
const POOLS: usize = 200;
/// Reports a second, all pools together.
const RATE: u64 = 50_000;
/// How long the load lasts.
const LOAD: Duration = Duration::from_secs(20);
/// Publishing slice: the publisher sends `RATE × SLICE` reports per slice.
const SLICE: Duration = Duration::from_millis(10);

/// The release jetpool when `make static` built one, else this build's.
fn jetpool_bin() -> PathBuf {
    let release = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/jetpool");
    if release.exists() { release } else { bin() }
}

/// The cumulative counts of `jetpool_tick_lateness_seconds`: (count at or
/// under 100 ms, total), and the whole bucket list for an estimate of p99.
fn lateness(body: &str) -> Vec<(f64, f64)> {
    body.lines()
        .filter_map(|l| l.strip_prefix("jetpool_tick_lateness_seconds_bucket{le=\""))
        .filter_map(|l| {
            let (le, rest) = l.split_once("\"}")?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, rest.trim().parse().ok()?))
        })
        .collect()
}

/// The policy: `POOLS` dry-run pools, one agent each, on consumers of one
/// stream.
fn policy(prefix: &str) -> String {
    let mut out = String::new();
    for i in 0..POOLS {
        let _ = write!(
            out,
            r#"
[[pool]]
name = "{prefix}-{i}"
stream = "LOAD"
consumer = "c{i}"
min = 1
max = 4
interval = "1s"

[pool.container]
image = "{image}"
command = ["agent"]
"#,
            image = image()
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_pools_under_fifty_thousand_reports_a_second() {
    let nats = Nats::start();
    let js = jetstream::new(nats.client().await);
    js.create_stream(stream::Config {
        name: "LOAD".into(),
        subjects: vec!["load.>".into()],
        ..Default::default()
    })
    .await
    .expect("create stream");
    for i in 0..POOLS {
        js.create_consumer_on_stream(
            consumer::pull::Config {
                durable_name: Some(format!("c{i}")),
                filter_subject: format!("load.{i}"),
                ..Default::default()
            },
            "LOAD",
        )
        .await
        .expect("create consumer");
    }
    let prefix = unique("ld");
    let dir = policy_dir(&policy(&prefix));
    let listen = format!("127.0.0.1:{}", free_port());
    let child = Command::new(jetpool_bin())
        .args(["run", "--dry-run", "--policies"])
        .arg(dir.path())
        .args(["--nats", &nats.url, "--listen", &listen])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start jetpool");
    let jetpool = JetpoolProcess(child);
    let pid = jetpool.0.id();

    // Each pool's one agent, by name, from /status.
    let agents: Vec<(String, String)> = eventually(
        Duration::from_secs(60),
        "one agent in every pool",
        || async {
            let (_, body) = http_get(&listen, "/status").await?;
            let st: serde_json::Value = serde_json::from_str(&body).ok()?;
            let pools = st["pools"].as_array()?;
            let found: Vec<(String, String)> = pools
                .iter()
                .filter_map(|p| {
                    let agent = p["agents"].as_array()?.first()?["name"].as_str()?;
                    Some((p["pool"].as_str()?.to_string(), agent.to_string()))
                })
                .collect();
            (found.len() == POOLS).then_some(found)
        },
    )
    .await;

    // Half the reports are each pool's own agent (kept), half forged ids
    // (counted as unknown and dropped): both walk the whole report path.
    let mut bodies: Vec<(String, Bytes)> = Vec::new();
    for (pool, agent) in &agents {
        let own = format!(
            r#"{{"v":1,"id":"{agent}","pool":"{pool}","state":"idle","in_flight":0,"capacity":1,"completed":0,"failed":0}}"#
        );
        bodies.push((
            format!("jetpool.agent.{pool}.{agent}.stats"),
            Bytes::from(own),
        ));
        let forged = format!("forged-{pool}");
        let body = format!(
            r#"{{"v":1,"id":"{forged}","pool":"{pool}","state":"busy","in_flight":1,"capacity":1,"completed":0,"failed":0}}"#
        );
        bodies.push((
            format!("jetpool.agent.{pool}.{forged}.stats"),
            Bytes::from(body),
        ));
    }
    let metric = "jetpool_agent_reports_rejected_total";
    let unknown = "reason=\"unknown_agent\"";
    let before_body = http_get(&listen, "/metrics").await.expect("metrics").1;
    let late_before = lateness(&before_body);
    let rejected_before = counter_sum(&before_body, metric, &[unknown]);
    let (cpu0, rss0) = usage(pid);

    let client = nats.client().await;
    let per_slice = (RATE as f64 * SLICE.as_secs_f64()) as usize;
    let started = Instant::now();
    let mut ticker = tokio::time::interval(SLICE);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0usize;
    while started.elapsed() < LOAD {
        ticker.tick().await;
        for _ in 0..per_slice {
            let (subject, body) = &bodies[sent % bodies.len()];
            client
                .publish(subject.clone(), body.clone())
                .await
                .expect("publish");
            sent += 1;
        }
    }
    client.flush().await.expect("flush");
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu1, rss1) = usage(pid);
    let rate = sent as f64 / elapsed;
    assert!(
        rate >= 0.9 * RATE as f64,
        "the publisher reached {rate:.0}/s, below the {RATE}/s the test is about"
    );
    let forged = (sent / 2) as f64;
    let body = eventually(
        Duration::from_secs(30),
        "every forged report counted",
        || async {
            let body = http_get(&listen, "/metrics").await?.1;
            (counter_sum(&body, metric, &[unknown]) - rejected_before >= forged).then_some(body)
        },
    )
    .await;

    let late_after = lateness(&body);
    let during: Vec<(f64, f64)> = late_after
        .iter()
        .map(|&(le, n)| {
            let n0 = late_before.iter().find(|b| b.0 == le).map_or(0.0, |b| b.1);
            (le, n - n0)
        })
        .collect();
    let total = during.last().map_or(0.0, |b| b.1);
    let on_time = during.iter().find(|b| b.0 == 0.1).map_or(0.0, |b| b.1);
    let p99 = during
        .iter()
        .find(|b| b.1 >= 0.99 * total)
        .map_or(f64::INFINITY, |b| b.0);
    let cpu = (cpu1 - cpu0) / elapsed * 100.0;
    println!(
        "200 pools, {rate:.0} reports/s for {elapsed:.1} s: {total} ticks, {on_time} within 100 ms \
         (p99 lateness at most {p99} s); jetpool CPU {cpu:.0}% of one core, RSS {rss0:.1} -> {rss1:.1} MiB"
    );
    assert!(
        total >= (POOLS as f64) * LOAD.as_secs_f64() * 0.8,
        "every pool kept ticking: {total} ticks"
    );
    assert!(
        on_time >= 0.99 * total,
        "p99 tick lateness under 100 ms: {on_time} of {total} on time ({during:?})"
    );
    assert!(
        rss1 < rss0 + 32.0 && rss1 < 128.0,
        "RSS bounded: {rss0:.1} -> {rss1:.1} MiB"
    );

    // Decisions unaffected: every pool still wants its one agent.
    let (_, st) = http_get(&listen, "/status").await.expect("status");
    let st: serde_json::Value = serde_json::from_str(&st).expect("status JSON");
    let wrong: Vec<String> = st["pools"]
        .as_array()
        .expect("pools")
        .iter()
        .filter(|p| p["decision"]["desired"].as_u64() != Some(1))
        .map(|p| format!("{} {}", p["pool"], p["decision"]["desired"]))
        .collect();
    assert!(wrong.is_empty(), "desired unchanged: {wrong:?}");
}
