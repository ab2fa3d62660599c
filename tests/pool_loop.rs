//! The pool loop against in-memory fakes of both edges, in paused tokio
//! time: every expectation waits on the loop's own status updates, with a
//! timeout, so a missing action fails the test instead of hanging it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jetpool::observe::ObserveError;
use jetpool::policy::{ConsumerStats, Limit};
use jetpool::pool::PoolSpec;
use jetpool::pool::{PoolIo, PoolRunner, PoolStatus};
use jetpool::protocol::{AgentState, Command};
use jetpool::target::virt::VirtualTarget;
use tokio::sync::{oneshot, watch};

#[path = "pool_loop/fakes.rs"]
mod fakes;
#[path = "pool_loop/replay.rs"]
mod replay;

use fakes::{FakeAgents, Scripted};

fn stats(pending: u64, ack_pending: u64) -> ConsumerStats {
    ConsumerStats {
        pending,
        ack_pending,
        ..Default::default()
    }
}

fn spec(max: u32, scaling: &str) -> PoolSpec {
    spec_with(max, scaling, "")
}

fn spec_with(max: u32, scaling: &str, agents: &str) -> PoolSpec {
    let toml = format!(
        "[[pool]]\nname = \"p\"\nstream = \"S\"\nconsumer = \"c\"\nmax = {max}\n[pool.container]\nimage = \"x\"\n[pool.scaling]\n{scaling}\n[pool.agents]\n{agents}\n"
    );
    jetpool::pool::spec::parse_str(Path::new("t.toml"), &toml)
        .unwrap()
        .remove(0)
}

