//! jetpool's own container spec: everything a pool's agent containers are
//! made from, in jetpool's types. A policy file's `[pool.container]` and a
//! cloned compose service both become a [`ContainerSpec`]; each engine
//! converts it at its edge (Docker in [`super::docker`]).
//!
//! What matters for security checks is modelled explicitly and typed:
//! the image, mounts (host paths among them), privileged mode,
//! capabilities, devices, host namespaces (network, pid, ipc, uts, user),
//! security options. A policy can therefore vet a spec the same way
//! whether it came from a file or from compose.
//!
//! The long tail of Docker settings that a compose clone must carry but
//! jetpool need not understand (block-IO weights, CPU quotas, port
//! bindings, the runtime, masked paths, ...) travels in [`Passthrough`]:
//! opaque JSON that only the Docker edge reads, merged under the modelled
//! fields, never over them. Modelling all of Docker's ~80 host settings
//! would be a copy of bollard's types by another name; dropping them would
//! make replicas differ from the service they clone.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The engine's stop timeout when a spec sets none (Docker's and Swarm's).
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// One agent container, engine-neutral. The engine never restarts it on
/// its own: jetpool replaces failed agents itself (an engine restarting
/// them behind its back would double-count), so there is no restart
/// policy to set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    /// Image reference or id.
    pub image: String,
    /// Overrides the image's CMD.
    pub command: Option<Vec<String>>,
    /// Overrides the image's ENTRYPOINT.
    pub entrypoint: Option<Vec<String>>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Container labels.
    pub labels: BTreeMap<String, String>,
    /// User to run as (`uid[:gid]` or a name known to the image).
    pub user: Option<String>,
    /// Extra groups of the container's process.
    pub group_add: Vec<String>,
    /// Working directory inside the container.
    pub working_dir: Option<String>,
    /// Hostname; `None` lets the engine choose (Docker: the short id).
    pub hostname: Option<String>,
    /// Domain name.
    pub domainname: Option<String>,
    /// Allocate a terminal.
    pub tty: bool,
    /// Keep stdin open.
    pub stdin_open: bool,
    /// Ports the container exposes, `port/proto` (`8080/tcp`).
    pub exposed_ports: Vec<String>,
    /// Bind mounts, volumes and tmpfs mounts.
    pub mounts: Vec<Mount>,
    /// Containers whose volumes are mounted too (`name[:ro|rw]`).
    pub volumes_from: Vec<String>,
    /// The network the container is created on.
    pub network: NetworkMode,
    /// Networks joined, with aliases: the network mode's own (when it is a
    /// user network) and any others.
    pub networks: Vec<NetworkAttachment>,
    /// `/etc/hosts` entries, `host:ip`.
    pub extra_hosts: Vec<String>,
    /// DNS servers.
    pub dns: Vec<String>,
    /// DNS search domains.
    pub dns_search: Vec<String>,
    /// DNS resolver options.
    pub dns_options: Vec<String>,
    /// Memory and CPU limits.
    pub resources: Resources,
    /// Signal that asks the agent to stop; `None`: the image's.
    pub stop_signal: Option<String>,
    /// Grace period between the stop signal and SIGKILL; `None`: the
    /// engine's ([`DEFAULT_STOP_TIMEOUT`]).
    #[serde(with = "humantime_serde")]
    pub stop_timeout: Option<Duration>,
    /// Healthcheck; `None`: the image's.
    pub healthcheck: Option<Healthcheck>,
    /// Full access to the host.
    pub privileged: bool,
    /// Kernel capabilities added.
    pub cap_add: Vec<String>,
    /// Kernel capabilities dropped.
    pub cap_drop: Vec<String>,
    /// Host devices mapped into the container.
    pub devices: Vec<Device>,
    /// Device cgroup rules (`c 1:3 mr`), granting access to device classes.
    pub device_cgroup_rules: Vec<String>,
    /// Security options (`no-new-privileges`, `seccomp=...`, `apparmor=...`).
    pub security_opt: Vec<String>,
    /// Mount the root filesystem read-only.
    pub read_only_rootfs: bool,
    /// PID namespace: `host`, `container:<id>`, or `None` for its own.
    pub pid_mode: Option<String>,
    /// IPC namespace: `host`, `private`, `shareable`, `container:<id>`.
    pub ipc_mode: Option<String>,
    /// UTS namespace: `host` or `None` for its own.
    pub uts_mode: Option<String>,
    /// User namespace: `host` or `None` for the daemon's default.
    pub userns_mode: Option<String>,
    /// Run an init process that forwards signals and reaps children.
    pub init: Option<bool>,
    /// Kernel parameters.
    pub sysctls: BTreeMap<String, String>,
    /// Resource limits (`nofile`, ...).
    pub ulimits: Vec<Ulimit>,
    /// Size of `/dev/shm` in bytes.
    pub shm_size: Option<u64>,
    /// Logging driver and its options; `None`: the engine's default.
    pub log: Option<LogConfig>,
    /// Engine-specific settings carried, not interpreted.
    pub passthrough: Passthrough,
}

