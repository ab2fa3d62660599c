//! The `jetpool.*` labels of a compose service, turned into the parameters
//! of a pool. Pure: no I/O, so every rule is unit-tested.
//!
//! The labels are overrides of a raw pool table: the policy-file pool that
//! `jetpool.policy` names (else the defaults), with the labels' name,
//! consumer and bounds written over it. The result goes through
//! [`policy::validate`], the validator of the policy files, so a compose
//! pool meets every rule a file pool does; each problem is reported against
//! the label that caused it.
//!
//! | label | meaning |
//! |---|---|
//! | `jetpool.pool` | the pool's name (required) |
//! | `jetpool.stream`, `jetpool.consumer` | the JetStream consumer (required unless the policy names them) |
//! | `jetpool.min`, `jetpool.max` | bounds (max required unless the policy gives it; min defaults to the policy's, else 0) |
//! | `jetpool.policy` | a pool of the policy files whose interval, `[pool.scaling]` and `[pool.agents]` the pool takes |

use std::collections::HashMap;

use crate::config::{AgentsSpec, Problem, RawPool};
use crate::policy::{self, Policy};
use crate::target::{LABEL_MANAGED, LABEL_POOL, LABEL_TEMPLATE};

/// Label naming the stream.
pub const LABEL_STREAM: &str = "jetpool.stream";
/// Label naming the durable consumer.
pub const LABEL_CONSUMER: &str = "jetpool.consumer";
/// Label holding the pool's minimum.
pub const LABEL_MIN: &str = "jetpool.min";
/// Label holding the pool's maximum.
pub const LABEL_MAX: &str = "jetpool.max";
/// Label naming a policy-file pool to take settings from.
pub const LABEL_POLICY: &str = "jetpool.policy";

/// The labels a service may set, each with the key of the pool table it
/// writes.
const KNOWN: [(&str, &str); 6] = [
    (LABEL_POOL, "name"),
    (LABEL_STREAM, "stream"),
    (LABEL_CONSUMER, "consumer"),
    (LABEL_MIN, "min"),
    (LABEL_MAX, "max"),
    (LABEL_POLICY, ""),
];

/// What is wrong with one label of a service.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("label {label}: {message}")]
pub struct LabelError {
    /// The label, such as `jetpool.max`.
    pub label: &'static str,
    /// What is wrong and what is allowed.
    pub message: String,
}

/// A pool's parameters, from a service's labels and its policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolParams {
    /// Pool name.
    pub name: String,
    /// Stream of the consumer.
    pub stream: String,
    /// Durable pull consumer.
    pub consumer: String,
    /// Bounds, cadence and sizing knobs.
    pub policy: Policy,
    /// Drain, warm pool and healing, from the named policy (else defaults).
    pub agents: AgentsSpec,
}

fn err(label: &'static str, message: impl Into<String>) -> LabelError {
    LabelError {
        label,
        message: message.into(),
    }
}

