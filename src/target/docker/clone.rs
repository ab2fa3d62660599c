//! `docker inspect` of one container, cloned into a [`ContainerSpec`] that
//! creates another just like it: image (by id), command, environment,
//! labels, mounts, networks and aliases, resources, stop signal and grace
//! period, user, working directory, healthcheck, the security settings,
//! and the rest of its host config as an opaque passthrough. What belongs
//! to the source alone is left out: its short id as hostname and alias,
//! its own name as alias, static addresses, the container-id file, and its
//! restart policy (jetpool replaces agents itself).

use std::collections::BTreeMap;
use std::time::Duration;

use bollard::models::{ContainerInspectResponse, HostConfig, MountType};
use serde_json::{Map, Value};

use super::convert::{MODELED_CONFIG, MODELED_HOST};
use super::error::ENGINE;
use crate::target::{
    ContainerId, ContainerSpec, Device, ErrorKind, Healthcheck, Inspected, LogConfig, Mount,
    MountKind, NetworkAttachment, NetworkMode, Passthrough, Resources, TargetError, TargetOp,
    Ulimit,
};

/// A failure to clone `name`, which Docker did inspect.
fn refuse(name: &str, why: impl std::fmt::Display) -> TargetError {
    TargetError::new(
        ENGINE,
        TargetOp::Inspect,
        ErrorKind::Other,
        format!("container {name}: {why}"),
    )
}

/// `s` unless it is empty: Docker's inspect spells "unset" as "".
fn set(s: &Option<String>) -> Option<String> {
    s.clone().filter(|s| !s.is_empty())
}

/// A list, or an empty one when unset.
fn list(v: &Option<Vec<String>>) -> Vec<String> {
    v.clone().unwrap_or_default()
}

/// A duration from Docker's nanoseconds; zero and negative mean unset.
fn from_nanos(n: Option<i64>) -> Option<Duration> {
    n.and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .map(Duration::from_nanos)
}

/// The clone of the container `c` describes.
pub(super) fn inspected(c: &ContainerInspectResponse) -> Result<Inspected, TargetError> {
    let id = c.id.clone().unwrap_or_default();
    let name = c
        .name
        .as_deref()
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let config = c
        .config
        .as_ref()
        .ok_or_else(|| refuse(&name, "docker inspect has no Config"))?;
    let host = c.host_config.clone().unwrap_or_default();
    let short_id: String = id.chars().take(12).collect();
    let env: BTreeMap<String, String> = list(&config.env)
        .iter()
        .filter_map(|e| e.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let network = NetworkMode::from_docker(host.network_mode.as_deref().unwrap_or(""));
    let spec = ContainerSpec {
        // The image id, not the tag: a tag moved since the source was
        // created would give the clone another image (compose hashes the
        // id for the same reason).
        image: set(&c.image)
            .or_else(|| set(&config.image))
            .unwrap_or_default(),
        command: config.cmd.clone(),
        entrypoint: config.entrypoint.clone(),
        env,
        labels: config
            .labels
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        user: set(&config.user),
        group_add: list(&host.group_add),
        working_dir: set(&config.working_dir),
        // Docker names a container's host after its short id unless one
        // was set; a copied id would be a lie.
        hostname: set(&config.hostname).filter(|h| *h != short_id),
        domainname: set(&config.domainname),
        tty: config.tty == Some(true),
        stdin_open: config.open_stdin == Some(true),
        exposed_ports: list(&config.exposed_ports),
        mounts: mounts(&name, &host, config.volumes.as_deref().unwrap_or_default())?,
        volumes_from: list(&host.volumes_from),
        networks: attachments(&network, c, &short_id, &name),
        network,
        extra_hosts: list(&host.extra_hosts),
        dns: list(&host.dns),
        dns_search: list(&host.dns_search),
        dns_options: list(&host.dns_options),
        resources: Resources {
            memory_bytes: host
                .memory
                .and_then(|m| u64::try_from(m).ok())
                .filter(|m| *m > 0),
            cpus: host.nano_cpus.filter(|n| *n > 0).map(|n| n as f64 / 1e9),
        },
        stop_signal: set(&config.stop_signal),
        stop_timeout: config
            .stop_timeout
            .and_then(|s| u64::try_from(s).ok())
            .map(Duration::from_secs),
        healthcheck: config.healthcheck.as_ref().map(|h| Healthcheck {
            test: list(&h.test),
            interval: from_nanos(h.interval),
            timeout: from_nanos(h.timeout),
            start_period: from_nanos(h.start_period),
            retries: h.retries.and_then(|r| u32::try_from(r).ok()),
        }),
        privileged: host.privileged == Some(true),
        cap_add: list(&host.cap_add),
        cap_drop: list(&host.cap_drop),
        devices: host
            .devices
            .iter()
            .flatten()
            .map(|d| Device {
                host_path: d.path_on_host.clone().unwrap_or_default(),
                container_path: d.path_in_container.clone().unwrap_or_default(),
                permissions: d.cgroup_permissions.clone().unwrap_or_default(),
            })
            .collect(),
        device_cgroup_rules: list(&host.device_cgroup_rules),
        security_opt: list(&host.security_opt),
        read_only_rootfs: host.readonly_rootfs == Some(true),
        pid_mode: set(&host.pid_mode),
        ipc_mode: set(&host.ipc_mode),
        uts_mode: set(&host.uts_mode),
        userns_mode: set(&host.userns_mode),
        init: host.init,
        sysctls: host
            .sysctls
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect(),
        ulimits: host
            .ulimits
            .iter()
            .flatten()
            .map(|u| Ulimit {
                name: u.name.clone().unwrap_or_default(),
                soft: u.soft.unwrap_or_default(),
                hard: u.hard.unwrap_or_default(),
            })
            .collect(),
        shm_size: host
            .shm_size
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| *s > 0),
        log: host.log_config.as_ref().and_then(|l| {
            Some(LogConfig {
                driver: set(&l.typ)?,
                options: l.config.clone().unwrap_or_default().into_iter().collect(),
            })
        }),
        passthrough: Passthrough {
            docker_config: rest(&name, config, MODELED_CONFIG)?,
            docker_host_config: rest(&name, &host, MODELED_HOST)?,
        },
    };
    Ok(Inspected {
        id: ContainerId::from(id),
        name,
        spec,
        image_name: set(&config.image),
    })
}

