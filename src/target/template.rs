//! Where a pool's containers come from. A [`Template`] is a pool's live
//! recipe: the current [`ContainerSpec`] with its id, and how replicas are
//! named. It turns "start one more agent" into a fully prepared
//! [`StartRequest`], so the pool loop and the targets never care whether
//! the pool was declared in a policy file or cloned from a compose
//! service. Clones of a template share it: whoever made it (compose
//! discovery, a policy reload) can update what the pool loop starts, and
//! rolls to, without restarting the loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rand::Rng;
use tokio::sync::watch;

use super::spec::{ContainerSpec, Mount, NetworkMode, Resources};
use super::{ENV_AGENT_ID, ENV_POOL, LABEL_MANAGED, LABEL_POOL, LABEL_TEMPLATE, StartRequest};
use crate::config;

/// Environment variable holding the NATS URL agents connect to.
const ENV_NATS_URL: &str = "NATS_URL";

/// How a template names its replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Naming {
    /// `jetpool-<pool>-<8 hex digits>`, random: policy-file pools.
    Random,
    /// `<prefix><n>`, numbered upwards, as compose numbers a service's
    /// containers (`proj_agent_3`, `proj-agent-3`).
    Numbered {
        /// Everything before the number.
        prefix: String,
        /// A label that carries the number too (compose's
        /// `com.docker.compose.container-number`), if any.
        label: Option<String>,
    },
}

/// One version of a template: what replicas are made from until the next
/// update.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateVersion {
    /// The version's identity, stored in [`LABEL_TEMPLATE`]: containers
    /// made from another id are rolled.
    pub id: String,
    /// The container, without the per-replica environment and labels the
    /// template adds.
    pub spec: ContainerSpec,
    /// How replicas are named.
    pub naming: Naming,
    /// Set `NATS_URL` to the service's agent URL (policy-file pools that
    /// name none); compose services bring their own environment.
    pub inject_nats_url: bool,
    /// The engines replicas may run on, by name; empty: any. Not part of
    /// the id: moving a pool to other engines places new agents there
    /// without rolling the ones that run.
    pub engines: Vec<String>,
}

impl TemplateVersion {
    /// The version a policy file's `[pool.container]` table describes. Its
    /// id is the table's [`hash`](config::ContainerSpec::hash), as it was
    /// before specs were engine-neutral, so agents started by an older
    /// jetpool are not rolled after an upgrade.
    pub fn from_policy(c: &config::ContainerSpec) -> Self {
        let mut env = c.env.clone();
        // jetpool sets these per agent; a value in the file would be a lie.
        for k in [ENV_POOL, ENV_AGENT_ID, ENV_NATS_URL] {
            env.remove(k);
        }
        if let Some(url) = &c.nats_url {
            env.insert(ENV_NATS_URL.into(), url.clone());
        }
        let network = c
            .network
            .as_deref()
            .map(NetworkMode::from_docker)
            .unwrap_or_default();
        let spec = ContainerSpec {
            image: c.image.clone(),
            command: c.command.clone(),
            entrypoint: c.entrypoint.clone(),
            env,
            labels: c.labels.clone(),
            user: c.user.clone(),
            working_dir: c.working_dir.clone(),
            // Validation made sure every entry has a target.
            mounts: c
                .volumes
                .iter()
                .filter_map(|v| Mount::parse_short(v))
                .collect(),
            network,
            resources: Resources {
                memory_bytes: c.memory_mb.map(|m| m.saturating_mul(1024 * 1024)),
                cpus: c.cpus,
            },
            stop_signal: c.stop_signal.clone(),
            stop_timeout: Some(c.stop_timeout),
            ..ContainerSpec::default()
        };
        TemplateVersion {
            id: c.hash(),
            spec,
            naming: Naming::Random,
            inject_nats_url: c.nats_url.is_none(),
            engines: c.engines.clone(),
        }
    }
}

/// What the holders of one [`Template`] share.
#[derive(Debug)]
struct Shared {
    /// The current version; replaced on update. A watch sender for its
    /// lock-free `borrow` and `send_replace`; nobody subscribes (the pool
    /// loop reads the id every tick).
    current: watch::Sender<Arc<TemplateVersion>>,
    /// The next number of [`Naming::Numbered`].
    next: AtomicU32,
}

/// A pool's live template. Clones share the current version and the
/// replica numbering.
#[derive(Debug, Clone)]
pub struct Template {
    shared: Arc<Shared>,
}

/// Two templates are equal when their current versions are: a policy
/// reload compares the running pool's template with the file's.
impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared) || *self.current() == *other.current()
    }
}

impl Template {
    /// A template starting at `version`, numbering replicas from 1.
    pub fn new(version: TemplateVersion) -> Self {
        let (tx, _) = watch::channel(Arc::new(version));
        Template {
            shared: Arc::new(Shared {
                current: tx,
                next: AtomicU32::new(1),
            }),
        }
    }

    /// The template of a policy file's `[pool.container]` table.
    pub fn from_policy(c: &config::ContainerSpec) -> Self {
        Template::new(TemplateVersion::from_policy(c))
    }

    /// The current version.
    pub fn current(&self) -> Arc<TemplateVersion> {
        self.shared.current.borrow().clone()
    }

    /// Replaces the current version: replicas start from `version` from
    /// now on, and the pool rolls the others to it. The numbering goes on.
    pub fn update(&self, version: TemplateVersion) {
        self.shared.current.send_replace(Arc::new(version));
    }