impl ContainerSpec {
    /// A spec running `image` with the defaults everywhere else.
    pub fn new(image: impl Into<String>) -> Self {
        ContainerSpec {
            image: image.into(),
            ..Default::default()
        }
    }

    /// The grace period a stop waits before SIGKILL.
    pub fn grace_period(&self) -> Duration {
        self.stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT)
    }

    /// Mounts of host paths (bind mounts), for checks on what a container
    /// can see of its host.
    pub fn host_mounts(&self) -> impl Iterator<Item = &Mount> {
        self.mounts.iter().filter(|m| m.kind == MountKind::Bind)
    }

    /// The host namespaces the container shares (`network`, `pid`, `ipc`,
    /// `uts`, `user`), for checks on how isolated it is.
    pub fn host_namespaces(&self) -> Vec<&'static str> {
        let host = |m: &Option<String>| m.as_deref() == Some("host");
        let mut v = Vec::new();
        if self.network == NetworkMode::Host {
            v.push("network");
        }
        for (name, mode) in [
            ("pid", &self.pid_mode),
            ("ipc", &self.ipc_mode),
            ("uts", &self.uts_mode),
            ("user", &self.userns_mode),
        ] {
            if host(mode) {
                v.push(name);
            }
        }
        v
    }
}

/// What a mount mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountKind {
    /// A host path.
    Bind,
    /// A volume managed by the engine: named, or anonymous (fresh per
    /// container) when the source is empty.
    Volume,
    /// A memory-backed filesystem.
    Tmpfs,
}

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// What is mounted.
    pub kind: MountKind,
    /// The host path (bind), the volume's name (empty: anonymous); unused
    /// for tmpfs.
    pub source: String,
    /// Where it appears in the container.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// Further options as the engine spells them, kept verbatim: bind
    /// propagation (`rprivate`) and SELinux labels (`z`), `nocopy` for a
    /// volume, `size=64m` or `mode=1777` for a tmpfs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Mount {
    /// Parses the short form `source:target[:options]` that policy files
    /// and Docker's binds use: a source starting with `/` is a host path,
    /// any other a volume name; `ro` in the comma-separated options makes
    /// it read-only, `rw` is the default, others are kept. `None` when
    /// there is no target.
    pub fn parse_short(s: &str) -> Option<Mount> {
        let mut parts = s.splitn(3, ':');
        let source = parts.next()?.to_string();
        let target = parts.next().filter(|t| !t.is_empty())?.to_string();
        let mut read_only = false;
        let mut options = Vec::new();
        for o in parts.next().into_iter().flat_map(|o| o.split(',')) {
            match o {
                "ro" => read_only = true,
                "rw" | "" => {}
                other => options.push(other.to_string()),
            }
        }
        let kind = if source.starts_with('/') {
            MountKind::Bind
        } else {
            MountKind::Volume
        };
        Some(Mount {
            kind,
            source,
            target,
            read_only,
            options,
        })
    }
}

