//! The `prometheus` trigger against a real Prometheus (Debian's binary)
//! scraping a tiny exporter this test serves on loopback: a pool with an
//! empty queue scales to `ceil(value / target)` agents (real containers),
//! follows the value down, and holds when Prometheus goes away, counting
//! the failed reads.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::prometheus::Prometheus;
use common::*;

/// Serves `demo_sessions <value>` at any path on a free loopback port;
/// returns its address and the value's handle.
fn exporter(initial: u64) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the exporter");
    let addr = listener.local_addr().expect("exporter address").to_string();
    let value = Arc::new(AtomicU64::new(initial));
    let v = value.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            // One request per connection: read its head, answer, close.
            let mut buf = [0u8; 4096];
            let mut head = Vec::new();
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let body = format!(
                "# TYPE demo_sessions gauge\ndemo_sessions {}\n",
                v.load(Ordering::SeqCst)
            );
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (addr, value)
}

/// The value of `metric{pool=..., trigger=...}` in a metrics body.
fn trigger_metric(body: &str, metric: &str, pool: &str, trigger: &str) -> Option<f64> {
    let (p, t) = (format!("pool=\"{pool}\""), format!("trigger=\"{trigger}\""));
    body.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(&p) && l.contains(&t))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_scales_on_a_prometheus_query() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-prom");
    let _guard = PoolGuard(pool.clone());
    let stream = "PROMTRIG";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let (target, sessions) = exporter(37);
    let prom = Prometheus::start(&target);
    let toml = format!(
        "{}\n[[pool.trigger]]\ntype = \"prometheus\"\nurl = \"http://{}\"\nquery = \"sum(demo_sessions)\"\ntarget = 10\nactivation = 0\ntimeout = \"2s\"\n",
        TestPool::new(&pool, stream)
            .bounds(0, 6)
            .scaling("scale_down_delay = \"1s\"")
            .toml(),
        prom.addr
    );
    let svc = Service::start(&nats, &toml);

    // 37 sessions, 10 per agent: 4 agents, with nothing in the queue.
    eventually(
        Duration::from_secs(40),
        "4 agents running for 37 sessions",
        || async { (running(&pool).len() == 4).then_some(()) },
    )
    .await;
    let status = svc.status().await;
    let d = &status["pools"][0]["decision"];
    assert_eq!(d["desired"], 4, "{d}");
    let prom_outcome = d["triggers"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["name"] == "prometheus"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(prom_outcome["recommended"], 4, "{d}");
    assert_eq!(prom_outcome["active"], true, "{d}");
    assert!(
        d["reason"]
            .as_str()
            .is_some_and(|r| r.contains("triggers: prometheus 37 / target 10")),
        "the reason names the trigger: {d}"
    );
    let body = svc.metrics().await;
    assert_eq!(
        trigger_metric(
            &body,
            "jetpool_trigger_recommended_replicas",
            &pool,
            "prometheus"
        ),
        Some(4.0)
    );
    assert_eq!(
        trigger_metric(
            &body,
            "jetpool_trigger_recommended_replicas",
            &pool,
            "backlog"
        ),
        Some(0.0),
        "the backlog alone asks for nothing"
    );
    assert_eq!(
        trigger_metric(&body, "jetpool_trigger_errors_total", &pool, "prometheus"),
        Some(0.0)
    );

    // 12 sessions: 2 agents.
    sessions.store(12, Ordering::SeqCst);
    eventually(
        Duration::from_secs(40),
        "the pool down to 2 agents for 12 sessions",
        || async { (running(&pool).len() == 2).then_some(()) },
    )
    .await;

    // Prometheus gone: the trigger fails, is counted, and the pool holds
    // its 2 agents although the backlog model asks for none.
    drop(prom);
    let errors = eventually(
        Duration::from_secs(30),
        "3 failed prometheus reads counted",
        || async {
            let body = svc.metrics().await;
            trigger_metric(&body, "jetpool_trigger_errors_total", &pool, "prometheus")
                .filter(|&n| n >= 3.0)
        },
    )
    .await;
    let status = svc.status().await;
    let d = &status["pools"][0]["decision"];
    assert_eq!(d["desired"], 2, "held while blind ({errors} errors): {d}");
    assert_eq!(d["limit"], "stale", "{d}");
    assert_eq!(running(&pool).len(), 2);
    svc.stop().await;
}
