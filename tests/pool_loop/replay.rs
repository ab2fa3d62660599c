//! A run recorded on the in-memory engine, replayed through the real loop:
//! the same consumer snapshots, container listings, start ids and agent
//! reports, with fake edges and paused time, give the same actions every
//! time.

use std::sync::{Arc, Mutex};

use jetpool::observe::MetricsSource;
use jetpool::plan::Action;
use jetpool::policy::ConsumerStats;
use jetpool::pool::{PoolIo, PoolRunner};
use jetpool::protocol::AgentState;
use jetpool::target::Listed;
use jetpool::target::virt::VirtualTarget;
use tokio::sync::{mpsc, oneshot};

use super::fakes::{FakeAgents, Recorded, Recorder, Replayed};
use super::spec_with;

/// The ticks the recording lasts.
const TICKS: u32 = 40;
/// The tick at which the agents report busy, and the one at which they
/// report idle again.
const BUSY_AT: u32 = 3;
const IDLE_AT: u32 = 14;

/// The consumer's side of the recording: a burst of 30 tasks at tick 1,
/// worked off by three agents at 1 task/s each from tick 3, then an empty
/// queue.
fn reads() -> Vec<ConsumerStats> {
    let mut left: u64 = 30;
    let mut delivered = 0;
    (0..=TICKS)
        .map(|tick| {
            let working = tick >= BUSY_AT && left > 0;
            if working {
                let n = left.min(3);
                left -= n;
                delivered += n;
            }
            ConsumerStats {
                pending: if tick == 0 { 0 } else { left },
                ack_pending: if working { 3 } else { 0 },
                delivered_consumer_seq: delivered,
                ..Default::default()
            }
        })
        .collect()
}

/// Runs the loop for [`TICKS`] ticks over `source` and `target`; the
/// agents report busy at [`BUSY_AT`] and idle at [`IDLE_AT`]. Returns every
/// action, in order.
async fn drive<S: MetricsSource, T: jetpool::target::ScaleTarget>(
    source: S,
    target: Arc<T>,
    agents: Arc<FakeAgents>,
) -> Vec<Action> {
    let spec = spec_with(
        3,
        "scale_down_delay = \"3s\"\nscale_to_zero_after = \"2s\"",
        "stats_timeout = \"1h\"",
    );
    let io = PoolIo {
        source,
        target,
        agents: agents.clone(),
    };
    let (tap, mut actions) = mpsc::unbounded_channel();
    let (runner, mut status) = PoolRunner::new(spec, io, String::new());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(runner.with_tap(tap).run(async {
        let _ = stopped.await;
    }));
    for tick in 0..TICKS {
        status.changed().await.unwrap();
        if tick == BUSY_AT || tick == IDLE_AT {
            let names: Vec<String> = status
                .borrow()
                .agents
                .iter()
                .map(|a| a.name.clone())
                .collect();
            for name in names {
                match tick {
                    BUSY_AT => agents.report(&name, AgentState::Busy, 1).await,
                    _ => agents.report(&name, AgentState::Ready, 0).await,
                }
            }
        }
    }
    stop.send(()).unwrap();
    task.await.unwrap();
    let mut out = Vec::new();
    while let Ok(a) = actions.try_recv() {
        out.push(a);
    }
    out
}

/// What the recording run saw, to replay.
type Recording = (Vec<Vec<Listed>>, Vec<jetpool::target::ContainerId>);

fn paused<T>(f: impl Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
        .block_on(f)
}

/// Records a run on the in-memory engine, whose drained agents exit.
fn record() -> (Vec<Action>, Recording) {
    paused(async {
        let inner = Arc::new(VirtualTarget::new());
        let target = Arc::new(Recorder {
            inner: inner.clone(),
            listings: Mutex::new(Vec::new()),
            ids: Mutex::new(Vec::new()),
        });
        let agents = Arc::new(FakeAgents::default());
        *agents.exits_in.lock().unwrap() = Some(inner);
        let actions = drive(Recorded::new(reads()), target.clone(), agents).await;
        let listings = std::mem::take(&mut *target.listings.lock().unwrap());
        let ids = std::mem::take(&mut *target.ids.lock().unwrap());
        (actions, (listings, ids))
    })
}

fn replay(r: &Recording) -> Vec<Action> {
    paused(async {
        let target = Arc::new(Replayed::new(r.0.clone(), r.1.clone()));
        drive(
            Recorded::new(reads()),
            target,
            Arc::new(FakeAgents::default()),
        )
        .await
    })
}

#[test]
fn a_recorded_run_replays_to_the_same_actions() {
    let (recorded, recording) = record();
    // A real run: out to max for the burst, each agent drained once the
    // queue is empty and removed when it exits, nothing else.
    let kind = |a: &Action| match a {
        Action::Start { .. } => "start",
        Action::Drain { .. } => "drain",
        Action::Remove { .. } => "remove",
        _ => "other",
    };
    let kinds: Vec<&str> = recorded.iter().map(kind).collect();
    assert_eq!(&kinds[..3], ["start"; 3], "{recorded:#?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == "drain").count(),
        3,
        "{recorded:#?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "remove").count(),
        3,
        "{recorded:#?}"
    );
    assert_eq!(kinds.len(), 9, "{recorded:#?}");
    for run in 0..3 {
        assert_eq!(replay(&recording), recorded, "replay {run} differs");
    }
}
