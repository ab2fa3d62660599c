//! Several Docker engines as one [`ScaleTarget`]: `jetpool run --engine
//! NAME=URL`, repeatable. Without the flag the set holds one engine,
//! [`LOCAL`], reached through `DOCKER_HOST`, and behaves exactly as that
//! engine alone.
//!
//! - `list` is the union of what the engines that answer list. A
//!   container of an engine that does not answer is simply absent, so the
//!   pool's roster forgets it and `decide`/`plan` replace it on the others
//!   (up to `max`); nothing is drained or stopped on an engine jetpool
//!   cannot reach, and a lost engine is not listed again (no tick waits
//!   on it) until a probe in the background finds it answering. Only
//!   when no engine answers does `list` fail, and the pool holds as it
//!   does when its one engine is away. When the engine is back, its
//!   containers are listed again: exited ones are reaped, running ones
//!   adopted and, if the pool no longer needs them, drained like any
//!   scale-in. Nothing is started twice: names are unique per agent.
//! - `start` places the agent by [`place::order`]: the allowed engine that
//!   answers with the fewest of the pool's agents relative to its weight;
//!   an engine that turns out unreachable is skipped for the next.
//! - Container ids are `<engine>/<id>` when there are several engines, so
//!   `stop` and `remove` go to the engine that made the container; with
//!   one they are the engine's own.
//! - `events` merges the engines' event streams.
//!
//! - [`endpoint`]: the flags, parsed. [`place`]: the placement rule, pure.
//!   `engine`: one engine, and the probe of a lost one.

pub mod endpoint;
mod engine;
pub mod place;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::sync::watch;
use tracing::{info, warn};

pub use endpoint::{Endpoint, EngineConfig, EngineFlagError, LOCAL, parse};

use self::engine::{ANSWER_WITHIN, ENGINE, Engine};
use self::place::Slot;
use super::docker::DockerTarget;
use super::{
    ContainerId, ErrorKind, Listed, Phase, ScaleTarget, StartRequest, TargetError, TargetEvent,
    TargetOp, Usage,
};
use crate::telemetry;

/// A pool's agents per engine, by engine index.
#[derive(Debug, Default, Clone)]
struct Counts {
    /// Live (not exited) containers at the latest listing.
    listed: Vec<u32>,
    /// Starts under way.
    placing: Vec<u32>,
}

/// Several Docker engines, one target.
pub struct EngineSet {
    /// The engines, in the order declared.
    engines: Vec<Arc<Engine>>,
    /// Per pool, what placement counts. A std mutex: it is never held
    /// across an `.await`.
    counts: Mutex<HashMap<String, Counts>>,
}

impl EngineSet {
    /// The one engine of `DOCKER_HOST`, already connected, named [`LOCAL`].
    pub fn single(target: DockerTarget) -> Self {
        let engine = Engine {
            name: LOCAL.to_string(),
            weight: 1,
            endpoint: None,
            longest_stop: Duration::ZERO,
            client: watch::Sender::new(Some(target)),
            up: AtomicBool::new(true),
            probing: AtomicBool::new(false),
            several: false,
        };
        telemetry::engine_up(LOCAL, true);
        EngineSet::new(vec![engine])
    }

    /// The engines of `--engine`, each connected if it answers now. One
    /// that does not is logged and marked down, not fatal: it may come
    /// back, and is connected again at the first call that finds it.
    pub async fn connect(configs: &[EngineConfig], longest_stop: Duration) -> Self {
        let tries = configs
            .iter()
            .map(|c| DockerTarget::connect_to(&c.endpoint, longest_stop));
        let clients = futures::future::join_all(tries).await;
        let mut engines = Vec::new();
        for (c, client) in configs.iter().zip(clients) {
            let up = match &client {
                Ok(_) => {
                    info!(engine = %c.name, url = %c.endpoint, weight = c.weight, "engine answers");
                    true
                }
                Err(e) => {
                    warn!(engine = %c.name, url = %c.endpoint, error = %e,
                          "engine not answering at start; agents go to the other engines until it does");
                    false
                }
            };
            telemetry::engine_up(&c.name, up);
            engines.push(Engine {
                name: c.name.clone(),
                weight: c.weight,
                endpoint: Some(c.endpoint.clone()),
                longest_stop,
                client: watch::Sender::new(client.ok()),
                up: AtomicBool::new(up),
                probing: AtomicBool::new(false),
                several: configs.len() > 1,
            });
        }
        EngineSet::new(engines)
    }

    fn new(engines: Vec<Engine>) -> Self {
        EngineSet {
            engines: engines.into_iter().map(Arc::new).collect(),
            counts: Mutex::default(),
        }
    }

