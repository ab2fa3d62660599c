//! The pool loop against in-memory fakes of both edges, in paused tokio
//! time: every expectation waits on the loop's own status updates, with a
//! timeout, so a missing action fails the test instead of hanging it.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jetpool::config::PoolSpec;
use jetpool::observe::{MetricsSource, ObserveError};
use jetpool::policy::{ConsumerStats, Limit};
use jetpool::pool::{PoolRunner, PoolStatus};
use jetpool::virtual_target::VirtualTarget;
use tokio::sync::{oneshot, watch};

/// A metrics source whose next answer the test sets.
#[derive(Clone)]
struct Scripted(Arc<Mutex<Result<ConsumerStats, ObserveError>>>);

impl Scripted {
    fn new(pending: u64) -> Self {
        Scripted(Arc::new(Mutex::new(Ok(stats(pending, 0)))))
    }
    fn set(&self, r: Result<ConsumerStats, ObserveError>) {
        *self.0.lock().unwrap() = r;
    }
}

impl MetricsSource for Scripted {
    async fn read(&self) -> Result<ConsumerStats, ObserveError> {
        self.0.lock().unwrap().clone()
    }
}

fn stats(pending: u64, ack_pending: u64) -> ConsumerStats {
    ConsumerStats {
        pending,
        ack_pending,
        ..Default::default()
    }
}

fn spec(max: u32, scaling: &str) -> PoolSpec {
    let toml = format!(
        "[[pool]]\nname = \"p\"\nstream = \"S\"\nconsumer = \"c\"\nmax = {max}\n[pool.container]\nimage = \"x\"\n[pool.scaling]\n{scaling}\n"
    );
    jetpool::config::parse_str(Path::new("t.toml"), &toml)
        .unwrap()
        .remove(0)
}

struct Harness {
    source: Scripted,
    target: Arc<VirtualTarget>,
    status: watch::Receiver<PoolStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn start(spec: PoolSpec, source: Scripted, target: Arc<VirtualTarget>) -> Harness {
    let (runner, status) = PoolRunner::new(
        spec,
        source.clone(),
        target.clone(),
        "nats://agents:4222".into(),
    );
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async {
        let _ = rx.await;
    }));
    Harness {
        source,
        target,
        status,
        stop: Some(tx),
        task,
    }
}

impl Harness {
    /// Waits (virtual time) until the status satisfies `f`.
    async fn until(&mut self, what: &str, f: impl Fn(&PoolStatus) -> bool) -> PoolStatus {
        let r = tokio::time::timeout(Duration::from_secs(120), async {
            self.status.wait_for(|s| f(s)).await.map(|s| s.clone())
        })
        .await;
        match r {
            Ok(Ok(s)) => s,
            _ => panic!(
                "timed out waiting for {what}; last status: {:?}",
                *self.status.borrow()
            ),
        }
    }

    /// Lets `n` more ticks happen.
    async fn ticks(&mut self, n: u32) {
        for _ in 0..n {
            let _ = self.status.borrow_and_update();
            let _ = tokio::time::timeout(Duration::from_secs(10), self.status.changed()).await;
        }
    }

    async fn shutdown(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("loop stops")
            .expect("loop did not panic");
    }
}

#[tokio::test(start_paused = true)]
async fn backlog_scales_out_capped_by_max() {
    let mut h = start(
        spec(5, ""),
        Scripted::new(1000),
        Arc::new(VirtualTarget::new()),
    );
    let s = h
        .until("desired 5", |s| {
            s.decision.as_ref().is_some_and(|d| d.desired == 5)
        })
        .await;
    assert_eq!(s.decision.unwrap().limit, Limit::Max);
    h.until("5 running", |s| s.replicas.ready == 5).await;
    assert_eq!(h.target.running("p"), 5);
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn outage_never_scales_in() {
    let mut h = start(
        spec(4, "scale_down_delay = \"2s\""),
        Scripted::new(1000),
        Arc::new(VirtualTarget::new()),
    );
    h.until("4 running", |s| s.replicas.ready == 4).await;
    h.source
        .set(Err(ObserveError::Unavailable("disconnected".into())));
    let s = h
        .until("stale decision", |s| {
            s.decision.as_ref().is_some_and(|d| d.limit == Limit::Stale)
        })
        .await;
    assert!(!s.fresh);
    assert!(s.failure.unwrap().contains("disconnected"));
    h.ticks(20).await;
    assert_eq!(h.target.running("p"), 4, "no scale-in while blind");
    let stops = h
        .target
        .log()
        .iter()
        .filter(|(op, _)| *op == "stop")
        .count();
    assert_eq!(stops, 0);
    // Fresh data showing an empty queue: now it may scale in.
    h.source.set(Ok(stats(0, 0)));
    h.until("scaled in", |s| s.replicas.ready + s.replicas.draining < 4)
        .await;
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn missing_consumer_never_scales_to_max() {
    let source = Scripted::new(0);
    source.set(Err(ObserveError::ConsumerNotFound {
        stream: "S".into(),
        consumer: "c".into(),
    }));
    let mut h = start(spec(8, ""), source, Arc::new(VirtualTarget::new()));
    h.until("a decision", |s| s.decision.is_some()).await;
    h.ticks(10).await;
    let s = h.status.borrow().clone();
    assert_eq!(s.decision.unwrap().desired, 0);
    assert!(
        s.failure
            .unwrap()
            .contains("consumer c not found on stream S")
    );
    assert!(h.target.log().is_empty(), "no container touched");
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn adopts_running_agents_without_duplicates() {
    let target = Arc::new(VirtualTarget::new());
    for n in ["a1", "a2", "a3"] {
        target.adopt("p", n);
    }
    // 3 in flight, nothing pending: exactly what the 3 running agents hold.
    let source = Scripted::new(0);
    source.set(Ok(stats(0, 3)));
    let mut h = start(spec(8, ""), source, target);
    let s = h.until("a decision", |s| s.decision.is_some()).await;
    assert_eq!(s.replicas.ready, 3);
    h.ticks(5).await;
    assert!(
        h.target.log().iter().all(|(op, _)| *op != "start"),
        "{:?}",
        h.target.log()
    );
    h.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn crashed_agent_is_removed_and_replaced() {
    let target = Arc::new(VirtualTarget::new());
    let source = Scripted::new(0);
    source.set(Ok(stats(10, 2)));
    let mut h = start(
        spec(2, "target_drain_time = \"1s\""),
        source,
        target.clone(),
    );
    h.until("2 running", |s| s.replicas.ready == 2).await;
    let victim = target
        .log()
        .iter()
        .find(|(op, _)| *op == "start")
        .map(|(_, n)| n.clone())
        .unwrap();
    target.crash("p", &victim);
    h.until("replacement started", |_| {
        target.log().iter().filter(|(op, _)| *op == "start").count() == 3
    })
    .await;
    h.until("2 running again", |s| s.replicas.ready == 2).await;
    assert!(target.log().contains(&("remove", victim)));
    h.shutdown().await;
}
