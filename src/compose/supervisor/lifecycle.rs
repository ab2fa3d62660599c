//! The life of each compose pool: scans decide which services are pools;
//! a pool starts, follows its service's configuration, pauses while compose
//! acts, resumes, and ends with its service.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

use super::{Entry, QUIET, Running, Supervisor};
use crate::compose::discover::{self, Service};
use crate::compose::labels;
use crate::compose::{ComposeTarget, Recipe, ServiceKey};
use crate::pool::{PoolSpec, wait_for};
use crate::target::Phase;
use crate::telemetry;
use crate::telemetry::ComposeErrorReason;
use crate::telemetry::events::DiscoveryFailed;

impl Supervisor {
    /// Brings the pools in line with the labelled services.
    pub(super) async fn rescan(&mut self) {
        let services = match discover::scan(&self.docker, self.project.as_deref()).await {
            Ok(s) => s,
            Err(e) => {
                DiscoveryFailed {
                    reason: ComposeErrorReason::Docker,
                    error: &e,
                    retry_in: None,
                }
                .emit();
                return;
            }
        };
        let seen: HashSet<ServiceKey> = services.iter().map(|s| s.key.clone()).collect();
        for svc in services {
            self.reconcile(svc).await;
        }
        let gone: Vec<ServiceKey> = self
            .pools
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for key in gone {
            if let Some(e) = self.pools.get(&key) {
                info!(service = %key, pool = %e.params.name, "the service's containers are gone; pool removed");
            }
            self.drop_pool(&key);
        }
        self.problems.retain(|k, _| seen.contains(k));
        let paused = self.pools.values().filter(|e| e.running.is_none()).count();
        telemetry::compose_pools(self.pools.len() - paused, paused);
    }

    /// Starts, updates, resumes or stops the pool of one service.
    async fn reconcile(&mut self, svc: Service) {
        let key = svc.key.clone();
        let params = match labels::resolve(&svc.labels(), &self.lent) {
            Ok(p) => p,
            Err(errors) => {
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                self.problem(&key, ComposeErrorReason::InvalidLabel, list.join("; "));
                self.drop_pool(&key);
                return;
            }
        };
        // A new name is a new pool: the old one ends (and frees its name).
        if self
            .pools
            .get(&key)
            .is_some_and(|e| e.params.name != params.name)
        {
            info!(service = %key, pool = %params.name, "the service's pool name changed; the old pool ends");
            self.drop_pool(&key);
        }
        let owner = owner(&key);
        if let Err(holder) = self.names.claim(&params.name, &owner) {
            let msg = format!(
                "label jetpool.pool: pool name \"{}\" is already used by {holder}",
                params.name
            );
            self.problem(&key, ComposeErrorReason::NameConflict, msg);
            self.drop_pool(&key);
            return;
        }
        let hash = svc.config_hash().map(str::to_string);
        let Some(entry) = self.pools.get(&key) else {
            let Some(recipe) = self.recipe(&svc).await else {
                self.names.release(&params.name, &owner);
                return;
            };
            let template = recipe.template(svc.highest_number());
            self.problems.remove(&key);
            self.pools.insert(
                key.clone(),
                Entry {
                    params,
                    template,
                    running: None,
                    last_outside: None,
                },
            );
            self.resume(&key, &svc);
            return;
        };
        entry.template.saw_number(svc.highest_number());
        if hash.is_some() && hash != Some(entry.template.id()) {
            let Some(recipe) = self.recipe(&svc).await else {
                return;
            };
            info!(service = %key, from = %recipe.source, "the service's configuration changed; replicas roll to it");
            if let Some(e) = self.pools.get(&key) {
                e.template.update(recipe.version());
            }
        }
        let Some(entry) = self.pools.get_mut(&key) else {
            return;
        };
        let old = std::mem::replace(&mut entry.params, params);
        let changed = old != entry.params;
        let same_consumer =
            old.stream == entry.params.stream && old.consumer == entry.params.consumer;
        match &entry.running {
            // The labels (or the policy they name) changed: the running
            // loop takes the new parameters and keeps its state.
            Some(running) if changed && same_consumer => {
                running.spec.send_replace(Arc::new(spec_of(entry, &key)));
            }
            Some(_) if changed => {
                info!(service = %key, stream = %entry.params.stream, consumer = %entry.params.consumer,
                      "the pool's consumer changed; starting its loop anew");
                self.pause(&key);
                self.resume(&key, &svc);
            }
            Some(_) => {}
            None => {
                let quiet = entry.last_outside.is_none_or(|t| t.elapsed() >= QUIET);
                if quiet && svc.running() > 0 {
                    self.resume(&key, &svc);
                }
            }
        }
    }

