//! The spec as Docker's create body. Compiled only for tests
//! (`convert.rs` includes it under `#[cfg(test)]`), so it unwraps.

use std::time::Duration;

use bollard::models::{MountType, RestartPolicyNameEnum};
use serde_json::json;

use super::*;
use crate::target::{Healthcheck, Mount, Resources};

fn request(spec: ContainerSpec) -> StartRequest {
    StartRequest {
        pool: "p".into(),
        name: "jetpool-p-1".into(),
        spec,
        standby: false,
        engines: Vec::new(),
    }
}

fn attach(network: &str, aliases: &[&str]) -> NetworkAttachment {
    NetworkAttachment {
        network: network.into(),
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        ..Default::default()
    }
}

#[test]
fn the_network_modes_own_goes_in_the_body_and_the_others_after_create() {
    let mut spec = ContainerSpec::new("img");
    spec.network = NetworkMode::Network("back".into());
    spec.networks = vec![
        attach("zeta", &["z"]),
        attach("back", &["agent"]),
        attach("front", &["workers", "agent"]),
    ];
    let c = create(&request(spec)).unwrap();
    let host = c.body.host_config.unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("back"));
    let eps = c.body.networking_config.unwrap().endpoints_config.unwrap();
    assert_eq!(eps.len(), 1, "API 1.41: one network at create");
    assert_eq!(
        eps["back"].aliases.as_deref(),
        Some(&["agent".to_string()][..])
    );
    let others: Vec<&str> = c.others.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(others, ["front", "zeta"], "connected in name order");
    assert_eq!(
        c.others[0].1.aliases.as_deref(),
        Some(&["workers".to_string(), "agent".to_string()][..])
    );
}

#[test]
fn without_a_mode_the_first_network_by_name_is_the_mode() {
    let mut spec = ContainerSpec::new("img");
    spec.networks = vec![attach("b", &[]), attach("a", &[])];
    let c = create(&request(spec)).unwrap();
    assert_eq!(
        c.body.host_config.unwrap().network_mode.as_deref(),
        Some("a")
    );
    assert_eq!(c.others.len(), 1);
    let none = create(&request(ContainerSpec::new("img"))).unwrap();
    assert!(none.body.networking_config.is_none() && none.others.is_empty());
    assert_eq!(none.body.host_config.unwrap().network_mode, None);
    let mut host = ContainerSpec::new("img");
    host.network = NetworkMode::Host;
    let c = create(&request(host)).unwrap();
    assert_eq!(
        c.body.host_config.unwrap().network_mode.as_deref(),
        Some("host")
    );
}

#[test]
fn mounts_become_binds_volumes_and_tmpfs() {
    let mut spec = ContainerSpec::new("img");
    spec.mounts = vec![
        Mount::parse_short("/srv/data:/data:ro").unwrap(),
        Mount::parse_short("cache:/cache").unwrap(),
        Mount {
            kind: MountKind::Volume,
            source: String::new(),
            target: "/scratch".into(),
            read_only: false,
            options: vec![],
        },
        Mount {
            kind: MountKind::Volume,
            source: String::new(),
            target: "/seed".into(),
            read_only: true,
            options: vec!["nocopy".into()],
        },
        Mount {
            kind: MountKind::Tmpfs,
            source: String::new(),
            target: "/run".into(),
            read_only: false,
            options: vec!["size=64m".into()],
        },
    ];
    let c = create(&request(spec)).unwrap();
    assert_eq!(
        c.body.volumes.as_deref(),
        Some(&["/scratch".to_string()][..])
    );
    let host = c.body.host_config.unwrap();
    assert_eq!(
        host.binds.unwrap(),
        ["/srv/data:/data:ro", "cache:/cache:rw"]
    );
    assert_eq!(host.tmpfs.unwrap()["/run"], "size=64m");
    let m = &host.mounts.unwrap()[0];
    assert_eq!(m.typ, Some(MountType::VOLUME));
    assert_eq!(
        (m.target.as_deref(), m.read_only),
        (Some("/seed"), Some(true))
    );
    assert_eq!(m.volume_options.as_ref().unwrap().no_copy, Some(true));
}

