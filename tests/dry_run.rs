//! `jetpool run --dry-run`: decides and logs every decision as one
//! structured line with its inputs and reason, and touches no container.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_decides_and_logs_without_containers() {
    let nats = Nats::start();
    let pool = unique("it-dry");
    let _guard = PoolGuard(pool.clone());
    setup_stream(&nats, "DRY", "work", Duration::from_secs(30)).await;
    publish(&nats, "DRY", 200, 500).await;
    let dir = policy_dir(&policy_toml(&pool, "DRY", "work", 0, 6, ""));
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(bin())
        .args(["run", "--dry-run", "--log-format", "json", "--policies"])
        .arg(dir.path())
        .args(["--nats", &nats.url, "--listen", &listen])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start jetpool --dry-run");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel::<serde_json::Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                && v["message"] == "decision"
            {
                let _ = tx.send(v);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(15))
        .expect("a decision log line");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(line["pool"], pool.as_str());
    assert_eq!(line["dry_run"], true);
    assert_eq!(line["pending"], 200, "inputs are in the line: {line}");
    assert_eq!(line["desired"], 6, "{line}");
    assert!(
        line["reason"]
            .as_str()
            .is_some_and(|r| r.contains("backlog 200")),
        "{line}"
    );
    assert!(
        all_containers(&pool).is_empty(),
        "a dry run starts no container"
    );
}

/// The queue's real wait, read from the stream: the oldest pending task's
/// age in `jetpool_consumer_oldest_pending_age_seconds` matches a known
/// age within 1 s. An older message on a subject outside the consumer's
/// filter is not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oldest_pending_age_is_the_real_wait() {
    use async_nats::jetstream;
    let nats = Nats::start();
    let pool = unique("it-age");
    let js = jetstream::new(nats.client().await);
    let stream = js
        .get_or_create_stream(jetstream::stream::Config {
            name: "AGE".into(),
            subjects: vec!["AGE.tasks".into(), "AGE.other".into()],
            ..Default::default()
        })
        .await
        .expect("create stream");
    stream
        .get_or_create_consumer(
            "work",
            jetstream::consumer::pull::Config {
                durable_name: Some("work".into()),
                filter_subject: "AGE.tasks".into(),
                ..Default::default()
            },
        )
        .await
        .expect("create consumer");
    js.publish("AGE.other", "not a task".into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    // Not a synchronisation: the unfiltered message must be measurably
    // older than the tasks, so a reader that ignored the filter would fail.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t0 = std::time::Instant::now();
    for _ in 0..3 {
        js.publish("AGE.tasks", "{\"work_ms\":10}".into())
            .await
            .expect("publish")
            .await
            .expect("ack");
    }
    let dir = policy_dir(&policy_toml(&pool, "AGE", "work", 0, 2, ""));
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(bin())
        .args(["run", "--dry-run", "--policies"])
        .arg(dir.path())
        .args(["--nats", &nats.url, "--listen", &listen])
        .stderr(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start jetpool --dry-run");
    // Read once the tasks are 5 s old; the gauge is at most one tick
    // (500 ms) behind.
    let (age, elapsed) = eventually(Duration::from_secs(20), "the age gauge", || async {
        if t0.elapsed() < Duration::from_secs(5) {
            return None;
        }
        let (_, body) = http_get(&listen, "/metrics").await?;
        let age = metric_value(&body, "jetpool_consumer_oldest_pending_age_seconds", &pool)?;
        Some((age, t0.elapsed().as_secs_f64()))
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    println!("oldest pending task: {age:.2} s old by the gauge, {elapsed:.2} s by the test");
    assert!(
        (age - elapsed).abs() <= 1.0,
        "oldest pending age {age:.2} s, known age {elapsed:.2} s"
    );
}
