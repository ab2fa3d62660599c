//! Tests of the report's figures, verdicts and formats.

use super::*;

#[test]
fn nearest_rank_percentiles() {
    let mut v: Vec<f32> = (1..=100).map(|x| x as f32).collect();
    assert_eq!(percentile(&mut v, 0.5), 50.0);
    assert_eq!(percentile(&mut v, 0.99), 99.0);
    assert_eq!(percentile(&mut v, 1.0), 100.0);
    assert_eq!(percentile(&mut [], 0.5), 0.0);
}

#[test]
fn less_agent_time_wins_and_a_tie_goes_to_the_shorter_wait() {
    let row = |policy: &str, agent_seconds: f64, p99_wait_s: f64| Row {
        policy: policy.into(),
        agent_seconds,
        p99_wait_s,
        ..bound_row("t", 3, 30.0, 10.0)
    };
    let jp = row("jetpool", 100.0, 5.0);
    assert!(beats(&jp, &row("keda-job", 101.0, 1.0)));
    assert!(!beats(&jp, &row("keda-job", 99.0, 9.0)));
    // The same agent time to a millionth: the wait decides.
    assert!(beats(&jp, &row("keda-job", 100.000_01, 9.0)));
    assert!(!beats(&jp, &row("keda-job", 100.0, 5.0)));
    assert!(!beats(&jp, &row("keda-job", 100.0, 4.0)));
}

#[test]
fn json_has_exactly_the_issue_keys() {
    let r = bound_row("t", 3, 30.0, 10.0);
    let v = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut want = vec![
        "policy",
        "trace",
        "tasks",
        "slo_s",
        "slo_attainment",
        "p50_wait_s",
        "p99_wait_s",
        "max_wait_s",
        "agent_seconds",
        "bound_agent_seconds",
        "cost_ratio",
        "starts",
        "stops",
    ];
    want.sort();
    let mut got = keys.clone();
    got.sort();
    assert_eq!(got, want);
}

#[test]
fn verdict_names_cheaper_peers() {
    let mk = |p: &str, att: f64, secs: f64| {
        let mut r = bound_row("t", 1, 30.0, 1.0);
        r.policy = p.into();
        r.slo_attainment = att;
        r.agent_seconds = secs;
        (r, Extra::default())
    };
    let rows = vec![
        mk("jetpool", 0.995, 100.0),
        mk("keda", 0.9, 50.0),
        mk("hpa", 0.999, 120.0),
        // jetpool's own defaults are shown, not judged against.
        mk(JETPOOL_DEFAULT, 1.0, 60.0),
    ];
    assert!(verdict(&rows).unwrap().ends_with("PASS"));
    let head = headline_row(&rows).unwrap();
    assert!(head.contains("| PASS | 100.00%, 1.0000 |"), "{head}");
    let rows = vec![mk("jetpool", 0.995, 100.0), mk("keda", 0.991, 80.0)];
    let v = verdict(&rows).unwrap();
    assert!(
        v.contains("keda (20.0% less)") && v.ends_with("FAIL"),
        "{v}"
    );
}
