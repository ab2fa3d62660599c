//! The scale target of one compose service. Its containers are the pool's,
//! whoever made them (compose or jetpool), as long as they carry the
//! service's `jetpool.pool` label. Two rules differ from plain pools:
//!
//! - the service's last container is never removed: at zero it is stopped
//!   and kept, so compose and a restarted jetpool still see the service
//!   (`docker-compose ps` lists it as exited, `up` starts it again), and it
//!   is hidden from the pool until a new replica runs, then removed;
//! - every act is recorded in [`OwnActs`], so the discovery can tell
//!   jetpool's own stops and starts from compose's.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::BoxStream;
use tracing::{info, warn};

use super::{LABEL_CONFIG_HASH, LABEL_ONEOFF, LABEL_PROJECT, LABEL_SERVICE, ServiceKey};
use crate::target::docker::DockerTarget;
use crate::target::{
    ContainerId, EventAction, LABEL_POOL, LabelFilter, Listed, Phase, ScaleTarget, StartRequest,
    TargetError, TargetEvent, Usage,
};

/// How long an act is remembered: longer than any event takes to arrive.
const REMEMBER: Duration = Duration::from_secs(300);

/// What jetpool did to a container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Act {
    /// Created and started it (events `create`, `start`).
    Start,
    /// Stopped it (events `kill`, `stop`).
    Stop,
    /// Removed it (event `destroy`).
    Remove,
}

impl Act {
    /// The act behind a container event, if any.
    pub fn of_event(action: &EventAction) -> Option<Act> {
        match action {
            EventAction::Create | EventAction::Start => Some(Act::Start),
            EventAction::Kill | EventAction::Stop => Some(Act::Stop),
            EventAction::Destroy => Some(Act::Remove),
            _ => None,
        }
    }
}

/// Containers (by id or name) jetpool itself recently started, stopped or
/// removed, so an event can be told apart from compose's acts. A std
/// mutex: held for a map operation, never across `.await`.
#[derive(Debug, Default)]
pub struct OwnActs {
    /// (act, id or name) -> when it was recorded.
    seen: Mutex<HashMap<(Act, String), Instant>>,
}

impl OwnActs {
    /// Records `act` on `key` (a container id or name).
    pub fn record(&self, act: Act, key: &str) {
        if let Ok(mut m) = self.seen.lock() {
            m.retain(|_, t| t.elapsed() < REMEMBER);
            m.insert((act, key.to_string()), Instant::now());
        }
    }

    /// True when jetpool did `act` to `key` lately.
    pub fn contains(&self, act: Act, key: &str) -> bool {
        self.seen.lock().is_ok_and(|m| {
            m.get(&(act, key.to_string()))
                .is_some_and(|t| t.elapsed() < REMEMBER)
        })
    }
}

/// One compose service as a [`ScaleTarget`].
pub struct ComposeTarget {
    /// The engine.
    docker: Arc<DockerTarget>,
    /// The service.
    key: ServiceKey,
    /// The pool's name, in the service's `jetpool.pool` label.
    pool: String,
    /// Acts shared with the discovery.
    own: Arc<OwnActs>,
    /// Ids of stopped containers kept as the service's definition. A std
    /// mutex: never held across `.await`.
    parked: Mutex<HashSet<ContainerId>>,
    /// Serialises removals, so that of concurrent scale-ins exactly one
    /// container is kept.
    removals: tokio::sync::Mutex<()>,
}

impl ComposeTarget {
    /// The target of service `key`, whose containers are labelled
    /// `jetpool.pool=<pool>`.
    pub fn new(docker: Arc<DockerTarget>, key: ServiceKey, pool: &str, own: Arc<OwnActs>) -> Self {
        ComposeTarget {
            docker,
            key,
            pool: pool.to_string(),
            own,
            parked: Mutex::new(HashSet::new()),
            removals: tokio::sync::Mutex::new(()),
        }
    }

