//! Where a pool's containers come from. A [`Template`] turns "start one
//! more agent" into a fully prepared [`StartRequest`] (name, create body,
//! networks), so the pool loop and the Docker edge never care whether the
//! pool was declared in a policy file or discovered from a compose service.

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{ContainerCreateBody, HostConfig, RestartPolicy, RestartPolicyNameEnum};
use rand::Rng;

use crate::compose::ComposeTemplate;
use crate::config::ContainerSpec;
use crate::docker::{LABEL_MANAGED, LABEL_POOL, LABEL_TEMPLATE, StartRequest};

/// The recipe for a pool's agent containers.
#[derive(Debug, Clone, PartialEq)]
pub enum Template {
    /// A policy file's `[pool.container]` table.
    Spec(Box<ContainerSpec>),
    /// Cloned from a compose service's container, following the service's
    /// configuration as it changes.
    Compose(ComposeTemplate),
}

impl Template {
    /// Prepares the next agent of `pool`. `agent_nats_url` is the `NATS_URL`
    /// for policy-file agents whose template names none; compose agents keep
    /// the environment their service gives them.
    pub fn start_request(&self, pool: &str, agent_nats_url: &str) -> StartRequest {
        match self {
            Template::Spec(spec) => {
                let suffix: u32 = rand::rng().random();
                let name = format!("jetpool-{pool}-{suffix:08x}");
                let url = spec.nats_url.as_deref().unwrap_or(agent_nats_url);
                StartRequest {
                    pool: pool.to_string(),
                    body: spec_body(spec, pool, &name, url),
                    name,
                    networking: None,
                }
            }
            Template::Compose(t) => t.start_request(pool),
        }
    }

    /// Grace period between the stop signal and SIGKILL.
    pub fn stop_timeout(&self) -> Duration {
        match self {
            Template::Spec(spec) => spec.stop_timeout,
            Template::Compose(t) => t.stop_timeout(),
        }
    }

    /// The identity of the current template, as stored in the
    /// `jetpool.template` label: containers made from an older one differ.
    pub fn id(&self) -> String {
        match self {
            Template::Spec(spec) => spec.hash(),
            Template::Compose(t) => t.id(),
        }
    }
}

/// Builds the Docker create body for one agent from a policy-file template.
pub fn spec_body(
    spec: &ContainerSpec,
    pool: &str,
    name: &str,
    nats_url: &str,
) -> ContainerCreateBody {
    let mut env: Vec<String> = spec
        .env
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "JETPOOL_POOL" | "JETPOOL_AGENT_ID" | "NATS_URL"))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.push(format!("JETPOOL_POOL={pool}"));
    env.push(format!("JETPOOL_AGENT_ID={name}"));
    env.push(format!("NATS_URL={nats_url}"));
    let mut labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    labels.insert(LABEL_MANAGED.into(), "true".into());
    labels.insert(LABEL_POOL.into(), pool.into());
    labels.insert(LABEL_TEMPLATE.into(), spec.hash());
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: spec.command.clone(),
        entrypoint: spec.entrypoint.clone(),
        env: Some(env),
        labels: Some(labels),
        user: spec.user.clone(),
        working_dir: spec.working_dir.clone(),
        stop_signal: spec.stop_signal.clone(),
        stop_timeout: Some(spec.stop_timeout.as_secs() as i64),
        host_config: Some(HostConfig {
            network_mode: spec.network.clone(),
            binds: (!spec.volumes.is_empty()).then(|| spec.volumes.clone()),
            memory: spec.memory_mb.map(|m| (m * 1024 * 1024) as i64),
            nano_cpus: spec.cpus.map(|c| (c * 1e9) as i64),
            restart_policy: Some(no_restart()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// jetpool replaces failed agents itself; Docker restarting them behind its
/// back would double-count, so every agent it creates has no restart policy.
pub fn no_restart() -> RestartPolicy {
    RestartPolicy {
        name: Some(RestartPolicyNameEnum::NO),
        maximum_retry_count: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_requests_carry_labels_env_and_a_unique_name() {
        let mut spec = ContainerSpec::new("img:1");
        spec.env.insert("NATS_URL".into(), "ignored".into());
        spec.env.insert("MODEL".into(), "small".into());
        let t = Template::Spec(Box::new(spec.clone()));
        let a = t.start_request("p", "nats://x:4222");
        let b = t.start_request("p", "nats://x:4222");
        assert_ne!(a.name, b.name);
        assert!(a.name.starts_with("jetpool-p-"));
        let labels = a.body.labels.clone().unwrap_or_default();
        assert_eq!(labels.get(LABEL_POOL).map(String::as_str), Some("p"));
        assert_eq!(labels.get(LABEL_TEMPLATE), Some(&spec.hash()));
        let env = a.body.env.clone().unwrap_or_default();
        assert!(env.contains(&"NATS_URL=nats://x:4222".to_string()));
        assert!(env.contains(&"MODEL=small".to_string()));
        assert!(env.contains(&format!("JETPOOL_AGENT_ID={}", a.name)));
        assert_eq!(t.id(), spec.hash());
        assert_eq!(t.stop_timeout(), spec.stop_timeout);
        assert_eq!(a.template_id().as_deref(), Some(spec.hash().as_str()));
    }
}
