//! Table-driven tests of `decide`, one table (or script) per guardrail.
//!
//! Defaults unless a row says otherwise: min 0, max 10, service time 1 s
//! (assumed), concurrency 1, ρ 0.8, drain time 30 s, so a backlog B alone
//! asks for `ceil(B / 30)` agents (a backlog is drained at full
//! throughput). A fresh state holds what runs for `scale_down_delay` (as
//! after a restart), so rows about scale-down set that window to 0.

mod policy_common;

use std::time::Duration;

use jetpool::config::{RateLimit, Select, Step};
use jetpool::policy::Limit;
use policy_common::{Driver, Tick, check, down_now, policy, row};

#[test]
fn bounds() {
    let base = policy(|_| {});
    check(vec![
        row("model stands", base.clone(), 100, 0, 0).expect(4, Limit::None),
        row("capped by max", base.clone(), 400, 0, 0).expect(10, Limit::Max),
        row("raised to min", down_now(|p| p.min = 3), 0, 0, 3).expect(3, Limit::Min),
        row(
            "min wins over the idle hold",
            down_now(|p| p.min = 2),
            0,
            0,
            5,
        )
        .expect(2, Limit::Min),
        row("a restart holds what runs", policy(|p| p.min = 2), 0, 0, 5)
            .expect(5, Limit::ScaleDownDelay),
    ]);
}

#[test]
fn feed_cap() {
    // max_ack_pending 20 with concurrency 2 feeds at most 10 agents.
    let mut d = Driver::new(
        policy(|p| {
            p.max = 50;
            p.scaling.concurrency = 2;
        }),
        0,
    );
    let mut obs = d.observation(Tick(0.0, 2000, 0, 0));
    if let Some(c) = obs.consumer.as_mut() {
        c.max_ack_pending = Some(20);
    }
    let got = d.decide(&obs, 0.0);
    assert_eq!(
        (got.desired, got.limit),
        (10, Limit::ConsumerLimit),
        "{}",
        got.reason
    );
}

#[test]
fn tolerance_keeps_the_count_near_the_need() {
    // From 10 agents: B / 30 agents are needed; the band is 9..=11.
    let p = down_now(|p| p.max = 50);
    let exact = down_now(|p| {
        p.max = 50;
        p.scaling.tolerance = 0.0;
    });
    check(vec![
        row("10.5 kept at 10", p.clone(), 315, 0, 10).expect(10, Limit::Tolerance),
        row("9.0 kept at 10", p.clone(), 270, 0, 10).expect(10, Limit::Tolerance),
        row("11.27 leaves the band", p.clone(), 338, 0, 10).expect(12, Limit::None),
        row("8.73 leaves the band", p.clone(), 262, 0, 10).expect(9, Limit::None),
        row("tolerance 0 follows", exact, 315, 0, 10).expect(11, Limit::None),
    ]);
}

#[test]
fn activation_from_zero() {
    let p = policy(|p| p.scaling.activation_backlog = 5);
    check(vec![
        row("at 5 stays at zero", p.clone(), 5, 0, 0).expect(0, Limit::Activation),
        row("above 5 wakes", p.clone(), 6, 0, 0).expect(1, Limit::None),
        row("default wakes at 1", policy(|_| {}), 1, 0, 0).expect(1, Limit::None),
        row("nothing to do", policy(|_| {}), 0, 0, 0).expect(0, Limit::None),
    ]);
}

