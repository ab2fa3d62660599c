//! The hand-over's edge: a JetStream key-value bucket (`jetpool_state`, or
//! `--ha-state-bucket`) with one key per pool, holding the [`Handover`] its
//! leader last wrote as JSON. Unlike the lease's bucket it has no
//! `max_age`: a drain's deadline must outlive a leader that is gone for
//! longer than a lease. It keeps one value per key.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use tokio::sync::watch;
use tracing::{debug, warn};

use super::Fence;
use super::state::Handover;
use crate::error::{Error, Result};

/// The bucket's name unless `--ha-state-bucket` says otherwise.
pub const DEFAULT_STATE_BUCKET: &str = "jetpool_state";

/// How long a read or a write may take: a new leader waits for the read
/// before its first act, so it must not hang on a slow server.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What a pool loop hands its writer: the term it leads in and the state.
pub type Pending = Option<(u64, Handover)>;

fn js_error(op: &'static str, e: impl std::fmt::Display) -> Error {
    Error::JetStream {
        op,
        reason: e.to_string(),
    }
}

/// The hand-over bucket, shared by every pool loop of an instance.
#[derive(Clone)]
pub struct StateStore {
    /// The bucket.
    kv: kv::Store,
}

impl std::fmt::Debug for StateStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateStore").finish_non_exhaustive()
    }
}

impl StateStore {
    /// Opens `bucket`, creating it when missing (one value per key, no
    /// expiry).
    pub async fn open(client: async_nats::Client, bucket: &str) -> Result<StateStore> {
        let js = jetstream::new(client);
        // By the key-value conventions, as the lease's bucket is made (see
        // `kv.rs`).
        js.get_or_create_stream(crate::nats::kv_bucket_stream(
            bucket,
            "jetpool hand-over (--ha): one key per pool",
            1,
        ))
        .await
        .map_err(|e| js_error("create state bucket", e))?;
        let kv = js
            .get_key_value(bucket)
            .await
            .map_err(|e| js_error("open state bucket", e))?;
        Ok(StateStore { kv })
    }

    /// The hand-over last written for `pool`, if any.
    pub async fn load(&self, pool: &str) -> Result<Option<Handover>> {
        let entry = tokio::time::timeout(TIMEOUT, self.kv.get(pool))
            .await
            .map_err(|e| js_error("read state", e))?
            .map_err(|e| js_error("read state", e))?;
        entry
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| js_error("decode state", e)))
            .transpose()
    }

    /// Starts the writer of `pool`'s hand-over: it puts the latest value
    /// sent on the returned channel (values sent while a put is under way
    /// collapse into the newest), with `--ha` (a `fence`) as long as the
    /// term it came with is still this instance's, so a deposed leader
    /// does not overwrite its successor's. It ends when the sender is
    /// dropped.
    pub fn writer(&self, pool: &str, fence: Option<Fence>) -> watch::Sender<Pending> {
        let (tx, mut rx) = watch::channel::<Pending>(None);
        let (kv, pool) = (self.kv.clone(), pool.to_string());
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let Some((term, h)) = rx.borrow_and_update().clone() else {
                    continue;
                };
                if fence.as_ref().is_some_and(|f| f.current() != Some(term)) {
                    continue;
                }
                let Ok(json) = serde_json::to_vec(&h) else {
                    continue;
                };
                match tokio::time::timeout(TIMEOUT, kv.put(&pool, Bytes::from(json))).await {
                    Ok(Ok(_)) => debug!(pool = %pool, drains = h.drains.len(), "state written"),
                    Ok(Err(e)) => warn!(pool = %pool, error = %e, "state not written"),
                    Err(_) => warn!(pool = %pool, "state not written: timed out"),
                }
            }
        });
        tx
    }
}
