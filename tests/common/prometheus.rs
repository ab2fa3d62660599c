//! A real Prometheus (the Debian package's binary) for tests: its own
//! config, a temporary TSDB, a free loopback port, scraping every second;
//! killed when dropped. And instant queries against its HTTP API.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_until};

/// A running Prometheus.
pub struct Prometheus {
    child: Child,
    /// `127.0.0.1:<port>` of its HTTP API.
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`, path `/metrics`)
    /// every second, and waits until it is ready.
    pub fn start(target: &str) -> Prometheus {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: jetpool\n    static_configs:\n      - targets: [\"{target}\"]\n"
            ),
        )
        .expect("write prometheus config");
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus must be installed (make deps installs it)");
        wait_until(Duration::from_secs(20), "Prometheus to listen", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        Prometheus {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every series of an instant query `q` against the Prometheus at `addr`:
/// (labels, value). Empty when nothing answers or matches.
pub async fn query_all(addr: &str, q: &str) -> Vec<(serde_json::Value, f64)> {
    let url = format!("http://{addr}/api/v1/query");
    let q = q.to_string();
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(3)))
            .build()
            .into();
        let body = agent
            .get(&url)
            .query("query", &q)
            .call()
            .ok()?
            .body_mut()
            .read_to_string()
            .ok()?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let series = v["data"]["result"].as_array()?.clone();
        Some(
            series
                .into_iter()
                .filter_map(|s| {
                    let value = s["value"][1].as_str()?.parse().ok()?;
                    Some((s["metric"].clone(), value))
                })
                .collect(),
        )
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_default()
}

/// The value of an instant query's first series.
pub async fn query(addr: &str, q: &str) -> Option<f64> {
    query_all(addr, q).await.first().map(|(_, v)| *v)
}