    /// The engines' names, in the order declared.
    pub fn names(&self) -> Vec<String> {
        self.engines.iter().map(|e| e.name.clone()).collect()
    }

    /// The first engine's client, if it has answered: where compose
    /// discovery looks (a compose project runs on one engine).
    pub fn first(&self) -> Option<DockerTarget> {
        self.engines.first()?.client.borrow().clone()
    }

    /// Engine `i`'s client, connecting it if it has not answered yet.
    async fn client(&self, i: usize) -> Result<DockerTarget, TargetError> {
        self.engines[i].client().await
    }

    /// Records whether engine `i` answered; one of several that did not
    /// is probed in the background until it does.
    fn set_up(&self, i: usize, up: bool, error: Option<&TargetError>) {
        self.engines[i].mark(up, error);
        if !up {
            self.probe(i);
        }
    }

    /// Starts the probe of engine `i`, one of several, unless one runs.
    fn probe(&self, i: usize) {
        let e = &self.engines[i];
        if e.several && !e.probing.swap(true, Ordering::Relaxed) {
            tokio::spawn(engine::probe(Arc::downgrade(e)));
        }
    }

    /// True when engine `i` is listed: it is the only one, or it answered
    /// its last call (a lost one is left to its probe).
    fn listed(&self, i: usize) -> bool {
        let e = &self.engines[i];
        !e.several || e.is_up()
    }

    /// `id` of engine `i`, as the set issues it.
    fn issue(&self, i: usize, id: ContainerId) -> ContainerId {
        if self.engines.len() == 1 {
            return id;
        }
        ContainerId::from(format!("{}/{id}", self.engines[i].name))
    }

    /// The engine that issued `id`, and the engine's own id.
    fn route(&self, op: TargetOp, id: &ContainerId) -> Result<(usize, ContainerId), TargetError> {
        if self.engines.len() == 1 {
            return Ok((0, id.clone()));
        }
        id.as_str()
            .split_once('/')
            .and_then(|(name, raw)| {
                let i = self.engines.iter().position(|e| e.name == name)?;
                Some((i, ContainerId::from(raw)))
            })
            .ok_or_else(|| {
                TargetError::new(
                    ENGINE,
                    op,
                    ErrorKind::NotFound,
                    format!("container {id} names no known engine"),
                )
            })
    }

    /// `e`, from engine `i`, naming the engine when there are several.
    fn named(&self, i: usize, e: TargetError) -> TargetError {
        if self.engines.len() == 1 {
            return e;
        }
        TargetError {
            message: format!("engine {:?}: {}", self.engines[i].name, e.message),
            ..e
        }
    }

    /// Engine `i`'s listing of `pool`.
    async fn list_one(&self, i: usize, pool: &str) -> Result<Vec<Listed>, TargetError> {
        if !self.engines[i].several {
            return self.client(i).await?.list(pool).await;
        }
        let list = async { self.client(i).await?.list(pool).await };
        tokio::time::timeout(ANSWER_WITHIN, list)
            .await
            .unwrap_or_else(|_| {
                Err(TargetError::new(
                    ENGINE,
                    TargetOp::List,
                    ErrorKind::Unreachable,
                    format!("no answer within {}s", ANSWER_WITHIN.as_secs()),
                ))
            })
    }

    /// Changes the starts under way on engine `i` for `pool` by `by`, and
    /// on success counts the new agent until the next listing does.
    fn placing(&self, pool: &str, i: usize, by: i32, started: bool) {
        let n = self.engines.len();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let c = counts.entry(pool.to_string()).or_default();
        c.placing.resize(n, 0);
        c.listed.resize(n, 0);
        c.placing[i] = c.placing[i].saturating_add_signed(by);
        if started {
            c.listed[i] += 1;
        }
    }

    /// The engines to try for `req`, best first.
    fn order(&self, req: &StartRequest) -> Vec<usize> {
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let c = counts.get(&req.pool).cloned().unwrap_or_default();
        let slots: Vec<Slot> = self
            .engines
            .iter()
            .enumerate()
            .map(|(i, e)| Slot {
                agents: c.listed.get(i).copied().unwrap_or(0)
                    + c.placing.get(i).copied().unwrap_or(0),
                weight: e.weight,
                allowed: req.engines.is_empty() || req.engines.contains(&e.name),
                // One engine is always tried: its start fails as it did
                // before there were several.
                up: !e.several || e.is_up(),
            })
            .collect();
        place::order(&slots)
    }
}

