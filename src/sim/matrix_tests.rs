//! Tests of the robustness matrix's verdicts and report.

use super::*;

fn row(policy: &str, att: f64, secs: f64) -> Row {
    Row {
        policy: policy.into(),
        trace: "t".into(),
        tasks: 1,
        slo_s: 30.0,
        slo_attainment: att,
        p50_wait_s: 0.0,
        p99_wait_s: 0.0,
        max_wait_s: 0.0,
        agent_seconds: secs,
        bound_agent_seconds: 1.0,
        cost_ratio: secs,
        starts: 0,
        stops: 0,
    }
}

#[test]
fn the_policy_link_climbs_from_the_report_to_the_root() {
    use std::path::Path;
    assert_eq!(up_to_root(Path::new("bench/results/matrix.md")), "../../");
    assert_eq!(
        up_to_root(Path::new("bench/results/variable/matrix.md")),
        "../../../"
    );
    assert_eq!(up_to_root(Path::new("matrix.md")), "");
}

#[test]
fn verdicts() {
    let v = |rows: &[Row]| judge(rows).map(|j| j.3);
    let jp = |att, secs| row("jetpool", att, secs);
    assert_eq!(
        v(&[jp(1.0, 1.0), row("knative", 1.0, 1.5)]),
        Some(Verdict::Pass)
    );
    assert_eq!(
        v(&[jp(1.0, 2.0), row("knative", 1.0, 1.5)]),
        Some(Verdict::FailCost)
    );
    assert_eq!(
        v(&[jp(0.9, 1.0), row("knative", 1.0, 1.5)]),
        Some(Verdict::FailSlo)
    );
    assert_eq!(
        v(&[
            jp(0.95, 9.0),
            row("knative", 0.9, 1.0),
            row("bound", 1.0, 0.5)
        ]),
        Some(Verdict::PassBestAttainment)
    );
    assert_eq!(
        v(&[jp(0.9, 1.0), row("keda", 0.95, 1.0)]),
        Some(Verdict::FailAttainment)
    );
    // The unjudged rows are not peers.
    assert_eq!(
        v(&[jp(1.0, 1.0), row("jetpool-default", 1.0, 0.5)]),
        Some(Verdict::Pass)
    );
}
