//! Hand-computed runs of the engine with scripted controllers.

use super::*;
use crate::protocol::Command;
use crate::sim::controller::{AgentSnapshot, Containers};
use crate::sim::dist::Dist;

/// Sets the given counts at the given times, through the emulated
/// orchestrator (SIGTERM, random victims).
struct Script {
    steps: Vec<(f64, u32)>,
    i: usize,
}

impl Script {
    fn new(steps: &[(f64, u32)]) -> Self {
        Script {
            steps: steps.to_vec(),
            i: 0,
        }
    }
}

impl Controller for Script {
    fn name(&self) -> &str {
        "script"
    }
    fn next_tick(&self) -> f64 {
        self.steps.get(self.i).map_or(f64::INFINITY, |s| s.0)
    }
    fn tick(&mut self, _: &View) -> Option<u32> {
        self.i += 1;
        Some(self.steps[self.i - 1].1)
    }
}

/// What a scripted per-container controller does at one tick.
#[derive(Clone, Copy)]
enum Do {
    Start(&'static str),
    Drain(&'static str),
    Stop(&'static str),
}

/// Acts on named containers at the given times; removes what exited, and
/// keeps the listing it saw last.
struct Planned {
    steps: Vec<(f64, Vec<Do>)>,
    i: usize,
    seen: Vec<AgentSnapshot>,
}

impl Planned {
    fn new(steps: Vec<(f64, Vec<Do>)>) -> Self {
        Planned {
            steps,
            i: 0,
            seen: Vec::new(),
        }
    }
}

impl Controller for Planned {
    fn name(&self) -> &str {
        "planned"
    }
    fn next_tick(&self) -> f64 {
        self.steps.get(self.i).map_or(f64::INFINITY, |s| s.0)
    }
    fn tick(&mut self, _: &View) -> Option<u32> {
        None
    }
    fn per_container(&self) -> bool {
        true
    }
    fn act(&mut self, _: &View, agents: &[AgentSnapshot], c: &mut dyn Containers) {
        self.seen = agents.to_vec();
        for a in agents
            .iter()
            .filter(|a| a.phase == crate::plan::Phase::Exited)
        {
            c.remove(&a.name);
        }
        self.i += 1;
        for d in self.steps[self.i - 1].1.clone() {
            match d {
                Do::Start(n) => c.start(n, false),
                Do::Drain(n) => {
                    assert!(c.control(n, Command::Drain).is_some_and(|r| r.ok));
                }
                Do::Stop(n) => c.stop(n),
            }
        }
    }
}

fn world(cold: f64, duration: f64) -> World {
    World {
        concurrency: 1,
        ack_wait: 30.0,
        grace: 30.0,
        scale_in: ScaleIn::Graceful,
        max_ack_pending: None,
        cold_start: Dist::Const(cold).sampler(),
        seed: 1,
        bucket: 1.0,
        duration,
        once_wait: None,
    }
}

fn tasks(v: &[(f64, f64)]) -> Vec<Task> {
    v.iter()
        .map(|&(arrival, service)| Task { arrival, service })
        .collect()
}

#[test]
fn one_agent_serves_fifo_after_its_cold_start() {
    let t = tasks(&[(0.0, 2.0), (0.0, 2.0), (0.5, 2.0)]);
    let out = run(&t, &world(1.0, 5.0), &mut Script::new(&[(0.0, 1)]));
    // Ready at 1: deliveries at 1, 3, 5; the last ends at 7.
    assert_eq!(out.waits, vec![1.0, 3.0, 4.5]);
    assert_eq!(out.end, 7.0);
    assert!((out.agent_seconds - 7.0).abs() < 1e-9);
    assert_eq!((out.starts, out.stops, out.unfinished), (1, 0, 0));
}

#[test]
fn a_drained_idle_agent_exits_at_once_and_loses_nothing() {
    // Two agents; one long task goes to the first. Draining the idle one
    // ends it at once.
    let t = tasks(&[(1.0, 50.0)]);
    let mut p = Planned::new(vec![
        (0.0, vec![Do::Start("a"), Do::Start("b")]),
        (5.0, vec![Do::Drain("b")]),
        (6.0, vec![]),
        (7.0, vec![]),
    ]);
    let out = run(&t, &world(0.0, 10.0), &mut p);
    assert_eq!(out.waits, vec![0.0]);
    assert!(
        p.seen.iter().all(|a| a.name == "a"),
        "the exited agent was removed"
    );
    assert_eq!((out.starts, out.stops, out.lost), (2, 1, 0));
    // Agent A lives 0..51, agent B 0..5.
    assert!(
        (out.agent_seconds - 56.0).abs() < 1e-9,
        "{}",
        out.agent_seconds
    );
}

#[test]
fn sigterm_past_the_grace_period_loses_the_task() {
    // One agent holding a 100 s task is scaled to 0 at 10 s: SIGTERM, killed
    // at 40 s, the task is redelivered at 70 s to a new agent started at 60 s.
    let t = tasks(&[(0.0, 100.0)]);
    let mut s = Script::new(&[(0.0, 1), (10.0, 0), (60.0, 1)]);
    let out = run(&t, &world(0.0, 10.0), &mut s);
    assert_eq!(out.lost, 1);
    assert_eq!(out.waits, vec![70.0]);
    assert_eq!(out.end, 170.0);
    // 0..40 for the first agent, 60..170 for the second.
    assert!(
        (out.agent_seconds - 150.0).abs() < 1e-9,
        "{}",
        out.agent_seconds
    );
}

#[test]
fn drain_waits_for_the_task_however_long() {
    let t = tasks(&[(0.0, 100.0)]);
    let mut p = Planned::new(vec![
        (0.0, vec![Do::Start("a")]),
        (10.0, vec![Do::Drain("a")]),
    ]);
    let out = run(&t, &world(0.0, 10.0), &mut p);
    assert_eq!((out.lost, out.stops), (0, 1));
    assert_eq!(out.waits, vec![0.0]);
    assert!((out.agent_seconds - 100.0).abs() < 1e-9);
}

#[test]
fn abrupt_scale_in_kills_at_once() {
    let t = tasks(&[(0.0, 100.0)]);
    let mut w = world(0.0, 10.0);
    w.scale_in = ScaleIn::Abrupt;
    let mut p = Planned::new(vec![
        (0.0, vec![Do::Start("a")]),
        (10.0, vec![Do::Drain("a")]),
        (20.0, vec![Do::Start("b")]),
    ]);
    let out = run(&t, &w, &mut p);
    // Killed at 10, redelivered at 40 to the agent started at 20.
    assert_eq!(out.lost, 1);
    assert_eq!(out.waits, vec![40.0]);
    assert_eq!(out.end, 140.0);
}

#[test]
fn max_ack_pending_stalls_delivery() {
    let t = tasks(&[(0.0, 10.0), (0.0, 10.0), (0.0, 10.0)]);
    let mut w = world(0.0, 1.0);
    w.max_ack_pending = Some(2);
    let out = run(&t, &w, &mut Script::new(&[(0.0, 3)]));
    // Three agents, but only two messages may be unacknowledged.
    assert_eq!(out.waits, vec![0.0, 0.0, 10.0]);
}

#[test]
fn cancelling_a_starting_agent_counts_its_time() {
    let t = tasks(&[]);
    let out = run(
        &t,
        &world(5.0, 10.0),
        &mut Script::new(&[(0.0, 2), (2.0, 0)]),
    );
    assert_eq!((out.starts, out.stops), (2, 2));
    assert!((out.agent_seconds - 4.0).abs() < 1e-9);
    assert_eq!(out.direction_changes, 1);
}

#[test]
fn series_track_agents_and_backlog() {
    let t = tasks(&[(0.0, 1.0), (0.0, 1.0)]);
    let out = run(&t, &world(2.0, 4.0), &mut Script::new(&[(0.0, 1)]));
    // Backlog 2 for 2 s, 1 for 1 s; one agent throughout.
    assert_eq!(out.backlog, vec![2.0, 2.0, 1.0, 0.0]);
    assert_eq!(out.agents, vec![1.0, 1.0, 1.0, 1.0]);
}

#[test]
fn a_stop_lets_the_agent_finish_within_the_grace_period() {
    // SIGTERM at 10 s to an agent with a 15 s task: it finishes at 15 s.
    let t = tasks(&[(0.0, 15.0)]);
    let mut p = Planned::new(vec![
        (0.0, vec![Do::Start("a")]),
        (10.0, vec![Do::Stop("a")]),
    ]);
    let out = run(&t, &world(0.0, 10.0), &mut p);
    assert_eq!((out.lost, out.stops), (0, 1));
    assert!((out.agent_seconds - 15.0).abs() < 1e-9);
}

#[test]
fn a_job_works_one_task_and_exits_and_one_without_a_task_waits_then_exits() {
    // Two jobs started at 0 (cold start 1 s) for one task of 4 s: the first
    // ready takes it and exits when it is done (at 5 s); the other gets
    // nothing and exits 30 s after it came up (at 31 s, within the run).
    let t = tasks(&[(0.0, 4.0)]);
    let mut w = world(1.0, 40.0);
    w.once_wait = Some(30.0);
    w.concurrency = 4; // ignored: a job takes one task
    let mut ctl = Script::new(&[(0.0, 2)]);
    let out = run(&t, &w, &mut ctl);
    assert_eq!(out.waits, vec![1.0]);
    assert_eq!((out.starts, out.stops), (2, 2));
    assert!(
        (out.agent_seconds - (5.0 + 31.0)).abs() < 1e-9,
        "{}",
        out.agent_seconds
    );
}

#[test]
fn a_job_takes_one_task_however_many_wait() {
    // One job, three tasks: it works the first and exits; the others wait
    // for jobs of their own, started at 10 s.
    let t = tasks(&[(0.0, 2.0), (0.0, 2.0), (0.0, 2.0)]);
    let mut w = world(1.0, 20.0);
    w.once_wait = Some(30.0);
    let mut ctl = Script::new(&[(0.0, 1), (10.0, 2)]);
    let out = run(&t, &w, &mut ctl);
    assert_eq!(out.waits, vec![1.0, 11.0, 11.0]);
    assert_eq!(out.starts, 3);
}
