//! Reaping, healing, rolling, warm standbys and adoption.

use super::*;

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
    w.started_and_exited(None);
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
    // The same exit seen just after the engine came back from an outage
    // (its daemon stopped the agent): replaced, no back-off.
    let mut w = World::new();
    w.started_and_exited(None);
    w.engine_back = true;
    assert_eq!(
        w.step(1)[0],
        Action::Remove {
            id: id("new-0"),
            name: "new-0".into(),
            cause: RemoveCause::Exited
        }
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
    let mut w = new_agent_beside_a_reporting_one(1);
    assert_eq!(w.plan(2), []);
    assert!(matches!(w.role("new-0"), Role::Starting { .. }));
    w.advance_reporting(2);
    w = w.report("new-0", AgentState::Ready, 0);
    let events = w.sync();
    let measured = cold_start(&events);
    assert!(
        measured.is_some_and(|c| (c - 3.0).abs() < 1e-9),
        "{events:?}"
    );
    assert_eq!(w.role("new-0"), Role::Ready);
}

#[test]
fn a_long_load_is_measured_to_the_first_working_report() {
    // A pool that speaks; a new agent reports `starting` while it loads
    // for a minute: it stays starting, and its cold start ends at `ready`.
    let mut w = new_agent_beside_a_reporting_one(0).report("new-0", AgentState::Starting, 0);
    assert_eq!(cold_start(&w.sync()), None);
    w.advance_reporting(60);
    assert_eq!(cold_start(&w.sync()), None);
    assert!(matches!(w.role("new-0"), Role::Starting { .. }));
    w = w.report("new-0", AgentState::Ready, 0);
    let events = w.sync();
    let measured = cold_start(&events);
    assert!(
        measured.is_some_and(|c| (c - 60.0).abs() < 1e-9),
        "{events:?}"
    );
    assert_eq!(w.role("new-0"), Role::Ready);
}

#[test]
fn a_silent_start_past_stats_timeout_is_ready_but_measured_at_its_first_report() {
    // A pool that speaks; a new agent says nothing for stats_timeout: it
    // counts as ready then (it may never speak), but no cold start of zero
    // is recorded: its first report, when it comes, measures it.
    let mut w = new_agent_beside_a_reporting_one(0);
    w.advance_reporting(20);
    assert_eq!(cold_start(&w.sync()), None);
    assert_eq!(w.role("new-0"), Role::Ready);
    w.advance_reporting(25);
    w = w.report("new-0", AgentState::Ready, 0);
    let events = w.sync();
    let measured = cold_start(&events);
    assert!(
        measured.is_some_and(|c| (c - 45.0).abs() < 1e-9),
        "{events:?}"
    );
}

/// A pool whose agents speak the protocol (one already reports) that
/// started `new-0`, its start folded `delay` seconds after it was asked
/// for, and the engine listing it.
fn new_agent_beside_a_reporting_one(delay: u64) -> World {
    let mut w = World::new()
        .container("old", 0)
        .report("old", AgentState::Ready, 0);
    assert_eq!(w.step(2), [Action::Start { standby: false }]);
    w.advance(delay);
    w.fold(Outcome::Started {
        name: "new-0".into(),
        result: Ok(id("new-0")),
    });
    w.container("new-0", 1)
}

/// The cold start measured among `events`, if one was.
fn cold_start(events: &[Event]) -> Option<f64> {
    events.iter().find_map(|e| match e {
        Event::ColdStart { seconds, .. } => Some(*seconds),
        _ => None,
    })
}

#[test]
fn a_container_an_earlier_jetpool_created_and_never_started_is_replaced() {
    // A jetpool killed between create and start leaves a created
    // container; the next one adopts it as starting.
    let mut w = World::new().container("a", 0);
    w.listed_mut("a").phase = Phase::Created;
    // Fresh: another writer (compose) may be starting it. Left alone.
    let acts = w.plan(1);
    assert!(acts.is_empty(), "{acts:?}");
    // Still not started a stats_timeout after its creation: replaced.
    let grace = w.agents.stats_timeout.as_secs();
    w.advance(grace);
    let acts = w.plan(1);
    assert_eq!(
        acts,
        vec![
            Action::Remove {
                id: id("a"),
                name: "a".into(),
                cause: RemoveCause::NeverStarted
            },
            Action::Start { standby: false },
        ]
    );
}
