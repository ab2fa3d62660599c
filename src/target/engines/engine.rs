//! One engine of an [`EngineSet`](super::EngineSet): its client, made
//! when the engine first answers, whether it answers, and the probe that
//! watches a lost engine come back. A pool's tick never waits on an engine
//! known to be down: the set skips it, and the probe, in the background,
//! marks it up again once it answers a ping.

use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tracing::{info, warn};

use super::Endpoint;
use crate::target::docker::DockerTarget;
use crate::target::{ErrorKind, TargetError, TargetOp};
use crate::telemetry;

/// How long one engine of several may take to answer a call that a tick
/// waits for (a listing) or a probe: a hung engine must not hold up the
/// pools' decisions about the others. A healthy engine lists in
/// milliseconds.
pub(super) const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// The pause between two probes of an engine that is down.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The engine kind in [`TargetError::engine`].
pub(super) const ENGINE: &str = "docker";

/// One engine of the set.
pub(super) struct Engine {
    /// Its name, in `[pool.container] engines`, ids and metric labels.
    pub name: String,
    /// Its share of new agents relative to the others.
    pub weight: u32,
    /// How to reach it again; `None` for the `DOCKER_HOST` engine, which
    /// answered at start or jetpool did not start.
    pub endpoint: Option<Endpoint>,
    /// The longest stop timeout of any pool, for a client made later.
    pub longest_stop: Duration,
    /// The client, once the engine has answered (connected, API version
    /// negotiated). A watch, so the event streams of an engine that was
    /// down at start begin when it first answers.
    pub client: watch::Sender<Option<DockerTarget>>,
    /// It answered at its last call.
    pub up: AtomicBool,
    /// A probe is watching for it to come back.
    pub probing: AtomicBool,
    /// It is one of several: changes are logged here (alone, the pool's
    /// own messages say it all) and a lost engine is probed, not listed.
    pub several: bool,
}

impl Engine {
    /// Its client, connecting it if it has not answered yet.
    pub async fn client(&self) -> Result<DockerTarget, TargetError> {
        if let Some(t) = self.client.borrow().clone() {
            return Ok(t);
        }
        let Some(endpoint) = &self.endpoint else {
            return Err(TargetError::new(
                ENGINE,
                TargetOp::Ping,
                ErrorKind::Unreachable,
                "not connected",
            ));
        };
        let t = DockerTarget::connect_to(endpoint, self.longest_stop).await?;
        // Two pools may connect at once; either client will do.
        self.client.send_replace(Some(t.clone()));
        Ok(t)
    }

    /// True when it answered its last call.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Records whether it answered, logging the changes.
    pub fn mark(&self, up: bool, error: Option<&TargetError>) {
        let was = self.up.swap(up, Ordering::Relaxed);
        telemetry::engine_up(&self.name, up);
        if was == up || !self.several {
            return;
        }
        match error {
            Some(err) if !up => {
                warn!(engine = %self.name, error = %err, "engine stopped answering; its agents count as lost and are replaced on the others")
            }
            _ => {
                info!(engine = %self.name, "engine answers again; its agents are adopted or removed")
            }
        }
    }
}

/// Probes a lost engine every [`PROBE_EVERY`] until it answers a ping,
/// then marks it up. Ends early when the set is dropped.
pub(super) async fn probe(engine: Weak<Engine>) {
    loop {
        let Some(e) = engine.upgrade() else { return };
        let ping = async { e.client().await?.ping().await };
        if let Ok(Ok(())) = tokio::time::timeout(ANSWER_WITHIN, ping).await {
            e.probing.store(false, Ordering::Relaxed);
            e.mark(true, None);
            return;
        }
        drop(e);
        tokio::time::sleep(PROBE_EVERY).await;
    }
}