#[test]
fn activation_timeout_wakes_a_lone_task() {
    // Three tasks below activation_backlog 5: held at zero until they have
    // waited 20 s, then one agent, whatever the model says.
    let p = policy(|p| {
        p.scaling.activation_backlog = 5;
        p.scaling.activation_timeout = Duration::from_secs(20);
    });
    let mut d = Driver::new(p, 0);
    let mut ticks = vec![Tick(0.0, 3, 0, 3)];
    ticks.extend((1..=20).map(|i| Tick(f64::from(i), 3, 0, 0)));
    let out = d.run(&ticks);
    for (i, got) in out.iter().enumerate().take(20) {
        assert_eq!(
            (got.desired, got.limit),
            (0, Limit::Activation),
            "t={i}: {}",
            got.reason
        );
    }
    assert_eq!(
        (out[20].desired, out[20].limit),
        (1, Limit::ActivationTimeout),
        "{}",
        out[20].reason
    );
    assert!(
        out[20].reason.contains("pending for 20s"),
        "{}",
        out[20].reason
    );
    // The clock restarts when the queue empties: a new lone task waits again.
    let mut d = Driver::new(
        policy(|p| {
            p.scaling.activation_backlog = 5;
            p.scaling.activation_timeout = Duration::from_secs(20);
        }),
        0,
    );
    let mut ticks = vec![Tick(0.0, 2, 0, 2)];
    ticks.extend((1..=15).map(|i| Tick(f64::from(i), 2, 0, 0)));
    ticks.push(Tick(16.0, 0, 0, 0)); // purged or taken elsewhere
    ticks.extend((17..=30).map(|i| Tick(f64::from(i), 1, 0, u64::from(i == 17))));
    let out = d.run(&ticks);
    assert!(
        out.iter().all(|got| got.desired == 0),
        "{:?}",
        out.iter().map(|d| &d.reason).collect::<Vec<_>>()
    );
}

#[test]
fn scale_to_zero_after_idle_passing_through_one() {
    let p = policy(|p| p.scaling.scale_to_zero_after = Duration::from_secs(10));
    let mut d = Driver::new(p, 4);
    // Busy at t=0, then idle from t=1 on.
    let mut ticks = vec![Tick(0.0, 0, 4, 4)];
    ticks.extend((1..=13).map(|i| Tick(f64::from(i), 0, 0, 0)));
    let out = d.run(&ticks);
    let seq: Vec<(u32, Limit)> = out.iter().map(|d| (d.desired, d.limit)).collect();
    // Held by the down window while not yet idle for 10 s, then
    // 4 -> 1 -> 0 (never 4 -> 0), past the 60 s window: idle is idle.
    assert_eq!(seq[1], (4, Limit::ScaleDownDelay), "{}", out[1].reason);
    assert_eq!(seq[10], (4, Limit::ScaleDownDelay), "{}", out[10].reason);
    assert_eq!(seq[11], (1, Limit::StepToZero), "{}", out[11].reason);
    assert_eq!(seq[12], (0, Limit::ScaleToZero), "{}", out[12].reason);
    assert_eq!(seq[13], (0, Limit::None), "{}", out[13].reason);
}

#[test]
fn a_pool_that_is_not_idle_keeps_one_agent() {
    // A trickle: one task every 2 s keeps the idle clock from reaching 30 s.
    let mut d = Driver::new(policy(|_| {}), 1);
    for i in 0..120 {
        let arrived = u64::from(i % 2 == 0);
        let got = d.step(Tick(f64::from(i), 0, arrived, arrived));
        assert_eq!(got.desired, 1, "t={i}: {}", got.reason);
    }
}

#[test]
fn scale_up_window_holds_the_lowest_recommendation() {
    let p = policy(|p| {
        p.max = 50;
        p.scaling.scale_up_delay = Duration::from_secs(3);
        p.scaling.tolerance = 0.0;
    });
    let mut d = Driver::new(p, 2);
    // Backlog 60 asks for 2; 300 for 10. Up at t=1: held 3 s.
    let out = d.run(&[
        Tick(0.0, 60, 0, 0),
        Tick(1.0, 300, 0, 240),
        Tick(2.0, 300, 0, 0),
        Tick(3.0, 300, 0, 0),
        Tick(4.0, 300, 0, 0),
    ]);
    let got: Vec<u32> = out.iter().map(|d| d.desired).collect();
    assert_eq!(
        got[..4],
        [2, 2, 2, 2],
        "{:?}",
        out.iter().map(|d| &d.reason).collect::<Vec<_>>()
    );
    assert_eq!(out[1].limit, Limit::ScaleUpDelay);
    assert!(got[4] >= 10, "{}", out[4].reason);
}

