//! Runtime controls end to end (real NATS, real Docker, the real CLI):
//! `jetpool pause` under load stops all scaling within one tick; after a
//! restart of jetpool the pool is still paused from its first decision;
//! `jetpool resume` restores scaling; `jetpool pin` fixes the count.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// The pool's entry in `/status`.
async fn pool_status(svc: &Service, pool: &str) -> Value {
    let s = svc.status().await;
    s["pools"]
        .as_array()
        .and_then(|a| a.iter().find(|p| p["pool"] == pool))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Runs `jetpool <args>` and returns its output, failing when it fails.
async fn ctl(args: &[&str]) -> String {
    let out = tokio::process::Command::new(bin())
        .args(args)
        .output()
        .await
        .expect("run jetpool");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "jetpool {args:?}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Scale-up events counted so far for `pool`.
async fn scale_ups(svc: &Service, pool: &str) -> f64 {
    counter_sum(
        &svc.metrics().await,
        "jetpool_scale_events_total",
        &[&format!("pool=\"{pool}\""), "direction=\"up\""],
    )
}

const INTERVAL: Duration = Duration::from_millis(250);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_scaling_within_a_tick_survives_a_restart_and_resume_restores_it() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-pause");
    let _guard = PoolGuard(pool.clone());
    setup_stream(&nats, "OVR", "work", Duration::from_secs(60)).await;
    // Far more long tasks than the pool may take on: unchecked it would go
    // to max 6, but it may add only one agent every 3 s, so there is a
    // ramp to interrupt.
    publish(&nats, "OVR", 40, 600_000).await;
    let toml = TestPool::new(&pool, "OVR")
        .bounds(0, 6)
        .interval("250ms")
        .scaling("service_time = \"10m\"\nscale_up_limits = [{ pods = 1, period = \"3s\" }]")
        .toml();
    let mut svc = Service::start(&nats, &toml);
    let nats_url = nats.url.clone();

    eventually(Duration::from_secs(60), "the ramp to reach 2", || async {
        let p = pool_status(&svc, &pool).await;
        (p["decision"]["desired"].as_u64()? >= 2).then_some(())
    })
    .await;

    // Pause: the next decision holds, and it comes at once.
    let out = ctl(&[
        "pause",
        &pool,
        "--nats",
        &nats_url,
        "--reason",
        "under load",
    ])
    .await;
    assert!(out.contains("paused pool"), "{out}");
    let held = eventually(Duration::from_secs(5), "the pause to apply", || async {
        let p = pool_status(&svc, &pool).await;
        (p["decision"]["limit"] == "paused").then_some(p)
    })
    .await;
    let n = held["decision"]["desired"].as_u64().expect("desired");
    assert_eq!(held["overrides"]["paused"]["reason"], "under load");
    // Judged by the pool's own clock, not by how fast this test polls: the
    // first paused decision came within one tick of the pause being
    // written, and every decision before it came earlier.
    let (_, body) = http_get(&svc.listen, &format!("/status/{pool}"))
        .await
        .expect("/status/{pool}");
    let board: Value = serde_json::from_str(&body).expect("JSON");
    let records = board["decisions"].as_array().expect("decisions");
    let first = records
        .iter()
        .position(|r| r["decision"]["limit"] == "paused")
        .expect("a paused decision");
    let at = |v: &Value| {
        v.as_str()
            .expect("a time")
            .parse::<jiff::Timestamp>()
            .expect("RFC 3339")
    };
    let written = at(&held["overrides"]["paused"]["at"]);
    let applied = at(&records[first]["at"]);
    let lag = applied.duration_since(written).as_secs_f64();
    assert!(
        lag <= (INTERVAL + Duration::from_millis(100)).as_secs_f64(),
        "paused {lag:.3}s after the pause was written (one tick is {INTERVAL:?})"
    );
    if first > 0 {
        assert!(at(&records[first - 1]["until"]) < applied);
    }
    eprintln!("pause applied {lag:.3}s after it was written");
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains(&format!(
            "jetpool_pool_override{{pool=\"{pool}\",kind=\"paused\"}} 1"
        )),
        "override gauge"
    );
    // Then nothing scales for longer than a rate-limit period, though the
    // backlog still asks for more: every decision holds n, no scale event.
    let ups = scale_ups(&svc, &pool).await;
    let hold_until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < hold_until {
        let p = pool_status(&svc, &pool).await;
        assert_eq!(
            (
                p["decision"]["desired"].as_u64(),
                p["decision"]["limit"].as_str()
            ),
            (Some(n), Some("paused")),
            "held while paused: {}",
            p["decision"]["reason"]
        );
        tokio::time::sleep(INTERVAL).await;
    }
    assert_eq!(
        scale_ups(&svc, &pool).await,
        ups,
        "no scale-up while paused"
    );
    eventually(Duration::from_secs(30), "n agents running", || async {
        (running(&pool).len() as u64 == n).then_some(())
    })
    .await;

    // Restart jetpool: the pool is paused from its first decision.
    svc.stop().await;
    svc = Service::start(&nats, &toml);
    let first = eventually(
        Duration::from_secs(20),
        "the first decision after the restart",
        || async {
            let (_, body) = http_get(&svc.listen, &format!("/status/{pool}")).await?;
            let v: Value = serde_json::from_str(&body).ok()?;
            v["decisions"].as_array()?.first().cloned()
        },
    )
    .await;
    assert_eq!(
        (
            first["decision"]["limit"].as_str(),
            first["decision"]["desired"].as_u64()
        ),
        (Some("paused"), Some(n)),
        "first decision after the restart: {}",
        first["decision"]["reason"]
    );
    let ups = scale_ups(&svc, &pool).await;
    let hold_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < hold_until {
        let p = pool_status(&svc, &pool).await;
        assert_eq!(p["decision"]["desired"].as_u64(), Some(n), "still held");
        tokio::time::sleep(INTERVAL).await;
    }
    assert_eq!(
        scale_ups(&svc, &pool).await,
        ups,
        "no scale-up while paused"
    );

    // Resume: the ramp goes on.
    let out = ctl(&["resume", &pool, "--nats", &nats_url]).await;
    assert!(out.contains("resumed pool"), "{out}");
    eventually(Duration::from_secs(10), "scaling to resume", || async {
        let p = pool_status(&svc, &pool).await;
        let d = &p["decision"];
        (d["desired"].as_u64()? > n && d["limit"] != "paused" && p["overrides"]["paused"].is_null())
            .then_some(())
    })
    .await;

    // Pin: the count is fixed at once, and unpin lets go.
    ctl(&["pin", &pool, "1", "--nats", &nats_url]).await;
    eventually(Duration::from_secs(2), "the pin", || async {
        let d = pool_status(&svc, &pool).await["decision"].clone();
        (d["desired"] == 1 && d["limit"] == "pinned").then_some(())
    })
    .await;
    ctl(&["unpin", &pool, "--nats", &nats_url]).await;
    eventually(Duration::from_secs(2), "the unpin", || async {
        let p = pool_status(&svc, &pool).await;
        (p["decision"]["limit"] != "pinned" && p["overrides"]["pinned"].is_null()).then_some(())
    })
    .await;
    svc.stop().await;
}