#[test]
fn resources_stop_and_healthcheck_in_dockers_units() {
    let mut spec = ContainerSpec::new("img");
    spec.resources = Resources {
        memory_bytes: Some(64 * 1024 * 1024),
        cpus: Some(0.5),
    };
    spec.stop_signal = Some("SIGINT".into());
    spec.stop_timeout = Some(Duration::from_secs(20));
    spec.healthcheck = Some(Healthcheck {
        test: vec!["CMD".into(), "true".into()],
        interval: Some(Duration::from_secs(5)),
        retries: Some(3),
        ..Default::default()
    });
    let c = create(&request(spec)).unwrap();
    let host = c.body.host_config.clone().unwrap();
    assert_eq!(host.memory, Some(67_108_864));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(
        host.restart_policy.unwrap().name,
        Some(RestartPolicyNameEnum::NO),
        "jetpool replaces agents itself"
    );
    assert_eq!(c.body.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(c.body.stop_timeout, Some(20));
    let hc = c.body.healthcheck.unwrap();
    assert_eq!(hc.interval, Some(5_000_000_000));
    assert_eq!((hc.retries, hc.timeout), (Some(3), None));
}

#[test]
fn standby_adds_the_standby_env_and_labels_go_through() {
    let mut spec = ContainerSpec::new("img");
    spec.env.insert("A".into(), "1".into());
    spec.labels.insert("jetpool.pool".into(), "p".into());
    let mut req = request(spec);
    let plain = create(&req).unwrap().body;
    assert_eq!(plain.env.as_deref(), Some(&["A=1".to_string()][..]));
    req.standby = true;
    let body = create(&req).unwrap().body;
    let env = body.env.unwrap();
    assert!(env.contains(&"JETPOOL_STANDBY=1".to_string()), "{env:?}");
    assert_eq!(body.labels.unwrap()["jetpool.pool"], "p");
    assert_eq!(body.image.as_deref(), Some("img"));
}

#[test]
fn security_settings_reach_the_host_config() {
    let mut spec = ContainerSpec::new("img");
    spec.privileged = true;
    spec.cap_add = vec!["NET_ADMIN".into()];
    spec.read_only_rootfs = true;
    spec.pid_mode = Some("host".into());
    let host = create(&request(spec)).unwrap().body.host_config.unwrap();
    assert_eq!(host.privileged, Some(true));
    assert_eq!(
        host.cap_add.as_deref(),
        Some(&["NET_ADMIN".to_string()][..])
    );
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.pid_mode.as_deref(), Some("host"));
    let plain = create(&request(ContainerSpec::new("img"))).unwrap();
    let host = plain.body.host_config.unwrap();
    assert_eq!(
        (host.privileged, host.cap_add),
        (None, None),
        "unset stays unset"
    );
}

#[test]
fn the_passthrough_fills_in_unmodelled_keys_only() {
    let mut spec = ContainerSpec::new("img");
    spec.resources.memory_bytes = Some(1024);
    let host = &mut spec.passthrough.docker_host_config;
    host.insert("CpuShares".into(), json!(512));
    host.insert(
        "PortBindings".into(),
        json!({"8080/tcp": [{"HostPort": ""}]}),
    );
    // Modelled keys never come from the passthrough: not what the spec
    // says (Memory), not what a check on the spec would miss (Privileged).
    host.insert("Memory".into(), json!(1));
    host.insert("Privileged".into(), json!(true));
    spec.passthrough
        .docker_config
        .insert("StdinOnce".into(), json!(true));
    spec.passthrough
        .docker_config
        .insert("Image".into(), json!("other"));
    let c = create(&request(spec)).unwrap();
    assert_eq!(c.body.stdin_once, Some(true));
    assert_eq!(c.body.image.as_deref(), Some("img"));
    let host = c.body.host_config.unwrap();
    assert_eq!(host.cpu_shares, Some(512));
    assert!(host.port_bindings.unwrap().contains_key("8080/tcp"));
    assert_eq!(host.memory, Some(1024));
    assert_eq!(host.privileged, None);
}

#[test]
fn an_invalid_passthrough_is_an_error_not_a_silent_drop() {
    let mut spec = ContainerSpec::new("img");
    spec.passthrough
        .docker_host_config
        .insert("CpuShares".into(), json!("many"));
    let e = create(&request(spec)).unwrap_err();
    assert_eq!((e.op, e.kind), (TargetOp::Create, ErrorKind::Other));
    assert!(e.message.contains("passthrough"), "{}", e.message);
}
