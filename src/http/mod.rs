//! The HTTP endpoints: `/metrics` (Prometheus text), `/healthz` (fresh
//! metrics for every pool, else 503 with the reasons: never "healthy while
//! blind"), `/status` (each pool's last observation, estimates,
//! decision and reason, as JSON), `/status/{pool}` (one pool with its
//! recent past: chart samples and the decisions that changed something),
//! `/events` (the same, live, as server-sent events) and `/`, the status
//! page that shows it.
//!
//! - [`board`]: the recent past, recorded here from the pools' snapshots.
//! - [`events`]: the server-sent event stream.
//! - [`page`]: the page, compiled into the binary.

pub mod board;
pub mod events;
pub mod page;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRef, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use futures::FutureExt;
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

    /// Follows the set of pools.
    pub fn watch(&self) -> watch::Receiver<Vec<watch::Receiver<PoolStatus>>> {
        self.tx.subscribe()
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
    /// With `--ha`: the lease, for the role `/status` reports.
    pub fence: Option<crate::lease::Fence>,
}

/// What the handlers read: the service's views and the board.
#[derive(Clone)]
pub struct Web {
    /// The service's views.
    pub app: AppState,
    /// Every pool with its recent past.
    pub board: watch::Receiver<board::Board>,
}

impl FromRef<Web> for AppState {
    fn from_ref(w: &Web) -> Self {
        w.app.clone()
    }
}

impl FromRef<Web> for watch::Receiver<board::Board> {
    fn from_ref(w: &Web) -> Self {
        w.board.clone()
    }
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

/// Serves until `shutdown` resolves. The board's recorder stops at the
/// same moment, which ends every open event stream, so the graceful
/// shutdown does not wait for pages left open.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let local: Option<SocketAddr> = listener.local_addr().ok();
    let shutdown = shutdown.shared();
    let (recorder, board) = board::Recorder::new(state.pools.watch());
    let recording = tokio::spawn(recorder.run(shutdown.clone()));
    let app = Router::new()
        .route("/", get(page::index))
        .route("/ui/app.js", get(page::script))
        .route("/ui/app.css", get(page::style))
        .route("/events", get(events::events))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/status", get(status))
        .route("/status/{pool}", get(pool_status))
        .with_state(Web { app: state, board });
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|source| Error::Io {
            context: format!("HTTP server on {local:?}"),
            source,
        });
    recording.abort();
    served
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

/// One pool with its chart samples and recent decisions.
async fn pool_status(
    State(board): State<watch::Receiver<board::Board>>,
    Path(pool): Path<String>,
) -> Response {
    let board = board.borrow().clone();
    match board.iter().find(|b| b.status.pool == pool) {
        Some(b) => Json(b.as_ref()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({ "error": format!("no pool named {pool}") })),
        )
            .into_response(),
    }
}

async fn status(State(s): State<AppState>) -> Response {
    let pools = s.pools.snapshot();
    // Without `--ha` the one instance always leads.
    let role = s.fence.as_ref().map_or("leader", |f| f.role());
    Json(serde_json::json!({ "dry_run": s.dry_run, "role": role, "pools": pools })).into_response()
}