#[test]
fn down_window_holds_the_highest_recommendation() {
    let p = policy(|p| {
        p.max = 50;
        p.scaling.scale_down_delay = Some(Duration::from_secs(10));
        p.scaling.tolerance = 0.0;
    });
    let mut d = Driver::new(p, 0);
    let first = d.step(Tick(0.0, 300, 0, 300));
    assert_eq!(first.desired, 10, "{}", first.reason);
    // The backlog is gone at t=1; the need of 10 holds the pool for 10 s.
    for i in 1..=10 {
        let got = d.step(Tick(f64::from(i), 0, 1, 0));
        assert_eq!(
            (got.desired, got.limit),
            (10, Limit::ScaleDownDelay),
            "t={i}: {}",
            got.reason
        );
    }
    let got = d.step(Tick(11.0, 0, 1, 0));
    assert!(got.desired < 10, "{}", got.reason);
}

fn limits(v: &[(Step, u64)]) -> Vec<RateLimit> {
    v.iter()
        .map(|&(step, secs)| RateLimit {
            step,
            period: Duration::from_secs(secs),
        })
        .collect()
}

#[test]
fn scale_up_rate_limits_count_from_the_period_start() {
    // (name, up limits, select, desired after each of 4 ticks 5 s apart)
    // with a need of 40 throughout.
    let pods4 = (Step::Pods(4), 15);
    let cases: Vec<(&str, Vec<RateLimit>, Select, [u32; 4])> = vec![
        ("none", vec![], Select::Max, [40, 40, 40, 40]),
        ("4 pods / 15 s", limits(&[pods4]), Select::Max, [4, 4, 4, 8]),
        (
            "4 pods or 100% / 15 s, max",
            limits(&[pods4, (Step::Percent(100), 15)]),
            Select::Max,
            [4, 4, 4, 8],
        ),
        (
            "100% / 5 s",
            limits(&[(Step::Percent(100), 5)]),
            Select::Max,
            [2, 4, 8, 16],
        ),
        (
            "4 pods / 5 s or 100% / 5 s, min",
            limits(&[(Step::Pods(4), 5), (Step::Percent(100), 5)]),
            Select::Min,
            [2, 4, 8, 12],
        ),
        ("disabled", limits(&[pods4]), Select::Disabled, [0, 0, 0, 0]),
    ];
    for (name, up, select, want) in cases {
        let p = policy(|p| {
            p.max = 100;
            p.scaling.scale_up_limits = up;
            p.scaling.scale_up_select = select;
        });
        let mut d = Driver::new(p, 0);
        let got: Vec<u32> = (0..4)
            .map(|i| d.step(Tick(f64::from(i) * 5.0, 1200, 0, 0)).desired)
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn scale_down_rate_limit() {
    let p = down_now(|p| {
        p.max = 100;
        p.scaling.scale_down_limits = limits(&[(Step::Percent(50), 10)]);
    });
    // 40 agents at work; the need drops to 2 (in flight) and the pool
    // may halve at most every 10 s, counted from each period's start.
    let mut d = Driver::new(p, 40);
    assert_eq!(d.step(Tick(0.0, 1200, 0, 1200)).desired, 40);
    let got: Vec<(u32, Limit)> = (1..=4)
        .map(|i| d.step(Tick(f64::from(i) * 5.0, 0, 2, 0)))
        .map(|d| (d.desired, d.limit))
        .collect();
    let limited = Limit::ScaleDownLimit;
    assert_eq!(
        got,
        [(20, limited), (20, limited), (10, limited), (10, limited)]
    );
}

#[test]
fn cooldown_holds_after_a_change() {
    let p = policy(|p| {
        p.max = 100;
        p.scaling.cooldown = Duration::from_secs(10);
    });
    let mut d = Driver::new(p, 0);
    assert_eq!(d.step(Tick(0.0, 60, 0, 60)).desired, 2);
    let got = d.step(Tick(5.0, 600, 0, 540));
    assert_eq!(
        (got.desired, got.limit),
        (2, Limit::Cooldown),
        "{}",
        got.reason
    );
    // Cooldown over: the backlog and the arrivals behind it both count.
    let got = d.step(Tick(10.0, 600, 0, 0));
    assert!(got.desired > 20, "{}", got.reason);
    assert_eq!(got.limit, Limit::None, "{}", got.reason);
}
