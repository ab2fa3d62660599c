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
