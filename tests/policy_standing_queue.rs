//! `target_wait`: the standing-queue model through `decide`, with the
//! guardrails around it. The pool takes 10 tasks/s at an assumed 1 s each
//! (the fixtures' hint) with W = 15 s, so the queue it keeps is 150 tasks,
//! left alone within ±50; T is the fixtures' 30 s.

mod policy_common;

use std::time::Duration;

use jetpool::policy::{Limit, Policy};
use policy_common::{Driver, Tick, policy};

fn standing(f: impl FnOnce(&mut Policy)) -> Policy {
    policy(|p| {
        p.max = 50;
        p.scaling.target_wait = Some(Duration::from_secs(15));
        f(p);
    })
}

/// The last of 60 steady ticks: `pending` queued throughout, 10 tasks in
/// and 10 out each second, 10 in flight.
fn steady(p: Policy, current: u32, pending: u64) -> jetpool::policy::Decision {
    let mut d = Driver::new(p, current);
    let out = d.run(
        &(0..60)
            .map(|i| Tick(f64::from(i), pending, 10, 10))
            .collect::<Vec<_>>(),
    );
    out[59].clone()
}

#[test]
fn a_queue_at_its_target_is_served_by_exactly_lambda_over_mu() {
    // Ten agents, all busy, 150 queued: the pool neither grows (no ρ
    // headroom) nor shrinks.
    let mut d = Driver::new(standing(|_| {}), 10);
    for i in 0..120 {
        let got = d.step(Tick(f64::from(i), 150, 10, 10));
        assert_eq!(got.desired, 10, "t={i}: {}", got.reason);
    }
    // Without target_wait the same pool drains the queue: 10 + 150/30.
    let got = steady(policy(|p| p.max = 50), 10, 150);
    assert_eq!(got.desired, 15, "{}", got.reason);
}

#[test]
fn the_queue_is_corrected_only_past_its_band() {
    let p = standing(|p| p.scaling.scale_down_delay = Some(Duration::ZERO));
    // 110 and 190 are inside the band: the count follows λ alone.
    for b in [110, 190] {
        let got = steady(p.clone(), 10, b);
        assert_eq!(got.desired, 10, "backlog {b}: {}", got.reason);
    }
    // 500 is 300 past the band's top: +300/30 = +10 agents.
    let got = steady(p.clone(), 10, 500);
    assert_eq!(got.desired, 20, "{}", got.reason);
    assert!(got.reason.contains("standing queue 150"), "{}", got.reason);
    // An empty queue is 100 short of the band's bottom: 10 - 100/30
    // -> 7 agents, so it refills.
    let got = steady(p, 10, 0);
    assert_eq!(got.desired, 7, "{}", got.reason);
}

/// Twenty agents, all busy (1 s per task), working off a surplus queue:
/// 10 tasks in and 20 out each second for 30 s, from 450 queued; then the
/// queue runs dry with 12 still at work, then one task is queued again.
fn surplus_then_dry(p: Policy) -> Vec<jetpool::policy::Decision> {
    let mut ticks: Vec<Tick> = (0u32..30)
        .map(|i| Tick(f64::from(i), 450 - 10 * u64::from(i), 20, 10))
        .collect();
    ticks.push(Tick(30.0, 0, 12, 10));
    ticks.push(Tick(31.0, 1, 12, 10));
    Driver::new(p, 20).run(&ticks)
}

#[test]
fn busy_agents_are_let_go_with_a_standing_queue() {
    // No down window: once the rate is known, 20 busy agents are more
    // than the queue needs (at 440 queued, 10 + (440 - 200)/30 = 18).
    // Victims drain what they hold, so nothing is lost.
    let out = surplus_then_dry(standing(|p| {
        p.scaling.scale_down_delay = Some(Duration::ZERO)
    }));
    let got = &out[1];
    assert_eq!(
        (got.desired, got.limit),
        (18, Limit::None),
        "{}",
        got.reason
    );
    assert!(
        !got.reason.contains("in-flight work needs"),
        "{}",
        got.reason
    );
}

#[test]
fn an_empty_queue_releases_idle_agents_past_the_down_window() {
    // The default 60 s down window holds the 20 busy agents while the
    // surplus is worked off; when the queue runs dry the 8 idle ones go
    // at once, and the window holds the rest.
    let out = surplus_then_dry(standing(|_| {}));
    for (i, got) in out.iter().take(30).enumerate() {
        assert_eq!(got.desired, 20, "t={i}: {}", got.reason);
    }
    assert_eq!(out[30].desired, 12, "{}", out[30].reason);
    assert!(
        out[30].reason.contains("8 idle agents released"),
        "{}",
        out[30].reason
    );
    assert_eq!(
        (out[31].desired, out[31].limit),
        (12, Limit::ScaleDownDelay),
        "{}",
        out[31].reason
    );
    // Draining to empty, the window keeps every agent: such a pool
    // expects its queue to run dry and keeps its agents for what comes.
    let out = surplus_then_dry(policy(|p| p.max = 50));
    assert_eq!(
        (out[30].desired, out[30].limit),
        (out[29].desired, Limit::ScaleDownDelay),
        "{}",
        out[30].reason
    );
}