struct Harness {
    source: Scripted,
    target: Arc<VirtualTarget>,
    agents: Arc<FakeAgents>,
    status: watch::Receiver<PoolStatus>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn start(spec: PoolSpec, source: Scripted, target: Arc<VirtualTarget>) -> Harness {
    let agents = Arc::new(FakeAgents::default());
    let io = PoolIo {
        source: source.clone(),
        target: target.clone(),
        agents: agents.clone(),
    };
    let (runner, status) = PoolRunner::new(spec, io, "nats://agents:4222".into());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(runner.run(async {
        let _ = rx.await;
    }));
    Harness {
        source,
        target,
        agents,
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

fn starts(t: &VirtualTarget) -> Vec<String> {
    t.log()
        .iter()
        .filter(|(op, _)| *op == "start")
        .map(|(_, n)| n.clone())
        .collect()
}

/// Scale-in drains the least busy agents over the protocol and only
/// removes them once they exit: no `docker stop` while they hold work.
#[tokio::test(start_paused = true)]
async fn scale_in_drains_least_busy_and_waits_for_exit() {
    let spec = spec_with(
        4,
        "scale_down_delay = \"1s\"\nconcurrency = 4",
        "stats_timeout = \"1h\"",
    );
    let mut h = start(spec, Scripted::new(1000), Arc::new(VirtualTarget::new()));
    h.until("4 running", |s| s.replaces_ready(4)).await;
    let names = starts(&h.target);
    let held = [3u64, 0, 1, 2];
    for (n, k) in names.iter().zip(held) {
        let state = if k > 0 {
            AgentState::Busy
        } else {
            AgentState::Ready
        };
        h.agents.report(n, state, k).await;
    }
    // Backlog gone, 6 tasks in flight: 2 agents of concurrency 4 hold them.
    h.source.set(Ok(stats(0, 6)));
    h.until("2 draining", |s| s.replicas.draining == 2).await;
    let mut drained = h.agents.commands(Command::Drain);
    drained.sort();
    let mut expected = vec![names[1].clone(), names[2].clone()];
    expected.sort();
    assert_eq!(
        drained, expected,
        "the idle agent and the one holding 1 task"
    );
    h.ticks(5).await;
    assert!(
        h.target.log().iter().all(|(op, _)| *op != "stop"),
        "draining agents are not stopped: {:?}",
        h.target.log()
    );
    // The idle one finishes its drain and exits: it is removed, not stopped.
    h.target.crash("p", &names[1]);
    let n1 = names[1].clone();
    let target = h.target.clone();
    h.until("the drained agent removed", move |_| {
        target.log().contains(&("remove", n1.clone()))
    })
    .await;
    assert!(h.target.log().iter().all(|(op, _)| *op != "stop"));
    h.shutdown().await;
}

/// Demand returning during a drain cancels the drain instead of starting
/// new containers.
#[tokio::test(start_paused = true)]
async fn returning_demand_cancels_drains_before_starting() {
    let spec = spec_with(
        4,
        "scale_down_delay = \"1s\"\nconcurrency = 4",
        "stats_timeout = \"1h\"",
    );
    let mut h = start(spec, Scripted::new(1000), Arc::new(VirtualTarget::new()));
    h.until("4 running", |s| s.replaces_ready(4)).await;
    for n in starts(&h.target) {
        h.agents.report(&n, AgentState::Busy, 1).await;
    }
    h.source.set(Ok(stats(0, 4)));
    h.until("3 draining", |s| s.replicas.draining == 3).await;
    h.source.set(Ok(stats(1000, 4)));
    h.until("4 working again", |s| s.replaces_ready(4)).await;
    assert_eq!(h.agents.commands(Command::Resume).len(), 3);
    assert_eq!(starts(&h.target).len(), 4, "no new container started");
    h.shutdown().await;
}

/// A warm pool: standbys are started ahead; a burst activates them with a
/// message, and the warm pool is refilled behind.
#[tokio::test(start_paused = true)]
async fn warm_standbys_are_activated_then_refilled() {
    let spec = spec_with(6, "", "warm = 2\nstats_timeout = \"1h\"");
    let source = Scripted::new(0);
    let mut h = start(spec, source, Arc::new(VirtualTarget::new()));
    h.until("2 standbys", |s| s.replicas.standby == 2).await;
    let warm = h.target.started_standby();
    assert_eq!(warm.len(), 2);
    for n in &warm {
        h.agents.report(n, AgentState::Standby, 0).await;
    }
    h.source.set(Ok(stats(1000, 0)));
    // In a pool whose agents speak the protocol, a new agent is starting
    // until its first report.
    let target = h.target.clone();
    h.until("4 more started", |_| starts(&target).len() >= 6)
        .await;
    for n in starts(&h.target).iter().filter(|n| !warm.contains(n)) {
        h.agents.report(n, AgentState::Ready, 0).await;
    }
    h.until("6 working", |s| s.replaces_ready(6)).await;
    let mut activated = h.agents.commands(Command::Activate);
    activated.sort();
    let mut expected = warm.clone();
    expected.sort();
    assert_eq!(activated, expected, "the standbys were activated first");
    let plain = starts(&h.target).len() - h.target.started_standby().len();
    assert_eq!(plain, 4, "only the rest were started as new containers");
    h.until("warm pool refilled", |s| s.replicas.standby == 2)
        .await;
    h.shutdown().await;
}

/// A template that crashes right after starting is retried with growing
/// delays, and the back-off is exported.
#[tokio::test(start_paused = true)]
async fn crash_loop_backs_off_exponentially() {
    let target = Arc::new(VirtualTarget::new());
    let mut h = start(spec(1, ""), Scripted::new(100), target.clone());
    let mut at = Vec::new();
    for k in 1..=5 {
        let t = target.clone();
        h.until("a start", move |_| starts(&t).len() == k).await;
        at.push(tokio::time::Instant::now());
        let name = starts(&target)[k - 1].clone();
        target.crash("p", &name);
    }
    let gaps: Vec<f64> = at.windows(2).map(|w| (w[1] - w[0]).as_secs_f64()).collect();
    assert!(
        gaps.windows(2).all(|g| g[1] >= g[0]),
        "delays grow: {gaps:?}"
    );
    assert!(gaps[3] >= 4.0, "the 4th crash waits at least 4 s: {gaps:?}");
    let s = h
        .until("back-off exported", |s| s.start_backoff_s > 0.0)
        .await;
    assert!(s.start_backoff_s <= 300.0);
    h.shutdown().await;
}

/// An agent that reported and then went silent is replaced.
#[tokio::test(start_paused = true)]
async fn silent_agent_is_replaced() {
    let spec = spec_with(1, "", "stats_timeout = \"3s\"");
    let mut h = start(spec, Scripted::new(0), Arc::new(VirtualTarget::new()));
    h.source.set(Ok(stats(5, 1)));
    h.until("1 running", |s| s.replaces_ready(1)).await;
    let first = starts(&h.target)[0].clone();
    h.agents.report(&first, AgentState::Busy, 1).await;
    let target = h.target.clone();
    let f = first.clone();
    h.until("the silent agent stopped", move |_| {
        target.log().contains(&("stop", f.clone()))
    })
    .await;
    let target = h.target.clone();
    h.until("a replacement", move |_| starts(&target).len() == 2)
        .await;
    h.shutdown().await;
}

trait ReadyCount {
    fn replaces_ready(&self, n: u32) -> bool;
}

impl ReadyCount for PoolStatus {
    /// `n` agents working and nothing in transition.
    fn replaces_ready(&self, n: u32) -> bool {
        self.replicas.ready == n && self.replicas.starting == 0 && self.replicas.draining == 0
    }
}

/// A container Docker reports unhealthy is stopped and replaced.
#[tokio::test(start_paused = true)]
async fn unhealthy_agent_is_replaced() {
    let target = Arc::new(VirtualTarget::new());
    let source = Scripted::new(0);
    source.set(Ok(stats(5, 1)));
    let mut h = start(spec(1, ""), source, target.clone());
    h.until("1 running", |s| s.replaces_ready(1)).await;
    let first = starts(&target)[0].clone();
    target.mark_unhealthy("p", &first);
    let t = target.clone();
    let f = first.clone();
    h.until("the unhealthy agent stopped", move |_| {
        t.log().contains(&("stop", f.clone()))
    })
    .await;
    let t = target.clone();
    h.until("a replacement", move |_| starts(&t).len() == 2)
        .await;
    h.until("1 healthy agent", |s| s.replaces_ready(1)).await;
    h.shutdown().await;
}

/// A restart with a changed `[pool.container]` rolls the running agents to
/// the new template: one at a time, each drained (never stopped while it
/// holds work), and the loop's own decision starts the replacement.
#[tokio::test(start_paused = true)]
async fn changed_template_rolls_one_drained_agent_at_a_time() {
    let scaling = "concurrency = 4";
    let agents = "stats_timeout = \"1h\"";
    let target = Arc::new(VirtualTarget::new());
    let mut h = start(
        spec_with(3, scaling, agents),
        Scripted::new(1000),
        target.clone(),
    );
    h.until("3 running", |s| s.replaces_ready(3)).await;
    let old = starts(&target);
    h.shutdown().await;

    // The same pool, restarted with another image.
    let mut new_spec = spec_with(3, scaling, agents);
    new_spec.template =
        jetpool::target::Template::from_policy(&jetpool::config::ContainerSpec::new("y"));
    let new_id = new_spec.template.id();
    let mut h = start(new_spec, Scripted::new(1000), target.clone());
    // Nothing is rolled before the agents have reported: they speak the
    // protocol and must be drained, not stopped.
    h.until("a decision", |s| s.decision.is_some()).await;
    h.ticks(2).await;
    assert_eq!(h_drains(&h), 0);
    assert!(target.log().iter().all(|(op, _)| *op != "stop"));
    for n in &old {
        h.agents.report(n, AgentState::Busy, 2).await;
    }
    for round in 1..=3 {
        let fake = h.agents.clone();
        h.until("a drain", move |_| {
            fake.commands(Command::Drain).len() == round
        })
        .await;
        h.ticks(3).await;
        assert_eq!(h_drains(&h), round, "one roll at a time");
        let victim = h.agents.commands(Command::Drain)[round - 1].clone();
        assert!(old.contains(&victim), "only old agents are rolled");
        assert!(
            target
                .log()
                .iter()
                .all(|(op, n)| !(*op == "stop" && *n == victim)),
            "a draining agent is not stopped: {:?}",
            target.log()
        );
        // It finishes what it holds and exits; a new agent replaces it.
        target.crash("p", &victim);
        let t = target.clone();
        h.until("the replacement", move |_| starts(&t).len() == 3 + round)
            .await;
        for n in starts(&target).iter().skip(3) {
            h.agents.report(n, AgentState::Busy, 2).await;
        }
    }
    h.ticks(5).await;
    assert_eq!(h_drains(&h), 3, "nothing left to roll");
    assert_eq!(target.running("p"), 3);
    let list = jetpool::target::ScaleTarget::list(target.as_ref(), "p")
        .await
        .unwrap();
    assert!(
        list.iter()
            .filter(|c| c.phase == jetpool::target::Phase::Running)
            .all(|c| c.template.as_deref() == Some(new_id.as_str())),
        "every running agent is of the new template: {list:?}"
    );
    h.shutdown().await;
}

fn h_drains(h: &Harness) -> usize {
    h.agents.commands(Command::Drain).len()
}

#[tokio::test(start_paused = true)]
async fn busy_agents_scale_out_on_cpu_and_a_blind_trigger_holds() {
    let target = Arc::new(VirtualTarget::new());
    // Every agent at a full core of its one-core limit, target 50%: each
    // measured agent asks for two, up to max; the queue is empty.
    target.set_usage(Some(jetpool::target::Usage {
        cpu_cores: 1.0,
        cpu_limit_cores: Some(1.0),
        memory_bytes: 1,
        memory_limit_bytes: 2,
    }));
    let toml = "[[pool]]\nname = \"p\"\nstream = \"S\"\nconsumer = \"c\"\nmin = 1\nmax = 4\n\
                [pool.container]\nimage = \"x\"\n[pool.scaling]\nscale_down_delay = \"1s\"\n\
                [[pool.trigger]]\ntype = \"cpu\"\ntarget = 0.5\n";
    let spec = jetpool::pool::spec::parse_str(Path::new("t.toml"), toml)
        .unwrap()
        .remove(0);
    let mut h = start(spec, Scripted::new(0), target);
    let s = h
        .until("4 agents for the cpu trigger", |s| s.replicas.ready == 4)
        .await;
    let d = s.decision.unwrap();
    assert_eq!(
        d.triggers[0].recommended,
        Some(0),
        "the backlog alone asks for none"
    );
    assert!(d.reason.contains("trigger"), "{}", d.reason);

    // The stats cannot be read any more: the trigger is blind and the
    // pool holds its 4 agents although the backlog model asks for 1.
    h.target.set_usage(None);
    let s = h
        .until("a blind trigger", |s| {
            s.decision.as_ref().is_some_and(|d| {
                d.triggers
                    .iter()
                    .any(|t| t.name == "cpu" && t.recommended.is_none())
            })
        })
        .await;
    assert_eq!(s.decision.unwrap().desired, 4);
    h.ticks(20).await;
    assert_eq!(h.target.running("p"), 4, "no scale-in while blind");

    // Idle agents read again: the pool shrinks to what the model needs.
    h.target.set_usage(Some(jetpool::target::Usage::default()));
    h.until("scaled in to min", |s| {
        s.decision.as_ref().is_some_and(|d| d.desired == 1)
    })
    .await;
    h.shutdown().await;
}
