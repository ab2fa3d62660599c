//! The board: each pool's latest status with its recent past (a bounded
//! ring of chart samples and the decisions that changed something), kept
//! here at the HTTP layer so the pool loop stays as lean as it is. One
//! task, the [`Recorder`], owns the rings; readers get an immutable
//! [`Board`] snapshot through a watch channel.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use futures::StreamExt;
use jiff::Timestamp;
use tokio::sync::watch;
use tokio_stream::StreamMap;
use tokio_stream::wrappers::WatchStream;

use crate::policy::{Decision, Observation, Override};
use crate::pool::PoolStatus;

/// How far back the chart reaches, milliseconds.
pub const WINDOW_MS: i64 = 10 * 60 * 1000;
/// The closest two chart samples may be: a pool deciding every 100 ms
/// still keeps at most one sample a second.
pub const SPACING_MS: i64 = 1000;
/// Chart samples kept per pool (the window at [`SPACING_MS`]).
pub const MAX_SAMPLES: usize = (WINDOW_MS / SPACING_MS) as usize;
/// Decisions kept per pool.
pub const MAX_DECISIONS: usize = 30;

/// One point of a pool's chart.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Sample {
    /// When the pool decided, Unix milliseconds.
    pub t: i64,
    /// Tasks waiting (`num_pending`).
    pub backlog: u64,
    /// Tasks delivered and not yet acknowledged (`num_ack_pending`).
    pub in_flight: u64,
    /// Estimated arrival rate, tasks per second.
    pub arrivals: f64,
    /// Agents the pool should run.
    pub desired: u32,
    /// Agents running and ready.
    pub running: u32,
    /// Agents starting.
    pub starting: u32,
}

/// A decision that changed the count, the guardrail or the override, with
/// everything it saw.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DecisionRecord {
    /// When the pool first decided this.
    pub at: Timestamp,
    /// When it last decided the same (same count, guardrail, override);
    /// the decision, inputs and reason are from then.
    pub until: Timestamp,
    /// The count it moved from: the current count when it first decided
    /// this.
    pub from: u32,
    /// The decision, with its estimates and reason.
    pub decision: Decision,
    /// The observation it was taken from.
    pub inputs: Option<Observation>,
    /// The runtime override it applied.
    pub overrides: Override,
    /// Why the consumer read failed, if it did.
    pub failure: Option<String>,
}

/// One pool on the board.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PoolBoard {
    /// Its latest status, as `/status` serves it.
    pub status: PoolStatus,
    /// Chart samples, oldest first, at most [`WINDOW_MS`] back.
    pub history: VecDeque<Sample>,
    /// Recent decisions that changed something, oldest first.
    pub decisions: VecDeque<DecisionRecord>,
    /// Bumped on every change, so a stream can send only what changed.
    #[serde(skip)]
    pub version: u64,
    /// When the pool last decided.
    #[serde(skip)]
    last_decided: Option<Timestamp>,
}

impl PoolBoard {
    fn new(status: PoolStatus) -> Self {
        let mut b = PoolBoard {
            status: status.clone(),
            history: VecDeque::new(),
            decisions: VecDeque::new(),
            version: 0,
            last_decided: None,
        };
        b.record(status);
        b
    }

    /// Folds a new status in: a chart sample when the pool decided again
    /// (at most one per [`SPACING_MS`]), a decision record when the count,
    /// the guardrail or the override changed.
    fn record(&mut self, s: PoolStatus) {
        let decided = match (s.updated_at, &s.decision) {
            (Some(at), Some(d)) if self.last_decided.is_none_or(|l| at > l) => {
                Some((at, d.clone()))
            }
            _ => None,
        };
        if let Some((at, d)) = decided {
            self.last_decided = Some(at);
            let t = at.as_millisecond();
            if self.history.back().is_none_or(|l| t - l.t >= SPACING_MS) {
                let c = s.observation.unwrap_or_default();
                self.history.push_back(Sample {
                    t,
                    backlog: c.pending,
                    in_flight: c.ack_pending,
                    arrivals: d.estimates.arrival_rate,
                    desired: d.desired,
                    running: s.replicas.ready,
                    starting: s.replicas.starting,
                });
            }
            while self
                .history
                .front()
                .is_some_and(|f| f.t < t - WINDOW_MS || self.history.len() > MAX_SAMPLES)
            {
                self.history.pop_front();
            }
            let changed = self.decisions.back().is_none_or(|r| {
                r.decision.desired != d.desired
                    || r.decision.limit != d.limit
                    || r.overrides != s.overrides
            });
            let record = DecisionRecord {
                at,
                until: at,
                from: d.current,
                decision: d,
                inputs: s.inputs.clone(),
                overrides: s.overrides.clone(),
                failure: s.failure.clone(),
            };
            if changed {
                self.decisions.push_back(record);
                if self.decisions.len() > MAX_DECISIONS {
                    self.decisions.pop_front();
                }
            } else if let Some(last) = self.decisions.back_mut() {
                // Same outcome: keep the record's first time, so the
                // list says when the pool got here, with the latest
                // inputs and reason.
                *last = DecisionRecord {
                    at: last.at,
                    from: last.from,
                    ..record
                };
            }
        }
        self.status = s;
        self.version += 1;
    }
}

/// Every pool on the board, in the order they were added.
pub type Board = Arc<Vec<Arc<PoolBoard>>>;

/// The task that keeps the board.
pub struct Recorder {
    /// The set of pools (see [`super::Registry`]).
    pools: watch::Receiver<Vec<watch::Receiver<PoolStatus>>>,
    /// Each pool's board, by name.
    boards: HashMap<String, Arc<PoolBoard>>,
    /// Where snapshots go.
    tx: watch::Sender<Board>,
}