    /// The recipe cloned from the service's source container.
    async fn recipe(&mut self, svc: &Service) -> Option<Recipe> {
        let id = svc.source()?.id.clone();
        let result = match self.docker.inspect(&id).await {
            Ok(c) => Recipe::from_inspected(&c).map_err(|e| e.to_string()),
            Err(e) => Err(format!("cannot clone container {id}: {e}")),
        };
        match result {
            Ok(r) => match self.factory.allowed().check(&r.declared()) {
                Ok(()) => Some(r),
                Err(e) => {
                    self.problem(&svc.key, ComposeErrorReason::NotAllowed, e.to_string());
                    None
                }
            },
            Err(msg) => {
                self.problem(&svc.key, ComposeErrorReason::Template, msg);
                None
            }
        }
    }

    /// Logs and counts a problem of a service once (until it changes).
    fn problem(&mut self, key: &ServiceKey, reason: ComposeErrorReason, msg: String) {
        super::report_once(&mut self.problems, key, reason, msg);
    }

    /// Stops a pool and forgets it (its labels are no longer valid, or
    /// its service is gone), freeing its name.
    pub(super) fn drop_pool(&mut self, key: &ServiceKey) {
        self.pause(key);
        if let Some(e) = self.pools.remove(key) {
            self.names.release(&e.params.name, &owner(key));
        }
    }

    /// Stops a pool's tasks, keeping what it needs to come back.
    pub(super) fn pause(&mut self, key: &ServiceKey) {
        let Some(e) = self.pools.get_mut(key) else {
            return;
        };
        let Some(mut running) = e.running.take() else {
            return;
        };
        let _ = running.stop.send(true);
        self.registry.remove(&e.params.name);
        telemetry::pool_removed(&e.params.name);
        self.retiring.spawn(async move {
            // The loop stops at its next select; if it does not within a
            // few seconds, it is aborted.
            let drained = tokio::time::timeout(Duration::from_secs(5), async {
                while running.tasks.join_next().await.is_some() {}
            });
            if drained.await.is_err() {
                running.tasks.abort_all();
            }
        });
    }

    /// Starts the loop of a known pool.
    fn resume(&mut self, key: &ServiceKey, svc: &Service) {
        let Some(e) = self.pools.get_mut(key) else {
            return;
        };
        let spec = spec_of(e, key);
        let p = &e.params;
        let (spec_tx, spec_rx) = watch::channel(Arc::new(spec.clone()));
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let status = match &self.dry_run {
            Some(virt) => {
                if virt.running(&p.name) == 0 {
                    for c in svc.containers.iter().filter(|c| c.phase == Phase::Running) {
                        virt.adopt(&p.name, &c.name);
                    }
                }
                let (runner, rx) = self.factory.runner(spec, virt.clone());
                tasks.spawn(runner.with_updates(spec_rx).run(wait_for(stop_rx)));
                rx
            }
            None => {
                let target = Arc::new(ComposeTarget::new(
                    self.docker.clone(),
                    key.clone(),
                    &p.name,
                    self.own.clone(),
                ));
                let (runner, rx) = self.factory.runner(spec, target);
                tasks.spawn(runner.with_updates(spec_rx).run(wait_for(stop_rx)));
                rx
            }
        };
        info!(service = %key, pool = %p.name, stream = %p.stream, consumer = %p.consumer,
              min = p.policy.min, max = p.policy.max, template = %e.template.id(),
              "compose pool running");
        self.registry.insert(status);
        telemetry::pool_started(&p.name);
        telemetry::compose_started(Some(&p.name));
        e.running = Some(Running {
            stop,
            tasks,
            spec: spec_tx,
        });
        e.last_outside = None;
    }
}

/// The owner of a compose pool's name, as a name clash names it.
fn owner(key: &ServiceKey) -> String {
    format!("compose service {key}")
}

/// The spec of a compose pool: its parameters and its live template.
fn spec_of(e: &Entry, key: &ServiceKey) -> PoolSpec {
    let p = &e.params;
    PoolSpec {
        name: p.name.clone(),
        stream: p.stream.clone(),
        consumer: p.consumer.clone(),
        policy: p.policy.clone(),
        template: e.template.clone(),
        agents: p.agents.clone(),
        source: PathBuf::from(format!("compose:{key}")),
    }
}
