//! Policy files reload under a running `jetpool run` (the real binary, in
//! a dry run: no container is needed to see the loop take a new spec):
//! an edit takes effect within 2 s without restarting the pool's loop (its
//! measured service time survives, and "pool started" is logged once), an
//! invalid edit is refused with file:line:column and changes nothing, and
//! SIGHUP reloads too.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;

use common::*;

/// What an edit must take effect within.
const PROMPT: Duration = Duration::from_secs(2);

fn policy(pool: &str, extra: &str) -> String {
    format!(
        r#"[[pool]]
name = "{pool}"
stream = "RELOAD"
consumer = "work"
max = 2
interval = "200ms"
{extra}
[pool.container]
image = "unused-in-a-dry-run"
[pool.scaling]
service_time = "7s"
"#
    )
}

/// The pool's entry in `/status`.
async fn pool_status(listen: &str) -> Option<serde_json::Value> {
    let (_, body) = http_get(listen, "/status").await?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["pools"].get(0).cloned()
}

/// The measured service time, once there is one.
async fn measured_service_time(listen: &str) -> Option<f64> {
    let p = pool_status(listen).await?;
    let e = &p["decision"]["estimates"];
    (e["service_time_measured"] == true)
        .then(|| e["service_time_s"].as_f64())
        .flatten()
}

/// The measured service time once the last completions are folded in:
/// two decisions in a row agree on it.
async fn settled_service_time(listen: &str) -> f64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut last: Option<(serde_json::Value, f64)> = None;
    loop {
        if let Some(p) = pool_status(listen).await
            && let Some(s) = measured_service_time(listen).await
        {
            let at = p["updated_at"].clone();
            if let Some((t, prev)) = &last
                && *t != at
                && (s - prev).abs() <= 1e-9 * prev
            {
                return s;
            }
            last = Some((at, s));
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no settled, measured service time: last {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Works `count` tasks off the consumer, one at a time, `work` each.
async fn work_off(nats: &Nats, count: usize, work: Duration) {
    let js = jetstream::new(nats.client().await);
    let stream = js.get_stream("RELOAD").await.expect("stream");
    let consumer: jetstream::consumer::Consumer<pull::Config> =
        stream.get_consumer("work").await.expect("consumer");
    let mut done = 0;
    while done < count {
        let mut batch = consumer
            .fetch()
            .max_messages(4)
            .messages()
            .await
            .expect("fetch");
        while let Some(Ok(m)) = batch.next().await {
            tokio::time::sleep(work).await;
            // Acknowledged by the server before the connection is dropped.
            m.double_ack().await.expect("ack");
            done += 1;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_apply_in_place_invalid_ones_are_refused_and_sighup_reloads() {
    let began = std::time::Instant::now();
    let nats = Nats::start();
    setup_stream(&nats, "RELOAD", "work", Duration::from_secs(30)).await;
    let pool = unique("it-reload");
    let dir = policy_dir(&policy(&pool, ""));
    let file = dir.path().join("pool.toml");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(bin())
        .args(["run", "--dry-run", "--log-format", "json", "--policies"])
        .arg(dir.path())
        .args(["--nats", &nats.url, "--listen", &listen])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start jetpool");
    let logs = Logs::follow(&mut child);

    // Completions first, so the service time is measured (the hint says 7 s).
    publish(&nats, "RELOAD", 40, 0).await;
    work_off(&nats, 40, Duration::from_millis(25)).await;
    let before = settled_service_time(&listen).await;
    assert!(
        (before - 7.0).abs() > 0.5,
        "measured, not the hint: {before}"
    );
    let same = |s: f64| (s - before).abs() <= 1e-6 * before;

    // Raise max: within 2 s, without a new loop.
    std::fs::write(&file, policy(&pool, "").replace("max = 2", "max = 5")).expect("edit");
    let edited = std::time::Instant::now();
    eventually(PROMPT, "max raised to 5", || async {
        (pool_status(&listen).await?["max"] == 5).then_some(())
    })
    .await;
    let after = eventually(
        Duration::from_secs(2),
        "a decision under the new spec",
        || async {
            let p = pool_status(&listen).await?;
            (p["decision"]["max"] == 5)
                .then(|| p["decision"]["estimates"]["service_time_s"].as_f64())?
        },
    )
    .await;
    assert!(edited.elapsed() <= PROMPT, "{:?}", edited.elapsed());
    assert!(
        same(after),
        "the estimate survives the edit: {before} then {after}"
    );

    // Pause it.
    std::fs::write(
        &file,
        policy(&pool, "paused = true").replace("max = 2", "max = 5"),
    )
    .expect("edit");
    eventually(PROMPT, "the pool paused", || async {
        (pool_status(&listen).await?["decision"]["limit"] == "paused").then_some(())
    })
    .await;

    // An invalid edit: refused with file:line:column, nothing changes.
    let refused = logs.refusals().len();
    std::fs::write(
        &file,
        policy(&pool, "min = 9").replace("max = 2", "max = 5"),
    )
    .expect("edit");
    let problems = eventually(PROMPT, "the invalid edit refused", || async {
        let r = logs.refusals();
        (r.len() > refused).then_some(r)
    })
    .await;
    let at = format!(
        "{}:7:1: pool[0].min: min (9) must not exceed max (5)",
        file.display()
    );
    assert!(
        problems.iter().any(|p| p.contains(&at)),
        "{at} in {problems:?}"
    );
    let p = pool_status(&listen).await.expect("status");
    assert_eq!(p["max"], 5, "unchanged: {p}");
    assert_eq!(p["decision"]["limit"], "paused", "unchanged: {p}");

    // SIGHUP reloads from disk: the still-invalid file is refused again...
    let refused = logs.count(
        "policy reload refused; the running policies stay",
        Some("SIGHUP"),
    );
    send_signal(&child, "HUP");
    eventually(PROMPT, "SIGHUP reloads", || async {
        (logs.count(
            "policy reload refused; the running policies stay",
            Some("SIGHUP"),
        ) > refused)
            .then_some(())
    })
    .await;
    // ... and a fixed file, with SIGHUP at once, applies.
    std::fs::write(&file, policy(&pool, "").replace("max = 2", "max = 3")).expect("edit");
    send_signal(&child, "HUP");
    eventually(PROMPT, "the fixed file applied", || async {
        let p = pool_status(&listen).await?;
        (p["max"] == 3 && p["decision"]["limit"] != "paused").then_some(())
    })
    .await;
    eventually(PROMPT, "a reload logged for SIGHUP", || async {
        let n = logs.count("policy files reloaded", Some("SIGHUP"))
            + logs.count("policy files reloaded; nothing changed", Some("SIGHUP"));
        (n >= 1).then_some(())
    })
    .await;

    // One loop all along: started once, updated three times in place.
    let still = measured_service_time(&listen)
        .await
        .expect("still measured");
    assert!(
        same(still),
        "the estimate survives every reload: {before} then {still}"
    );
    assert_eq!(
        logs.count("pool started", None),
        1,
        "the pool loop never restarted"
    );
    let (_, metrics) = http_get(&listen, "/metrics").await.expect("metrics");
    let updates = metric_value(&metrics, "jetpool_pool_updates_total", &pool);
    assert_eq!(updates, Some(3.0), "three in-place updates");
    assert!(
        counter_sum(
            &metrics,
            "jetpool_policy_reloads_total",
            &["outcome=\"refused\""]
        ) >= 2.0,
        "refusals counted"
    );

    terminate(child);
    eprintln!("policy_reload took {:?}", began.elapsed());
}