/// Resolves the labels of a service's container over the policy files'
/// pools (for `jetpool.policy`) and validates the result, collecting every
/// problem.
pub fn resolve(
    labels: &HashMap<String, String>,
    policies: &[RawPool],
) -> Result<PoolParams, Vec<LabelError>> {
    let mut errors = Vec::new();
    let get = |k: &str| labels.get(k).map(|v| v.trim().to_string());
    for key in labels.keys().filter(|k| k.starts_with("jetpool.")) {
        // jetpool's own labels appear on the replicas it made, which can
        // be the template when no compose-made container is left.
        let own = [LABEL_MANAGED, LABEL_TEMPLATE];
        if !KNOWN.iter().any(|(l, _)| l == key) && !own.contains(&key.as_str()) {
            let known: Vec<&str> = KNOWN.iter().map(|(l, _)| *l).collect();
            errors.push(LabelError {
                label: "jetpool.*",
                message: format!("unknown label \"{key}\"; known: {}", known.join(", ")),
            });
        }
    }
    let base = match get(LABEL_POLICY) {
        None => None,
        Some(p) => match policies.iter().find(|s| s.name == p) {
            Some(s) => Some(s),
            None => {
                let known: Vec<&str> = policies.iter().map(|s| s.name.as_str()).collect();
                errors.push(err(
                    LABEL_POLICY,
                    format!(
                        "no pool \"{p}\" in the policy files (known: {})",
                        if known.is_empty() {
                            "none".to_string()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
                None
            }
        },
    };
    // The table the labels override. A label that cannot be read leaves
    // a value every rule accepts in its place (and its own error), so the
    // validator reports only the problems of the other keys.
    let mut raw = base
        .cloned()
        .unwrap_or_else(|| RawPool::new("", "-", "-", u32::MAX));
    raw.container = None;
    raw.name = get(LABEL_POOL).unwrap_or_default();
    for (label, slot) in [
        (LABEL_STREAM, &mut raw.stream),
        (LABEL_CONSUMER, &mut raw.consumer),
    ] {
        match get(label) {
            Some(v) => *slot = v,
            None if base.is_none() => errors.push(err(
                label,
                "missing (or set jetpool.policy to a pool that names it)",
            )),
            None => {}
        }
    }
    for (label, slot) in [(LABEL_MIN, &mut raw.min), (LABEL_MAX, &mut raw.max)] {
        if let Some(v) = get(label) {
            match v.parse::<u32>() {
                Ok(n) => *slot = n,
                Err(_) => errors.push(err(
                    label,
                    format!("\"{v}\" is not a whole number from 0 to {}", u32::MAX),
                )),
            }
        }
    }
    if base.is_none() && get(LABEL_MAX).is_none() {
        errors.push(err(
            LABEL_MAX,
            "missing (or set jetpool.policy to a pool that gives it)",
        ));
    }
    let failed: Vec<&'static str> = errors.iter().map(|e| e.label).collect();
    let policy = policy::validate(&raw).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| blame(p, labels, &raw, base))
            .filter(|e| !failed.contains(&e.label))
            .collect::<Vec<_>>()
    });
    match policy {
        Ok(policy) if errors.is_empty() => Ok(PoolParams {
            name: raw.name,
            stream: raw.stream,
            consumer: raw.consumer,
            policy,
            agents: raw.agents,
        }),
        Ok(_) => Err(errors),
        Err(mut more) => {
            errors.append(&mut more);
            Err(errors)
        }
    }
}

/// The label a validation problem is about: the one that wrote the key;
/// for a key the named policy gave, the bound label whose value broke it
/// (the policy was valid on its own, so only `jetpool.min` or `jetpool.max`
/// can): the one without which the problem goes away.
fn blame(
    p: Problem,
    labels: &HashMap<String, String>,
    raw: &RawPool,
    base: Option<&RawPool>,
) -> LabelError {
    let set = |label: &str| labels.contains_key(label);
    if let [key] = p.path.as_slice()
        && let Some((label, _)) = KNOWN.iter().find(|(l, k)| k == key && set(l))
    {
        return err(label, p.message);
    }
    let Some(base) = base else {
        return err(LABEL_POLICY, format!("{}: {}", p.dotted(), p.message));
    };
    let still_broken = |label: &str| {
        let mut without = raw.clone();
        match label {
            LABEL_MIN => without.min = base.min,
            _ => without.max = base.max,
        }
        policy::validate(&without).is_err_and(|ps| ps.iter().any(|q| q.path == p.path))
    };
    let bounds: Vec<&'static str> = [LABEL_MAX, LABEL_MIN]
        .into_iter()
        .filter(|l| set(l))
        .collect();
    let label = bounds
        .iter()
        .find(|l| !still_broken(l))
        .or(bounds.first())
        .copied()
        .unwrap_or(LABEL_POLICY);
    let value = labels.get(label).map_or("", |v| v.trim());
    err(
        label,
        format!(
            "\"{value}\" conflicts with policy \"{}\" ({}): {}",
            base.name,
            p.dotted(),
            p.message
        ),
    )
}

#[cfg(test)]
mod tests {
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
}