impl Recorder {
    /// A recorder for the pools of `pools`, with the receiver of its
    /// snapshots. The receiver's stream ends when the recorder stops.
    pub fn new(
        pools: watch::Receiver<Vec<watch::Receiver<PoolStatus>>>,
    ) -> (Self, watch::Receiver<Board>) {
        let (tx, rx) = watch::channel(Board::default());
        let r = Recorder {
            pools,
            boards: HashMap::new(),
            tx,
        };
        (r, rx)
    }

    /// Records until `shutdown` resolves; dropping the sender then ends
    /// every stream that follows the board.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut streams: StreamMap<String, WatchStream<PoolStatus>> = StreamMap::new();
        let mut followed: HashMap<String, watch::Receiver<PoolStatus>> = HashMap::new();
        self.pools.mark_changed();
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                r = self.pools.changed() => {
                    if r.is_err() {
                        return;
                    }
                    let set: Vec<watch::Receiver<PoolStatus>> = self.pools.borrow_and_update().clone();
                    let names: Vec<String> = set.iter().map(|rx| rx.borrow().pool.clone()).collect();
                    followed.retain(|name, _| names.contains(name));
                    let gone: Vec<String> = streams.keys().filter(|n| !names.contains(n)).cloned().collect();
                    for name in gone {
                        streams.remove(&name);
                    }
                    self.boards.retain(|name, _| names.contains(name));
                    for (name, rx) in names.into_iter().zip(set) {
                        // A pool replaced under the same name (a compose
                        // service recreated) gets a fresh channel.
                        if followed.get(&name).is_some_and(|f| f.same_channel(&rx)) {
                            continue;
                        }
                        streams.insert(name.clone(), WatchStream::new(rx.clone()));
                        followed.insert(name, rx);
                    }
                    self.publish();
                }
                Some((name, status)) = streams.next() => {
                    match self.boards.get_mut(&name) {
                        Some(b) => Arc::make_mut(b).record(status),
                        None => {
                            self.boards.insert(name, Arc::new(PoolBoard::new(status)));
                        }
                    }
                    self.publish();
                }
            }
        }
    }

    /// Publishes the boards in the registry's order.
    fn publish(&self) {
        let order = self.pools.borrow();
        let board: Vec<Arc<PoolBoard>> = order
            .iter()
            .filter_map(|rx| self.boards.get(&rx.borrow().pool).cloned())
            .collect();
        drop(order);
        self.tx.send_replace(Arc::new(board));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ConsumerStats, Estimates, Limit, Replicas};

    fn status(secs: i64, pending: u64, desired: u32, limit: Limit) -> PoolStatus {
        let at = Timestamp::from_second(1_700_000_000 + secs).unwrap();
        PoolStatus {
            pool: "p".into(),
            stream: "S".into(),
            consumer: "c".into(),
            min: 0,
            max: 10,
            observation: Some(ConsumerStats {
                at,
                pending,
                ..Default::default()
            }),
            failure: None,
            decision: Some(Decision {
                desired,
                recommended: desired,
                current: desired,
                limit,
                estimates: Estimates::default(),
                slo: None,
                slo_late_share: None,
                staleness_s: 0.0,
                reason: format!("backlog {pending}"),
                demand: desired,
                min: 0,
                max: 10,
                triggers: Vec::new(),
                behind: false,
            }),
            replicas: Replicas {
                ready: desired,
                ..Default::default()
            },
            agents: Vec::new(),
            start_backoff_s: 0.0,
            last_start_error: None,
            updated_at: Some(at),
            fresh: true,
            overrides: Override::default(),
            inputs: None,
        }
    }

    #[test]
    fn samples_are_spaced_and_bounded_by_the_window() {
        let mut b = PoolBoard::new(status(0, 5, 1, Limit::None));
        // Two decisions within a second: one sample.
        let mut half = status(0, 6, 1, Limit::None);
        half.updated_at = half
            .updated_at
            .map(|t| t + jiff::SignedDuration::from_millis(500));
        b.record(half);
        assert_eq!(b.history.len(), 1);
        for s in 1..=(WINDOW_MS / 1000 + 30) {
            b.record(status(s, 5, 1, Limit::None));
        }
        assert!(b.history.len() <= MAX_SAMPLES);
        let (first, last) = (b.history[0].t, b.history.back().unwrap().t);
        assert!(last - first <= WINDOW_MS, "{first} .. {last}");
    }

    #[test]
    fn decisions_are_kept_when_something_changed() {
        let mut b = PoolBoard::new(status(0, 5, 1, Limit::None));
        b.record(status(1, 6, 1, Limit::None));
        b.record(status(2, 50, 3, Limit::None));
        b.record(status(3, 90, 4, Limit::Max));
        b.record(status(4, 95, 4, Limit::Max));
        let kept: Vec<(u32, Limit)> = b
            .decisions
            .iter()
            .map(|r| (r.decision.desired, r.decision.limit))
            .collect();
        assert_eq!(
            kept,
            vec![(1, Limit::None), (3, Limit::None), (4, Limit::Max)]
        );
        // The last record says when the pool got there, with the latest reason.
        let last = b.decisions.back().unwrap();
        assert_eq!(last.at.as_second(), 1_700_000_003);
        assert_eq!(last.until.as_second(), 1_700_000_004);
        assert_eq!(last.from, 4);
        assert_eq!(last.decision.reason, "backlog 95");
        // A status without a new decision changes no ring.
        let v = b.version;
        b.record(status(4, 95, 4, Limit::Max));
        assert_eq!((b.decisions.len(), b.version), (3, v + 1));
    }
}
