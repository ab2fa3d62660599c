//! Tests of the wait SLO's derived values and guards.

use super::*;

fn slo(secs: u64) -> Scaling {
    Scaling {
        wait_slo: Some(Duration::from_secs(secs)),
        ..Scaling::default()
    }
}

/// Whether `got` is `want` up to rounding.
fn near(got: Option<f64>, want: f64) -> bool {
    got.is_some_and(|g| (g - want).abs() < 1e-9)
}

#[test]
fn an_unmeasured_cold_start_is_assumed_long_unless_set() {
    let mut s = slo(30);
    assert_eq!(assumed_cold_start_s(&s), 60.0);
    let d = derive(&s, assumed_cold_start_s(&s), 1.0).expect("derived");
    assert_eq!(d.target_wait_s, None, "no queue until measured");
    s.cold_start = Some(Duration::from_secs(5));
    assert_eq!(assumed_cold_start_s(&s), 5.0);
    assert_eq!(assumed_cold_start_s(&Scaling::default()), 2.0);
}

#[test]
fn no_slo_derives_nothing() {
    assert_eq!(derive(&Scaling::default(), 1.0, 1.0), None);
}

#[test]
fn a_quick_start_keeps_a_queue_of_half_the_slo() {
    let d = derive(&slo(30), 0.3, 1.0).expect("derived");
    let w = d.target_wait_s.expect("a standing queue");
    assert!((w - 15.0).abs() < 1e-9, "W = {w}");
    assert_eq!(d.scale_down_delay_s, w);
    assert_eq!(d.target_drain_time_s, 15.0);
    assert!((d.age_guard_s - (w + (30.0 - w) / 2.0)).abs() < 1e-9);
}

#[test]
fn a_long_start_shrinks_the_queue_and_lengthens_the_down_window() {
    let d = derive(&slo(30), 20.0, 1.0).expect("derived");
    assert!(near(d.target_wait_s, 8.0), "{d:?}");
    assert_eq!(d.scale_down_delay_s, 40.0);
    let d = derive(&slo(30), 60.0, 1.0).expect("derived");
    assert_eq!(d.target_wait_s, None, "no queue can stand");
    assert_eq!(d.scale_down_delay_s, 120.0);
    assert_eq!(d.age_guard_s, 15.0);
}

/// Starts that vary around 30 s: on the median no queue stands; the
/// first of an order lands at the fast end (20 s), and the queue is sized
/// from there, while the reaction and the down window keep the median.
#[test]
fn varying_starts_size_the_queue_from_their_fast_end() {
    let d = derive(&slo(30), 30.0, 1.0).expect("derived");
    assert_eq!(d.target_wait_s, None);
    let starts = Starts {
        typical_s: 30.0,
        fast_s: 20.0,
    };
    let d = derive_with(&slo(30), starts, 1.0).expect("derived");
    assert!(near(d.target_wait_s, 8.0), "{d:?}");
    assert_eq!(d.reaction_s, 32.0);
    assert_eq!(d.scale_down_delay_s, 60.0);
    // A fast end above the typical start (a hand-made value) is the
    // typical start.
    let odd = Starts {
        typical_s: 20.0,
        fast_s: 90.0,
    };
    assert_eq!(derive_with(&slo(30), odd, 1.0), derive(&slo(30), 20.0, 1.0));
}

#[test]
fn a_rarer_tail_keeps_a_shorter_queue() {
    let mut s = slo(30);
    let w99 = derive(&s, 0.0, 0.0).and_then(|d| d.target_wait_s);
    s.wait_slo_quantile = 0.999;
    let w999 = derive(&s, 0.0, 0.0).and_then(|d| d.target_wait_s);
    assert!(near(w99, 15.0), "{w99:?}");
    assert!(near(w999, 12.0), "{w999:?}");
}