#[test]
fn an_idle_standing_pool_still_goes_to_zero_through_one() {
    // The queue empties and nothing arrives: the release lets the idle
    // agents go, but zero comes only from scale_to_zero_after, via 1.
    let mut d = Driver::new(
        standing(|p| p.scaling.scale_to_zero_after = Duration::from_secs(5)),
        8,
    );
    let mut counts = Vec::new();
    for i in 0..12 {
        let got = d.step(Tick(f64::from(i), 0, 0, 0));
        counts.push((got.desired, got.limit));
    }
    assert_eq!(counts[0], (1, Limit::ScaleToZeroDelay), "{counts:?}");
    assert!(counts.contains(&(0, Limit::ScaleToZero)), "{counts:?}");
    let first_zero = counts.iter().position(|c| c.0 == 0).unwrap_or(0);
    assert!(first_zero >= 5, "{counts:?}");
}

#[test]
fn a_wait_slo_pool_keeps_no_queue_until_it_has_measured_a_cold_start() {
    // No `cold_start` key: until an agent reports, the pool assumes twice
    // the SLO, so it keeps no standing queue and sizes for the backlog
    // expected when the agents it orders are ready.
    let p = policy(|p| {
        p.max = 500;
        p.scaling.wait_slo = Some(Duration::from_secs(30));
    });
    let mut d = Driver::new(p, 0);
    let first = d.run(&[
        Tick(0.0, 0, 0, 0),
        Tick(1.0, 10, 0, 10),
        Tick(2.0, 20, 0, 10),
    ]);
    let slo = first[2].slo.expect("a wait_slo pool derives");
    assert_eq!(slo.target_wait_s, None, "{slo:?}");
    assert!((slo.reaction_s - 62.0).abs() < 1e-9, "{slo:?}");
    // 20 pending and 10/s for about a minute before any agent helps: many
    // more agents than the 10 the arrivals alone need.
    assert!(first[2].desired > 10, "{}", first[2].desired);
    // The first report measures a 0.5 s cold start: a standing queue of
    // half the SLO from then on.
    let mut obs = d.observation(Tick(3.0, 10, 10, 10));
    obs.cold_start_s = Some(0.5);
    let measured = d.decide(&obs, 3.0);
    let slo = measured.slo.expect("a wait_slo pool derives");
    assert!(
        slo.target_wait_s.is_some_and(|w| (w - 15.0).abs() < 1e-9),
        "{slo:?}"
    );
}

#[test]
fn a_wait_slo_pool_measures_the_share_of_tasks_started_past_the_slo() {
    let slo = |p: &mut Policy| {
        p.max = 50;
        p.scaling.wait_slo = Some(Duration::from_secs(30));
    };
    let mut d = Driver::new(policy(slo), 10);
    // 10 tasks/s in and out over 100 pending; the oldest has waited
    // `age` seconds at each read.
    let at = |d: &mut Driver, t: f64, age: f64| {
        let mut obs = d.observation(Tick(t, 100, 10, 10));
        if let Some(c) = obs.consumer.as_mut() {
            c.oldest_pending_at = Some(policy_common::ts(t - age));
        }
        d.decide(&obs, t)
    };
    assert_eq!(
        at(&mut d, 0.0, 10.0).slo_late_share,
        None,
        "nothing delivered yet"
    );
    for i in 1..30 {
        at(&mut d, f64::from(i), 10.0);
    }
    let on_time = at(&mut d, 30.0, 10.0);
    assert_eq!(on_time.slo_late_share, Some(0.0));
    assert!(!on_time.behind, "a 10 s wait is within the plan");
    // Ten seconds of deliveries 40 s old: a quarter of the 40 s so far,
    // less the interpolated edge.
    let mut last = None;
    for i in 31..=40 {
        let late = at(&mut d, f64::from(i), 40.0);
        assert!(late.behind, "the oldest task waited past the age guard");
        last = late.slo_late_share;
    }
    let share = last.expect("delivered");
    assert!((0.2..=0.25).contains(&share), "late share {share}");
    // Without wait_slo nothing is measured.
    let mut plain = Driver::new(policy(|p| p.max = 50), 10);
    assert_eq!(at(&mut plain, 0.0, 40.0).slo_late_share, None);
    let plain_late = at(&mut plain, 1.0, 40.0);
    assert_eq!(plain_late.slo_late_share, None);
    assert!(!plain_late.behind, "no SLO, no plan to be behind");
}
