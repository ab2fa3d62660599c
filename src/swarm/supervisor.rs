//! The dynamic set of Swarm pools. A scan every few seconds lists the
//! services labelled `jetpool.pool` (of one stack, with `--swarm-stack`);
//! each fit one runs a pool loop on a [`SwarmTarget`]. Changed labels reach
//! the running loop in place; a new pool name or consumer starts it anew;
//! a removed service ends its pool. Problems are logged and counted once,
//! with the compose discovery's event and reasons.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

use super::{LABEL_STACK, SwarmTarget, rules};
use crate::compose::ServiceKey;
use crate::compose::labels::{self, PoolParams};
use crate::config::RawPool;
use crate::http::Registry;
use crate::pool::{PoolNames, PoolSpec, RunnerFactory, wait_for};
use crate::target::docker::DockerTarget;
use crate::target::docker::swarm::SwarmService;
use crate::target::{ContainerSpec, LABEL_POOL, LabelFilter, Naming, Template, TemplateVersion};
use crate::telemetry::ComposeErrorReason;
use crate::telemetry::events::DiscoveryFailed;
use crate::{pool, telemetry};

/// How often the services are listed.
const SCAN: Duration = Duration::from_secs(2);

/// One running Swarm pool.
struct Entry {
    /// Its parameters, from the labels.
    params: PoolParams,
    /// Tells the loop to stop.
    stop: watch::Sender<bool>,
    /// New parameters for the running loop.
    spec: watch::Sender<Arc<PoolSpec>>,
}

/// Everything the Swarm pools share.
pub struct Supervisor {
    /// The engine, a Swarm manager.
    docker: Arc<DockerTarget>,
    /// Builds the pools' loops.
    factory: RunnerFactory,
    /// Only this stack's services, when set.
    stack: Option<String>,
    /// The policy files' tables, for `jetpool.policy`.
    policies: watch::Receiver<Arc<Vec<RawPool>>>,
    /// Pool names in use, shared with the other pools.
    names: PoolNames,
    /// Where pools are published.
    registry: Registry,
    /// The pools, by stack and service.
    pools: BTreeMap<ServiceKey, Entry>,
    /// The last problem logged per service.
    problems: HashMap<ServiceKey, String>,
    /// The pools' loops.
    tasks: JoinSet<()>,
}