#[test]
fn explicit_keys_win() {
    let mut s = slo(30);
    s.target_wait = Some(Duration::from_secs(5));
    s.scale_down_delay = Some(Duration::from_secs(90));
    let d = derive(&s, 0.3, 1.0).expect("derived");
    assert_eq!(d.target_wait_s, Some(5.0));
    assert_eq!(d.scale_down_delay_s, 90.0);
    let applied = d.apply(&s);
    assert_eq!(applied.target_wait, Some(Duration::from_secs(5)));
    assert_eq!(applied.scale_down_delay(), Duration::from_secs(90));
}

#[test]
fn a_long_start_sizes_for_the_backlog_when_agents_land() {
    // 60 s cold start: no queue, reaction 62 s, drain time 15 s.
    let d = derive(&slo(30), 60.0, 1.0).expect("derived");
    // 15 agents at 1/s serve 15 of 20/s: 5/s short for 62 s on top
    // of 100 pending (20.5 s of arrivals, within the SLO), drained in
    // 15 s while serving 20/s.
    let n = landing_load(&d, 100, 20.0, 20.0, 1.0, 15).expect("short");
    assert!((n - (20.0 + 410.0 / 15.0)).abs() < 1e-9, "{n}");
    // A backlog at landing of 8 minutes' arrivals (300 + 10·62 at
    // 2/s): the 15 s drain shrinks by 30/460.
    let n = landing_load(&d, 300, 2.0, 12.0, 1.0, 2).expect("short");
    let span = 920.0 / 2.0;
    assert!(
        (n - (2.0 + 920.0 / (15.0 * 30.0 / span))).abs() < 1e-9,
        "{n}"
    );
    // Keeping up with nothing pending: nothing to add.
    assert_eq!(landing_load(&d, 0, 5.0, 5.0, 1.0, 10), None);
    // Monotone in the backlog and the rate.
    let load = |b: u64, r: f64| landing_load(&d, b, r, r, 1.0, 10).unwrap_or(0.0);
    assert!(load(200, 20.0) > load(100, 20.0));
    assert!(load(100, 30.0) > load(100, 20.0));
}

#[test]
fn a_pool_missing_its_slo_keeps_its_agents() {
    let d = derive(&slo(30), 60.0, 1.0).expect("derived");
    let held = |late: Option<f64>, want: u32| {
        let mut t = Trail::new(want);
        hold(&mut t, &d, late, 0.99, 10);
        (t.value, t.limit)
    };
    // 5% late is five times the 1% allowed: nothing goes.
    assert_eq!(held(Some(0.05), 4), (10, Limit::SloHold));
    assert_eq!(held(Some(0.05), 0), (10, Limit::SloHold));
    // 3% is within the hold's threshold, and nothing measured holds
    // nothing.
    assert_eq!(held(Some(0.03), 4), (4, Limit::None));
    assert_eq!(held(None, 4), (4, Limit::None));
    // It never lowers a count that grows.
    assert_eq!(held(Some(0.5), 12), (12, Limit::None));
}

#[test]
fn the_age_guard_starts_the_backlog_before_the_slo() {
    let d = derive(&slo(30), 0.3, 1.0).expect("derived");
    let below = age_guard(&d, Some(d.age_guard_s - 0.1), 100, 10.0, 1.0, 1.0);
    assert_eq!(below, None);
    // 25 s old, 5 s left: 100 tasks in 5 s plus 10/s arriving, at 1/s
    // per agent.
    let n = age_guard(&d, Some(25.0), 100, 10.0, 1.0, 1.0).expect("guard");
    assert!((n - 30.0).abs() < 1e-9, "{n}");
    // Less than one reaction (2.3 s) left: new agents come too late.
    assert_eq!(age_guard(&d, Some(28.0), 100, 0.0, 1.0, 1.0), None);
    // A cold start as long as the SLO: the guard never fires.
    let d = derive(&slo(30), 60.0, 1.0).expect("derived");
    assert_eq!(age_guard(&d, Some(20.0), 620, 0.0, 1.0, 1.0), None);
}
