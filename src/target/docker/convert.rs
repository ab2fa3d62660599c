//! A [`StartRequest`] as Docker's create body. Engines before API 1.44
//! take one network at create, so the request's networks split in two:
//! the network mode's own goes into the body, the others are connected
//! after create and before start (in name order, so every replica joins
//! them alike).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, DeviceMapping, EndpointSettings, HealthConfig, HostConfig,
    HostConfigLogConfig, Mount as DockerMount, MountType, MountVolumeOptions, NetworkingConfig,
    ResourcesUlimits, RestartPolicy, RestartPolicyNameEnum,
};
use serde_json::{Map, Value};

use super::error::ENGINE;
use crate::target::{
    ContainerSpec, ENV_STANDBY, ErrorKind, MountKind, NetworkAttachment, NetworkMode, StartRequest,
    TargetError, TargetOp,
};

/// Create-body keys the spec models (or the edge sets): a passthrough
/// never sets them.
pub(super) const MODELED_CONFIG: &[&str] = &[
    "Hostname",
    "Domainname",
    "User",
    "ExposedPorts",
    "Tty",
    "OpenStdin",
    "Env",
    "Cmd",
    "Healthcheck",
    "Image",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "Labels",
    "StopSignal",
    "StopTimeout",
    "HostConfig",
    "NetworkingConfig",
];

/// `HostConfig` keys the spec models, or that jetpool decides itself
/// (no restart policy, no auto-removal: it removes agents itself; no
/// container-id file): a passthrough never sets them.
pub(super) const MODELED_HOST: &[&str] = &[
    "Binds",
    "Mounts",
    "Tmpfs",
    "VolumesFrom",
    "Memory",
    "NanoCpus",
    "NetworkMode",
    "RestartPolicy",
    "AutoRemove",
    "ContainerIDFile",
    "ExtraHosts",
    "Dns",
    "DnsSearch",
    "DnsOptions",
    "CapAdd",
    "CapDrop",
    "Devices",
    "DeviceCgroupRules",
    "Privileged",
    "ReadonlyRootfs",
    "SecurityOpt",
    "PidMode",
    "IpcMode",
    "UTSMode",
    "UsernsMode",
    "GroupAdd",
    "Init",
    "Sysctls",
    "Ulimits",
    "ShmSize",
    "LogConfig",
];

/// One container to create: its body, with the primary network only.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Create {
    /// The create body.
    pub body: ContainerCreateBody,
    /// The other networks, connected after create and before start.
    pub others: Vec<(String, EndpointSettings)>,
}

/// `Some(v)` unless `v` is empty, so an unset list stays unset.
fn nonempty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

/// A duration in nanoseconds, as Docker's healthcheck takes it.
fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The network a container is created on: the network mode's own when it
/// is listed, else the first listed by name.
fn primary(spec: &ContainerSpec) -> Option<&NetworkAttachment> {
    let own = match &spec.network {
        NetworkMode::Network(n) => spec.networks.iter().find(|a| a.network == *n),
        _ => None,
    };
    own.or_else(|| {
        spec.networks
            .iter()
            .min_by(|a, b| a.network.cmp(&b.network))
    })
}

fn endpoint(a: &NetworkAttachment) -> EndpointSettings {
    EndpointSettings {
        aliases: nonempty(a.aliases.clone()),
        links: nonempty(a.links.clone()),
        driver_opts: (!a.driver_opts.is_empty())
            .then(|| a.driver_opts.clone().into_iter().collect()),
        ..Default::default()
    }
}

/// The create body of `req`, its networks split into the primary and the
/// others.
pub(super) fn create(req: &StartRequest) -> Result<Create, TargetError> {
    let spec = &req.spec;
    let mut env = spec.env.clone();
    if req.standby {
        env.insert(ENV_STANDBY.into(), "1".into());
    }
    let primary = primary(spec);
    let network_mode = match (&spec.network, primary) {
        // Created on the first listed network, which then is the mode.
        (NetworkMode::Default, Some(p)) => Some(p.network.clone()),
        (mode, _) => mode.as_docker(),
    };
    let mut others: Vec<(String, EndpointSettings)> = spec
        .networks
        .iter()
        .filter(|a| Some(a.network.as_str()) != primary.map(|p| p.network.as_str()))
        .map(|a| (a.network.clone(), endpoint(a)))
        .collect();
    others.sort_by(|a, b| a.0.cmp(&b.0));
    let body = ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: Some(env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        hostname: spec.hostname.clone(),
        domainname: spec.domainname.clone(),
        tty: spec.tty.then_some(true),
        open_stdin: spec.stdin_open.then_some(true),
        exposed_ports: nonempty(spec.exposed_ports.clone()),
        volumes: nonempty(
            spec.mounts
                .iter()
                .filter(|m| m.kind == MountKind::Volume && m.source.is_empty() && !m.read_only)
                .map(|m| m.target.clone())
                .collect(),
        ),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: spec
            .stop_timeout
            .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        healthcheck: spec.healthcheck.as_ref().map(|h| HealthConfig {
            test: nonempty(h.test.clone()),
            interval: h.interval.map(nanos),
            timeout: h.timeout.map(nanos),
            start_period: h.start_period.map(nanos),
            retries: h.retries.map(i64::from),
            start_interval: None,
        }),
        host_config: Some(host_config(spec, network_mode)),
        networking_config: primary.map(|p| NetworkingConfig {
            endpoints_config: Some(HashMap::from([(p.network.clone(), endpoint(p))])),
        }),
        ..Default::default()
    };
    let body = merge_passthrough(body, spec)?;
    Ok(Create { body, others })
}

