//! Scaling out and in: resume, activate, start; drains and their deadlines.

use super::*;

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
fn an_agent_that_has_not_reported_yet_is_not_a_victim_in_a_reporting_pool() {
    // `a` and `b` report; `new` runs but its first report is not in yet.
    let mut w = World::new()
        .container("a", 1)
        .container("b", 2)
        .report("a", AgentState::Busy, 2)
        .report("b", AgentState::Busy, 1);
    w.step(3);
    w.fold(Outcome::Started {
        name: "new-0".into(),
        result: Ok(id("new-0")),
    });
    w = w.container("new-0", 3);
    assert_eq!(w.plan(2), [drain("b", 1, DrainCause::ScaleIn)]);
    // Once it reports, it is the idle one and goes first.
    w = w.report("new-0", AgentState::Ready, 0);
    assert_eq!(w.plan(2), [drain("new-0", 0, DrainCause::ScaleIn)]);
}

/// `a` and `b` working, each holding `held` tasks, and an order of two
/// more (`new-0`, `new-1`) that runs and reports `starting` (not yet safe
/// to stop), with starts typically taking 5 s.
fn two_working_and_two_starting(state: AgentState, held: u64) -> World {
    let mut w = World::new()
        .container("a", 1)
        .container("b", 2)
        .report("a", state, held)
        .report("b", state, held);
    w.cold_start_s = 5.0;
    w.step(4);
    for n in 0..2 {
        let name = format!("new-{n}");
        w.fold(Outcome::Started {
            name: name.clone(),
            result: Ok(id(&name)),
        });
        w = w.container(&name, 3).report(&name, AgentState::Starting, 0);
    }
    w
}

#[test]
fn working_agents_stay_while_overdue_starters_hold_the_count() {
    let mut w = two_working_and_two_starting(AgentState::Ready, 0);
    // Due within twice the typical start, they stand in for the working
    // agents, which go.
    w.advance_reporting(4);
    assert_eq!(
        w.plan(2),
        [
            drain("b", 0, DrainCause::ScaleIn),
            drain("a", 0, DrainCause::ScaleIn)
        ]
    );
    // Overdue, they may take minutes more: the working agents stay.
    w.advance_reporting(8);
    assert_eq!(w.plan(2), []);
    // One lands: it is surplus, and goes.
    w = w.report("new-1", AgentState::Ready, 0);
    assert_eq!(w.plan(2), [drain("new-1", 0, DrainCause::ScaleIn)]);
}

#[test]
fn behind_the_slo_overdue_starters_are_replaced_not_stopped() {
    let mut w = two_working_and_two_starting(AgentState::Busy, 1);
    w.advance_reporting(12);
    // Overdue but the queue on plan: they are waited for.
    assert_eq!(w.plan(4), []);
    // Behind: each overdue starter gets a replacement; none is stopped.
    w.behind = true;
    assert_eq!(
        w.plan(4),
        [
            Action::Start { standby: false },
            Action::Start { standby: false }
        ]
    );
    // At most one replacement per desired agent.
    assert_eq!(w.plan(1), [drain("b", 1, DrainCause::ScaleIn)]);
}
