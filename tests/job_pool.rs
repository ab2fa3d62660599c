//! A job pool (`mode = "job"`): 50 tasks run one per container, at most
//! `max` containers at once; each container works exactly one task (its
//! log and its agent's own reports say so), a failing task is NAKed and
//! retried in a new container, every outcome is counted in
//! `jetpool_jobs_total`, and nothing is left afterwards.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use common::*;
use futures::StreamExt;

/// At most this many jobs at once.
const MAX: usize = 5;

fn policy(pool: &str, stream: &str) -> String {
    format!(
        r#"
[[pool]]
name = "{pool}"
stream = "{stream}"
consumer = "work"
mode = "job"
max = {MAX}
interval = "500ms"
job_timeout = "2m"

[pool.container]
image = "{image}"
command = ["agent", "--stream", "{stream}", "--consumer", "work", "--once"]
env = {{ JETPOOL_STATS_INTERVAL = "1s" }}
network = "host"
stop_timeout = "5s"
"#,
        image = image()
    )
}

/// The logs of every container of a pool, followed from its start
/// (`docker logs -f` on each `start` event): jetpool removes a finished
/// job's container at its next tick, so its log is read while it runs.
struct Logs {
    events: Child,
    /// Container id to its log so far.
    by_container: Arc<Mutex<BTreeMap<String, String>>>,
    followers: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>>,
}

impl Logs {
    fn follow(pool: &str) -> Logs {
        let mut events = Command::new("docker")
            .args([
                "events",
                "--format",
                "{{.ID}}",
                "--filter",
                "type=container",
            ])
            .args(["--filter", "event=start", "--filter"])
            .arg(format!("label=jetpool.pool={pool}"))
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker events");
        let by_container: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
        let followers: Arc<Mutex<Vec<std::thread::JoinHandle<()>>>> = Arc::default();
        let out = events.stdout.take().expect("events stdout");
        let (map, fs) = (by_container.clone(), followers.clone());
        std::thread::spawn(move || {
            for id in BufReader::new(out).lines().map_while(Result::ok) {
                map.lock().expect("logs").insert(id.clone(), String::new());
                let map = map.clone();
                let f = std::thread::spawn(move || {
                    let Ok(out) = Command::new("sh")
                        .arg("-c")
                        .arg(format!("docker logs -f {id} 2>&1"))
                        .output()
                    else {
                        return;
                    };
                    let text = String::from_utf8_lossy(&out.stdout).into_owned();
                    map.lock().expect("logs").insert(id, text);
                });
                fs.lock().expect("followers").push(f);
            }
        });
        Logs {
            events,
            by_container,
            followers,
        }
    }

    /// Every container's log, once all have ended.
    fn finish(mut self) -> BTreeMap<String, String> {
        let _ = self.events.kill();
        let _ = self.events.wait();
        let followers = std::mem::take(&mut *self.followers.lock().expect("followers"));
        for f in followers {
            let _ = f.join();
        }
        self.by_container.lock().expect("logs").clone()
    }
}

