//! One `[[pool]]` table as written: which consumer it watches, the bounds
//! and sizing knobs for the decision core, the agent lifecycle, and the
//! container template its agents are started from. Only the shape is
//! checked here; the rules (min <= max, pinned within the bounds, ...) are
//! [`policy::validate`](crate::policy::validate)'s.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::duration;
use super::scaling::Scaling;
use super::schedule::Schedule;
use super::trigger::RawTrigger;

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
    /// The engines (`jetpool run --engine NAME=URL`) agents may run on;
    /// empty: all of them. Not part of the [`hash`](Self::hash): moving a
    /// pool does not roll its running agents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub engines: Vec<String>,
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
            engines: Vec::new(),
        }
    }

    /// A short stable hash of the template, stored in the `jetpool.template`
    /// label so a changed template can be told apart from running agents.
    pub fn hash(&self) -> String {
        // serde_json of a struct with BTreeMaps is deterministic, so equal
        // templates always hash equal across restarts and versions.
        // Placement is left out, so the hash of a table without `engines`
        // is what it was before the key existed.
        let placed = ContainerSpec {
            engines: Vec::new(),
            ..self.clone()
        };
        let json = serde_json::to_vec(&placed).unwrap_or_default();
        let digest = Sha256::digest(&json);
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }
}

/// How a pool's containers work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolMode {
    /// Long-lived agents, each working task after task; scaled by the
    /// model, drained on scale-in.
    #[default]
    Agents,
    /// One container per task (KEDA's ScaledJob): each fetches exactly
    /// one task, works it, acks or NAKs it and exits. jetpool starts one
    /// per pending task up to `max` and never stops a running one.
    Job,
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
/// A day: a drain exists so that no task is lost, and agents' tasks (a
/// model call chain, a batch job) can run for an hour or more; the bound is
/// only there so a drain that never ends (a task hung while its agent still
/// reports) cannot hold an agent forever. Shorter tasks never reach it.
const fn d_drain_timeout() -> Duration {
    Duration::from_secs(24 * 3600)
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

/// The raw `[[pool]]` table as written. [`policy::validate`] checks it and
/// returns the typed [`Policy`](crate::policy::Policy); compose labels
/// build one too (over a policy-file pool's, when `jetpool.policy` names
/// one), so both kinds of pools meet the same rules.
///
/// [`policy::validate`]: crate::policy::validate
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    /// Unique pool name.
    pub name: String,
    /// The JetStream stream the consumer reads.
    pub stream: String,
    /// The durable pull consumer the agents share.
    pub consumer: String,
    /// Fewest agents; 0 lets the pool scale to zero.
    #[serde(default)]
    pub min: u32,
    /// Most agents.
    pub max: u32,
    /// Observation and decision cadence.
    #[serde(default = "default_interval", deserialize_with = "duration::required")]
    pub interval: Duration,
    /// How agent containers are created. Required of a pool that runs from
    /// a policy file; absent where the template comes from elsewhere (a
    /// compose service's container).
    #[serde(default)]
    pub container: Option<ContainerSpec>,
    /// Sizing knobs and guardrails.
    #[serde(default)]
    pub scaling: Scaling,
    /// Share of the global agent budget: higher is served first.
    #[serde(default)]
    pub priority: u32,
    /// Hold the current count: no automatic scaling at all.
    #[serde(default)]
    pub paused: bool,
    /// Fix the count at this number, whatever the model says.
    #[serde(default)]
    pub pinned: Option<u32>,
    /// Time windows that raise `min` or lower `max`.
    #[serde(default)]
    pub schedule: Vec<Schedule>,
    /// The agent lifecycle: drain, warm pool, healing.
    #[serde(default)]
    pub agents: AgentsSpec,
    /// `"agents"` (long-lived, the default) or `"job"` (one container per
    /// task).
    #[serde(default)]
    pub mode: PoolMode,
    /// Job pools: a job running longer than this is killed (counted as
    /// `killed`); its task is redelivered after AckWait. None: no limit.
    #[serde(default, deserialize_with = "duration::optional")]
    pub job_timeout: Option<Duration>,
    /// Scaling triggers beside the backlog model (`[[pool.trigger]]`):
    /// each recommends a count, the highest wins.
    #[serde(default, rename = "trigger")]
    pub triggers: Vec<RawTrigger>,
}

impl RawPool {
    /// A table with `name`, `stream`, `consumer` and `max`, every other key
    /// at its default, as if written with only those four.
    pub fn new(name: &str, stream: &str, consumer: &str, max: u32) -> Self {
        RawPool {
            name: name.to_string(),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            min: 0,
            max,
            interval: default_interval(),
            container: None,
            scaling: Scaling::default(),
            priority: 0,
            paused: false,
            pinned: None,
            schedule: Vec::new(),
            agents: AgentsSpec::default(),
            mode: PoolMode::Agents,
            job_timeout: None,
            triggers: Vec::new(),
        }
    }
}

/// 1 s: the default observation and decision cadence.
pub const fn default_interval() -> Duration {
    Duration::from_secs(1)
}
