//! One `[[pool]]` table: which consumer it watches, the bounds and sizing
//! knobs for [`decide`](crate::policy::decide), and the container template
//! its agents are started from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::scaling::Scaling;
use super::schedule::Schedule;
use super::{Problem, duration, problem};
use crate::policy::Policy;
use crate::target::Template;

/// A validated pool: everything jetpool needs to watch and scale it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolSpec {
    /// Unique pool name; part of container names and the `jetpool.pool` label.
    pub name: String,
    /// The JetStream stream the consumer reads.
    pub stream: String,
    /// The durable pull consumer the agents share.
    pub consumer: String,
    /// Bounds and sizing knobs, the input of the pure decision core.
    pub policy: Policy,
    /// How agent containers are created.
    pub template: Template,
    /// How agents are drained, kept warm and healed.
    pub agents: AgentsSpec,
    /// The policy file this pool came from (for messages); empty for pools
    /// built in code.
    pub source: PathBuf,
}

impl PoolSpec {
    /// Records the file the pool was declared in.
    pub(crate) fn with_source(mut self, file: &Path) -> Self {
        self.source = file.to_path_buf();
        self
    }
}

/// The container template of a pool's agents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSpec {
    /// Image reference; must already be present locally or pullable by the engine.
    pub image: String,
    /// Overrides the image's CMD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Overrides the image's ENTRYPOINT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Extra environment; `JETPOOL_POOL`, `JETPOOL_AGENT_ID` and `NATS_URL`
    /// are always set by jetpool.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// `host`, `bridge`, or the name of an existing Docker network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Grace period between the stop signal and SIGKILL (`docker stop -t`).
    #[serde(
        default = "default_stop_timeout",
        deserialize_with = "duration::required",
        serialize_with = "ser_duration"
    )]
    pub stop_timeout: Duration,
    /// Signal sent to stop an agent; defaults to the image's (usually SIGTERM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Extra labels; keys starting with `jetpool.` are reserved.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Bind mounts in Docker's `source:target[:ro]` form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    /// User to run as (`uid[:gid]` or a name known to the image).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Memory limit in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// CPU limit in cores (fractions allowed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// The NATS URL agents get in `NATS_URL`; defaults to the one jetpool
    /// uses, which only works from inside a container with `network = "host"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<String>,
}

const fn default_stop_timeout() -> Duration {
    Duration::from_secs(30)
}

fn ser_duration<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&duration::format_duration(*d))
}

impl ContainerSpec {
    /// A minimal template running `image` with defaults everywhere else.
    pub fn new(image: impl Into<String>) -> Self {
        ContainerSpec {
            image: image.into(),
            command: None,
            entrypoint: None,
            env: BTreeMap::new(),
            network: None,
            stop_timeout: default_stop_timeout(),
            stop_signal: None,
            labels: BTreeMap::new(),
            volumes: Vec::new(),
            user: None,
            working_dir: None,
            memory_mb: None,
            cpus: None,
            nats_url: None,
        }
    }