/// The tasks a job's log says it worked: (stream sequence, succeeded).
fn jobs_in(log: &str) -> Vec<(u64, bool)> {
    // Without the colour codes the text format puts around field names.
    let mut plain = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    let field = |line: &str, name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .map(str::to_string)
    };
    plain
        .lines()
        .filter(|l| l.contains("job: worked its one task"))
        .filter_map(|l| {
            let seq = field(l, "stream_seq")?.parse().ok()?;
            Some((seq, field(l, "ok")? == "true"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_tasks_one_container_each_at_most_max_at_once() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-jobs");
    let _guard = PoolGuard(pool.clone());
    let stream = "JOBS";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let acks = AckCounts::watch(&nats, stream, "work").await;

    // Each agent's last report: (completed, failed).
    let reports: Arc<Mutex<BTreeMap<String, (u64, u64)>>> = Arc::default();
    let client = nats.client().await;
    let mut sub = client
        .subscribe(format!("jetpool.agent.{pool}.*.stats"))
        .await
        .expect("subscribe to stats");
    client.flush().await.expect("flush");
    let sink = reports.clone();
    tokio::spawn(async move {
        let _client = client;
        while let Some(m) = sub.next().await {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&m.payload) else {
                continue;
            };
            if let (Some(id), Some(c), Some(f)) = (
                v["id"].as_str(),
                v["completed"].as_u64(),
                v["failed"].as_u64(),
            ) {
                let mut r = sink.lock().expect("reports");
                let e = r.entry(id.to_string()).or_default();
                *e = (e.0.max(c), e.1.max(f));
            }
        }
    });
    // The most containers running at once (exited ones wait a tick for
    // their removal and hold nothing).
    let peak = Arc::new(Mutex::new(0usize));
    let watcher = {
        let (pool, peak) = (pool.clone(), peak.clone());
        std::thread::spawn(move || {
            for _ in 0..1200 {
                let n = running(&pool).len();
                let mut p = peak.lock().expect("peak");
                *p = (*p).max(n);
                drop(p);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };

    // 50 tasks; two fail on their first delivery.
    let js = jetstream::new(nats.client().await);
    for i in 0..50u64 {
        let fail = if i == 7 || i == 21 {
            r#","fail_deliveries":1"#
        } else {
            ""
        };
        let payload = format!(r#"{{"id":{i},"work_ms":300{fail}}}"#);
        js.publish(format!("{stream}.tasks"), payload.into())
            .await
            .expect("publish")
            .await
            .expect("publish ack");
    }
    let logs = Logs::follow(&pool);
    let dir = policy_dir(&policy(&pool, stream));
    let listen = format!("127.0.0.1:{}", free_port());
    let started = std::time::Instant::now();
    let _jetpool = JetpoolProcess::start(dir.path(), &nats.url, &listen, &[]);

    eventually(Duration::from_secs(120), "every task acked", || async {
        let i = consumer_info(&nats, stream, "work").await;
        (i.ack_floor.stream_sequence == 50 && i.num_ack_pending == 0 && i.num_pending == 0)
            .then_some(())
    })
    .await;
    let took = started.elapsed().as_secs_f64();
    eventually(Duration::from_secs(30), "no container left", || async {
        all_containers(&pool).is_empty().then_some(())
    })
    .await;
    acks.assert_each_once(50);

    let metrics = eventually(Duration::from_secs(10), "every job counted", || async {
        let (_, body) = http_get(&listen, "/metrics").await?;
        let ok = counter_sum(&body, "jetpool_jobs_total", &["outcome=\"succeeded\""]);
        let failed = counter_sum(&body, "jetpool_jobs_total", &["outcome=\"failed\""]);
        (ok + failed >= 52.0).then_some((ok, failed))
    })
    .await;
    assert_eq!(
        metrics,
        (50.0, 2.0),
        "50 succeeded, 2 failed (the first tries)"
    );

    // Each container's log: at most one task (a container that found
    // none within --once-wait shows none), 52 in all, each task done.
    let logs = logs.finish();
    let per: BTreeMap<&String, Vec<(u64, bool)>> =
        logs.iter().map(|(id, l)| (id, jobs_in(l))).collect();
    let many: Vec<_> = per.iter().filter(|(_, j)| j.len() > 1).collect();
    assert!(
        many.is_empty(),
        "a container's log shows more tasks: {many:?}"
    );
    let worked: Vec<(u64, bool)> = per.values().flatten().copied().collect();
    assert_eq!(
        worked.len(),
        52,
        "by the containers' logs, 52 jobs ({} containers): {per:?}",
        logs.len()
    );
    let succeeded: std::collections::BTreeSet<u64> =
        worked.iter().filter(|j| j.1).map(|j| j.0).collect();
    assert_eq!(
        succeeded,
        (1..=50).collect::<std::collections::BTreeSet<u64>>(),
        "each task done, by the logs"
    );
    assert_eq!(worked.iter().filter(|j| !j.1).count(), 2, "2 failed tries");

    let reports = reports.lock().expect("reports").clone();
    let many: Vec<_> = reports.iter().filter(|(_, (c, f))| c + f > 1).collect();
    assert!(
        many.is_empty(),
        "a container worked more than one task: {many:?}"
    );
    let done: u64 = reports.values().map(|(c, _)| c).sum();
    let failed: u64 = reports.values().map(|(_, f)| f).sum();
    assert_eq!(
        (done, failed),
        (50, 2),
        "by the agents' own reports: {reports:?}"
    );
    let peak = *peak.lock().expect("peak");
    assert!(peak <= MAX, "at most {MAX} containers at once, saw {peak}");
    println!(
        "50 tasks (2 failing once) in {took:.1} s: {} containers, at most {peak} at once",
        reports.len()
    );
    drop(watcher);
}
