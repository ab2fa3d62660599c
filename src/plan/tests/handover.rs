//! The drains a leader hands over, and how a new leader restores them.

use super::*;

/// A drain acknowledged 10 s ago by a leader whose `drain_timeout` is 30 s.
fn known(name: &str, cause: DrainCause) -> KnownDrain {
    let since = Timestamp::UNIX_EPOCH;
    KnownDrain {
        name: name.into(),
        cause,
        since,
        deadline: after(since, Duration::from_secs(30)),
        held: 2,
    }
}

/// A follower that adopted `b` and `c` as draining 10 s into the drain
/// (deadline counted from then).
fn follower() -> World {
    let mut w =
        three_agents()
            .report("b", AgentState::Draining, 1)
            .report("c", AgentState::Draining, 1);
    w.advance_reporting(10);
    w.sync();
    w
}

#[test]
fn the_new_leader_keeps_the_original_deadline_and_cause() {
    let mut w = follower();
    assert!(
        matches!(w.role("b"), Role::Draining(d) if d.deadline == Some(after(w.now, w.agents.drain_timeout)))
    );
    let restored = w.roster.restore_drains(&[
        known("b", DrainCause::ScaleIn),
        known("c", DrainCause::Roll),
        known("gone", DrainCause::ScaleIn),
    ]);
    assert_eq!(restored, ["b", "c"]);
    let original = known("b", DrainCause::ScaleIn);
    assert!(matches!(w.role("b"), Role::Draining(d)
        if d.deadline == Some(original.deadline) && d.since == original.since && d.held == 2));
    assert!(matches!(w.role("c"), Role::Rolling(_)));
    // The deadline is the original one: 20 s on, the drain is stopped.
    w.advance_reporting(20);
    assert_eq!(
        w.plan(1),
        [
            stop("b", StopCause::DrainDeadline),
            stop("c", StopCause::DrainDeadline)
        ]
    );
}

#[test]
fn an_agent_not_draining_is_left_alone() {
    let mut w = three_agents();
    w.sync();
    assert!(
        w.roster
            .restore_drains(&[known("a", DrainCause::ScaleIn)])
            .is_empty()
    );
    assert_eq!(w.role("a"), Role::Ready);
}

#[test]
fn drains_lists_the_acknowledged_ones_and_round_trips() {
    let mut w = follower();
    w.roster.restore_drains(&[known("c", DrainCause::Roll)]);
    let drains = w.roster.drains();
    assert_eq!(drains.len(), 2);
    assert_eq!(drains[1], known("c", DrainCause::Roll));
    assert_eq!(drains[0].deadline, after(w.now, w.agents.drain_timeout));
    let json = serde_json::to_string(&drains).unwrap();
    let back: Vec<KnownDrain> = serde_json::from_str(&json).unwrap();
    assert_eq!(back, drains);
    // A drain request still in flight is not handed over.
    let mut w = three_agents();
    assert_eq!(w.step(2), [drain("b", 0, DrainCause::ScaleIn)]);
    assert!(w.roster.drains().is_empty());
}
