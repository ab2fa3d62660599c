//! The short pass CI runs over the entry points `make fuzz` fuzzes (the
//! policy parser, the compose label parser, the agent stats decoder):
//! arbitrary and near-valid inputs give a value or an error, never a
//! panic. `make fuzz` runs libFuzzer on the same functions for longer;
//! the seeds it found (a sample, `tests/fuzz/seeds`) are replayed here.

use std::collections::HashMap;
use std::path::Path;

use proptest::prelude::*;

/// A policy file built from plausible keys and arbitrary values.
fn policy_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "name",
        "stream",
        "consumer",
        "min",
        "max",
        "interval",
        "wait_slo",
        "concurrency",
        "target_wait",
        "scale_down_delay",
        "image",
        "command",
        "volumes",
        "warm",
        "[pool.scaling]",
        "[pool.container]",
        "[pool.agents]",
        "[[pool]]",
        "scale_up_limits",
    ]);
    let value = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        "\"[a-z0-9 .:/*-]{0,12}\"".prop_map(|s| s),
        Just("\"30s\"".to_string()),
        Just("[{ pods = 4, period = \"15s\" }]".to_string()),
        "[ -~]{0,16}".prop_map(|s| s),
    ];
    prop::collection::vec((key, value), 0..24).prop_map(|lines| {
        let mut out = String::from("[[pool]]\n");
        for (k, v) in lines {
            if k.starts_with('[') {
                out.push_str(&format!("{k}\n"));
            } else {
                out.push_str(&format!("{k} = {v}\n"));
            }
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn policy_files_parse_or_are_refused(text in prop_oneof![policy_text(), "\\PC{0,200}"]) {
        let _ = jetpool::pool::spec::parse_policies(Path::new("fuzz.toml"), &text);
    }

    #[test]
    fn compose_labels_resolve_or_are_refused(
        pairs in prop::collection::vec(
            (prop_oneof![
                prop::sample::select(vec![
                    "jetpool.pool", "jetpool.stream", "jetpool.consumer", "jetpool.min",
                    "jetpool.max", "jetpool.policy", "jetpool.interval",
                ]).prop_map(str::to_string),
                "jetpool\\.[a-z_]{0,10}",
            ], "\\PC{0,20}"),
            0..10,
        )
    ) {
        let labels: HashMap<String, String> = pairs.into_iter().collect();
        let _ = jetpool::compose::labels::resolve(&labels, &[]);
    }

    #[test]
    fn stats_reports_are_screened(id in "[a-z0-9.*>-]{0,12}", payload in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        (any::<i64>(), any::<u64>(), "[a-z]{0,6}").prop_map(|(n, c, s)| format!(
            r#"{{"v":1,"id":"a","pool":"p","state":"{s}","in_flight":{n},"capacity":{c},"completed":{c},"failed":{n}}}"#
        ).into_bytes()),
    ]) {
        let subject = format!("jetpool.agent.p.{id}.stats");
        let _ = jetpool::observe::agents::screen("p", &subject, &payload);
    }
}

/// The seed inputs of each fuzz target (a sample of what `make fuzz`
/// found, in `tests/fuzz/seeds/<target>`), replayed through the same
/// entry point the target fuzzes, decoded as libFuzzer hands them over
/// (`arbitrary`'s take-rest): CI's short pass of each target.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz/seeds")
        .join(target);
    let mut out: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| std::fs::read(e.ok()?.path()).ok())
        .collect();
    out.sort();
    assert!(
        out.len() >= 50,
        "{target}: seeds missing in {}",
        dir.display()
    );
    out
}

#[test]
fn every_fuzz_target_replays_its_seeds() {
    use arbitrary::{Arbitrary, Unstructured};
    for data in seeds("policy") {
        if let Ok(text) = std::str::from_utf8(&data) {
            let _ = jetpool::pool::spec::parse_policies(Path::new("fuzz.toml"), text);
        }
    }
    for data in seeds("compose_labels") {
        if let Ok(pairs) = Vec::<(String, String)>::arbitrary_take_rest(Unstructured::new(&data)) {
            let labels: HashMap<String, String> = pairs.into_iter().collect();
            let _ = jetpool::compose::labels::resolve(&labels, &[]);
        }
    }
    for data in seeds("stats") {
        if let Ok((id, payload)) =
            <(String, Vec<u8>)>::arbitrary_take_rest(Unstructured::new(&data))
        {
            let subject = format!("jetpool.agent.p.{id}.stats");
            let _ = jetpool::observe::agents::screen("p", &subject, &payload);
        }
    }
}