    /// Makes sure numbered replicas are numbered above `highest` (someone
    /// else, compose, may have made some).
    pub fn saw_number(&self, highest: u32) {
        self.shared
            .next
            .fetch_max(highest.saturating_add(1), Ordering::SeqCst);
    }

    /// The current version's id, as stored in the [`LABEL_TEMPLATE`] label.
    pub fn id(&self) -> String {
        self.shared.current.borrow().id.clone()
    }

    /// Grace period between the stop signal and SIGKILL.
    pub fn stop_timeout(&self) -> Duration {
        self.shared.current.borrow().spec.grace_period()
    }

    /// Prepares the next agent of `pool`: its name, jetpool's labels, and
    /// the per-agent environment. `agent_nats_url` is the `NATS_URL` of
    /// templates that name none (see [`TemplateVersion::inject_nats_url`]).
    pub fn start_request(&self, pool: &str, agent_nats_url: &str) -> StartRequest {
        let v = self.current();
        let mut spec = v.spec.clone();
        let name = match &v.naming {
            Naming::Random => {
                let suffix: u32 = rand::rng().random();
                format!("jetpool-{pool}-{suffix:08x}")
            }
            Naming::Numbered { prefix, label } => {
                let n = self.shared.next.fetch_add(1, Ordering::SeqCst);
                if let Some(l) = label {
                    spec.labels.insert(l.clone(), n.to_string());
                }
                format!("{prefix}{n}")
            }
        };
        spec.labels.insert(LABEL_MANAGED.into(), "true".into());
        spec.labels.insert(LABEL_POOL.into(), pool.into());
        spec.labels.insert(LABEL_TEMPLATE.into(), v.id.clone());
        spec.env.insert(ENV_POOL.into(), pool.into());
        spec.env.insert(ENV_AGENT_ID.into(), name.clone());
        if v.inject_nats_url {
            spec.env.insert(ENV_NATS_URL.into(), agent_nats_url.into());
        }
        StartRequest {
            pool: pool.to_string(),
            name,
            spec,
            standby: false,
            engines: v.engines.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::MountKind;

    #[test]
    fn policy_requests_carry_labels_env_and_a_unique_name() {
        let mut spec = config::ContainerSpec::new("img:1");
        spec.env.insert("NATS_URL".into(), "ignored".into());
        spec.env.insert("MODEL".into(), "small".into());
        let t = Template::from_policy(&spec);
        let a = t.start_request("p", "nats://x:4222");
        let b = t.start_request("p", "nats://x:4222");
        assert_ne!(a.name, b.name);
        assert!(a.name.starts_with("jetpool-p-"));
        assert!(!a.standby);
        let labels = &a.spec.labels;
        assert_eq!(labels.get(LABEL_POOL).map(String::as_str), Some("p"));
        assert_eq!(labels.get(LABEL_TEMPLATE), Some(&spec.hash()));
        let env = &a.spec.env;
        assert_eq!(env["NATS_URL"], "nats://x:4222");
        assert_eq!(env["MODEL"], "small");
        assert_eq!(env["JETPOOL_AGENT_ID"], a.name);
        // Nothing else: the template's variables and jetpool's own, never
        // jetpool's environment.
        let keys: Vec<&str> = env.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["JETPOOL_AGENT_ID", "JETPOOL_POOL", "MODEL", "NATS_URL"],
            "only the template's environment and jetpool's variables"
        );
        assert_eq!(t.id(), spec.hash(), "the policy file's hash, as before");
        assert_eq!(t.stop_timeout(), spec.stop_timeout);
        assert_eq!(a.template_id().as_deref(), Some(spec.hash().as_str()));
    }

    #[test]
    fn policy_tables_convert_to_the_neutral_spec() {
        let mut c = config::ContainerSpec::new("img:1");
        c.network = Some("host".into());
        c.volumes = vec!["/srv:/srv:ro".into(), "cache:/cache".into()];
        c.memory_mb = Some(64);
        c.cpus = Some(0.5);
        c.nats_url = Some("nats://n:4222".into());
        let v = TemplateVersion::from_policy(&c);
        assert_eq!(v.spec.network, NetworkMode::Host);
        assert_eq!(v.spec.resources.memory_bytes, Some(64 * 1024 * 1024));
        assert_eq!(v.spec.resources.cpus, Some(0.5));
        assert_eq!(v.spec.mounts[0].kind, MountKind::Bind);
        assert!(v.spec.mounts[0].read_only);
        assert_eq!(v.spec.mounts[1].kind, MountKind::Volume);
        assert!(!v.inject_nats_url);
        let req = Template::new(v).start_request("p", "nats://other:4222");
        assert_eq!(req.spec.env["NATS_URL"], "nats://n:4222");
    }

    #[test]
    fn numbered_replicas_count_up_past_what_others_made() {
        let mut v = TemplateVersion::from_policy(&config::ContainerSpec::new("img"));
        v.naming = Naming::Numbered {
            prefix: "proj_agent_".into(),
            label: Some("number".into()),
        };
        let t = Template::new(v.clone());
        t.saw_number(1);
        assert_eq!(t.start_request("p", "").name, "proj_agent_2");
        t.saw_number(7);
        let r = t.start_request("p", "");
        assert_eq!(r.name, "proj_agent_8");
        assert_eq!(r.spec.labels["number"], "8");
        // An update keeps the numbering and changes the id at once.
        let mut next = v;
        next.id = "new".into();
        let clone = t.clone();
        clone.update(next);
        assert_eq!(t.id(), "new");
        assert_eq!(t.start_request("p", "").name, "proj_agent_9");
    }
}
