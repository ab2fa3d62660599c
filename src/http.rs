//! The HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (fresh
//! metrics for every pool, else 503 with the reasons: never "healthy while
//! blind") and `/status` (each pool's last observation, estimates,
//! decision and reason, as JSON).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::error::{Error, Result};
use crate::pool::PoolStatus;

/// The pools being served. Policy-file pools are there from the start;
/// compose pools come and go at runtime, so the set itself is a watch of
/// per-pool snapshot receivers, written only by whoever starts and stops
/// pools.
#[derive(Clone)]
pub struct Registry {
    /// The current set, in the order pools were added.
    tx: Arc<watch::Sender<Vec<watch::Receiver<PoolStatus>>>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            tx: Arc::new(watch::channel(Vec::new()).0),
        }
    }
}

impl Registry {
    /// Adds a pool, replacing one of the same name.
    pub fn insert(&self, status: watch::Receiver<PoolStatus>) {
        let name = status.borrow().pool.clone();
        self.tx.send_modify(|v| {
            v.retain(|rx| rx.borrow().pool != name);
            v.push(status);
        });
    }

    /// Removes the pool named `pool`.
    pub fn remove(&self, pool: &str) {
        self.tx
            .send_modify(|v| v.retain(|rx| rx.borrow().pool != pool));
    }

    /// A snapshot of every pool's latest status.
    pub fn snapshot(&self) -> Vec<PoolStatus> {
        self.tx
            .borrow()
            .iter()
            .map(|rx| rx.borrow().clone())
            .collect()
    }
}

/// Shared read-only views the handlers serve from.
#[derive(Clone)]
pub struct AppState {
    /// Renders the metrics registry.
    pub metrics: Option<PrometheusHandle>,
    /// The pools and their latest snapshots.
    pub pools: Registry,
    /// Whether decisions are only logged.
    pub dry_run: bool,
}

/// Binds `addr` and returns the listener, so a bad address fails start-up
/// with a clear message before anything else runs.
pub async fn bind(addr: &str) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Listen {
            addr: addr.to_string(),
            source,
        })
}

/// Serves until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let local: Option<SocketAddr> = listener.local_addr().ok();
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| Error::Io {
            context: format!("HTTP server on {local:?}"),
            source,
        })
}

async fn metrics(State(s): State<AppState>) -> Response {
    match &s.metrics {
        Some(h) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            h.render(),
        )
            .into_response(),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable\n",
        )
            .into_response(),
    }
}

async fn healthz(State(s): State<AppState>) -> Response {
    let mut problems = Vec::new();
    for p in s.pools.snapshot() {
        if !p.fresh {
            let why = p.failure.clone().unwrap_or_else(|| match &p.decision {
                Some(d) if d.staleness_s.is_finite() => {
                    format!("metrics {:.1}s old", d.staleness_s)
                }
                _ => "no consumer metrics yet".into(),
            });
            problems.push(serde_json::json!({ "pool": p.pool, "problem": why }));
        }
    }
    if problems.is_empty() {
        (StatusCode::OK, Json(serde_json::json!({ "status": "ok" }))).into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "degraded", "pools": problems })),
        )
            .into_response()
    }
}

async fn status(State(s): State<AppState>) -> Response {
    let pools = s.pools.snapshot();
    Json(serde_json::json!({ "dry_run": s.dry_run, "pools": pools })).into_response()
}
