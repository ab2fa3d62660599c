//! Cloning a real docker-compose 1.29 container (its `docker inspect`,
//! captured from Docker Engine 20.10, in `testdata/`). Compiled only for
//! tests (`clone.rs` includes it under `#[cfg(test)]`), so it unwraps.

use std::time::Duration;

use bollard::models::ContainerInspectResponse;

use super::inspected;
use crate::target::docker::convert;
use crate::target::{MountKind, NetworkMode, StartRequest};

pub(crate) fn inspect() -> ContainerInspectResponse {
    serde_json::from_str(include_str!("testdata/inspect_v1.json")).unwrap()
}

#[test]
fn clones_everything_compose_configured() {
    let c = inspected(&inspect()).unwrap();
    assert_eq!(c.name, "jp-it-explore_agent_1");
    assert!(c.id.as_str().starts_with("1cb36aad289c"));
    let s = &c.spec;
    assert!(
        s.image.starts_with("sha256:c0e18d77"),
        "the image id, not the tag"
    );
    assert_eq!(s.command.as_deref().unwrap()[0], "agent");
    assert_eq!(s.entrypoint.as_deref(), Some(&["/jetpool".to_string()][..]));
    assert_eq!(s.user.as_deref(), Some("1000:1000"));
    assert_eq!(s.working_dir.as_deref(), Some("/tmp"));
    assert_eq!(s.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(s.stop_timeout, Some(Duration::from_secs(20)));
    let hc = s.healthcheck.as_ref().unwrap();
    assert_eq!(hc.test[0], "CMD");
    assert_eq!(
        s.hostname, None,
        "the source's short-id hostname is not copied"
    );
    assert_eq!(s.env["NATS_URL"], "nats://nats:4222");
    assert_eq!(s.env["FOO"], "bar");
    assert_eq!(s.resources.memory_bytes, Some(64 * 1024 * 1024));
    assert_eq!(s.resources.cpus, Some(0.5));
    assert_eq!(s.network, NetworkMode::Network("jp-it-explore_back".into()));
    assert_eq!(s.labels["com.docker.compose.oneoff"], "False");
    assert_eq!(s.labels["jetpool.pool"], "explore");
    let log = s.log.as_ref().unwrap();
    assert_eq!(log.driver, "json-file");
    assert_eq!(log.options["max-size"], "10m");
    assert_eq!(s.ipc_mode.as_deref(), Some("private"));
    assert!(!s.privileged && s.cap_add.is_empty() && s.devices.is_empty());
    assert_eq!(s.shm_size, Some(64 * 1024 * 1024));
}

#[test]
fn binds_become_mounts_and_nothing_is_anonymous_twice() {
    let s = inspected(&inspect()).unwrap().spec;
    assert_eq!(s.mounts.len(), 2, "{:?}", s.mounts);
    let data = &s.mounts[0];
    assert_eq!(data.kind, MountKind::Bind);
    assert_eq!(
        (data.source.as_str(), data.target.as_str()),
        ("/tmp/jp-explore/data", "/data")
    );
    assert!(data.read_only);
    let cache = &s.mounts[1];
    assert_eq!(cache.kind, MountKind::Volume);
    assert_eq!(cache.source, "jp-it-explore_cache");
    assert!(!cache.read_only);
    assert_eq!(
        s.host_mounts().count(),
        1,
        "only the host path is a host mount"
    );
}

#[test]
fn keeps_service_aliases_and_drops_the_sources_own() {
    let s = inspected(&inspect()).unwrap().spec;
    let nets: Vec<&str> = s.networks.iter().map(|n| n.network.as_str()).collect();
    assert_eq!(nets, ["jp-it-explore_back", "jp-it-explore_front"]);
    assert_eq!(s.networks[0].aliases, ["agent"]);
    assert_eq!(s.networks[1].aliases, ["workers", "agent"]);
}

#[test]
fn the_rest_of_the_host_config_passes_through_without_modelled_keys() {
    let s = inspected(&inspect()).unwrap().spec;
    let host = &s.passthrough.docker_host_config;
    assert_eq!(host["MemorySwap"], 134217728);
    assert!(host.contains_key("MaskedPaths"));
    for k in convert::MODELED_HOST {
        assert!(
            !host.contains_key(*k),
            "{k} is modelled, not passed through"
        );
    }
    let config = &s.passthrough.docker_config;
    for k in convert::MODELED_CONFIG {
        assert!(
            !config.contains_key(*k),
            "{k} is modelled, not passed through"
        );
    }
}

#[test]
fn a_clone_creates_what_the_source_was_created_with() {
    let src = inspect();
    let spec = inspected(&src).unwrap().spec;
    let req = StartRequest {
        pool: "explore".into(),
        name: "jp-it-explore_agent_2".into(),
        spec,
        standby: false,
        engines: Vec::new(),
    };
    let c = convert::create(&req).unwrap();
    let (host, src_host) = (c.body.host_config.unwrap(), src.host_config.unwrap());
    assert_eq!(
        host.binds.unwrap(),
        src_host.binds.unwrap(),
        "binds as compose made them"
    );
    assert_eq!(host.memory_swap, src_host.memory_swap, "passed through");
    assert_eq!(host.masked_paths, src_host.masked_paths);
    assert_eq!(host.log_config, src_host.log_config);
    assert_eq!(host.network_mode, src_host.network_mode);
    assert_eq!(host.container_id_file, None, "never copied");
    let restart = host.restart_policy.unwrap();
    assert_eq!(
        restart.name,
        Some(bollard::models::RestartPolicyNameEnum::NO)
    );
    let config = src.config.unwrap();
    assert_eq!(c.body.healthcheck, config.healthcheck);
    assert_eq!(c.body.stop_timeout, config.stop_timeout);
    assert_eq!(c.body.cmd, config.cmd);
    let endpoints = c.body.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(endpoints.keys().collect::<Vec<_>>(), ["jp-it-explore_back"]);
    assert_eq!(c.others.len(), 1);
    assert_eq!(c.others[0].0, "jp-it-explore_front");
    assert!(
        c.others[0].1.ip_address.is_none(),
        "no runtime fields copied"
    );
}

#[test]
fn host_networking_needs_no_attachments() {
    let mut c = inspect();
    c.host_config.as_mut().unwrap().network_mode = Some("host".into());
    let s = inspected(&c).unwrap().spec;
    assert_eq!(s.network, NetworkMode::Host);
    assert!(s.networks.is_empty());
    assert_eq!(s.host_namespaces(), ["network"]);
}

#[test]
fn security_settings_are_modelled_not_passed_through() {
    let mut c = inspect();
    let h = c.host_config.as_mut().unwrap();
    h.privileged = Some(true);
    h.cap_add = Some(vec!["NET_ADMIN".into()]);
    h.pid_mode = Some("host".into());
    h.devices = Some(vec![bollard::models::DeviceMapping {
        path_on_host: Some("/dev/fuse".into()),
        path_in_container: Some("/dev/fuse".into()),
        cgroup_permissions: Some("rwm".into()),
    }]);
    h.tmpfs = Some([("/run".to_string(), "rw,noexec,size=65536k".to_string())].into());
    let s = inspected(&c).unwrap().spec;
    assert!(s.privileged);
    assert_eq!(s.cap_add, ["NET_ADMIN"]);
    assert_eq!(s.devices[0].host_path, "/dev/fuse");
    assert_eq!(s.host_namespaces(), ["pid"]);
    let tmpfs = s
        .mounts
        .iter()
        .find(|m| m.kind == MountKind::Tmpfs)
        .unwrap();
    assert_eq!(tmpfs.target, "/run");
    assert_eq!(tmpfs.options, ["noexec", "size=65536k"]);
    assert!(!s.passthrough.docker_host_config.contains_key("Privileged"));
}

#[test]
fn a_container_without_config_is_refused() {
    let mut c = inspect();
    c.config = None;
    let e = inspected(&c).unwrap_err();
    assert_eq!(
        e.message,
        "container jp-it-explore_agent_1: docker inspect has no Config"
    );
}
