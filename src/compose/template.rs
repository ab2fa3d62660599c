//! A compose service's container, cloned: [`Recipe::from_inspect`] turns
//! `docker inspect` of one container into everything needed to create
//! another just like it (image, command, environment, mounts, networks and
//! aliases, resources, stop signal and grace period, user, working
//! directory, healthcheck), and [`ComposeTemplate`] hands out replicas
//! named and labelled the way compose does.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, EndpointSettings, NetworkingConfig,
};
use tokio::sync::watch;

use super::{LABEL_CONFIG_HASH, LABEL_NUMBER, LABEL_PROJECT, LABEL_SERVICE, LABEL_VERSION};
use crate::docker::{LABEL_MANAGED, LABEL_POOL, LABEL_TEMPLATE, StartRequest};
use crate::template::no_restart;

/// Docker's stop timeout when a container sets none.
const DOCKER_STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// How the compose that made the service names its containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Naming {
    /// docker-compose v1: `<project>_<service>_<n>`.
    Underscore,
    /// Compose v2: `<project>-<service>-<n>`.
    Dash,
}

impl Naming {
    /// The name of replica `n`.
    pub fn name(self, project: &str, service: &str, n: u32) -> String {
        match self {
            Naming::Underscore => format!("{project}_{service}_{n}"),
            Naming::Dash => format!("{project}-{service}-{n}"),
        }
    }
}

/// Everything needed to create one more replica of a service.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipe {
    /// Compose project.
    pub project: String,
    /// Compose service.
    pub service: String,
    /// The service configuration's hash; replicas of another hash roll.
    pub config_hash: String,
    /// The naming of the compose that made the service.
    pub naming: Naming,
    /// The create body, without the per-replica number, name and agent id.
    pub body: ContainerCreateBody,
    /// Networks and aliases, when the service is on user networks.
    pub networking: Option<NetworkingConfig>,
    /// Grace period between the stop signal and SIGKILL.
    pub stop_timeout: Duration,
    /// The container it was cloned from, for messages.
    pub source: String,
}

/// Why a container cannot be cloned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloneError {
    /// The inspect answer lacks the container's configuration.
    #[error("container {container}: docker inspect has no Config")]
    NoConfig {
        /// The container's name.
        container: String,
    },
    /// A compose label is missing: not a compose service's container.
    #[error("container {container} has no {label} label")]
    MissingLabel {
        /// The container's name.
        container: String,
        /// The missing label.
        label: &'static str,
    },
}

/// Environment variables jetpool sets per replica.
fn is_per_replica_env(e: &str) -> bool {
    e.starts_with("JETPOOL_AGENT_ID=") || e.starts_with("JETPOOL_POOL=")
}

/// Labels set per replica (or only on one-off containers), never cloned.
fn is_per_replica_label(k: &str) -> bool {
    matches!(
        k,
        LABEL_NUMBER
            | LABEL_MANAGED
            | LABEL_TEMPLATE
            | "com.docker.compose.slug"
            | "com.docker.compose.replace"
    )
}