    /// Every container of the service, parked ones included; the template
    /// id is the config hash.
    async fn containers(&self) -> Result<Vec<Listed>, TargetError> {
        let filters = [
            LabelFilter::equals(LABEL_PROJECT, &self.key.project),
            LabelFilter::equals(LABEL_SERVICE, &self.key.service),
            LabelFilter::equals(LABEL_ONEOFF, "False"),
            LabelFilter::equals(LABEL_POOL, &self.pool),
        ];
        Ok(self
            .docker
            .list_labelled(&filters)
            .await?
            .into_iter()
            .map(|c| c.listed(LABEL_CONFIG_HASH))
            .collect())
    }

    fn parked(&self) -> HashSet<ContainerId> {
        self.parked.lock().map(|p| p.clone()).unwrap_or_default()
    }
}

impl ScaleTarget for ComposeTarget {
    async fn list(&self, _pool: &str) -> Result<Vec<Listed>, TargetError> {
        // One target per pool: the pool is the one it was made for.
        let all = self.containers().await?;
        // Nothing running: the newest container is kept as the definition
        // at zero. Only one: others that exited with it (agents that
        // drained in the same second, or all failed) stay listed, so the
        // pool removes them as it removes any exited agent.
        if let Ok(mut p) = self.parked.lock() {
            if p.is_empty()
                && all.iter().all(|c| c.phase == Phase::Exited)
                && let Some(keep) = all.iter().max_by_key(|c| (c.created, c.name.clone()))
            {
                p.insert(keep.id.clone());
            }
            // A kept container that runs again (`docker-compose up` starts
            // it) is an agent like any other.
            p.retain(|id| all.iter().any(|c| c.id == *id && c.phase == Phase::Exited));
        }
        let parked = self.parked();
        Ok(all
            .into_iter()
            .filter(|c| !parked.contains(&c.id))
            .collect())
    }

    async fn start(&self, req: StartRequest) -> Result<ContainerId, TargetError> {
        self.own.record(Act::Start, &req.name);
        let id = self.docker.start(req).await?;
        self.own.record(Act::Start, id.as_str());
        // A replica runs again: the kept definition has served its purpose.
        let _guard = self.removals.lock().await;
        let parked: Vec<ContainerId> = self
            .parked
            .lock()
            .map(|mut p| p.drain().collect())
            .unwrap_or_default();
        for old in parked {
            self.own.record(Act::Remove, old.as_str());
            if let Err(e) = self.docker.remove(&old).await {
                warn!(service = %self.key, error = %e, "cannot remove the kept container");
            }
        }
        Ok(id)
    }

    async fn stop(&self, id: &ContainerId, timeout: Duration) -> Result<(), TargetError> {
        self.own.record(Act::Stop, id.as_str());
        // The request waits out the grace period, which compose lets the
        // user set freely: give it a client that waits long enough.
        self.docker
            .with_timeout(timeout + Duration::from_secs(60))
            .stop(id, timeout)
            .await
    }

    fn events(&self, pool: &str) -> BoxStream<'static, TargetEvent> {
        // Compose's own container and jetpool's replicas all carry the
        // service's `jetpool.pool` label, so the plain filter covers both.
        self.docker.events(pool)
    }

    async fn usage(&self, name: &str) -> Result<Usage, TargetError> {
        self.docker.usage(name).await
    }

    async fn remove(&self, id: &ContainerId) -> Result<(), TargetError> {
        let _guard = self.removals.lock().await;
        let others = self
            .containers()
            .await?
            .into_iter()
            .filter(|c| c.id != *id && c.phase != Phase::Removing)
            .count();
        if others == 0 {
            info!(service = %self.key, container = %id,
                  "keeping the service's last container, stopped, so compose and jetpool can bring it back");
            if let Ok(mut p) = self.parked.lock() {
                p.insert(id.clone());
            }
            return Ok(());
        }
        self.own.record(Act::Remove, id.as_str());
        self.docker.remove(id).await
    }
}
