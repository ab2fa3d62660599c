//! Hand-written fakes of the loop's edges: agents over a fake protocol,
//! a consumer whose next answer the test sets, and a target that replays
//! recorded listings.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use jetpool::observe::{AgentControl, MetricsSource, ObserveError, Report};
use jetpool::policy::ConsumerStats;
use jetpool::protocol::{AgentState, Command, Reply, Stats};
use jetpool::target::virt::VirtualTarget;
use jetpool::target::{ContainerId, Listed, ScaleTarget, StartRequest, TargetError, TargetEvent};
use tokio::sync::mpsc;

/// Agents reached over a fake protocol: every request is logged and
/// answered `ok` unless the agent is muted; stats are whatever the test
/// sends.
#[derive(Default)]
pub struct FakeAgents {
    pub log: Mutex<Vec<(Command, String)>>,
    pub muted: Mutex<HashSet<String>>,
    pub tx: Mutex<Option<mpsc::Sender<Stats>>>,
    /// When set, a drained agent's container exits at once (it held
    /// nothing), as a real agent's does.
    pub exits_in: Mutex<Option<Arc<VirtualTarget>>>,
}

impl FakeAgents {
    pub fn commands(&self, which: Command) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|(c, _)| *c == which)
            .map(|(_, n)| n.clone())
            .collect()
    }

    pub async fn report(&self, id: &str, state: AgentState, in_flight: u64) {
        let tx = self
            .tx
            .lock()
            .unwrap()
            .clone()
            .expect("loop subscribed to stats");
        let s = Stats {
            v: 1,
            id: id.into(),
            pool: "p".into(),
            state,
            in_flight,
            capacity: 4,
            completed: 0,
            failed: 0,
        };
        tx.send(s).await.unwrap();
    }
}

impl AgentControl for FakeAgents {
    async fn control(&self, _pool: &str, id: &str, command: Command) -> Option<Reply> {
        self.log.lock().unwrap().push((command, id.to_string()));
        if self.muted.lock().unwrap().contains(id) {
            return None;
        }
        let state = match command {
            Command::Drain => AgentState::Draining,
            Command::Resume | Command::Activate => AgentState::Ready,
        };
        if command == Command::Drain
            && let Some(t) = self.exits_in.lock().unwrap().as_ref()
        {
            t.crash("p", id);
        }
        Some(Reply {
            v: 1,
            ok: true,
            state,
            in_flight: 0,
            error: None,
        })
    }

    async fn stats(&self, _pool: &str) -> BoxStream<'static, Report> {
        let (tx, rx) = mpsc::channel(1024);
        *self.tx.lock().unwrap() = Some(tx);
        futures::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|v| (Ok(v), rx)) },
        )
        .boxed()
    }
}

/// A metrics source whose next answer the test sets.
#[derive(Clone)]
pub struct Scripted(pub Arc<Mutex<Result<ConsumerStats, ObserveError>>>);

impl Scripted {
    pub fn new(pending: u64) -> Self {
        Scripted(Arc::new(Mutex::new(Ok(ConsumerStats {
            pending,
            ..Default::default()
        }))))
    }
    pub fn set(&self, r: Result<ConsumerStats, ObserveError>) {
        *self.0.lock().unwrap() = r;
    }
}

impl MetricsSource for Scripted {
    async fn read(&self) -> Result<ConsumerStats, ObserveError> {
        self.0.lock().unwrap().clone()
    }
}

/// A target that answers each listing with the next recorded one (the last
/// one once they run out) and logs what it is asked to do.
pub struct Replayed {
    listings: Mutex<Vec<Vec<Listed>>>,
    /// The ids the recorded engine gave the starts, in order.
    ids: Mutex<Vec<ContainerId>>,
}

impl Replayed {
    pub fn new(mut listings: Vec<Vec<Listed>>, mut ids: Vec<ContainerId>) -> Self {
        listings.reverse();
        ids.reverse();
        Replayed {
            listings: Mutex::new(listings),
            ids: Mutex::new(ids),
        }
    }
}

/// The in-memory target, recording every listing it gives and every id
/// it hands out, for a later replay.
pub struct Recorder {
    pub inner: Arc<VirtualTarget>,
    pub listings: Mutex<Vec<Vec<Listed>>>,
    pub ids: Mutex<Vec<ContainerId>>,
}

impl ScaleTarget for Recorder {
    async fn list(&self, pool: &str) -> Result<Vec<Listed>, TargetError> {
        let l = self.inner.list(pool).await?;
        self.listings.lock().unwrap().push(l.clone());
        Ok(l)
    }

    async fn start(&self, req: StartRequest) -> Result<ContainerId, TargetError> {
        let id = self.inner.start(req).await?;
        self.ids.lock().unwrap().push(id.clone());
        Ok(id)
    }

    async fn stop(&self, id: &ContainerId, timeout: Duration) -> Result<(), TargetError> {
        self.inner.stop(id, timeout).await
    }

    async fn remove(&self, id: &ContainerId) -> Result<(), TargetError> {
        self.inner.remove(id).await
    }

    fn events(&self, _pool: &str) -> BoxStream<'static, TargetEvent> {
        futures::stream::pending().boxed()
    }
}

impl ScaleTarget for Replayed {
    async fn list(&self, _pool: &str) -> Result<Vec<Listed>, TargetError> {
        let mut l = self.listings.lock().unwrap();
        Ok(if l.len() > 1 {
            l.pop().unwrap()
        } else {
            l.last().cloned().unwrap_or_default()
        })
    }

    async fn start(&self, _req: StartRequest) -> Result<ContainerId, TargetError> {
        Ok(self
            .ids
            .lock()
            .unwrap()
            .pop()
            .unwrap_or_else(|| ContainerId::from("none")))
    }

    async fn stop(&self, _id: &ContainerId, _timeout: Duration) -> Result<(), TargetError> {
        Ok(())
    }

    async fn remove(&self, _id: &ContainerId) -> Result<(), TargetError> {
        Ok(())
    }

    fn events(&self, _pool: &str) -> BoxStream<'static, TargetEvent> {
        futures::stream::pending().boxed()
    }
}

/// A consumer that answers each read with the next recorded snapshot (the
/// last one once they run out).
pub struct Recorded(Mutex<Vec<ConsumerStats>>);

impl Recorded {
    pub fn new(mut reads: Vec<ConsumerStats>) -> Self {
        reads.reverse();
        Recorded(Mutex::new(reads))
    }
}

impl MetricsSource for Recorded {
    async fn read(&self) -> Result<ConsumerStats, ObserveError> {
        let mut r = self.0.lock().unwrap();
        Ok(if r.len() > 1 {
            r.pop().unwrap()
        } else {
            r.last().copied().unwrap_or_default()
        })
    }
}
