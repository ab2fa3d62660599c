//! A compose service's recipe from a cloned container (the cloning itself
//! is the Docker edge's, tested there on a real inspect). Compiled only
//! for tests (`template.rs` includes it under `#[cfg(test)]`), so it
//! unwraps.

use super::*;
use crate::target::{ContainerId, LABEL_POOL};

/// A clone of compose 1.29's first replica of `jp-it-explore/agent`.
fn cloned() -> Inspected {
    let mut spec = ContainerSpec::new("sha256:c0e18d77");
    for (k, v) in [
        (LABEL_PROJECT, "jp-it-explore"),
        (LABEL_SERVICE, "agent"),
        (LABEL_CONFIG_HASH, "01c85879"),
        (LABEL_NUMBER, "1"),
        (LABEL_VERSION, "1.29.2"),
        ("com.docker.compose.oneoff", "False"),
        (LABEL_POOL, "explore"),
    ] {
        spec.labels.insert(k.into(), v.into());
    }
    spec.env
        .insert("NATS_URL".into(), "nats://nats:4222".into());
    spec.stop_timeout = Some(Duration::from_secs(20));
    Inspected {
        id: ContainerId::from("1cb36aad289c"),
        name: "jp-it-explore_agent_1".into(),
        spec,
        image_name: Some("jetpool:local".into()),
    }
}

#[test]
fn a_recipe_keeps_the_service_and_leaves_per_replica_labels_out() {
    let r = Recipe::from_inspected(&cloned()).unwrap();
    assert_eq!(
        (r.project.as_str(), r.service.as_str()),
        ("jp-it-explore", "agent")
    );
    assert_eq!(r.naming, ComposeNaming::Underscore);
    assert_eq!(r.config_hash, "01c85879");
    assert_eq!(r.stop_timeout(), Duration::from_secs(20));
    assert_eq!(r.source, "jp-it-explore_agent_1");
    assert_eq!(
        r.declared().image,
        "jetpool:local",
        "allow-lists judge the declared image, not the id the clone runs"
    );
    assert!(
        !r.spec.labels.contains_key(LABEL_NUMBER),
        "numbers are per replica"
    );
    assert_eq!(r.spec.labels[LABEL_POOL], "explore");
    assert_eq!(r.spec.env["NATS_URL"], "nats://nats:4222");
}

#[test]
fn replicas_get_compose_names_numbers_and_jetpool_labels() {
    let t = Recipe::from_inspected(&cloned()).unwrap().template(1);
    let a = t.start_request("explore", "nats://unused:4222");
    let b = t.start_request("explore", "");
    assert_eq!(a.name, "jp-it-explore_agent_2");
    assert_eq!(b.name, "jp-it-explore_agent_3");
    t.saw_number(7);
    assert_eq!(t.start_request("explore", "").name, "jp-it-explore_agent_8");
    let labels = &a.spec.labels;
    assert_eq!(labels[LABEL_NUMBER], "2");
    assert_eq!(labels[LABEL_MANAGED], "true");
    assert_eq!(labels[LABEL_POOL], "explore");
    assert_eq!(labels[LABEL_TEMPLATE], t.id());
    assert_eq!(labels[LABEL_CONFIG_HASH], t.id());
    assert_eq!(labels[LABEL_PROJECT], "jp-it-explore");
    assert_eq!(a.spec.env[ENV_AGENT_ID], "jp-it-explore_agent_2");
    assert_eq!(
        a.spec.env["NATS_URL"], "nats://nats:4222",
        "the service's own environment, not jetpool's agent URL"
    );
    assert_eq!(a.template_id(), Some(t.id()));
    assert_eq!(t.stop_timeout(), Duration::from_secs(20));
}

#[test]
fn a_replica_can_be_the_template_of_the_next() {
    let t = Recipe::from_inspected(&cloned()).unwrap().template(1);
    let mut req = t.start_request("explore", "");
    req.standby = true;
    req.spec.env.insert(ENV_STANDBY.into(), "1".into());
    let again = Recipe::from_inspected(&Inspected {
        id: ContainerId::from("2"),
        name: req.name.clone(),
        spec: req.spec,
        image_name: None,
    })
    .unwrap();
    assert_eq!(again.naming, ComposeNaming::Underscore);
    assert!(
        !again
            .spec
            .env
            .keys()
            .any(|k| k == ENV_AGENT_ID || k == ENV_STANDBY)
    );
    let labels = &again.spec.labels;
    assert!(!labels.contains_key(LABEL_MANAGED) && !labels.contains_key(LABEL_NUMBER));
}

#[test]
fn compose_v2_names_use_dashes() {
    let mut c = cloned();
    c.name = "jp-it-explore-agent-1".into();
    c.spec.labels.insert(LABEL_VERSION.into(), "2.27.0".into());
    let r = Recipe::from_inspected(&c).unwrap();
    assert_eq!(r.naming, ComposeNaming::Dash);
    assert_eq!(
        r.template(1).start_request("explore", "").name,
        "jp-it-explore-agent-2"
    );
    // A renamed container: the compose version decides.
    c.name = "renamed".into();
    assert_eq!(
        Recipe::from_inspected(&c).unwrap().naming,
        ComposeNaming::Dash
    );
    c.spec.labels.insert(LABEL_VERSION.into(), "1.29.2".into());
    assert_eq!(
        Recipe::from_inspected(&c).unwrap().naming,
        ComposeNaming::Underscore
    );
}

#[test]
fn a_container_without_compose_labels_is_refused() {
    let mut c = cloned();
    c.spec.labels.remove(LABEL_CONFIG_HASH);
    let e = Recipe::from_inspected(&c).unwrap_err();
    assert_eq!(
        e.to_string(),
        "container jp-it-explore_agent_1 has no com.docker.compose.config-hash label"
    );
}
