//! Cloning a real docker-compose 1.29 container (its `docker inspect`,
//! captured from Docker Engine 20.10, in `testdata/`). Compiled only for
//! tests (`template.rs` includes it under `#[cfg(test)]`), so it unwraps.

#[cfg(test)]
use super::*;

fn inspect() -> ContainerInspectResponse {
    serde_json::from_str(include_str!("testdata/inspect_v1.json")).unwrap()
}

#[test]
fn clones_everything_compose_configured() {
    let r = Recipe::from_inspect(&inspect()).unwrap();
    assert_eq!(
        (r.project.as_str(), r.service.as_str()),
        ("jp-it-explore", "agent")
    );
    assert_eq!(r.naming, Naming::Underscore);
    assert_eq!(r.stop_timeout, Duration::from_secs(20));
    assert!(r.config_hash.starts_with("01c85879"));
    let b = &r.body;
    assert!(
        b.image.as_deref().unwrap().starts_with("sha256:c0e18d77"),
        "the image id, not the tag"
    );
    assert_eq!(b.cmd.as_deref().unwrap()[0], "agent");
    assert_eq!(b.entrypoint.as_deref(), Some(&["/jetpool".to_string()][..]));
    assert_eq!(b.user.as_deref(), Some("1000:1000"));
    assert_eq!(b.working_dir.as_deref(), Some("/tmp"));
    assert_eq!(b.stop_signal.as_deref(), Some("SIGINT"));
    assert!(b.healthcheck.is_some());
    assert_eq!(
        b.hostname, None,
        "the source's short-id hostname is not copied"
    );
    let env = b.env.clone().unwrap();
    assert!(env.contains(&"NATS_URL=nats://nats:4222".to_string()));
    assert!(env.contains(&"FOO=bar".to_string()));
    let host = b.host_config.clone().unwrap();
    assert_eq!(host.memory, Some(64 * 1024 * 1024));
    assert_eq!(host.nano_cpus, Some(500_000_000));
    assert_eq!(host.network_mode.as_deref(), Some("jp-it-explore_back"));
    assert_eq!(host.restart_policy, Some(no_restart()));
    let binds = host.binds.unwrap();
    assert!(binds.contains(&"jp-it-explore_cache:/cache:rw".to_string()));
    let labels = b.labels.clone().unwrap();
    assert_eq!(
        labels.get("com.docker.compose.oneoff").map(String::as_str),
        Some("False")
    );
    assert_eq!(
        labels.get("jetpool.pool").map(String::as_str),
        Some("explore")
    );
    assert!(
        !labels.contains_key(LABEL_NUMBER),
        "numbers are per replica"
    );
}

#[test]
fn keeps_service_aliases_and_drops_the_sources_own() {
    let r = Recipe::from_inspect(&inspect()).unwrap();
    let eps = r.networking.unwrap().endpoints_config.unwrap();
    let mut nets: Vec<&String> = eps.keys().collect();
    nets.sort();
    assert_eq!(nets, ["jp-it-explore_back", "jp-it-explore_front"]);
    let front = eps["jp-it-explore_front"].aliases.clone().unwrap();
    assert_eq!(front, ["workers", "agent"]);
    assert_eq!(
        eps["jp-it-explore_back"].aliases.clone().unwrap(),
        ["agent"]
    );
    assert!(
        eps["jp-it-explore_back"].ip_address.is_none(),
        "no runtime fields copied"
    );
}

#[test]
fn replicas_get_compose_names_numbers_and_jetpool_labels() {
    let t = ComposeTemplate::new(Recipe::from_inspect(&inspect()).unwrap(), 1);
    let a = t.start_request("explore");
    let b = t.start_request("explore");
    assert_eq!(a.name, "jp-it-explore_agent_2");
    assert_eq!(b.name, "jp-it-explore_agent_3");
    t.saw_number(7);
    assert_eq!(t.start_request("explore").name, "jp-it-explore_agent_8");
    let labels = a.body.labels.clone().unwrap();
    assert_eq!(labels[LABEL_NUMBER], "2");
    assert_eq!(labels[LABEL_MANAGED], "true");
    assert_eq!(labels[LABEL_POOL], "explore");
    assert_eq!(labels[LABEL_TEMPLATE], t.id());
    assert_eq!(labels[LABEL_CONFIG_HASH], t.id());
    assert_eq!(labels[LABEL_PROJECT], "jp-it-explore");
    let env = a.body.env.clone().unwrap();
    assert!(env.contains(&"JETPOOL_AGENT_ID=jp-it-explore_agent_2".to_string()));
    assert_eq!(a.template_id(), Some(t.id()));
}

#[test]
fn a_replica_can_be_the_template_of_the_next() {
    let t = ComposeTemplate::new(Recipe::from_inspect(&inspect()).unwrap(), 1);
    let req = t.start_request("explore");
    let mut c = inspect();
    c.name = Some(format!("/{}", req.name));
    let config = c.config.as_mut().unwrap();
    config.labels = req.body.labels.clone();
    config.env = req.body.env.clone();
    let again = Recipe::from_inspect(&c).unwrap();
    assert_eq!(again.naming, Naming::Underscore);
    let env = again.body.env.clone().unwrap();
    assert!(!env.iter().any(|e| e.starts_with("JETPOOL_AGENT_ID=")));
    let labels = again.body.labels.clone().unwrap();
    assert!(!labels.contains_key(LABEL_MANAGED) && !labels.contains_key(LABEL_NUMBER));
}

#[test]
fn compose_v2_names_use_dashes() {
    let mut c = inspect();
    c.name = Some("/jp-it-explore-agent-1".into());
    let labels = c.config.as_mut().unwrap().labels.as_mut().unwrap();
    labels.insert(LABEL_VERSION.into(), "2.27.0".into());
    let t = ComposeTemplate::new(Recipe::from_inspect(&c).unwrap(), 1);
    assert_eq!(t.start_request("explore").name, "jp-it-explore-agent-2");
}

#[test]
fn a_container_without_compose_labels_is_refused() {
    let mut c = inspect();
    c.config
        .as_mut()
        .unwrap()
        .labels
        .as_mut()
        .unwrap()
        .remove(LABEL_CONFIG_HASH);
    let e = Recipe::from_inspect(&c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "container jp-it-explore_agent_1 has no com.docker.compose.config-hash label"
    );
}

#[test]
fn host_networking_needs_no_endpoints() {
    let mut c = inspect();
    c.host_config.as_mut().unwrap().network_mode = Some("host".into());
    assert!(Recipe::from_inspect(&c).unwrap().networking.is_none());
}
