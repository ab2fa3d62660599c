//! Tests of the `jetpool.*` label parser.

use super::*;
use std::path::Path;
use std::time::Duration;

fn labels(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn policies_with(extra: &str) -> Vec<RawPool> {
    let toml = format!(
        "[[pool]]\nname = \"tuned\"\nstream = \"S\"\nconsumer = \"c\"\nmin = 1\nmax = 7\ninterval = \"500ms\"\n{extra}\n[pool.container]\nimage = \"x\"\n[pool.scaling]\nscale_down_delay = \"3s\"\n"
    );
    crate::pool::spec::parse_policies(Path::new("p.toml"), &toml)
        .unwrap()
        .lent()
}

fn policies() -> Vec<RawPool> {
    policies_with("")
}

#[test]
fn full_labels_make_a_pool_with_default_settings() {
    let l = labels(&[
        ("jetpool.pool", "work"),
        ("jetpool.stream", "TASKS"),
        ("jetpool.consumer", "agents"),
        ("jetpool.min", "1"),
        ("jetpool.max", "5"),
        ("com.docker.compose.service", "agent"),
    ]);
    let p = resolve(&l, &[]).unwrap();
    assert_eq!(
        (p.name.as_str(), p.stream.as_str(), p.consumer.as_str()),
        ("work", "TASKS", "agents")
    );
    assert_eq!((p.policy.min, p.policy.max), (1, 5));
    assert_eq!(p.policy.interval, Policy::default().interval);
}

#[test]
fn a_policy_lends_settings_and_labels_override_it() {
    let l = labels(&[
        ("jetpool.pool", "w"),
        ("jetpool.policy", "tuned"),
        ("jetpool.max", "3"),
    ]);
    let p = resolve(&l, &policies()).unwrap();
    assert_eq!((p.stream.as_str(), p.consumer.as_str()), ("S", "c"));
    assert_eq!((p.policy.min, p.policy.max), (1, 3));
    assert_eq!(p.policy.interval, Duration::from_millis(500));
    assert_eq!(p.policy.scaling.scale_down_delay(), Duration::from_secs(3));
}

#[test]
fn a_policy_lends_its_triggers() {
    let l = labels(&[("jetpool.pool", "w"), ("jetpool.policy", "tuned")]);
    let lent = policies_with("[[pool.trigger]]\ntype = \"cpu\"\ntarget = 0.7");
    let p = resolve(&l, &lent).unwrap();
    assert_eq!(p.policy.triggers.len(), 1);
}

#[test]
fn every_problem_names_its_label() {
    let l = labels(&[
        ("jetpool.pool", "bad name"),
        ("jetpool.stream", "a.b"),
        ("jetpool.min", "-1"),
        ("jetpool.maxx", "3"),
        ("jetpool.policy", "nope"),
    ]);
    let errs = resolve(&l, &policies()).unwrap_err();
    let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
    let has = |needle: &str| text.iter().any(|t| t.contains(needle));
    assert!(
        has("label jetpool.pool: pool name \"bad name\""),
        "{text:?}"
    );
    assert!(has("label jetpool.stream: stream name \"a.b\""), "{text:?}");
    assert!(has("label jetpool.min: \"-1\""), "{text:?}");
    assert!(has("unknown label \"jetpool.maxx\""), "{text:?}");
    assert!(
        has("label jetpool.policy: no pool \"nope\" in the policy files (known: tuned)"),
        "{text:?}"
    );
    assert!(has("label jetpool.consumer: missing"), "{text:?}");
    assert!(has("label jetpool.max: missing"), "{text:?}");
}

#[test]
fn bounds_are_checked_against_each_other() {
    let base = [
        ("jetpool.pool", "w"),
        ("jetpool.stream", "S"),
        ("jetpool.consumer", "c"),
    ];
    let mut l = labels(&base);
    l.insert("jetpool.min".into(), "4".into());
    l.insert("jetpool.max".into(), "2".into());
    let e = resolve(&l, &[]).unwrap_err();
    assert_eq!(e, vec![err(LABEL_MIN, "min (4) must not exceed max (2)")]);
    l.insert("jetpool.max".into(), "0".into());
    l.remove("jetpool.min");
    let e = resolve(&l, &[]).unwrap_err();
    assert_eq!(e, vec![err(LABEL_MAX, "max must be at least 1")]);
}

#[test]
fn replica_labels_of_jetpool_itself_are_accepted() {
    let l = labels(&[
        ("jetpool.pool", "w"),
        ("jetpool.stream", "S"),
        ("jetpool.consumer", "c"),
        ("jetpool.max", "2"),
        ("jetpool.managed", "true"),
        ("jetpool.template", "abc"),
    ]);
    assert!(resolve(&l, &[]).is_ok());
}

#[test]
fn a_policy_pinned_above_the_labelled_max_is_refused_naming_the_label() {
    let l = labels(&[
        ("jetpool.pool", "w"),
        ("jetpool.policy", "tuned"),
        ("jetpool.max", "3"),
    ]);
    let e = resolve(&l, &policies_with("pinned = 5")).unwrap_err();
    assert_eq!(
        e,
        vec![err(
            LABEL_MAX,
            "\"3\" conflicts with policy \"tuned\" (pinned): pinned (5) must be within min and max (1..=3)"
        )]
    );
    assert!(
        e[0].to_string().starts_with("label jetpool.max: "),
        "{}",
        e[0]
    );
    // Within the label's bounds, the pin is taken over.
    let p = resolve(&l, &policies_with("pinned = 2")).unwrap();
    assert_eq!((p.policy.max, p.policy.pinned), (3, Some(2)));
}

#[test]
fn every_rule_of_the_policy_files_holds_under_the_labels() {
    let l = labels(&[
        ("jetpool.pool", "w"),
        ("jetpool.policy", "tuned"),
        ("jetpool.min", "2"),
        ("jetpool.max", "2"),
    ]);
    let with = |extra: &str| resolve(&l, &policies_with(extra)).unwrap_err();
    let warm = with("[pool.agents]\nwarm = 3");
    assert_eq!(warm.len(), 1, "{warm:?}");
    assert_eq!(warm[0].label, LABEL_MAX);
    assert!(
        warm[0]
            .message
            .contains("(agents.warm): warm (3) must not exceed max (2)")
    );
    let window = with("[[pool.schedule]]\nstart = \"08:00\"\nend = \"09:00\"\nmax = 1");
    assert_eq!(window.len(), 1, "{window:?}");
    assert_eq!(window[0].label, LABEL_MIN, "{window:?}");
    assert!(
        window[0].message.contains("(schedule[0].max)"),
        "{window:?}"
    );
}
