//! Runtime controls (`jetpool pause|resume|pin|unpin`): stored in a
//! JetStream key-value bucket, so they survive restarts and reach every
//! jetpool instance, and handed to each pool loop through a
//! [`watch`] channel of its own.
//!
//! - [`store`]: the bucket edge: keys `<pool>.paused` and `<pool>.pinned`,
//!   their JSON values, loading, watching and writing.
//! - [`Follower`]: the one task that owns the service's copy of every
//!   override: it loads the bucket, follows its changes (and resyncs after
//!   a lost watch), and publishes each pool's [`Override`] through
//!   [`Overrides`].
//! - [`cmd`]: the four commands.
//!
//! The pool loop only reads: it folds the current value into its policy
//! at each tick ([`Override::apply`]), and a change wakes it at once.

pub mod cmd;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::watch;
use tracing::{info, warn};

pub use crate::policy::Override;
pub use store::{DEFAULT_BUCKET, OverrideStore};

/// Every pool's current override, one watch channel per pool. Cloned
/// freely; only the [`Follower`] writes.
#[derive(Clone, Default)]
pub struct Overrides {
    /// Pool name to its channel. A std `Mutex`, not a tokio one: it is held
    /// only to find or insert a channel, never across an `.await`. A
    /// channel is created on first use by either side, so a pool that
    /// subscribes before its override is read still gets it, and an
    /// override read before its pool starts is waiting for it.
    pools: Arc<Mutex<HashMap<String, watch::Sender<Override>>>>,
}

impl Overrides {
    /// The receiver of `pool`'s override, holding its current value.
    pub fn subscribe(&self, pool: &str) -> watch::Receiver<Override> {
        self.with_sender(pool, |tx| tx.subscribe())
    }

    /// `pool`'s current override.
    pub fn get(&self, pool: &str) -> Override {
        self.with_sender(pool, |tx| tx.borrow().clone())
    }

    /// Sets `pool`'s override; receivers see a change only if it differs.
    fn set(&self, pool: &str, value: Override) {
        self.with_sender(pool, |tx| {
            tx.send_if_modified(|v| {
                let changed = *v != value;
                if changed {
                    *v = value;
                }
                changed
            })
        });
    }

    /// Pools with a channel, for a full resync.
    fn known(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    fn with_sender<R>(&self, pool: &str, f: impl FnOnce(&watch::Sender<Override>) -> R) -> R {
        let mut pools = self.lock();
        let tx = pools
            .entry(pool.to_string())
            .or_insert_with(|| watch::channel(Override::default()).0);
        f(tx)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, watch::Sender<Override>>> {
        // A panic while holding the lock cannot leave the map half-written
        // (each operation is one insert or one send), so a poisoned lock
        // is still consistent.
        self.pools.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The task that follows the bucket and publishes every pool's override.
pub struct Follower {
    /// The service's NATS connection.
    client: async_nats::Client,
    /// The bucket's name.
    bucket: String,
    /// The bucket, once opened.
    store: Option<OverrideStore>,
    /// Whether the last load succeeded and no watch has failed since.
    synced: bool,
    /// Where overrides are published.
    overrides: Overrides,
}

/// How long the first load may take before the pools start without it.
const FIRST_LOAD_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest pause between attempts to reach the bucket.
const MAX_RETRY: Duration = Duration::from_secs(30);

impl Follower {
    /// Opens `bucket` (creating it if missing) and loads it once, so pools
    /// start with their overrides in force: a pool paused before a restart
    /// is paused from its first tick. When the bucket cannot be reached the
    /// pools start without overrides and [`Follower::run`] keeps trying.
    pub async fn start(client: async_nats::Client, bucket: &str) -> (Follower, Overrides) {
        let overrides = Overrides::default();
        let mut f = Follower {
            client,
            bucket: bucket.to_string(),
            store: None,
            synced: false,
            overrides: overrides.clone(),
        };
        match tokio::time::timeout(FIRST_LOAD_TIMEOUT, f.resync()).await {
            Ok(Ok(n)) => {
                f.synced = true;
                info!(bucket, overrides = n, "runtime overrides loaded")
            }
            Ok(Err(e)) => {
                warn!(bucket, error = %e, "runtime overrides unavailable; pools start without them, retrying")
            }
            Err(_) => {
                warn!(
                    bucket,
                    "runtime overrides not loaded within {FIRST_LOAD_TIMEOUT:?}; pools start without them, retrying"
                )
            }
        }
        (f, overrides)
    }

    /// Follows the bucket until `shutdown` resolves. A watch that fails or
    /// ends is re-established after a full reload, so a change missed
    /// while disconnected is not missed for good.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut retry = Duration::from_millis(500);
        loop {
            let outcome = tokio::select! {
                _ = &mut shutdown => return,
                r = self.follow() => r,
            };
            self.synced = false;
            if let Err(e) = outcome {
                warn!(bucket = %self.bucket, error = %e, retry_in = ?retry, "cannot follow runtime overrides");
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(retry) => {}
            }
            retry = (retry * 2).min(MAX_RETRY);
        }
    }

    /// Loads the bucket unless it is in sync, then applies its changes
    /// until the watch fails or ends. The watch starts from each key's
    /// latest value, so nothing written between the load and the watch is
    /// lost.
    async fn follow(&mut self) -> crate::Result<()> {
        if !self.synced {
            self.resync().await?;
        }
        let mut changes = self.store()?.watch().await?;
        while let Some(change) = changes.next().await {
            let Some(change) = change? else { continue };
            let before = self.overrides.get(&change.pool);
            let mut after = before.clone();
            change.apply(&mut after);
            if after != before {
                info!(pool = %change.pool, overrides = %after.label(), "runtime override changed");
                self.overrides.set(&change.pool, after);
            }
        }
        Err(crate::Error::JetStream {
            op: "watch overrides",
            reason: "the watch ended".into(),
        })
    }

    /// Reads every override and publishes the whole set (pools missing
    /// from the bucket get none). Returns how many pools have one.
    async fn resync(&mut self) -> crate::Result<usize> {
        if self.store.is_none() {
            self.store = Some(OverrideStore::open(self.client.clone(), &self.bucket).await?);
        }
        let all = self.store()?.load().await?;
        for pool in self.overrides.known() {
            if !all.contains_key(&pool) {
                self.overrides.set(&pool, Override::default());
            }
        }
        let n = all.len();
        for (pool, o) in all {
            self.overrides.set(&pool, o);
        }
        Ok(n)
    }

    fn store(&self) -> crate::Result<&OverrideStore> {
        self.store.as_ref().ok_or_else(|| crate::Error::JetStream {
            op: "open overrides bucket",
            reason: "not opened".into(),
        })
    }
}
