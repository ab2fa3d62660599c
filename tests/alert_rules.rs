//! The alerting rules shipped in compose/ are valid (`promtool check
//! rules`), the stack's Prometheus config loads them (`promtool check
//! config`), every alert has a unit test file of its own, and the tests
//! pass (`promtool test rules`).

use std::path::{Path, PathBuf};
use std::process::Command;

fn compose() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("compose")
}

/// Runs promtool in compose/, failing with its output when it fails.
fn promtool(args: &[&str]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(compose())
        .output()
        .expect("promtool must be installed (make deps installs prometheus)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// The alert names in alerts.yml.
fn alerts() -> Vec<String> {
    let rules = std::fs::read_to_string(compose().join("alerts.yml")).expect("compose/alerts.yml");
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(|a| a.trim().to_string())
        .collect()
}

#[test]
fn alerting_rules_are_valid_loaded_and_each_has_a_passing_test() {
    let checked = promtool(&["check", "rules", "alerts.yml"]);
    let names = alerts();
    assert!(
        checked.contains(&format!("SUCCESS: {} rules found", names.len())),
        "{checked}"
    );
    for expected in [
        "JetpoolPoolBlind",
        "JetpoolPoolAtMaxWithGrowingBacklog",
        "JetpoolTemplateCrashLooping",
        "JetpoolTriggerFailing",
        "JetpoolNoLeader",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }
    // The compose stack's Prometheus loads the file.
    let config = promtool(&["check", "config", "prometheus.yml"]);
    assert!(config.contains("1 rule files found"), "{config}");

    // One test file per alert, each testing exactly that alert.
    let mut files: Vec<String> = std::fs::read_dir(compose().join("alerts-tests"))
        .expect("compose/alerts-tests")
        .filter_map(|e| e.ok())
        .map(|e| format!("alerts-tests/{}", e.file_name().to_string_lossy()))
        .filter(|f| f.ends_with(".yml"))
        .collect();
    files.sort();
    for name in &names {
        let testing: Vec<&String> = files
            .iter()
            .filter(|f| {
                let text = std::fs::read_to_string(compose().join(f)).unwrap_or_default();
                text.contains(&format!("alertname: {name}\n"))
            })
            .collect();
        assert_eq!(
            testing.len(),
            1,
            "{name} is tested by one file: {testing:?}"
        );
    }
    let mut args = vec!["test", "rules"];
    args.extend(files.iter().map(String::as_str));
    let tested = promtool(&args);
    assert_eq!(
        tested.matches("SUCCESS").count(),
        files.len(),
        "every test file passes:\n{tested}"
    );
}
