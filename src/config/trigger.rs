//! The `[[pool.trigger]]` tables as written: extra scaling triggers beside
//! the backlog model (CPU and memory from the Docker stats API, a
//! Prometheus query). One flat shape for every type, so a key that does
//! not belong to a type (`query` on a `cpu` trigger) or a missing one
//! (`url` of a `prometheus` trigger) is reported by
//! [`policy::validate`](crate::policy::validate) at its own line, rather
//! than as a shapeless error about the whole table.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::duration;

/// What a trigger reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerType {
    /// The agents' mean CPU use against a target share of their limit.
    Cpu,
    /// The agents' mean memory use against a target share of their limit.
    Memory,
    /// An instant query against a Prometheus HTTP API.
    Prometheus,
}

impl TriggerType {
    /// The type as policy files spell it, and the trigger's default name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TriggerType::Cpu => "cpu",
            TriggerType::Memory => "memory",
            TriggerType::Prometheus => "prometheus",
        }
    }
}

/// One `[[pool.trigger]]` table as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrigger {
    /// `cpu`, `memory` or `prometheus`.
    #[serde(rename = "type")]
    pub kind: TriggerType,
    /// The trigger's name in `/status`, reasons and metric labels;
    /// defaults to its type. Unique within the pool.
    #[serde(default)]
    pub name: Option<String>,
    /// `cpu`/`memory`: the mean utilisation to keep, a share of each
    /// agent's limit (0.7 = 70%). `prometheus`: the query's value one
    /// agent handles (KEDA's `threshold`).
    pub target: f64,
    /// No change while `|ratio - 1| <= tolerance` (the HPA's band).
    #[serde(default)]
    pub tolerance: Option<f64>,
    /// `prometheus`: the server's base URL (`http://prometheus:9090`).
    #[serde(default)]
    pub url: Option<String>,
    /// `prometheus`: the PromQL expression; it must give one number.
    #[serde(default)]
    pub query: Option<String>,
    /// `prometheus`: the pool counts as active (wakes from zero, is not
    /// idle) only while the value is above this (KEDA's
    /// `activationThreshold`).
    #[serde(default)]
    pub activation: Option<f64>,
    /// `prometheus`: a file holding a bearer token, read at each query.
    #[serde(default)]
    pub token_file: Option<PathBuf>,
    /// `prometheus`: an empty result or NaN counts as 0 (KEDA's
    /// `ignoreNullValues`); `false` makes it an error.
    #[serde(default)]
    pub ignore_null_values: Option<bool>,
    /// `prometheus`: the longest one query may take.
    #[serde(default, deserialize_with = "duration::optional")]
    pub timeout: Option<Duration>,
}

impl RawTrigger {
    /// A trigger of `kind` with `target`, every other key unset.
    pub fn new(kind: TriggerType, target: f64) -> Self {
        RawTrigger {
            kind,
            name: None,
            target,
            tolerance: None,
            url: None,
            query: None,
            activation: None,
            token_file: None,
            ignore_null_values: None,
            timeout: None,
        }
    }

    /// The keys set that only a `prometheus` trigger takes.
    pub fn prometheus_keys(&self) -> Vec<&'static str> {
        [
            ("url", self.url.is_some()),
            ("query", self.query.is_some()),
            ("activation", self.activation.is_some()),
            ("token_file", self.token_file.is_some()),
            ("ignore_null_values", self.ignore_null_values.is_some()),
            ("timeout", self.timeout.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}
