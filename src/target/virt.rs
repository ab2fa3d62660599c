//! An in-memory scale target: containers that exist only as entries in a
//! map. `jetpool run --dry-run` uses it so decisions play out without
//! touching Docker, and loop tests use it as a fake of the Docker edge.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use futures::stream::BoxStream;
use tokio::sync::mpsc;

use super::{
    ContainerId, ErrorKind, Listed, Phase, ScaleTarget, StartRequest, TargetError, TargetEvent,
    TargetOp, Usage, receiver_stream,
};

/// Containers held in memory, keyed by id.
#[derive(Debug, Default)]
pub struct VirtualTarget {
    /// A std mutex, not a tokio one: no `.await` happens while it is held.
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// pool -> id -> container.
    containers: BTreeMap<String, BTreeMap<ContainerId, Listed>>,
    /// Ids handed out so far.
    next_id: u64,
    /// Operations performed, in order, for tests: ("start"|"stop"|"remove", name).
    log: Vec<(&'static str, String)>,
    /// Event listeners per pool.
    listeners: BTreeMap<String, Vec<mpsc::Sender<TargetEvent>>>,
    /// Names of containers started as standby.
    standby: Vec<String>,
    /// The resource use every running container reports; `None`: usage
    /// cannot be read (as in a dry run, where nothing really runs).
    usage: Option<Usage>,
}

impl VirtualTarget {
    /// An empty target.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a running container to `pool`, as if it had been started before.
    pub fn adopt(&self, pool: &str, name: &str) {
        if let Ok(mut g) = self.inner.lock() {
            g.next_id += 1;
            let id = ContainerId::from(format!("v{}", g.next_id));
            let c = Listed {
                id: id.clone(),
                name: name.to_string(),
                phase: Phase::Running,
                created: g.next_id as i64,
                template: None,
                unhealthy: false,
                exit_code: None,
            };
            g.containers
                .entry(pool.to_string())
                .or_default()
                .insert(id, c);
        }
    }

    /// Marks a container as exited, as if it had crashed.
    pub fn crash(&self, pool: &str, name: &str) {
        if let Ok(mut g) = self.inner.lock()
            && let Some(c) = g
                .containers
                .get_mut(pool)
                .and_then(|m| m.values_mut().find(|c| c.name == name))
        {
            c.phase = Phase::Exited;
            let ev = TargetEvent::Died {
                name: name.to_string(),
            };
            if let Some(ls) = g.listeners.get_mut(pool) {
                ls.retain(|tx| tx.try_send(ev.clone()).is_ok());
            }
        }
    }

    /// Marks a container unhealthy, as a failing Docker healthcheck would.
    pub fn mark_unhealthy(&self, pool: &str, name: &str) {
        if let Ok(mut g) = self.inner.lock()
            && let Some(c) = g
                .containers
                .get_mut(pool)
                .and_then(|m| m.values_mut().find(|c| c.name == name))
        {
            c.unhealthy = true;
            let ev = TargetEvent::Unhealthy {
                name: name.to_string(),
            };
            if let Some(ls) = g.listeners.get_mut(pool) {
                ls.retain(|tx| tx.try_send(ev.clone()).is_ok());
            }
        }
    }

    /// Sets the resource use every running container reports, or with
    /// `None` makes reading it fail: for loop tests of the cpu and memory
    /// triggers.
    pub fn set_usage(&self, usage: Option<Usage>) {
        if let Ok(mut g) = self.inner.lock() {
            g.usage = usage;
        }
    }

    /// Names of the containers started as warm standbys.
    pub fn started_standby(&self) -> Vec<String> {
        self.inner
            .lock()
            .map(|g| g.standby.clone())
            .unwrap_or_default()
    }

    /// Containers of `pool` that are running.
    pub fn running(&self, pool: &str) -> usize {
        self.inner.lock().map_or(0, |g| {
            g.containers.get(pool).map_or(0, |m| {
                m.values().filter(|c| c.phase == Phase::Running).count()
            })
        })
    }

    /// The operations performed so far.
    pub fn log(&self) -> Vec<(&'static str, String)> {
        self.inner.lock().map(|g| g.log.clone()).unwrap_or_default()
    }
}

impl ScaleTarget for VirtualTarget {
    async fn list(&self, pool: &str) -> Result<Vec<Listed>, TargetError> {
        Ok(self.inner.lock().map_or_else(
            |_| Vec::new(),
            |g| {
                g.containers
                    .get(pool)
                    .map(|m| m.values().cloned().collect())
                    .unwrap_or_default()
            },
        ))
    }

    async fn start(&self, req: StartRequest) -> Result<ContainerId, TargetError> {
        let mut id = ContainerId::from("");
        if let Ok(mut g) = self.inner.lock() {
            g.next_id += 1;
            id = ContainerId::from(format!("v{}", g.next_id));
            let c = Listed {
                id: id.clone(),
                name: req.name.clone(),
                phase: Phase::Running,
                created: g.next_id as i64,
                template: req.template_id(),
                unhealthy: false,
                exit_code: None,
            };
            g.containers
                .entry(req.pool.clone())
                .or_default()
                .insert(id.clone(), c);
            if req.standby {
                g.standby.push(req.name.clone());
            }
            g.log.push(("start", req.name));
        }
        Ok(id)
    }

    async fn stop(&self, id: &ContainerId, _timeout: Duration) -> Result<(), TargetError> {
        if let Ok(mut g) = self.inner.lock() {
            let mut name = None;
            for m in g.containers.values_mut() {
                if let Some(c) = m.get_mut(id) {
                    c.phase = Phase::Exited;
                    name = Some(c.name.clone());
                }
            }
            if let Some(n) = name {
                g.log.push(("stop", n));
            }
        }
        Ok(())
    }

    async fn remove(&self, id: &ContainerId) -> Result<(), TargetError> {
        if let Ok(mut g) = self.inner.lock() {
            let mut name = None;
            for m in g.containers.values_mut() {
                if let Some(c) = m.remove(id) {
                    name = Some(c.name);
                }
            }
            if let Some(n) = name {
                g.log.push(("remove", n));
            }
        }
        Ok(())
    }

    async fn usage(&self, name: &str) -> Result<Usage, TargetError> {
        let g = self.inner.lock().ok();
        let running = g.as_ref().is_some_and(|g| {
            g.containers
                .values()
                .flat_map(|m| m.values())
                .any(|c| c.name == name && c.phase == Phase::Running)
        });
        match g.and_then(|g| g.usage) {
            Some(u) if running => Ok(u),
            _ => Err(TargetError::new(
                "virtual",
                TargetOp::Stats,
                ErrorKind::Other,
                format!("no resource use for {name}: virtual replicas do not run"),
            )),
        }
    }

    fn events(&self, pool: &str) -> BoxStream<'static, TargetEvent> {
        let (tx, rx) = mpsc::channel(64);
        if let Ok(mut g) = self.inner.lock() {
            g.listeners.entry(pool.to_string()).or_default().push(tx);
        }
        receiver_stream(rx)
    }
}