impl Recipe {
    /// Clones the container described by `c`. Fails, naming the missing
    /// part, when `c` is not a compose service's container.
    pub fn from_inspect(c: &ContainerInspectResponse) -> Result<Recipe, CloneError> {
        let id = c.id.clone().unwrap_or_default();
        let name = c
            .name
            .as_deref()
            .unwrap_or("")
            .trim_start_matches('/')
            .to_string();
        let config = c.config.clone().ok_or_else(|| CloneError::NoConfig {
            container: name.clone(),
        })?;
        let labels = config.labels.clone().unwrap_or_default();
        let label = |k: &'static str| {
            labels
                .get(k)
                .cloned()
                .ok_or_else(|| CloneError::MissingLabel {
                    container: name.clone(),
                    label: k,
                })
        };
        let project = label(LABEL_PROJECT)?;
        let service = label(LABEL_SERVICE)?;
        let config_hash = label(LABEL_CONFIG_HASH)?;
        let number = labels.get(LABEL_NUMBER).cloned().unwrap_or_default();
        let naming = if name == format!("{project}_{service}_{number}") {
            Naming::Underscore
        } else if name == format!("{project}-{service}-{number}") {
            Naming::Dash
        } else if labels
            .get(LABEL_VERSION)
            .is_some_and(|v| v.starts_with("1."))
        {
            Naming::Underscore
        } else {
            Naming::Dash
        };
        let short_id: String = id.chars().take(12).collect();
        let mut host = c.host_config.clone().unwrap_or_default();
        host.restart_policy = Some(no_restart());
        host.container_id_file = None;
        let network_mode = host.network_mode.clone().unwrap_or_default();
        let body = ContainerCreateBody {
            // Docker names a container's host after its short id unless the
            // service set a hostname; a copied id would be a lie.
            hostname: config.hostname.clone().filter(|h| *h != short_id),
            domainname: config.domainname.clone(),
            user: config.user.clone(),
            attach_stdin: config.attach_stdin,
            attach_stdout: config.attach_stdout,
            attach_stderr: config.attach_stderr,
            exposed_ports: config.exposed_ports.clone(),
            tty: config.tty,
            open_stdin: config.open_stdin,
            stdin_once: config.stdin_once,
            env: config
                .env
                .clone()
                .map(|env| env.into_iter().filter(|e| !is_per_replica_env(e)).collect()),
            cmd: config.cmd.clone(),
            healthcheck: config.healthcheck.clone(),
            args_escaped: config.args_escaped,
            // The image id, not the tag: a tag moved since `up` would give
            // replicas another image than the service's (compose hashes the
            // id for the same reason).
            image: c.image.clone().or(config.image.clone()),
            volumes: config.volumes.clone(),
            working_dir: config.working_dir.clone(),
            entrypoint: config.entrypoint.clone(),
            network_disabled: config.network_disabled,
            on_build: config.on_build.clone(),
            labels: Some(
                labels
                    .iter()
                    .filter(|(k, _)| !is_per_replica_label(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            ),
            stop_signal: config.stop_signal.clone(),
            stop_timeout: config.stop_timeout,
            shell: config.shell.clone(),
            host_config: Some(host),
            networking_config: None,
        };
        let networking = user_networks(&network_mode, c, &short_id, &name);
        Ok(Recipe {
            project,
            service,
            config_hash,
            naming,
            body,
            networking,
            stop_timeout: config
                .stop_timeout
                .and_then(|s| u64::try_from(s).ok())
                .map_or(DOCKER_STOP_TIMEOUT, Duration::from_secs),
            source: name,
        })
    }
}

/// The user networks of a container, with the aliases that belong to the
/// service (the source's own id and name are its alone). Static addresses
/// are dropped: two replicas cannot share one.
fn user_networks(
    mode: &str,
    c: &ContainerInspectResponse,
    short_id: &str,
    name: &str,
) -> Option<NetworkingConfig> {
    if matches!(mode, "host" | "none" | "bridge" | "default") || mode.starts_with("container:") {
        return None;
    }
    let networks = c.network_settings.as_ref()?.networks.as_ref()?;
    let endpoints: HashMap<String, EndpointSettings> = networks
        .iter()
        .filter(|(net, _)| !matches!(net.as_str(), "bridge" | "host" | "none"))
        .map(|(net, ep)| {
            let aliases: Vec<String> = ep
                .aliases
                .iter()
                .flatten()
                .filter(|a| a.as_str() != short_id && a.as_str() != name)
                .cloned()
                .collect();
            let e = EndpointSettings {
                aliases: (!aliases.is_empty()).then_some(aliases),
                links: ep.links.clone(),
                driver_opts: ep.driver_opts.clone(),
                ..Default::default()
            };
            (net.clone(), e)
        })
        .collect();
    (!endpoints.is_empty()).then_some(NetworkingConfig {
        endpoints_config: Some(endpoints),
    })
}

/// What the holders of one [`ComposeTemplate`] share.
#[derive(Debug)]
struct Shared {
    /// The current recipe; replaced when the service's config changes. A
    /// watch sender for its lock-free `borrow` and `send_replace`; nobody
    /// subscribes (the pool loop reads the id every tick).
    recipe: watch::Sender<Arc<Recipe>>,
    /// The next container number to hand out.
    next: AtomicU32,
}

/// The live template of one compose pool: the current [`Recipe`] and the
/// replica numbering. Clones share both, so the discovery can update what
/// the pool loop starts (and rolls) from.
#[derive(Debug, Clone)]
pub struct ComposeTemplate {
    shared: Arc<Shared>,
}

impl PartialEq for ComposeTemplate {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl ComposeTemplate {
    /// A template starting from `recipe`, numbering new replicas from
    /// `highest + 1`.
    pub fn new(recipe: Recipe, highest: u32) -> Self {
        let (tx, _) = watch::channel(Arc::new(recipe));
        ComposeTemplate {
            shared: Arc::new(Shared {
                recipe: tx,
                next: AtomicU32::new(highest.saturating_add(1)),
            }),
        }
    }

    /// The current recipe.
    pub fn recipe(&self) -> Arc<Recipe> {
        self.shared.recipe.borrow().clone()
    }

    /// Replaces the recipe (the service's config changed).
    pub fn update(&self, recipe: Recipe) {
        self.shared.recipe.send_replace(Arc::new(recipe));
    }

    /// Makes sure new replicas are numbered above `highest` (compose may
    /// have made some since).
    pub fn saw_number(&self, highest: u32) {
        self.shared
            .next
            .fetch_max(highest.saturating_add(1), Ordering::SeqCst);
    }

    /// The current config hash.
    pub fn id(&self) -> String {
        self.shared.recipe.borrow().config_hash.clone()
    }

    /// The current grace period.
    pub fn stop_timeout(&self) -> Duration {
        self.shared.recipe.borrow().stop_timeout
    }

    /// The next replica of `pool`: compose's name and labels (number
    /// max + 1), plus jetpool's.
    pub fn start_request(&self, pool: &str) -> StartRequest {
        let r = self.recipe();
        let n = self.shared.next.fetch_add(1, Ordering::SeqCst);
        let name = r.naming.name(&r.project, &r.service, n);
        let mut body = r.body.clone();
        let labels = body.labels.get_or_insert_with(HashMap::new);
        labels.insert(LABEL_NUMBER.into(), n.to_string());
        labels.insert(LABEL_MANAGED.into(), "true".into());
        labels.insert(LABEL_POOL.into(), pool.into());
        labels.insert(LABEL_TEMPLATE.into(), r.config_hash.clone());
        let env = body.env.get_or_insert_with(Vec::new);
        env.push(format!("JETPOOL_POOL={pool}"));
        env.push(format!("JETPOOL_AGENT_ID={name}"));
        StartRequest {
            pool: pool.to_string(),
            name,
            body,
            networking: r.networking.clone(),
        }
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
