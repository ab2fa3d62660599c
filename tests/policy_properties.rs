//! Property tests of `decide` over random policies (either sizing model:
//! drain to empty, or a standing queue with `target_wait`) and random observation
//! sequences (backlog jumps, arrivals, in-flight work, stale snapshots,
//! failures, budgets, crashed agents), with what runs following each
//! decision as the service would make it:
//!
//! - the count stays within the bounds in force and the budget;
//! - no scale-in while metrics are stale or failing (except to meet a budget);
//! - never from N > 1 to 0 in one decision (unless the budget is 0);
//! - the count is non-decreasing in the backlog, all else equal;
//! - the rate limits hold in every period, counted from the period's start.

mod policy_common;

use std::time::Duration;

use jetpool::config::{RateLimit, Select, StaleFallback, Step};
use jetpool::policy::{ConsumerStats, Decision, Observation, Policy, PoolState, Replicas, decide};
use policy_common::ts;
use proptest::prelude::*;

/// One tick of a random sequence.
#[derive(Debug, Clone)]
struct TickSpec {
    /// Seconds since the previous tick, in halves (1..=4: 0.5 s to 2 s).
    halves: u8,
    pending: u64,
    ack: u64,
    arrivals: u64,
    /// The snapshot is older than `stale_after`.
    stale: bool,
    /// The latest read failed.
    failure: bool,
    budget: Option<u32>,
    /// One agent died since the last tick.
    crash: bool,
}

fn tick_spec() -> impl Strategy<Value = TickSpec> {
    (
        1u8..=4,
        prop_oneof![Just(0u64), 0u64..20, 0u64..2000],
        prop_oneof![Just(0u64), 0u64..60],
        prop_oneof![Just(0u64), 0u64..200],
        prop::bool::weighted(0.1),
        prop::bool::weighted(0.05),
        prop_oneof![4 => Just(None), 1 => (0u32..30).prop_map(Some)],
        prop::bool::weighted(0.05),
    )
        .prop_map(
            |(halves, pending, ack, arrivals, stale, failure, budget, crash)| TickSpec {
                halves,
                pending,
                ack,
                arrivals,
                stale,
                failure,
                budget,
                crash,
            },
        )
}

fn rate_limits() -> impl Strategy<Value = Vec<RateLimit>> {
    let one = (
        prop_oneof![
            (1u32..6).prop_map(Step::Pods),
            (10u32..200).prop_map(Step::Percent)
        ],
        1u64..20,
    )
        .prop_map(|(step, secs)| RateLimit {
            step,
            period: Duration::from_secs(secs),
        });
    prop::collection::vec(one, 0..3)
}

fn select() -> impl Strategy<Value = Select> {
    prop_oneof![3 => Just(Select::Max), 2 => Just(Select::Min), 1 => Just(Select::Disabled)]
}

fn secs(v: &[u64]) -> impl Strategy<Value = Duration> + use<> {
    prop::sample::select(v.to_vec()).prop_map(Duration::from_secs)
}

fn any_policy() -> impl Strategy<Value = Policy> {
    (
        (0u32..4, 1u32..25, prop::sample::select(vec![0.0, 0.1, 0.3])),
        (
            secs(&[0, 3, 10]),
            secs(&[0, 5, 60]),
            secs(&[0, 5]),
            secs(&[0, 5, 15]),
        ),
        (
            0u64..4,
            prop::option::of(0u32..30),
            prop::option::of(secs(&[1, 15, 60])),
        ),
        (rate_limits(), select(), rate_limits(), select()),
    )
        .prop_map(
            |((min, span, tol), (up, down, cool, zero), (act, fixed, wait), (ul, us, dl, ds))| {
                let mut p = Policy {
                    min,
                    max: min + span,
                    ..Default::default()
                };
                let s = &mut p.scaling;
                s.tolerance = tol;
                s.scale_up_delay = up;
                s.scale_down_delay = Some(down);
                s.cooldown = cool;
                s.scale_to_zero_after = zero;
                s.activation_backlog = act;
                s.target_wait = wait;
                if let Some(n) = fixed {
                    s.stale_fallback = StaleFallback::Fixed;
                    s.stale_replicas = Some(n.clamp(min, min + span));
                }
                (s.scale_up_limits, s.scale_up_select) = (ul, us);
                (s.scale_down_limits, s.scale_down_select) = (dl, ds);
                p
            },
        )
}