    /// A short stable hash of the template, stored in the `jetpool.template`
    /// label so a changed template can be told apart from running agents.
    pub fn hash(&self) -> String {
        // serde_json of a struct with BTreeMaps is deterministic, so equal
        // templates always hash equal across restarts and versions.
        let json = serde_json::to_vec(self).unwrap_or_default();
        let digest = Sha256::digest(&json);
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    fn validate(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.image.trim().is_empty() {
            out.push(problem(&["container", "image"], "image must not be empty"));
        }
        for k in self.labels.keys() {
            if k.starts_with("jetpool.") {
                out.push(problem(
                    &["container", "labels"],
                    format!(
                        "label \"{k}\": keys starting with \"jetpool.\" are reserved for jetpool"
                    ),
                ));
            }
        }
        for k in self.env.keys() {
            if k.is_empty() || k.contains('=') {
                out.push(problem(
                    &["container", "env"],
                    format!(
                        "environment variable name \"{k}\" must be non-empty and contain no '='"
                    ),
                ));
            }
        }
        if self.stop_timeout > Duration::from_secs(3600) {
            out.push(problem(
                &["container", "stop_timeout"],
                "stop_timeout must be at most 1h",
            ));
        }
        if let Some(c) = self.cpus
            && !(c > 0.0 && c.is_finite())
        {
            out.push(problem(
                &["container", "cpus"],
                "cpus must be a positive number",
            ));
        }
        for v in &self.volumes {
            if !v.contains(':') {
                out.push(problem(
                    &["container", "volumes"],
                    format!("volume \"{v}\" must have the form \"source:target\" or \"source:target:ro\""),
                ));
            }
        }
        out
    }
}

/// The `[pool.agents]` table: the agent lifecycle around scaling.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentsSpec {
    /// Drain agents that speak the agent protocol before stopping them
    /// (they finish what they hold); others get the stop signal and
    /// `stop_timeout`. `false` always uses plain `docker stop`.
    #[serde(default = "yes")]
    pub drain: bool,
    /// Longest a drain may take; then the agent gets `docker stop`.
    #[serde(default = "d_drain_timeout", deserialize_with = "duration::required")]
    pub drain_timeout: Duration,
    /// Standby agents kept started and connected but not fetching, so a
    /// burst is met by one NATS message instead of a container start.
    /// Requires agents that speak the protocol.
    #[serde(default)]
    pub warm: u32,
    /// An agent that has reported stats and then stays silent this long
    /// is considered hung and replaced.
    #[serde(default = "d_stats_timeout", deserialize_with = "duration::required")]
    pub stats_timeout: Duration,
    /// An agent exiting on its own within this time of its start counts as
    /// a crash; repeated crashes back off starts exponentially.
    #[serde(default = "d_crash_window", deserialize_with = "duration::required")]
    pub crash_window: Duration,
    /// The longest back-off between starts of a crash-looping template.
    #[serde(default = "d_max_backoff", deserialize_with = "duration::required")]
    pub max_backoff: Duration,
}

const fn yes() -> bool {
    true
}
const fn d_drain_timeout() -> Duration {
    Duration::from_secs(300)
}
const fn d_stats_timeout() -> Duration {
    Duration::from_secs(15)
}
const fn d_crash_window() -> Duration {
    Duration::from_secs(30)
}
const fn d_max_backoff() -> Duration {
    Duration::from_secs(300)
}

impl Default for AgentsSpec {
    fn default() -> Self {
        AgentsSpec {
            drain: yes(),
            drain_timeout: d_drain_timeout(),
            warm: 0,
            stats_timeout: d_stats_timeout(),
            crash_window: d_crash_window(),
            max_backoff: d_max_backoff(),
        }
    }
}

impl AgentsSpec {
    fn validate(&self, max: u32) -> Vec<Problem> {
        let mut out = Vec::new();
        if self.drain_timeout < Duration::from_secs(1) {
            out.push(problem(
                &["agents", "drain_timeout"],
                "drain_timeout must be at least 1s",
            ));
        }
        if self.stats_timeout < Duration::from_secs(1) {
            out.push(problem(
                &["agents", "stats_timeout"],
                "stats_timeout must be at least 1s",
            ));
        }
        if self.max_backoff < Duration::from_secs(1) {
            out.push(problem(
                &["agents", "max_backoff"],
                "max_backoff must be at least 1s",
            ));
        }
        if self.warm > max {
            out.push(problem(
                &["agents", "warm"],
                format!("warm ({}) must not exceed max ({max})", self.warm),
            ));
        }
        out
    }
}