/// The keys of `v` the spec does not model, without nulls.
fn rest(
    name: &str,
    v: &impl serde::Serialize,
    modeled: &[&str],
) -> Result<Map<String, Value>, TargetError> {
    match serde_json::to_value(v).map_err(|e| refuse(name, e))? {
        Value::Object(m) => Ok(m
            .into_iter()
            .filter(|(k, v)| !v.is_null() && !modeled.contains(&k.as_str()))
            .collect()),
        _ => Ok(Map::new()),
    }
}

/// Every mount of the container: its binds, its mounts, its tmpfs, and
/// the anonymous volumes of `volumes` no other mount covers.
fn mounts(name: &str, host: &HostConfig, volumes: &[String]) -> Result<Vec<Mount>, TargetError> {
    let mut out: Vec<Mount> = list(&host.binds)
        .iter()
        .filter_map(|b| Mount::parse_short(b))
        .collect();
    for m in host.mounts.iter().flatten() {
        let target = m.target.clone().unwrap_or_default();
        let source = m.source.clone().unwrap_or_default();
        let (kind, options) = match m.typ {
            Some(MountType::BIND) => {
                let propagation = m
                    .bind_options
                    .as_ref()
                    .and_then(|b| b.propagation)
                    .map(|p| p.to_string())
                    .filter(|p| !p.is_empty());
                (MountKind::Bind, propagation.into_iter().collect())
            }
            Some(MountType::VOLUME) => {
                let nocopy = m
                    .volume_options
                    .as_ref()
                    .and_then(|o| o.no_copy)
                    .unwrap_or(false);
                let options = if nocopy {
                    vec!["nocopy".into()]
                } else {
                    vec![]
                };
                (MountKind::Volume, options)
            }
            Some(MountType::TMPFS) => {
                let t = m.tmpfs_options.as_ref();
                let mut options = Vec::new();
                if let Some(size) = t.and_then(|t| t.size_bytes).filter(|s| *s > 0) {
                    options.push(format!("size={size}"));
                }
                if let Some(mode) = t.and_then(|t| t.mode).filter(|m| *m > 0) {
                    options.push(format!("mode={mode:o}"));
                }
                (MountKind::Tmpfs, options)
            }
            other => {
                return Err(refuse(
                    name,
                    format!("its mount at {target} is of a type jetpool cannot clone ({other:?})"),
                ));
            }
        };
        out.push(Mount {
            kind,
            source,
            target,
            read_only: m.read_only == Some(true),
            options,
        });
    }
    let mut tmpfs: Vec<(&String, &String)> = host.tmpfs.iter().flatten().collect();
    tmpfs.sort();
    for (target, opts) in tmpfs {
        let mut read_only = false;
        let mut options = Vec::new();
        for o in opts.split(',').filter(|o| !o.is_empty()) {
            match o {
                "ro" => read_only = true,
                "rw" => {}
                o => options.push(o.to_string()),
            }
        }
        out.push(Mount {
            kind: MountKind::Tmpfs,
            source: String::new(),
            target: target.clone(),
            read_only,
            options,
        });
    }
    let mut anonymous: Vec<&String> = volumes
        .iter()
        .filter(|v| !out.iter().any(|m| m.target == **v))
        .collect();
    anonymous.sort();
    out.extend(anonymous.into_iter().map(|target| Mount {
        kind: MountKind::Volume,
        source: String::new(),
        target: target.clone(),
        read_only: false,
        options: Vec::new(),
    }));
    Ok(out)
}

/// The user networks of a container, with the aliases that belong to the
/// service (the source's own id and name are its alone). Static addresses
/// are dropped: two replicas cannot share one.
fn attachments(
    mode: &NetworkMode,
    c: &ContainerInspectResponse,
    short_id: &str,
    name: &str,
) -> Vec<NetworkAttachment> {
    if !matches!(mode, NetworkMode::Network(_)) {
        return Vec::new();
    }
    let Some(networks) = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
    else {
        return Vec::new();
    };
    let mut out: Vec<NetworkAttachment> = networks
        .iter()
        .filter(|(net, _)| !matches!(net.as_str(), "bridge" | "host" | "none"))
        .map(|(net, ep)| NetworkAttachment {
            network: net.clone(),
            aliases: ep
                .aliases
                .iter()
                .flatten()
                .filter(|a| a.as_str() != short_id && a.as_str() != name)
                .cloned()
                .collect(),
            links: list(&ep.links),
            driver_opts: ep
                .driver_opts
                .clone()
                .unwrap_or_default()
                .into_iter()
                .collect(),
        })
        .collect();
    out.sort_by(|a, b| a.network.cmp(&b.network));
    out
}

#[cfg(test)]
#[path = "clone_tests.rs"]
mod tests;