/// The network a container is created on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// The engine's default network (Docker: `bridge`), or the first of
    /// [`ContainerSpec::networks`] when any is listed.
    #[default]
    Default,
    /// Docker's default bridge, named explicitly.
    Bridge,
    /// The host's network stack: no isolation.
    Host,
    /// No network at all.
    None,
    /// Another container's network stack.
    Container(String),
    /// A user network, by name.
    Network(String),
}

impl NetworkMode {
    /// The mode as Docker spells it (`None` for the default).
    pub fn as_docker(&self) -> Option<String> {
        match self {
            NetworkMode::Default => None,
            NetworkMode::Bridge => Some("bridge".into()),
            NetworkMode::Host => Some("host".into()),
            NetworkMode::None => Some("none".into()),
            NetworkMode::Container(c) => Some(format!("container:{c}")),
            NetworkMode::Network(n) => Some(n.clone()),
        }
    }

    /// The mode Docker's spelling names: `host`, `bridge`, `none`,
    /// `container:<id>`, `default` or empty, else a user network.
    pub fn from_docker(mode: &str) -> NetworkMode {
        match mode {
            "" | "default" => NetworkMode::Default,
            "bridge" => NetworkMode::Bridge,
            "host" => NetworkMode::Host,
            "none" => NetworkMode::None,
            m => match m.strip_prefix("container:") {
                Some(c) => NetworkMode::Container(c.to_string()),
                None => NetworkMode::Network(m.to_string()),
            },
        }
    }
}

/// One network a container joins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkAttachment {
    /// The network's name.
    pub network: String,
    /// Names the container is known by on it (a compose service's name).
    pub aliases: Vec<String>,
    /// Legacy links on it, `container:alias`.
    pub links: Vec<String>,
    /// Driver options of the endpoint.
    pub driver_opts: BTreeMap<String, String>,
}

/// Memory and CPU limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// Memory limit in bytes.
    pub memory_bytes: Option<u64>,
    /// CPU limit in cores (fractions allowed).
    pub cpus: Option<f64>,
}

/// A container healthcheck.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Healthcheck {
    /// The test: `["CMD", args...]`, `["CMD-SHELL", command]`, or
    /// `["NONE"]` to disable the image's.
    pub test: Vec<String>,
    /// Time between checks.
    #[serde(with = "humantime_serde")]
    pub interval: Option<Duration>,
    /// Time a check may take.
    #[serde(with = "humantime_serde")]
    pub timeout: Option<Duration>,
    /// Start-up time during which failures do not count.
    #[serde(with = "humantime_serde")]
    pub start_period: Option<Duration>,
    /// Consecutive failures that make the container unhealthy.
    pub retries: Option<u32>,
}

/// A host device mapped into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The device on the host.
    pub host_path: String,
    /// Where it appears in the container.
    pub container_path: String,
    /// Cgroup permissions, such as `rwm`.
    pub permissions: String,
}

/// A resource limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    /// The limit's name (`nofile`, `nproc`, ...).
    pub name: String,
    /// Soft limit.
    pub soft: i64,
    /// Hard limit.
    pub hard: i64,
}

/// Where the container's output goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LogConfig {
    /// The logging driver (`json-file`, `local`, `none`, ...).
    pub driver: String,
    /// The driver's options (`max-size`, ...).
    pub options: BTreeMap<String, String>,
}

/// Settings of one engine that jetpool carries without interpreting, so a
/// clone keeps what its source had. Only the Docker edge reads them, and
/// only for keys the spec does not model: a passthrough can never set
/// what [`ContainerSpec`] has a field for (privileged mode, mounts,
/// capabilities, ...), so checks on the spec see everything that matters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Passthrough {
    /// Docker create-body keys (the container config: `StdinOnce`,
    /// `Shell`, ...), in the Engine API's spelling.
    pub docker_config: serde_json::Map<String, serde_json::Value>,
    /// Docker `HostConfig` keys (`CpuShares`, `PortBindings`, `Runtime`,
    /// ...), in the Engine API's spelling.
    pub docker_host_config: serde_json::Map<String, serde_json::Value>,
}

impl Passthrough {
    /// True when nothing is carried.
    pub fn is_empty(&self) -> bool {
        self.docker_config.is_empty() && self.docker_host_config.is_empty()
    }
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