impl Supervisor {
    /// A supervisor with no pools yet; see the compose supervisor for
    /// `policies` and `names`.
    pub fn new(
        docker: Arc<DockerTarget>,
        factory: RunnerFactory,
        stack: Option<String>,
        policies: watch::Receiver<Arc<Vec<RawPool>>>,
        names: PoolNames,
        registry: Registry,
    ) -> Self {
        Supervisor {
            docker,
            factory,
            stack,
            policies,
            names,
            registry,
            pools: BTreeMap::new(),
            problems: HashMap::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Follows the services until `shutdown` resolves, then stops every
    /// loop, leaving the services as they are.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        info!(
            stack = self.stack.as_deref().unwrap_or("(all)"),
            "discovering pools from Swarm service labels"
        );
        let mut tick = tokio::time::interval(SCAN);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => self.rescan().await,
            }
            while self.tasks.try_join_next().is_some() {}
        }
        let keys: Vec<ServiceKey> = self.pools.keys().cloned().collect();
        for key in keys {
            self.drop_pool(&key);
        }
        while self.tasks.join_next().await.is_some() {}
        info!("Swarm discovery stopped; services left as they are");
    }

    /// Brings the pools in line with the labelled services.
    async fn rescan(&mut self) {
        let mut filters = vec![LabelFilter::present(LABEL_POOL)];
        if let Some(s) = &self.stack {
            filters.push(LabelFilter::equals(LABEL_STACK, s));
        }
        let services = match self.docker.swarm_services(&filters).await {
            Ok(s) => s,
            Err(e) => {
                DiscoveryFailed {
                    reason: ComposeErrorReason::Docker,
                    error: &e,
                    retry_in: Some(SCAN),
                }
                .emit();
                return;
            }
        };
        let lent = self.policies.borrow().clone();
        let mut seen = Vec::new();
        for svc in services {
            let key = key_of(&svc);
            seen.push(key.clone());
            self.reconcile(key, &svc, &lent);
        }
        let gone: Vec<ServiceKey> = self
            .pools
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for key in gone {
            info!(service = %key, "the Swarm service is gone; pool removed");
            self.drop_pool(&key);
        }
        self.problems.retain(|k, _| seen.contains(k));
    }

    /// Starts, updates or stops the pool of one service.
    fn reconcile(&mut self, key: ServiceKey, svc: &SwarmService, lent: &[RawPool]) {
        let map: HashMap<String, String> = svc.labels.clone().into_iter().collect();
        let params = match labels::resolve(&map, lent) {
            Ok(p) => p,
            Err(errors) => {
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                return self.refuse(&key, ComposeErrorReason::InvalidLabel, list.join("; "));
            }
        };
        let unfit = rules::check(svc, &params.name, params.policy.mode);
        if !unfit.is_empty() {
            let list: Vec<String> = unfit.iter().map(ToString::to_string).collect();
            return self.refuse(&key, ComposeErrorReason::Template, list.join("; "));
        }
        let template = template_of(svc);
        if let Err(e) = self.factory.allowed().check(&template.current().spec) {
            return self.refuse(&key, ComposeErrorReason::NotAllowed, e.to_string());
        }
        let owner = format!("Swarm service {}", svc.name);
        if let Some(e) = self.pools.get(&key) {
            let same = e.params.name == params.name
                && e.params.stream == params.stream
                && e.params.consumer == params.consumer;
            if same {
                if e.params != params {
                    e.spec
                        .send_replace(Arc::new(spec_of(&params, template, &key)));
                    if let Some(e) = self.pools.get_mut(&key) {
                        e.params = params;
                    }
                }
                return;
            }
            info!(service = %key, "the pool's name or consumer changed; starting its loop anew");
            self.drop_pool(&key);
        }
        if let Err(holder) = self.names.claim(&params.name, &owner) {
            let msg = format!(
                "label jetpool.pool: pool name \"{}\" is already used by {holder}",
                params.name
            );
            return self.refuse(&key, ComposeErrorReason::NameConflict, msg);
        }
        self.problems.remove(&key);
        let spec = spec_of(&params, template, &key);
        let (spec_tx, spec_rx) = watch::channel(Arc::new(spec.clone()));
        let (stop, stop_rx) = watch::channel(false);
        let target = Arc::new(SwarmTarget::new(self.docker.clone(), &svc.name));
        let (runner, status) = self.factory.runner(spec, target);
        self.tasks
            .spawn(runner.with_updates(spec_rx).run(wait_for(stop_rx)));
        info!(service = %key, pool = %params.name, stream = %params.stream, consumer = %params.consumer,
              min = params.policy.min, max = params.policy.max, "Swarm pool running");
        self.registry.insert(status);
        telemetry::pool_started(&params.name);
        self.pools.insert(
            key,
            Entry {
                params,
                stop,
                spec: spec_tx,
            },
        );
    }

    /// Logs and counts a problem once, and ends the service's pool.
    fn refuse(&mut self, key: &ServiceKey, reason: ComposeErrorReason, msg: String) {
        crate::compose::supervisor::report_once(&mut self.problems, key, reason, msg);
        self.drop_pool(key);
    }

    /// Stops a pool's loop and frees its name.
    fn drop_pool(&mut self, key: &ServiceKey) {
        if let Some(e) = self.pools.remove(key) {
            let _ = e.stop.send(true);
            self.registry.remove(&e.params.name);
            telemetry::pool_removed(&e.params.name);
            self.factory.forget(&e.params.name);
            self.names
                .release(&e.params.name, &format!("Swarm service {}", key.service));
        }
    }
}

/// A service as a key: its stack (`-` outside one) and its name.
fn key_of(svc: &SwarmService) -> ServiceKey {
    ServiceKey {
        project: svc
            .labels
            .get(LABEL_STACK)
            .cloned()
            .unwrap_or_else(|| "-".into()),
        service: svc.name.clone(),
    }
}

/// The template of a service: Swarm makes the tasks, so only what the
/// pool loop reads of it matters (the image, for the allow-list, and the
/// grace period of a stop).
fn template_of(svc: &SwarmService) -> Template {
    Template::new(TemplateVersion {
        id: format!("swarm:{}", svc.id),
        spec: ContainerSpec {
            image: svc.image.clone(),
            stop_timeout: svc.stop_grace,
            ..ContainerSpec::default()
        },
        naming: Naming::Random,
        inject_nats_url: false,
        // Swarm places the tasks itself.
        engines: Vec::new(),
    })
}

/// A Swarm pool's spec. Warm standbys need a per-agent environment
/// Swarm's template cannot give, so the pool keeps none.
fn spec_of(p: &PoolParams, template: Template, key: &ServiceKey) -> PoolSpec {
    let mut agents = p.agents.clone();
    agents.warm = 0;
    pool::PoolSpec {
        name: p.name.clone(),
        stream: p.stream.clone(),
        consumer: p.consumer.clone(),
        policy: p.policy.clone(),
        template,
        agents,
        source: PathBuf::from(format!("swarm:{key}")),
    }
}
