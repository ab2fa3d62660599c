//! `/events`: the board as server-sent events. Each connection keeps a
//! cursor per pool and sends only what is new since its last event: the
//! whole pool the first time (`reset`), then the status with the samples
//! and decision records it has not sent yet. The stream ends when the
//! board's recorder stops, so a graceful shutdown is not held up by open
//! pages.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::watch;
use tracing::warn;

use super::board::{Board, DecisionRecord, PoolBoard, Sample};
use crate::pool::PoolStatus;

/// One pool's news, as the page applies it (and embeds it at load).
#[derive(Debug, serde::Serialize)]
pub struct PoolUpdate<'a> {
    /// True when this is the whole pool: the page replaces what it holds.
    pub reset: bool,
    /// The latest status.
    pub status: &'a PoolStatus,
    /// Chart samples not sent before.
    pub history: Vec<&'a Sample>,
    /// Decision records not sent before (the last one may be an update
    /// of one sent earlier: same `at`, later `until`).
    pub decisions: Vec<&'a DecisionRecord>,
}

impl<'a> PoolUpdate<'a> {
    /// The whole pool.
    pub fn full(b: &'a PoolBoard) -> Self {
        PoolUpdate {
            reset: true,
            status: &b.status,
            history: b.history.iter().collect(),
            decisions: b.decisions.iter().collect(),
        }
    }
}

/// What one connection has sent of one pool.
#[derive(Debug, Default)]
struct Cursor {
    /// The board version last sent.
    version: u64,
    /// The newest sample sent.
    last_t: Option<i64>,
    /// The newest decision record sent, by its `until`.
    last_until: Option<Timestamp>,
}

/// What one connection has sent.
#[derive(Debug, Default)]
struct Cursors {
    /// The pool names last announced.
    names: Option<Vec<String>>,
    /// Per pool.
    pools: HashMap<String, Cursor>,
}

impl Cursors {
    /// The events that bring the page from what it was sent to `board`.
    fn diff(&mut self, board: &Board) -> Vec<Event> {
        let mut out = Vec::new();
        let names: Vec<String> = board.iter().map(|b| b.status.pool.clone()).collect();
        if self.names.as_ref() != Some(&names) {
            self.pools.retain(|n, _| names.contains(n));
            push(&mut out, "pools", &names);
            self.names = Some(names);
        }
        for b in board.iter() {
            let c = self.pools.entry(b.status.pool.clone());
            let fresh = matches!(c, std::collections::hash_map::Entry::Vacant(_));
            let c = c.or_default();
            if !fresh && c.version == b.version {
                continue;
            }
            let update = if fresh {
                PoolUpdate::full(b)
            } else {
                PoolUpdate {
                    reset: false,
                    status: &b.status,
                    history: b
                        .history
                        .iter()
                        .filter(|s| c.last_t.is_none_or(|t| s.t > t))
                        .collect(),
                    decisions: b
                        .decisions
                        .iter()
                        .filter(|r| c.last_until.is_none_or(|u| r.until > u))
                        .collect(),
                }
            };
            push(&mut out, "pool", &update);
            c.version = b.version;
            c.last_t = b.history.back().map(|s| s.t).or(c.last_t);
            c.last_until = b.decisions.back().map(|r| r.until).or(c.last_until);
        }
        out
    }
}

fn push(out: &mut Vec<Event>, name: &str, data: &impl serde::Serialize) {
    match Event::default().event(name).json_data(data) {
        Ok(e) => out.push(e),
        Err(e) => warn!(error = %e, "cannot encode a status event"),
    }
}

/// `GET /events`.
pub async fn events(State(board): State<watch::Receiver<Board>>) -> impl IntoResponse {
    let start = (board, Cursors::default(), true);
    let stream = futures::stream::unfold(start, |(mut rx, mut cursors, first)| async move {
        if !first && rx.changed().await.is_err() {
            return None;
        }
        let snapshot = rx.borrow_and_update().clone();
        let events = cursors.diff(&snapshot);
        let batch = futures::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
        Some((batch, (rx, cursors, false)))
    })
    .flatten();
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
