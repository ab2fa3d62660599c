//! Table tests of the planner: a roster, a listing, reports and a decision
//! in; actions out.

use std::time::Duration;

use jiff::Timestamp;

use super::*;
use crate::clock::after;
use crate::policy::{Estimates, Limit};
use crate::protocol::{AgentState, Reply, Stats};

/// A pool's world as the planner sees it, built step by step.
struct World {
    roster: Roster,
    listed: Vec<Listed>,
    reports: AgentRegistry,
    agents: AgentsSpec,
    template: String,
    now: Timestamp,
    nats_ok: bool,
}

impl World {
    fn new() -> Self {
        let now = Timestamp::UNIX_EPOCH;
        let agents = AgentsSpec::default();
        World {
            roster: Roster::new(now, agents.max_backoff),
            listed: Vec::new(),
            reports: AgentRegistry::default(),
            agents,
            template: "t1".into(),
            now,
            nats_ok: true,
        }
    }

    /// A running container `name` of template `t1`, created at `created`.
    fn container(mut self, name: &str, created: i64) -> Self {
        self.listed.push(Listed {
            id: format!("id-{name}"),
            name: name.into(),
            phase: Phase::Running,
            created,
            template: Some("t1".into()),
            unhealthy: false,
        });
        self
    }

    /// A fresh report of agent `name`.
    fn report(mut self, name: &str, state: AgentState, in_flight: u64) -> Self {
        self.reports.record(
            Stats {
                v: 1,
                id: name.into(),
                pool: "p".into(),
                state,
                in_flight,
                capacity: 4,
                completed: 0,
                failed: 0,
            },
            self.now,
        );
        self
    }

    fn listed_mut(&mut self, name: &str) -> &mut Listed {
        self.listed
            .iter_mut()
            .find(|c| c.name == name)
            .expect("listed")
    }

    fn advance(&mut self, secs: u64) {
        self.now = after(self.now, Duration::from_secs(secs));
    }

    /// Advances time with every agent reporting on, as live agents do.
    fn advance_reporting(&mut self, secs: u64) {
        self.advance(secs);
        for c in &self.listed {
            if let Some(seen) = self.reports.get(&c.name) {
                let stats = seen.stats.clone();
                self.reports.record(stats, self.now);
            }
        }
    }

    fn sync(&mut self) -> Vec<Event> {
        self.roster
            .sync(&self.listed, &self.reports, &self.agents, self.now)
    }

    /// Syncs, then plans toward `desired`.
    fn plan(&mut self, desired: u32) -> Vec<Action> {
        self.sync();
        let current = self.roster.replicas(&self.listed).current();
        let d = Decision {
            desired,
            recommended: desired,
            current,
            limit: Limit::None,
            estimates: Estimates::default(),
            staleness_s: 0.0,
            reason: String::new(),
            demand: desired,
            min: 0,
            max: 100,
        };
        plan(&Input {
            decision: &d,
            roster: &self.roster,
            listed: &self.listed,
            reports: &self.reports,
            agents: &self.agents,
            template: &self.template,
            nats_ok: self.nats_ok,
            ack_pending: None,
            now: self.now,
        })
    }

    /// Plans, then records the actions as the loop would (starts named
    /// `new-<n>`).
    fn step(&mut self, desired: u32) -> Vec<Action> {
        let actions = self.plan(desired);
        for (n, a) in actions.iter().enumerate() {
            match a {
                Action::Start { standby } => {
                    self.roster
                        .starting(&format!("new-{n}"), *standby, self.now)
                }
                other => {
                    self.roster.begin(other, self.now);
                }
            }
        }
        actions
    }

    fn role(&self, name: &str) -> Role {
        self.roster.get(&format!("id-{name}")).expect("member").role
    }

    fn fold(&mut self, outcome: Outcome) -> (Vec<Event>, Vec<Action>) {
        self.roster.fold(outcome, &self.agents, self.now)
    }
}

fn id(name: &str) -> ContainerId {
    ContainerId::from(format!("id-{name}"))
}

fn ok(state: AgentState, in_flight: u64) -> Option<Reply> {
    Some(Reply {
        v: 1,
        ok: true,
        state,
        in_flight,
        error: None,
    })
}

fn drain(name: &str, held: u64, cause: DrainCause) -> Action {
    Action::Drain {
        id: id(name),
        name: name.into(),
        held,
        cause,
    }
}

