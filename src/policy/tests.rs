//! Table-driven tests of `decide`, one table (or script) per guardrail.
//! Defaults unless a row says otherwise: min 0, max 10, service time 1 s
//! (assumed), concurrency 1, ρ 0.8, drain time 30 s, so a backlog B alone
//! asks for `ceil(B / 24)` agents.

use super::*;
use crate::config::{RateLimit, Select, StaleFallback, Step, Zone};

fn ts(secs: f64) -> Timestamp {
    Timestamp::from_millisecond(1_700_000_000_000 + (secs * 1000.0).round() as i64).unwrap()
}

/// One tick: seconds since start, pending, ack pending, arrivals since the
/// previous tick.
#[derive(Debug, Clone, Copy)]
struct Tick(f64, u64, u64, u64);

/// Feeds ticks to `decide`, keeping the consumer's counters consistent.
struct Driver {
    policy: Policy,
    state: PoolState,
    delivered: u64,
    prev_pending: u64,
    /// What runs; follows each decision (the service acting at once).
    current: u32,
    budget: Option<u32>,
}

impl Driver {
    fn new(policy: Policy, current: u32) -> Self {
        Driver {
            policy,
            state: PoolState::default(),
            delivered: 0,
            prev_pending: 0,
            current,
            budget: None,
        }
    }

    fn observation(&mut self, Tick(at, pending, ack, arrived): Tick) -> Observation {
        self.delivered += (arrived + self.prev_pending).saturating_sub(pending);
        self.prev_pending = pending;
        Observation {
            consumer: Some(ConsumerStats {
                at: ts(at),
                pending,
                ack_pending: ack,
                delivered_consumer_seq: self.delivered,
                ..Default::default()
            }),
            replicas: Replicas {
                ready: self.current,
                ..Default::default()
            },
            budget: self.budget,
            ..Default::default()
        }
    }

    fn step(&mut self, tick: Tick) -> Decision {
        let obs = self.observation(tick);
        self.decide(&obs, tick.0)
    }

    fn decide(&mut self, obs: &Observation, now: f64) -> Decision {
        let d = decide(&self.policy, &mut self.state, obs, ts(now));
        self.current = d.desired;
        d
    }

    /// Runs every tick, returning the decisions.
    fn run(&mut self, ticks: &[Tick]) -> Vec<Decision> {
        ticks.iter().map(|&t| self.step(t)).collect()
    }
}

fn policy(f: impl FnOnce(&mut Policy)) -> Policy {
    let mut p = Policy {
        scaling: Scaling {
            service_time: Some(Duration::from_secs(1)),
            ..Default::default()
        },
        ..Default::default()
    };
    f(&mut p);
    p
}