/// One decision of a run, with what it was decided from.
#[derive(Debug)]
struct Step_ {
    now: f64,
    /// Whether this is the run's first decision: `decide` has not told
    /// the pool anything yet, so only `current` is known to it.
    first: bool,
    previous: u32,
    current: u32,
    blind: bool,
    budget: Option<u32>,
    decision: Decision,
    /// The same decision with a larger backlog.
    with_more_backlog: u32,
}

/// Runs `ticks` through `decide`, closing the loop on what runs.
fn run(policy: &Policy, start: u32, ticks: &[TickSpec], extra_backlog: u64) -> Vec<Step_> {
    let mut state = PoolState::default();
    let (mut now, mut delivered, mut prev_pending) = (0.0, 0u64, 0u64);
    let mut last: Option<ConsumerStats> = None;
    let (mut previous, mut current) = (start, start);
    let stale_after = policy.scaling.stale_after.as_secs_f64();
    let mut out = Vec::new();
    for t in ticks {
        now += f64::from(t.halves) / 2.0;
        if t.crash {
            current = current.saturating_sub(1);
        }
        let deliveries = (t.arrivals + prev_pending).saturating_sub(t.pending);
        let snapshot = |pending: u64| ConsumerStats {
            at: ts(now),
            pending,
            ack_pending: t.ack,
            delivered_consumer_seq: delivered + deliveries,
            ..Default::default()
        };
        let consumer = match (t.stale, last) {
            // No new read: the last one, aged past stale_after.
            (true, Some(mut c)) => {
                c.at = ts(now - stale_after - 1.0);
                Some(c)
            }
            (true, None) => None,
            (false, _) => Some(snapshot(t.pending)),
        };
        let obs = |consumer: Option<ConsumerStats>| Observation {
            consumer,
            failure: t.failure.then(|| "read failed".to_string()),
            replicas: Replicas {
                ready: current,
                ..Default::default()
            },
            budget: t.budget,
            ..Default::default()
        };
        // More backlog with the rest fixed: the same deliveries (the agents
        // did the same work), so more tasks arrived and wait. Deriving the
        // deliveries from the larger backlog instead would also change the
        // measured throughput, which is not "the rest fixed".
        let with_more_backlog = {
            let more = consumer.map(|c| {
                if t.stale {
                    c
                } else {
                    snapshot(t.pending + extra_backlog)
                }
            });
            decide(policy, &mut state.clone(), &obs(more), ts(now)).desired
        };
        let decision = decide(policy, &mut state, &obs(consumer), ts(now));
        if !t.stale {
            delivered = consumer.map_or(delivered, |c| c.delivered_consumer_seq);
            prev_pending = t.pending;
            last = consumer;
        }
        let blind = t.stale || t.failure || consumer.is_none();
        out.push(Step_ {
            now,
            first: out.is_empty(),
            previous,
            current,
            blind,
            budget: t.budget,
            with_more_backlog,
            decision: decision.clone(),
        });
        previous = decision.desired;
        current = decision.desired;
    }
    out
}

