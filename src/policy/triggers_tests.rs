//! Table tests and properties of the triggers' rules.

use std::time::Duration;

use jiff::Timestamp;
use proptest::prelude::*;

use super::*;

fn at(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn cpu(target: f64) -> Trigger {
    Trigger {
        name: "cpu".into(),
        source: Source::Cpu,
        target,
        tolerance: 0.1,
    }
}

fn prom(target: f64, activation: f64) -> Trigger {
    Trigger {
        name: "prometheus".into(),
        source: Source::Prometheus(PromQuery {
            url: "http://127.0.0.1:9090".into(),
            query: "sum(x)".into(),
            activation,
            token_file: None,
            ignore_null_values: true,
            timeout: Duration::from_secs(5),
        }),
        target,
        tolerance: 0.1,
    }
}

fn reading(value: f64, agents: u32) -> TriggerReading {
    TriggerReading {
        at: Some(at(0)),
        value,
        agents,
        failure: None,
    }
}

const STALE: Duration = Duration::from_secs(5);

fn rec(t: &Trigger, r: TriggerReading, current: u32) -> Option<u32> {
    recommend(t, Some(&r), current, STALE, at(1)).recommended
}

#[test]
fn cpu_follows_the_hpa_formula_and_band() {
    // 2 agents at 100% of their limit, target 70%: ceil(2 x 1/0.7) = 3.
    assert_eq!(rec(&cpu(0.7), reading(1.0, 2), 2), Some(3));
    // 4 agents at 20%: ceil(4 x 0.2/0.7) = 2.
    assert_eq!(rec(&cpu(0.7), reading(0.2, 4), 4), Some(2));
    // Within 10% of the target: keep what runs.
    assert_eq!(rec(&cpu(0.7), reading(0.75, 5), 5), Some(5));
    // Nothing measured: no opinion.
    assert_eq!(rec(&cpu(0.7), reading(0.0, 0), 0), Some(0));
}

#[test]
fn unmeasured_agents_never_make_cpu_overshoot() {
    // 2 measured at 100%, 1 starting: (2 x 1.0 + 0) / (0.7 x 3) -> 3 agents.
    assert_eq!(rec(&cpu(0.7), reading(1.0, 2), 3), Some(3));
    // 1 measured at 10% of 4 running: the 3 others count as fully used,
    // (0.1 + 3) / (0.7 x 4) = 1.107 > 1 reverses the direction: keep 4.
    assert_eq!(rec(&cpu(0.7), reading(0.1, 1), 4), Some(4));
}

#[test]
fn prometheus_is_kedas_average_value_with_activation() {
    // 37 sessions, 10 per agent: 4.
    assert_eq!(rec(&prom(10.0, 0.0), reading(37.0, 0), 0), Some(4));
    assert_eq!(rec(&prom(10.0, 0.0), reading(37.0, 0), 2), Some(4));
    // Within tolerance of 4 agents (38/40 = 0.95): keep 4.
    assert_eq!(rec(&prom(10.0, 0.0), reading(38.0, 0), 4), Some(4));
    // At zero, a value not above activation does not wake the pool.
    let o = recommend(&prom(10.0, 5.0), Some(&reading(5.0, 0)), 0, STALE, at(1));
    assert_eq!((o.recommended, o.active), (Some(0), false));
    // A tiny active value wakes it with one agent.
    let o = recommend(&prom(10.0, 0.0), Some(&reading(0.5, 0)), 0, STALE, at(1));
    assert_eq!((o.recommended, o.active), (Some(1), true));
    // A running pool follows the value whether active or not (activation
    // only governs 0 <-> 1, as in KEDA).
    assert_eq!(rec(&prom(10.0, 50.0), reading(40.0, 0), 2), Some(4));
}

#[test]
fn a_failing_stale_or_unread_trigger_is_blind() {
    let t = prom(10.0, 0.0);
    let failing = TriggerReading {
        failure: Some("connection refused".into()),
        ..reading(37.0, 0)
    };
    let o = recommend(&t, Some(&failing), 2, STALE, at(1));
    assert!(
        o.blind() && o.reason.contains("connection refused"),
        "{o:?}"
    );
    assert!(recommend(&t, Some(&reading(37.0, 0)), 2, STALE, at(10)).blind());
    assert!(recommend(&t, None, 2, STALE, at(1)).blind());
    assert!(recommend(&t, Some(&TriggerReading::default()), 2, STALE, at(1)).blind());
}

#[test]
fn the_highest_wins_and_a_blind_one_holds() {
    let outcomes = vec![
        TriggerOutcome::backlog(Some(2), "backlog -> 2"),
        recommend(&cpu(0.7), Some(&reading(1.0, 2)), 2, STALE, at(1)),
        recommend(&prom(10.0, 0.0), Some(&reading(37.0, 0)), 2, STALE, at(1)),
    ];
    let mut t = Trail::new(2);
    highest(&mut t, &outcomes);
    assert_eq!((t.value, t.limit), (4, Limit::Trigger));
    assert!(t.notes().contains("by trigger prometheus"));

    let blind = vec![recommend(&prom(10.0, 0.0), None, 5, STALE, at(1))];
    let mut t = Trail::new(1);
    hold_blind(&mut t, &blind, 5);
    assert_eq!((t.value, t.limit), (5, Limit::Stale));
    // Scaling out is not held back.
    let mut t = Trail::new(8);
    hold_blind(&mut t, &blind, 5);
    assert_eq!(t.value, 8);
}

proptest! {
    /// The combined count is never below any readable trigger's
    /// recommendation, nor below the count it started from.
    #[test]
    fn combined_is_the_highest(
        model in 0u32..50,
        values in proptest::collection::vec((0.0f64..500.0, 0u32..20), 0..4),
        current in 0u32..20,
    ) {
        let mut outcomes = vec![TriggerOutcome::backlog(Some(model), "")];
        for (i, (v, n)) in values.iter().enumerate() {
            let t = if i % 2 == 0 { prom(7.0, 0.0) } else { cpu(0.6) };
            outcomes.push(recommend(&t, Some(&reading(*v, *n)), current, STALE, at(1)));
        }
        let mut t = Trail::new(model);
        highest(&mut t, &outcomes);
        prop_assert!(t.value >= model);
        for o in &outcomes {
            prop_assert!(t.value >= o.recommended.unwrap_or(0));
        }
        prop_assert!(outcomes.iter().any(|o| o.recommended == Some(t.value)));
    }

    /// A cpu trigger scales out exactly when utilisation is above the band
    /// and in when below, with every agent measured.
    #[test]
    fn cpu_moves_the_way_utilisation_says(u in 0.0f64..2.0, n in 1u32..30) {
        let got = rec(&cpu(0.7), reading(u, n), n).unwrap();
        let ratio = u / 0.7;
        if (ratio - 1.0).abs() <= 0.1 {
            prop_assert_eq!(got, n);
        } else if ratio > 1.0 {
            prop_assert!(got >= n);
        } else {
            prop_assert!(got <= n);
        }
    }

    /// While a trigger is blind the count never goes below the hold.
    #[test]
    fn blind_never_scales_in(value in 0u32..40, hold in 0u32..40) {
        let blind = vec![recommend(&cpu(0.7), None, hold, STALE, at(1))];
        let mut t = Trail::new(value);
        hold_blind(&mut t, &blind, hold);
        prop_assert!(t.value >= hold && t.value >= value);
    }
}

/// `decide` over a pool with one prometheus trigger: a consumer that is
/// empty and idle, `current` agents, the trigger's `reading`.
fn decide_with(reading: Option<TriggerReading>, current: u32, now: i64) -> crate::policy::Decision {
    use crate::policy::{ConsumerStats, Observation, Policy, PoolState, Replicas, decide};
    let mut policy = Policy {
        triggers: vec![prom(10.0, 0.0)],
        ..Policy::default()
    };
    // No down window, so only the triggers' rules can hold the count.
    policy.scaling.scale_down_delay = Some(Duration::ZERO);
    let obs = Observation {
        consumer: Some(ConsumerStats {
            at: at(now),
            ..Default::default()
        }),
        replicas: Replicas {
            ready: current,
            ..Default::default()
        },
        triggers: reading.into_iter().collect(),
        ..Default::default()
    };
    decide(&policy, &mut PoolState::default(), &obs, at(now))
}

#[test]
fn decide_wakes_a_pool_at_zero_on_an_active_trigger() {
    let d = decide_with(Some(reading(37.0, 0)), 0, 0);
    assert_eq!((d.desired, d.limit), (4, Limit::Trigger), "{}", d.reason);
    assert!(
        d.reason
            .contains("triggers: prometheus 37 / target 10 -> 4"),
        "{}",
        d.reason
    );
    assert_eq!(d.triggers.len(), 2);
    assert_eq!(d.triggers[0].recommended, Some(0));
    assert_eq!(d.triggers[1].recommended, Some(4));
}

#[test]
fn decide_never_scales_in_on_a_blind_trigger() {
    // The backlog model says 0 for an idle consumer; the trigger is unread.
    let d = decide_with(None, 3, 0);
    assert_eq!((d.desired, d.limit), (3, Limit::Stale), "{}", d.reason);
    assert!(d.triggers[1].blind());
}

#[test]
fn decide_without_triggers_lists_only_the_model() {
    use crate::policy::{Observation, Policy, PoolState, decide};
    let d = decide(
        &Policy::default(),
        &mut PoolState::default(),
        &Observation::default(),
        at(0),
    );
    assert_eq!(d.triggers.len(), 1);
    assert!(d.triggers[0].blind());
    assert!(!d.reason.contains("triggers"));
}