fn host_config(spec: &ContainerSpec, network_mode: Option<String>) -> HostConfig {
    let mut binds = Vec::new();
    let mut tmpfs = HashMap::new();
    let mut anonymous_ro = Vec::new();
    for m in &spec.mounts {
        let mut opts = vec![if m.read_only { "ro" } else { "rw" }.to_string()];
        opts.extend(m.options.iter().cloned());
        match m.kind {
            MountKind::Bind | MountKind::Volume if !m.source.is_empty() => {
                binds.push(format!("{}:{}:{}", m.source, m.target, opts.join(",")));
            }
            // Config.Volumes cannot say read-only; the mounts API can.
            MountKind::Volume if m.read_only => anonymous_ro.push(DockerMount {
                target: Some(m.target.clone()),
                typ: Some(MountType::VOLUME),
                read_only: Some(true),
                volume_options: m.options.iter().any(|o| o == "nocopy").then(|| {
                    MountVolumeOptions {
                        no_copy: Some(true),
                        ..Default::default()
                    }
                }),
                ..Default::default()
            }),
            // Anonymous read-write volumes are in Config.Volumes.
            MountKind::Bind | MountKind::Volume => {}
            MountKind::Tmpfs => {
                let opts = if m.read_only { opts } else { m.options.clone() };
                tmpfs.insert(m.target.clone(), opts.join(","));
            }
        }
    }
    HostConfig {
        network_mode,
        binds: nonempty(binds),
        tmpfs: (!tmpfs.is_empty()).then_some(tmpfs),
        mounts: nonempty(anonymous_ro),
        volumes_from: nonempty(spec.volumes_from.clone()),
        memory: spec
            .resources
            .memory_bytes
            .map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
        nano_cpus: spec.resources.cpus.map(|c| (c * 1e9) as i64),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        }),
        extra_hosts: nonempty(spec.extra_hosts.clone()),
        dns: nonempty(spec.dns.clone()),
        dns_search: nonempty(spec.dns_search.clone()),
        dns_options: nonempty(spec.dns_options.clone()),
        cap_add: nonempty(spec.cap_add.clone()),
        cap_drop: nonempty(spec.cap_drop.clone()),
        devices: nonempty(
            spec.devices
                .iter()
                .map(|d| DeviceMapping {
                    path_on_host: Some(d.host_path.clone()),
                    path_in_container: Some(d.container_path.clone()),
                    cgroup_permissions: Some(d.permissions.clone()),
                })
                .collect(),
        ),
        device_cgroup_rules: nonempty(spec.device_cgroup_rules.clone()),
        privileged: spec.privileged.then_some(true),
        readonly_rootfs: spec.read_only_rootfs.then_some(true),
        security_opt: nonempty(spec.security_opt.clone()),
        pid_mode: spec.pid_mode.clone(),
        ipc_mode: spec.ipc_mode.clone(),
        uts_mode: spec.uts_mode.clone(),
        userns_mode: spec.userns_mode.clone(),
        group_add: nonempty(spec.group_add.clone()),
        init: spec.init,
        sysctls: (!spec.sysctls.is_empty()).then(|| spec.sysctls.clone().into_iter().collect()),
        ulimits: nonempty(
            spec.ulimits
                .iter()
                .map(|u| ResourcesUlimits {
                    name: Some(u.name.clone()),
                    soft: Some(u.soft),
                    hard: Some(u.hard),
                })
                .collect(),
        ),
        shm_size: spec.shm_size.map(|s| i64::try_from(s).unwrap_or(i64::MAX)),
        log_config: spec.log.as_ref().map(|l| HostConfigLogConfig {
            typ: Some(l.driver.clone()),
            config: (!l.options.is_empty()).then(|| l.options.clone().into_iter().collect()),
        }),
        ..Default::default()
    }
}

/// Adds the spec's passthrough under the modelled fields: only keys the
/// spec does not model, and only where the body has no value.
fn merge_passthrough(
    body: ContainerCreateBody,
    spec: &ContainerSpec,
) -> Result<ContainerCreateBody, TargetError> {
    let p = &spec.passthrough;
    if p.is_empty() {
        return Ok(body);
    }
    let invalid = |e: serde_json::Error| {
        TargetError::new(
            ENGINE,
            TargetOp::Create,
            ErrorKind::Other,
            format!("the spec's Docker passthrough is not a valid create body: {e}"),
        )
    };
    let mut v = serde_json::to_value(&body).map_err(invalid)?;
    if let Value::Object(top) = &mut v {
        add_missing(top, &p.docker_config, MODELED_CONFIG);
        let host = top
            .entry("HostConfig")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(host) = host {
            add_missing(host, &p.docker_host_config, MODELED_HOST);
        }
    }
    serde_json::from_value(v).map_err(invalid)
}

fn add_missing(into: &mut Map<String, Value>, from: &Map<String, Value>, modeled: &[&str]) {
    for (k, v) in from {
        if !modeled.contains(&k.as_str()) && !v.is_null() && !into.contains_key(k) {
            into.insert(k.clone(), v.clone());
        }
    }
}

#[cfg(test)]
#[path = "convert_tests.rs"]
mod tests;
