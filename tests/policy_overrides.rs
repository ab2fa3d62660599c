//! Table-driven tests of the rules that override or cap the model: stale
//! metrics, paused and pinned pools, the budget and scheduled bounds; and
//! the reason line. Conventions as in `policy_guardrails.rs`.

mod policy_common;

use jetpool::config::{Schedule, StaleFallback, TimeOfDay, Zone};
use jetpool::policy::{Limit, Observation};
use policy_common::{Driver, Tick, check, policy, row};

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
    // Never read at all: infinitely stale, and nothing runs to hold.
    let mut d = Driver::new(policy(|_| {}), 0);
    let got = d.decide(&Observation::default(), 0.0);
    assert_eq!(
        (got.desired, got.limit),
        (0, Limit::Stale),
        "{}",
        got.reason
    );
    assert!(got.staleness_s.is_infinite());
}

#[test]
fn paused_and_pinned_override_the_model() {
    let pinned = policy(|p| p.pinned = Some(6));
    check(vec![
        row("paused holds", policy(|p| p.paused = true), 480, 0, 3).expect(3, Limit::Paused),
        row("pinned fixes", pinned.clone(), 0, 0, 2).expect(6, Limit::Pinned),
        row("pinned obeys the budget", pinned, 0, 0, 2)
            .budget(4)
            .expect(4, Limit::Budget),
    ]);
}

#[test]
fn paused_holds_the_count_last_decided_so_a_lost_agent_is_replaced() {
    let mut d = Driver::new(policy(|p| p.paused = true), 3);
    // A backlog that would ask for far more: paused holds 3.
    let first = d.step(Tick(0.0, 480, 3, 0));
    assert_eq!((first.desired, first.limit), (3, Limit::Paused));
    // One agent exits while paused: the pool still wants 3, not 2.
    d.current = 2;
    let second = d.step(Tick(1.0, 480, 2, 0));
    assert_eq!(
        (second.desired, second.limit),
        (3, Limit::Paused),
        "{}",
        second.reason
    );
}

#[test]
fn budget_caps_even_below_min() {
    check(vec![
        row("budget caps", policy(|_| {}), 480, 0, 0)
            .budget(3)
            .expect(3, Limit::Budget),
        row("budget wins over min", policy(|p| p.min = 5), 0, 0, 5)
            .budget(2)
            .expect(2, Limit::Budget),
        row("a loose budget", policy(|_| {}), 60, 0, 0)
            .budget(8)
            .expect(2, Limit::None),
    ]);
}

#[test]
fn scheduled_bounds() {
    // Open all day, every day, in Berlin.
    let open = |min: Option<u32>, max: Option<u32>| Schedule {
        days: Default::default(),
        start: TimeOfDay(0),
        end: TimeOfDay(24 * 60),
        timezone: Zone::named("Europe/Berlin").unwrap(),
        min,
        max,
    };
    let raised = policy(|p| p.schedule = vec![open(Some(4), None)]);
    let lowered = policy(|p| p.schedule = vec![open(None, Some(3))]);
    check(vec![
        row("scheduled min", raised, 0, 0, 0).expect(4, Limit::ScheduleMin),
        row("scheduled max", lowered, 480, 0, 0).expect(3, Limit::ScheduleMax),
    ]);
}

#[test]
fn reason_reads_as_one_line() {
    let mut d = Driver::new(policy(|_| {}), 0);
    let got = d.step(Tick(0.0, 1200, 0, 0));
    assert_eq!(
        got.reason,
        "backlog 1200, in flight 0, 0.0/s in (forecast 0.0/s), 1.00/s per agent (assumed) \
         -> 40; capped by max 10"
    );
}

#[test]
fn a_shared_budget_is_never_exceeded_and_never_cliffs() {
    use jetpool::policy::budget::{Request, allocate};
    // Total 10. "batch" (priority 0) runs 8 with work queued; "checkout"
    // (priority 9) gets a burst asking for 10. The service runs the
    // allocator each tick on the previous decisions.
    let total = 10;
    let mut pools = [
        ("batch", 0, Driver::new(policy(|p| p.max = 20), 8), 240),
        ("checkout", 9, Driver::new(policy(|p| p.max = 20), 0), 300),
    ];
    let mut last: Vec<Request> = pools
        .iter()
        .map(|(name, priority, d, _)| Request {
            pool: name.to_string(),
            priority: *priority,
            min: 0,
            max: 20,
            desired: d.current,
            current: d.current,
        })
        .collect();
    let mut history = Vec::new();
    for tick in 0..6 {
        let grants = allocate(total, &last);
        let mut counts = Vec::new();
        for ((_, _, d, backlog), (grant, req)) in pools.iter_mut().zip(grants.iter().zip(&mut last))
        {
            d.budget = Some(*grant);
            let before = d.current;
            let got = d.step(Tick(f64::from(tick), *backlog, 0, 0));
            assert!(
                got.desired > 0 || before <= 1,
                "{} went {before} -> 0: {}",
                req.pool,
                got.reason
            );
            (req.desired, req.current, req.min, req.max) =
                (got.demand, got.desired, got.min, got.max);
            counts.push(got.desired);
        }
        assert!(
            counts.iter().sum::<u32>() <= total,
            "tick {tick}: {counts:?}"
        );
        history.push(counts);
    }
    // batch is squeezed to one agent (never 8 -> 0), checkout gets the rest.
    assert_eq!(history[1], [1, 9], "{history:?}");
}