/// A single decision from a fresh state: (name, policy, pending, ack
/// pending, current, budget, expected desired, expected limit).
type One = (&'static str, Policy, u64, u64, u32, Option<u32>, u32, Limit);

fn check_one(cases: Vec<One>) {
    for (name, p, pending, ack, current, budget, want, limit) in cases {
        let mut d = Driver::new(p, current);
        d.budget = budget;
        let got = d.step(Tick(0.0, pending, ack, 0));
        assert_eq!(
            (got.desired, got.limit),
            (want, limit),
            "{name}: {}",
            got.reason
        );
    }
}

#[test]
fn bounds_and_feed_cap() {
    let base = policy(|_| {});
    check_one(vec![
        (
            "model stands",
            base.clone(),
            100,
            0,
            0,
            None,
            5,
            Limit::None,
        ),
        (
            "capped by max",
            base.clone(),
            400,
            0,
            0,
            None,
            10,
            Limit::Max,
        ),
        (
            "raised to min",
            policy(|p| p.min = 3),
            0,
            0,
            3,
            None,
            3,
            Limit::Min,
        ),
        (
            "min wins over the idle hold",
            policy(|p| p.min = 2),
            0,
            0,
            5,
            None,
            2,
            Limit::Min,
        ),
    ]);
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
    // From 10 agents: B / 24 agents are needed; the band is 9..=11.
    let p = policy(|p| p.max = 50);
    check_one(vec![
        (
            "10.5 kept at 10",
            p.clone(),
            252,
            0,
            10,
            None,
            10,
            Limit::Tolerance,
        ),
        (
            "9.0 kept at 10",
            p.clone(),
            216,
            0,
            10,
            None,
            10,
            Limit::Tolerance,
        ),
        (
            "11.25 leaves the band",
            p.clone(),
            270,
            0,
            10,
            None,
            12,
            Limit::None,
        ),
        (
            "8.75 leaves the band",
            p.clone(),
            210,
            0,
            10,
            None,
            9,
            Limit::None,
        ),
        (
            "tolerance 0 follows",
            policy(|p| {
                p.max = 50;
                p.scaling.tolerance = 0.0;
            }),
            252,
            0,
            10,
            None,
            11,
            Limit::None,
        ),
    ]);
}

#[test]
fn activation_from_zero() {
    let p = policy(|p| p.scaling.activation_backlog = 5);
    check_one(vec![
        (
            "at 5 stays at zero",
            p.clone(),
            5,
            0,
            0,
            None,
            0,
            Limit::Activation,
        ),
        ("above 5 wakes", p.clone(), 6, 0, 0, None, 1, Limit::None),
        (
            "default wakes at 1",
            policy(|_| {}),
            1,
            0,
            0,
            None,
            1,
            Limit::None,
        ),
        (
            "nothing to do",
            policy(|_| {}),
            0,
            0,
            0,
            None,
            0,
            Limit::None,
        ),
    ]);
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
    // Held by the in-flight work and the down window while not yet idle
    // for 10 s, then 4 -> 1 -> 0, never 4 -> 0.
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
fn stabilisation_windows() {
    let p = policy(|p| {
        p.max = 50;
        p.scaling.scale_up_delay = Duration::from_secs(3);
        p.scaling.scale_down_delay = Duration::from_secs(10);
        p.scaling.tolerance = 0.0;
    });
    let mut d = Driver::new(p, 2);
    // Backlog 48 asks for 2; 240 for 10. Up at t=1: held 3 s.
    let out = d.run(&[
        Tick(0.0, 48, 0, 0),
        Tick(1.0, 240, 0, 192),
        Tick(2.0, 240, 0, 0),
        Tick(3.0, 240, 0, 0),
        Tick(4.0, 240, 0, 0),
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
        p.scaling.scale_down_delay = Duration::from_secs(10);
        p.scaling.tolerance = 0.0;
    });
    let mut d = Driver::new(p, 0);
    let first = d.step(Tick(0.0, 240, 0, 240));
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
fn rate_limits_count_from_the_period_start() {
    // Table: (name, up limits, select, desired after each of 4 ticks 5 s apart).
    let cases: Vec<(&str, Vec<RateLimit>, Select, [u32; 4])> = vec![
        ("none", vec![], Select::Max, [40, 40, 40, 40]),
        (
            "4 pods / 15 s",
            limits(&[(Step::Pods(4), 15)]),
            Select::Max,
            [4, 4, 4, 8],
        ),
        (
            "4 pods or 100% / 15 s, max",
            limits(&[(Step::Pods(4), 15), (Step::Percent(100), 15)]),
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
        (
            "disabled",
            limits(&[(Step::Pods(4), 5)]),
            Select::Disabled,
            [0, 0, 0, 0],
        ),
    ];
    for (name, up, select, want) in cases {
        let p = policy(|p| {
            p.max = 100;
            p.scaling.scale_up_limits = up;
            p.scaling.scale_up_select = select;
        });
        let mut d = Driver::new(p, 0);
        let got: Vec<u32> = (0..4)
            .map(|i| d.step(Tick(f64::from(i) * 5.0, 960, 0, 0)).desired)
            .collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn scale_down_rate_limit() {
    let p = policy(|p| {
        p.max = 100;
        p.scaling.scale_down_delay = Duration::ZERO;
        p.scaling.scale_down_limits = limits(&[(Step::Percent(50), 10)]);
    });
    // 40 agents at work; the need drops to 2 (in flight) and the pool
    // may halve at most every 10 s, counted from each period's start.
    let mut d = Driver::new(p, 40);
    assert_eq!(d.step(Tick(0.0, 960, 0, 960)).desired, 40);
    let got: Vec<(u32, Limit)> = (1..=4)
        .map(|i| d.step(Tick(f64::from(i) * 5.0, 0, 2, 0)))
        .map(|d| (d.desired, d.limit))
        .collect();
    assert_eq!(
        got,
        [
            (20, Limit::ScaleDownLimit),
            (20, Limit::ScaleDownLimit),
            (10, Limit::ScaleDownLimit),
            (10, Limit::ScaleDownLimit)
        ]
    );
}

#[test]
fn cooldown_holds_after_a_change() {
    let p = policy(|p| {
        p.max = 100;
        p.scaling.cooldown = Duration::from_secs(10);
    });
    let mut d = Driver::new(p, 0);
    assert_eq!(d.step(Tick(0.0, 48, 0, 48)).desired, 2);
    let got = d.step(Tick(5.0, 480, 0, 432));
    assert_eq!(
        (got.desired, got.limit),
        (2, Limit::Cooldown),
        "{}",
        got.reason
    );
    // Cooldown over: the backlog and the arrivals behind it both count.
    let got = d.step(Tick(10.0, 480, 0, 0));
    assert!(got.desired > 20, "{}", got.reason);
    assert_eq!(got.limit, Limit::None, "{}", got.reason);
}

#[test]
fn stale_or_failing_metrics_never_scale_in() {
    let fixed = policy(|p| {
        p.scaling.stale_fallback = StaleFallback::Fixed;
        p.scaling.stale_replicas = Some(4);
    });
    // (name, policy, current, metrics age s, failure, want)
    let cases = [
        ("hold when stale", policy(|_| {}), 5, 6.0, None, 5),
        (
            "hold on failure",
            policy(|_| {}),
            5,
            0.0,
            Some("nats down"),
            5,
        ),
        ("fixed raises", fixed.clone(), 2, 6.0, None, 4),
        ("fixed never lowers", fixed.clone(), 7, 6.0, None, 7),
    ];
    for (name, p, current, age, failure, want) in cases {
        let mut d = Driver::new(p, current);
        let mut obs = d.observation(Tick(0.0, 0, 0, 0));
        obs.failure = failure.map(str::to_string);
        let got = d.decide(&obs, age);
        assert_eq!(
            (got.desired, got.limit),
            (want, Limit::Stale),
            "{name}: {}",
            got.reason
        );
        assert!((got.staleness_s - age).abs() < 1e-9, "{name}");
    }
    // Never read at all: infinitely stale.
    let mut d = Driver::new(policy(|_| {}), 3);
    let got = d.decide(&Observation::default(), 0.0);
    assert_eq!(
        (got.desired, got.limit),
        (0, Limit::Stale),
        "{}",
        got.reason
    );
}

#[test]
fn paused_and_pinned_override_the_model() {
    check_one(vec![
        (
            "paused holds",
            policy(|p| p.paused = true),
            480,
            0,
            3,
            None,
            3,
            Limit::Paused,
        ),
        (
            "pinned fixes",
            policy(|p| p.pinned = Some(6)),
            0,
            0,
            2,
            None,
            6,
            Limit::Pinned,
        ),
        (
            "pinned obeys the budget",
            policy(|p| p.pinned = Some(6)),
            0,
            0,
            2,
            Some(4),
            4,
            Limit::Budget,
        ),
    ]);
}

#[test]
fn budget_caps_even_below_min() {
    check_one(vec![
        (
            "budget caps",
            policy(|_| {}),
            480,
            0,
            0,
            Some(3),
            3,
            Limit::Budget,
        ),
        (
            "budget wins over min",
            policy(|p| p.min = 5),
            0,
            0,
            5,
            Some(2),
            2,
            Limit::Budget,
        ),
        (
            "a loose budget",
            policy(|_| {}),
            48,
            0,
            0,
            Some(8),
            2,
            Limit::None,
        ),
    ]);
}

#[test]
fn scheduled_bounds() {
    let open = |min: Option<u32>, max: Option<u32>| Schedule {
        days: Default::default(),
        start: crate::config::TimeOfDay(0),
        end: crate::config::TimeOfDay(crate::config::schedule::MINUTES_PER_DAY),
        timezone: Zone::named("Europe/Berlin").unwrap(),
        min,
        max,
    };
    check_one(vec![
        (
            "scheduled min",
            policy(|p| p.schedule = vec![open(Some(4), None)]),
            0,
            0,
            0,
            None,
            4,
            Limit::ScheduleMin,
        ),
        (
            "scheduled max",
            policy(|p| p.schedule = vec![open(None, Some(3))]),
            480,
            0,
            0,
            None,
            3,
            Limit::ScheduleMax,
        ),
    ]);
}

#[test]
fn reason_reads_as_one_line() {
    let mut d = Driver::new(policy(|_| {}), 0);
    let got = d.step(Tick(0.0, 1200, 0, 0));
    assert_eq!(
        got.reason,
        "backlog 1200, in flight 0, 0.0/s in (forecast 0.0/s), 1.00/s per agent (assumed) -> 50; capped by max 10"
    );
    assert!(!got.reason.contains('\n'));
}
