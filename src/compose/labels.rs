//! The `jetpool.*` labels of a compose service, validated into the
//! parameters of a pool. Pure: no I/O, so every rule is unit-tested.
//!
//! | label | meaning |
//! |---|---|
//! | `jetpool.pool` | the pool's name (required) |
//! | `jetpool.stream`, `jetpool.consumer` | the JetStream consumer (required unless the policy names them) |
//! | `jetpool.min`, `jetpool.max` | bounds (max required unless the policy gives it; min defaults to the policy's, else 0) |
//! | `jetpool.policy` | a pool of the policy files whose interval and `[pool.scaling]` the pool takes |

use std::collections::HashMap;

use crate::config::AgentsSpec;
use crate::config::PoolSpec;
use crate::config::pool::{is_jetstream_name, is_plain_name};
use crate::policy::Policy;
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

/// Validates the labels of a service's container against the policy files'
/// pools (for `jetpool.policy`), collecting every problem.
pub fn resolve(
    labels: &HashMap<String, String>,
    policies: &[PoolSpec],
) -> Result<PoolParams, Vec<LabelError>> {
    let mut errors = Vec::new();
    let get = |k: &str| labels.get(k).map(|v| v.trim().to_string());
    for key in labels.keys().filter(|k| k.starts_with("jetpool.")) {
        let known = [
            LABEL_POOL,
            LABEL_STREAM,
            LABEL_CONSUMER,
            LABEL_MIN,
            LABEL_MAX,
            LABEL_POLICY,
        ];
        // jetpool's own labels appear on the replicas it made, which can
        // be the template when no compose-made container is left.
        let own = [LABEL_MANAGED, LABEL_TEMPLATE];
        if !known.contains(&key.as_str()) && !own.contains(&key.as_str()) {
            errors.push(LabelError {
                label: "jetpool.*",
                message: format!("unknown label \"{key}\"; known: {}", known.join(", ")),
            });
        }
    }
    let name = get(LABEL_POOL).unwrap_or_default();
    if !is_plain_name(&name) {
        errors.push(err(
            LABEL_POOL,
            format!("pool name \"{name}\" is not allowed: use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit"),
        ));
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
    let mut named = |label: &'static str, from_policy: Option<&String>| -> String {
        match get(label).or_else(|| from_policy.cloned()) {
            Some(v) if is_jetstream_name(&v) => v,
            Some(v) => {
                errors.push(err(label, format!("\"{v}\" is not allowed: it must be non-empty with no spaces, '.', '*' or '>'")));
                String::new()
            }
            None => {
                errors.push(err(
                    label,
                    "missing (or set jetpool.policy to a pool that names it)",
                ));
                String::new()
            }
        }
    };
    let stream = named(LABEL_STREAM, base.map(|b| &b.stream));
    let consumer = named(LABEL_CONSUMER, base.map(|b| &b.consumer));
    let mut bound = |label: &'static str, fallback: Option<u32>| -> Option<u32> {
        match get(label) {
            Some(v) => match v.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    errors.push(err(
                        label,
                        format!("\"{v}\" is not a whole number from 0 to {}", u32::MAX),
                    ));
                    None
                }
            },
            None => fallback,
        }
    };
    let min = bound(LABEL_MIN, Some(base.map_or(0, |b| b.policy.min)));
    let max = bound(LABEL_MAX, base.map(|b| b.policy.max));
    match (min, max) {
        (_, Some(0)) => errors.push(err(LABEL_MAX, "max must be at least 1")),
        (Some(lo), Some(hi)) if lo > hi => errors.push(err(
            LABEL_MIN,
            format!("min ({lo}) must not exceed max ({hi})"),
        )),
        (_, None) if get(LABEL_MAX).is_none() => errors.push(err(
            LABEL_MAX,
            "missing (or set jetpool.policy to a pool that gives it)",
        )),
        _ => {}
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut policy = base.map(|b| b.policy.clone()).unwrap_or_default();
    policy.min = min.unwrap_or(0);
    policy.max = max.unwrap_or(1);
    let mut agents = base.map(|b| b.agents.clone()).unwrap_or_default();
    // A warm pool larger than the pool's own max would never be used.
    agents.warm = agents.warm.min(policy.max);
    Ok(PoolParams {
        name,
        stream,
        consumer,
        policy,
        agents,
    })
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

    fn policies() -> Vec<PoolSpec> {
        let toml = "[[pool]]\nname = \"tuned\"\nstream = \"S\"\nconsumer = \"c\"\nmin = 1\nmax = 7\ninterval = \"500ms\"\n[pool.container]\nimage = \"x\"\n[pool.scaling]\nscale_down_delay = \"3s\"\n";
        crate::config::parse_str(Path::new("p.toml"), toml).unwrap()
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
        assert_eq!(p.policy.scaling.scale_down_delay, Duration::from_secs(3));
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
        assert!(has("label jetpool.stream: \"a.b\""), "{text:?}");
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
}