fn stop(name: &str, cause: StopCause) -> Action {
    Action::Stop {
        id: id(name),
        name: name.into(),
        cause,
    }
}

/// Three working agents, `a` busy with 3 tasks, `b` idle, `c` with 1.
fn three_agents() -> World {
    World::new()
        .container("a", 1)
        .container("b", 2)
        .container("c", 3)
        .report("a", AgentState::Busy, 3)
        .report("b", AgentState::Ready, 0)
        .report("c", AgentState::Busy, 1)
}

#[test]
fn a_steady_pool_needs_nothing() {
    assert_eq!(three_agents().plan(3), []);
}

#[test]
fn scale_in_drains_the_idle_agent_then_the_least_busy() {
    assert_eq!(three_agents().plan(2), [drain("b", 0, DrainCause::ScaleIn)]);
    assert_eq!(
        three_agents().plan(1),
        [
            drain("b", 0, DrainCause::ScaleIn),
            drain("c", 1, DrainCause::ScaleIn)
        ]
    );
}

#[test]
fn an_agent_that_does_not_speak_the_protocol_is_stopped() {
    let mut w = World::new().container("x", 1);
    w.advance(30);
    assert_eq!(w.plan(0), [stop("x", StopCause::ScaleIn)]);
}

#[test]
fn scale_out_resumes_drains_then_activates_standbys_then_starts() {
    let mut w = three_agents()
        .container("s", 4)
        .report("s", AgentState::Standby, 0);
    assert_eq!(w.step(2), [drain("b", 0, DrainCause::ScaleIn)]);
    w.fold(Outcome::DrainAnswered {
        id: id("b"),
        reply: ok(AgentState::Draining, 0),
    });
    assert!(matches!(w.role("b"), Role::Draining(d) if d.deadline.is_some()));
    assert_eq!(
        w.plan(5),
        [
            Action::Resume {
                id: id("b"),
                name: "b".into()
            },
            Action::Activate {
                id: id("s"),
                name: "s".into()
            },
            Action::Start { standby: false },
        ]
    );
}

#[test]
fn a_drain_past_its_deadline_becomes_a_stop() {
    let mut w = three_agents();
    w.step(2);
    w.fold(Outcome::DrainAnswered {
        id: id("b"),
        reply: ok(AgentState::Draining, 0),
    });
    w.advance_reporting(w.agents.drain_timeout.as_secs() - 1);
    assert_eq!(w.plan(2), []);
    w.advance_reporting(1);
    assert_eq!(w.plan(2), [stop("b", StopCause::DrainDeadline)]);
}

#[test]
fn a_refused_drain_becomes_a_stop_at_once() {
    let mut w = three_agents();
    w.step(2);
    let (_, then) = w.fold(Outcome::DrainAnswered {
        id: id("b"),
        reply: None,
    });
    assert_eq!(then, [stop("b", StopCause::DrainRefused)]);
    assert!(matches!(w.role("b"), Role::Stopping { .. }));
}

#[test]
fn a_drained_agent_that_exits_is_removed_as_drained() {
    let mut w = three_agents();
    w.step(2);
    w.fold(Outcome::DrainAnswered {
        id: id("b"),
        reply: ok(AgentState::Draining, 0),
    });
    w.listed_mut("b").phase = Phase::Exited;
    let actions = w.step(2);
    assert_eq!(
        actions,
        [Action::Remove {
            id: id("b"),
            name: "b".into(),
            cause: RemoveCause::Drained
        }]
    );
}

#[test]
fn an_exited_agent_is_replaced_and_a_crash_backs_off() {
    // Started by this process a moment ago: a crash.
    let mut w = World::new();
    w.step(1);
    w.fold(Outcome::Started {
        name: "new-0".into(),
        result: Ok(id("new-0")),
    });
    w.listed.push(Listed {
        id: "id-new-0".into(),
        name: "new-0".into(),
        phase: Phase::Exited,
        created: 1,
        template: Some("t1".into()),
        unhealthy: false,
    });
    let actions = w.step(1);
    assert_eq!(
        actions,
        [
            Action::Remove {
                id: id("new-0"),
                name: "new-0".into(),
                cause: RemoveCause::Crashed
            },
            // The first crash is retried at once.
            Action::Start { standby: false },
        ]
    );
    // An agent that ran a long time and exited: replaced, no back-off.
    let mut w = three_agents();
    w.listed_mut("a").phase = Phase::Exited;
    assert_eq!(
        w.plan(3),
        [
            Action::Remove {
                id: id("a"),
                name: "a".into(),
                cause: RemoveCause::Exited
            },
            Action::Start { standby: false },
        ]
    );
}

