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
#[path = "labels_tests.rs"]
mod tests;
