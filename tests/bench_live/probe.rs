//! What the live benchmark measures with: acks seen on the wire, a jetpool
//! process with its timestamped log lines, its RSS and CPU from /proc, and
//! medians and 95th percentiles.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use jiff::Timestamp;

use crate::common::{Logs, bin, eventually, free_port, http_get};

/// Every `+ACK` sent for one consumer, with when this process saw it: the
/// agents' acks go to `$JS.ACK.<stream>.<consumer>.…`, and a plain
/// subscriber there receives a copy as the server does.
#[derive(Clone, Default)]
pub struct Acks(Arc<Mutex<Vec<Instant>>>);

impl Acks {
    /// Starts watching `stream`/`consumer` on `client`.
    pub async fn watch(client: &async_nats::Client, stream: &str, consumer: &str) -> Acks {
        let acks = Acks::default();
        let mut sub = client
            .subscribe(format!("$JS.ACK.{stream}.{consumer}.>"))
            .await
            .expect("subscribe to acks");
        client.flush().await.expect("flush");
        let sink = acks.clone();
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if m.payload.starts_with(b"+ACK") {
                    sink.0.lock().expect("acks").push(Instant::now());
                }
            }
        });
        acks
    }

    /// The first ack after `t0`, waiting up to `within`.
    pub async fn first_after(&self, t0: Instant, within: Duration) -> Instant {
        eventually(within, "an ack", || async {
            self.0
                .lock()
                .expect("acks")
                .iter()
                .copied()
                .find(|&t| t >= t0)
        })
        .await
    }
}

/// A jetpool process with JSON logs.
pub struct Jetpool {
    child: Child,
    /// Its log lines.
    pub logs: Logs,
    /// Its HTTP address.
    pub listen: String,
}

impl Jetpool {
    /// `jetpool run` on the policies in `dir`, plus `extra` arguments.
    pub fn start(dir: &Path, nats: &str, extra: &[&str]) -> Jetpool {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut child = Command::new(bin())
            .args(["run", "--log-format", "json", "--policies"])
            .arg(dir)
            .args(["--nats", nats, "--listen", &listen])
            .args(extra)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start jetpool");
        let logs = Logs::follow(&mut child);
        Jetpool {
            child,
            logs,
            listen,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The status JSON.
    pub async fn status(&self) -> serde_json::Value {
        http_get(&self.listen, "/status")
            .await
            .and_then(|(_, b)| serde_json::from_str(&b).ok())
            .unwrap_or(serde_json::Value::Null)
    }

    /// The log lines with `message` stamped at or after `since`, with
    /// their timestamps, in order.
    pub fn lines_since(
        &self,
        message: &str,
        since: Timestamp,
    ) -> Vec<(Timestamp, serde_json::Value)> {
        self.logs
            .matching(message)
            .into_iter()
            .filter_map(|l| {
                let t: Timestamp = l["timestamp"].as_str()?.parse().ok()?;
                (t >= since).then_some((t, l))
            })
            .collect()
    }
}

impl Drop for Jetpool {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seconds from `a` to `b`.
pub fn secs(a: Timestamp, b: Timestamp) -> f64 {
    (b.as_nanosecond() - a.as_nanosecond()) as f64 / 1e9
}

/// Median and 95th percentile (nearest rank) of `xs`.
pub fn median_p95(xs: &[f64]) -> (f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    let median = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    (median, rank(0.95))
}

/// One table row: a name, the median and the p95 in milliseconds.
pub fn row(name: &str, xs: &[f64]) -> String {
    let (m, p) = median_p95(xs);
    format!(
        "| {name} | {} | {:.0} | {:.0} |",
        xs.len(),
        m * 1e3,
        p * 1e3
    )
}