#[test]
fn repeated_start_failures_block_starts_until_the_back_off_passes() {
    let mut w = World::new();
    for _ in 0..2 {
        w.step(1);
        w.fold(Outcome::Started {
            name: "new-0".into(),
            result: Err("no such image".into()),
        });
    }
    assert!(w.roster.last_start_error.is_some());
    assert_eq!(w.plan(1), [], "blocked for 1 s after the second failure");
    w.advance(1);
    assert_eq!(w.plan(1), [Action::Start { standby: false }]);
}

#[test]
fn unhealthy_and_silent_agents_are_replaced_but_not_while_blind() {
    let mut w = three_agents();
    w.listed_mut("a").unhealthy = true;
    assert_eq!(w.plan(3)[0], stop("a", StopCause::Unhealthy));

    let mut w = three_agents();
    w.advance(w.agents.stats_timeout.as_secs() + 1);
    w = w
        .report("a", AgentState::Busy, 3)
        .report("c", AgentState::Busy, 1);
    let silent = w.plan(3);
    assert_eq!(silent[0], stop("b", StopCause::Silent));
    // The stopped agent is replaced in the same plan.
    assert_eq!(silent[1], Action::Start { standby: false });
    w.nats_ok = false;
    assert_eq!(
        w.plan(3),
        [],
        "jetpool's own NATS is down: every agent looks silent"
    );
}

#[test]
fn a_changed_template_rolls_one_agent_at_a_time_and_never_resumes_it() {
    let mut w = three_agents();
    w.template = "t2".into();
    let actions = w.step(3);
    // The oldest is retired (drained, it speaks the protocol), and the
    // scale step starts its replacement at once.
    assert_eq!(
        actions,
        [
            drain("a", 3, DrainCause::Roll),
            Action::Start { standby: false }
        ]
    );
    w.fold(Outcome::DrainAnswered {
        id: id("a"),
        reply: ok(AgentState::Draining, 3),
    });
    // Demand rises: the rolled agent is not resumed.
    let more = w.plan(5);
    assert!(
        more.iter().all(|a| !matches!(a, Action::Resume { .. })),
        "{more:?}"
    );
    // No second roll while one is under way (and the start is pending).
    assert!(!more.iter().any(|a| matches!(a, Action::Drain { .. })));
}

#[test]
fn warm_standbys_are_refilled_right_after_an_activation() {
    let mut w = three_agents()
        .container("s", 4)
        .report("s", AgentState::Standby, 0);
    w.agents.warm = 1;
    assert_eq!(w.plan(3), []);
    assert_eq!(
        w.step(4),
        [
            Action::Activate {
                id: id("s"),
                name: "s".into()
            },
            Action::Start { standby: true },
        ]
    );
    w.fold(Outcome::Activated {
        id: id("s"),
        reply: ok(AgentState::Ready, 0),
    });
    assert_eq!(w.role("s"), Role::Ready);
}

#[test]
fn a_restarted_jetpool_adopts_what_runs_and_finishes_drains() {
    let mut w = three_agents().report("c", AgentState::Draining, 1);
    let events = w.sync();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(matches!(w.role("c"), Role::Draining(d) if d.deadline.is_some()));
    assert_eq!(w.role("a"), Role::Ready);
    // Counted as leaving, not as capacity.
    let r = w.roster.replicas(&w.listed);
    assert_eq!((r.ready, r.draining), (2, 1));
}

#[test]
fn a_starting_agent_becomes_ready_at_its_first_report_with_its_cold_start() {
    let mut w = World::new();
    w.step(1);
    w.advance(1);
    w.fold(Outcome::Started {
        name: "new-0".into(),
        result: Ok(id("new-0")),
    });
    w = w.container("new-0", 1);
    assert_eq!(w.plan(1), []);
    assert!(matches!(w.role("new-0"), Role::Starting { .. }));
    w.advance(2);
    w = w.report("new-0", AgentState::Ready, 0);
    let events = w.sync();
    assert!(
        events.iter().any(
            |e| matches!(e, Event::ColdStart { seconds, .. } if (*seconds - 3.0).abs() < 1e-9)
        ),
        "{events:?}"
    );
    assert_eq!(w.role("new-0"), Role::Ready);
}