/// The raw `[[pool]]` table as written; [`RawPool::validate`] turns it into
/// a [`PoolSpec`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPool {
    /// Unique pool name.
    name: String,
    /// The JetStream stream the consumer reads.
    stream: String,
    /// The durable pull consumer the agents share.
    consumer: String,
    /// Fewest agents; 0 lets the pool scale to zero.
    #[serde(default)]
    min: u32,
    /// Most agents.
    max: u32,
    /// Observation and decision cadence.
    #[serde(default = "default_interval", deserialize_with = "duration::required")]
    interval: Duration,
    /// How agent containers are created.
    container: ContainerSpec,
    /// Sizing knobs and guardrails.
    #[serde(default)]
    scaling: Scaling,
    /// Share of the global agent budget: higher is served first.
    #[serde(default)]
    priority: u32,
    /// Hold the current count: no automatic scaling at all.
    #[serde(default)]
    paused: bool,
    /// Fix the count at this number, whatever the model says.
    #[serde(default)]
    pinned: Option<u32>,
    /// Time windows that raise `min` or lower `max`.
    #[serde(default)]
    schedule: Vec<Schedule>,
    /// The agent lifecycle: drain, warm pool, healing.
    #[serde(default)]
    agents: AgentsSpec,
}

const fn default_interval() -> Duration {
    Duration::from_secs(1)
}

/// True for names Docker accepts in a container name and NATS in a
/// stream or consumer name: no spaces, dots or wildcards.
pub(crate) fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// True for names JetStream accepts for a stream or consumer: non-empty,
/// no whitespace, dots or wildcards.
pub(crate) fn is_jetstream_name(v: &str) -> bool {
    !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>'))
}

impl RawPool {
    /// Checks every rule, returning all problems at once.
    pub(crate) fn validate(self) -> Result<PoolSpec, Vec<Problem>> {
        let mut out = Vec::new();
        if !is_plain_name(&self.name) {
            out.push(problem(
                &["name"],
                format!(
                    "pool name \"{}\" is not allowed: use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit",
                    self.name
                ),
            ));
        }
        for (key, v) in [("stream", &self.stream), ("consumer", &self.consumer)] {
            if !is_jetstream_name(v) {
                out.push(problem(
                    &[key],
                    format!("{key} name \"{v}\" is not allowed: it must be non-empty with no spaces, '.', '*' or '>'"),
                ));
            }
        }
        if self.max == 0 {
            out.push(problem(&["max"], "max must be at least 1"));
        }
        if self.min > self.max {
            out.push(problem(
                &["min"],
                format!("min ({}) must not exceed max ({})", self.min, self.max),
            ));
        }
        if self.interval < Duration::from_millis(100) || self.interval > Duration::from_secs(600) {
            out.push(problem(
                &["interval"],
                "interval must be between 100ms and 10m",
            ));
        }
        if let Some(n) = self.pinned {
            if !(self.min..=self.max).contains(&n) {
                out.push(problem(
                    &["pinned"],
                    format!(
                        "pinned ({n}) must be within min and max ({}..={})",
                        self.min, self.max
                    ),
                ));
            }
            if self.paused {
                out.push(problem(
                    &["pinned"],
                    "set either paused (hold the current count) or pinned (fix it), not both",
                ));
            }
        }
        out.extend(self.container.validate());
        out.extend(self.agents.validate(self.max));
        out.extend(self.scaling.validate(self.min, self.max));
        for (i, w) in self.schedule.iter().enumerate() {
            out.extend(w.validate(i, self.min, self.max));
        }
        if !out.is_empty() {
            return Err(out);
        }
        Ok(PoolSpec {
            name: self.name,
            stream: self.stream,
            consumer: self.consumer,
            policy: Policy {
                min: self.min,
                max: self.max,
                interval: self.interval,
                scaling: self.scaling,
                priority: self.priority,
                paused: self.paused,
                pinned: self.pinned,
                schedule: self.schedule,
            },
            template: Template::from_policy(&self.container),
            agents: self.agents,
            source: PathBuf::new(),
        })
    }
}