impl ScaleTarget for EngineSet {
    async fn list(&self, pool: &str) -> Result<Vec<Listed>, TargetError> {
        let all = (0..self.engines.len()).map(|i| async move {
            // A lost engine's agents are absent until its probe finds it
            // (started here for an engine that was down at start).
            if self.listed(i) {
                Some(self.list_one(i, pool).await)
            } else {
                self.probe(i);
                None
            }
        });
        let results = futures::future::join_all(all).await;
        let mut out = Vec::new();
        let mut live = vec![0u32; self.engines.len()];
        let mut first_error = None;
        let mut answered = 0;
        for (i, r) in results.into_iter().enumerate() {
            match r {
                None => {}
                Some(Ok(listed)) => {
                    self.set_up(i, true, None);
                    answered += 1;
                    for mut c in listed {
                        if !matches!(c.phase, Phase::Exited | Phase::Removing) {
                            live[i] += 1;
                        }
                        c.id = self.issue(i, c.id);
                        out.push(c);
                    }
                }
                Some(Err(e)) => {
                    self.set_up(i, false, Some(&e));
                    first_error.get_or_insert_with(|| self.named(i, e));
                }
            }
        }
        if answered == 0 {
            return Err(first_error.unwrap_or_else(|| {
                TargetError::new(
                    ENGINE,
                    TargetOp::List,
                    ErrorKind::Unreachable,
                    format!("no engine answers ({})", self.names().join(", ")),
                )
            }));
        }
        for (e, n) in self.engines.iter().zip(&live) {
            telemetry::engine_replicas(pool, &e.name, *n);
        }
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts.entry(pool.to_string()).or_default().listed = live;
        Ok(out)
    }

    async fn start(&self, req: StartRequest) -> Result<ContainerId, TargetError> {
        let order = self.order(&req);
        let mut last = None;
        for &i in &order {
            self.placing(&req.pool, i, 1, false);
            let started = match self.client(i).await {
                Ok(t) => t.start(req.clone()).await,
                Err(e) => Err(e),
            };
            self.placing(&req.pool, i, -1, started.is_ok());
            match started {
                Ok(id) => return Ok(self.issue(i, id)),
                // Gone since its last listing: try the next engine.
                Err(e) if e.kind == ErrorKind::Unreachable => {
                    self.set_up(i, false, Some(&e));
                    last = Some(self.named(i, e));
                }
                Err(e) => return Err(self.named(i, e)),
            }
        }
        Err(last.unwrap_or_else(|| {
            let allowed = if req.engines.is_empty() {
                self.names()
            } else {
                req.engines.clone()
            };
            TargetError::new(
                ENGINE,
                TargetOp::Create,
                ErrorKind::Unreachable,
                format!(
                    "none of the pool's engines answers ({})",
                    allowed.join(", ")
                ),
            )
        }))
    }

    async fn stop(&self, id: &ContainerId, timeout: Duration) -> Result<(), TargetError> {
        let (i, raw) = self.route(TargetOp::Stop, id)?;
        let t = self.client(i).await.map_err(|e| self.named(i, e))?;
        t.stop(&raw, timeout).await.map_err(|e| self.named(i, e))
    }

    async fn remove(&self, id: &ContainerId) -> Result<(), TargetError> {
        let (i, raw) = self.route(TargetOp::Remove, id)?;
        let t = self.client(i).await.map_err(|e| self.named(i, e))?;
        t.remove(&raw).await.map_err(|e| self.named(i, e))
    }

    /// The container's use, from whichever engine runs it: names are
    /// unique across engines, and there are few engines to ask.
    async fn usage(&self, name: &str) -> Result<Usage, TargetError> {
        let mut last = None;
        for i in 0..self.engines.len() {
            let Ok(t) = self.client(i).await else {
                continue;
            };
            match t.usage(name).await {
                Ok(u) => return Ok(u),
                Err(e) => last = Some(self.named(i, e)),
            }
        }
        Err(last.unwrap_or_else(|| {
            TargetError::new(
                ENGINE,
                TargetOp::Stats,
                ErrorKind::Unreachable,
                "no engine answers",
            )
        }))
    }

    fn events(&self, pool: &str) -> BoxStream<'static, TargetEvent> {
        let streams = self.engines.iter().map(|e| {
            let mut client = e.client.subscribe();
            let pool = pool.to_string();
            // An engine down at start is followed from when it answers.
            futures::stream::once(async move {
                client
                    .wait_for(Option::is_some)
                    .await
                    .ok()
                    .and_then(|c| (*c).clone())
            })
            .filter_map(futures::future::ready)
            .flat_map(move |t| t.events(&pool))
            .boxed()
        });
        futures::stream::select_all(streams).boxed()
    }
}

#[cfg(test)]
mod tests;