fn ticks() -> impl Strategy<Value = Vec<TickSpec>> {
    prop::collection::vec(tick_spec(), 1..120)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn bounds_budget_blindness_cliffs_and_monotonicity(
        policy in any_policy(),
        start in 0u32..30,
        ticks in ticks(),
        extra in 1u64..1000,
    ) {
        let start = start.clamp(policy.min, policy.max);
        for s in run(&policy, start, &ticks, extra) {
            let d = &s.decision;
            let cap = s.budget.unwrap_or(u32::MAX);
            let ctx = format!("t={} prev={} cur={} budget={:?}: {}", s.now, s.previous, s.current, s.budget, d.reason);
            // Within [min, max] and the budget; only the budget goes below min.
            prop_assert!(d.desired <= policy.max && d.desired <= cap, "{ctx}");
            prop_assert!(d.desired >= policy.min.min(cap), "{ctx}");
            prop_assert_eq!((d.min, d.max), (policy.min, policy.max));
            // Blind: never below what runs, unless the budget says so.
            if s.blind {
                prop_assert!(d.desired >= s.current.min(cap), "blind scale-in: {ctx}");
            }
            // Never a cliff.
            if d.desired == 0 && s.budget != Some(0) {
                // On the first decision the start count was never one of
                // decide's: what runs (after a crash, perhaps fewer) is
                // all it knows, and that is what must not be a cliff.
                prop_assert!((s.first || s.previous <= 1) && s.current <= 1, "cliff: {ctx}");
            }
            // Monotone in the backlog.
            prop_assert!(d.desired <= s.with_more_backlog, "more backlog, fewer agents: {ctx}");
        }
    }

    #[test]
    fn rate_limits_hold_in_every_period(
        mut policy in any_policy(),
        start in 0u32..30,
        mut ticks in ticks(),
    ) {
        // The budget and lost agents move the count on their own; the
        // limits govern what the policy does.
        for t in &mut ticks {
            t.budget = None;
            t.crash = false;
        }
        policy.scaling.scale_up_limits.truncate(2);
        let start = start.clamp(policy.min, policy.max);
        let steps = run(&policy, start, &ticks, 1);
        // The count in force at `t`, from the run itself.
        let count_at = |t: f64| {
            steps.iter().rev().find(|s| s.now <= t).map_or(start, |s| s.decision.desired)
        };
        let s = &policy.scaling;
        for st in &steps {
            let (prev, want) = (st.previous, st.decision.desired);
            let ctx = format!("t={} {prev} -> {want}: {}", st.now, st.decision.reason);
            if want > prev {
                let caps: Vec<u32> = s.scale_up_limits.iter().map(|l| {
                    let start = u64::from(count_at(st.now - l.period.as_secs_f64()));
                    let cap = match l.step {
                        Step::Pods(v) => start + u64::from(v),
                        Step::Percent(v) => (start.max(1) * (100 + u64::from(v))).div_ceil(100),
                    };
                    u32::try_from(cap).unwrap_or(u32::MAX)
                }).collect();
                let allowed = match s.scale_up_select {
                    Select::Disabled => Some(prev),
                    Select::Max => caps.iter().copied().max(),
                    Select::Min => caps.iter().copied().min(),
                };
                if let Some(a) = allowed {
                    prop_assert!(want <= a.max(prev), "up limit broken: {ctx}");
                }
            }
            if want < prev {
                let floors: Vec<u32> = s.scale_down_limits.iter().map(|l| {
                    let start = count_at(st.now - l.period.as_secs_f64());
                    match l.step {
                        Step::Pods(v) => start.saturating_sub(v),
                        Step::Percent(v) => {
                            let keep = 100u64.saturating_sub(u64::from(v));
                            u32::try_from(u64::from(start) * keep / 100).unwrap_or(start)
                        }
                    }
                }).collect();
                let allowed = match s.scale_down_select {
                    Select::Disabled => Some(prev),
                    Select::Max => floors.iter().copied().min(),
                    Select::Min => floors.iter().copied().max(),
                };
                if let Some(a) = allowed {
                    // Only the bounds may override a limit: max lowered below
                    // what ran (never here, bounds are fixed) or min.
                    prop_assert!(want >= a.min(prev), "down limit broken: {ctx}");
                }
            }
        }
    }
}
