//! The overrides bucket: one key per pool and kind, `<pool>.paused` and
//! `<pool>.pinned`, each holding a small JSON value ([`Stamp`], [`Pin`]).
//! Two keys rather than one record per pool, so `pause` and `pin` never
//! read-modify-write each other's state, and `resume` is a delete.
//!
//! Values written by hand are accepted where the meaning is plain: any
//! value under `<pool>.paused` pauses (the key's presence is the pause),
//! and a bare number under `<pool>.pinned` pins, so
//! `nats kv put jetpool-overrides checkout.pinned 3` works too.

use std::collections::HashMap;

use async_nats::jetstream::{self, kv};
use futures::{Stream, StreamExt, TryStreamExt};
use jiff::Timestamp;
use tracing::warn;

use crate::error::{Error, Result};
use crate::policy::{Override, Pin, Stamp};

/// The bucket's name unless `--overrides-bucket` says otherwise.
pub const DEFAULT_BUCKET: &str = "jetpool-overrides";

/// How many past values each key keeps: `nats kv history` then shows who
/// paused and resumed a pool, and when.
const HISTORY: i64 = 10;

/// The two kinds of control, each one key per pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `<pool>.paused`.
    Paused,
    /// `<pool>.pinned`.
    Pinned,
}

impl Kind {
    /// The key's last token.
    fn suffix(self) -> &'static str {
        match self {
            Kind::Paused => "paused",
            Kind::Pinned => "pinned",
        }
    }

    /// The key of this kind for `pool`.
    pub fn key(self, pool: &str) -> String {
        format!("{pool}.{}", self.suffix())
    }
}

/// Splits a key into its pool and kind; `None` for keys that are not ours.
fn parse_key(key: &str) -> Option<(&str, Kind)> {
    let (pool, kind) = key.rsplit_once('.')?;
    let kind = match kind {
        "paused" => Kind::Paused,
        "pinned" => Kind::Pinned,
        _ => return None,
    };
    crate::policy::is_plain_name(pool).then_some((pool, kind))
}

/// One key's new state, as read from the bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The pool it is about.
    pub pool: String,
    /// The new value of that pool's control.
    value: Value,
}

#[derive(Debug, Clone, PartialEq)]
enum Value {
    Paused(Option<Stamp>),
    Pinned(Option<Pin>),
}

impl Change {
    /// Applies the change to the pool's override.
    pub fn apply(&self, o: &mut Override) {
        match &self.value {
            Value::Paused(v) => o.paused = v.clone(),
            Value::Pinned(v) => o.pinned = v.clone(),
        }
    }

    /// Decodes a key's value; `None` for foreign keys and unreadable pins.
    fn decode(key: &str, value: Option<&[u8]>, written: Timestamp) -> Option<Change> {
        let (pool, kind) = parse_key(key)?;
        let value = match (kind, value) {
            (Kind::Paused, None) => Value::Paused(None),
            (Kind::Pinned, None) => Value::Pinned(None),
            (Kind::Paused, Some(bytes)) => {
                Value::Paused(Some(serde_json::from_slice(bytes).unwrap_or(Stamp {
                    at: written,
                    by: None,
                    reason: None,
                })))
            }
            (Kind::Pinned, Some(bytes)) => Value::Pinned(Some(decode_pin(bytes, written)?)),
        };
        Some(Change {
            pool: pool.to_string(),
            value,
        })
    }
}

fn decode_pin(bytes: &[u8], written: Timestamp) -> Option<Pin> {
    if let Ok(pin) = serde_json::from_slice::<Pin>(bytes) {
        return Some(pin);
    }
    match std::str::from_utf8(bytes).ok()?.trim().parse::<u32>() {
        Ok(replicas) => Some(Pin {
            replicas,
            stamp: Stamp {
                at: written,
                by: None,
                reason: None,
            },
        }),
        Err(_) => {
            warn!(value = %String::from_utf8_lossy(bytes), "ignoring an unreadable pin in the overrides bucket (want a count or {{\"replicas\": N}})");
            None
        }
    }
}

/// When a bucket entry was written, as a timestamp.
fn written(e: &kv::Entry) -> Timestamp {
    let nanos = e.created.unix_timestamp_nanos();
    Timestamp::from_nanosecond(nanos).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn js_error(op: &'static str, e: impl std::fmt::Display) -> Error {
    Error::JetStream {
        op,
        reason: e.to_string(),
    }
}

/// The overrides bucket.
#[derive(Clone)]
pub struct OverrideStore {
    /// The bucket.
    kv: kv::Store,
}

impl OverrideStore {
    /// Opens `bucket`, creating it when it does not exist yet (an operator
    /// may create it beforehand, with replicas in a cluster).
    pub async fn open(client: async_nats::Client, bucket: &str) -> Result<Self> {
        let js = jetstream::new(client);
        if let Ok(kv) = js.get_key_value(bucket).await {
            return Ok(OverrideStore { kv });
        }
        // The bucket's stream is made here by the key-value conventions
        // (ADR-8) rather than with `create_key_value`: that one first reads
        // the account info, which this client cannot parse from a 2.9
        // server.
        js.get_or_create_stream(crate::nats::kv_bucket_stream(
            bucket,
            "jetpool runtime overrides: <pool>.paused, <pool>.pinned",
            HISTORY,
        ))
        .await
        .map_err(|e| js_error("create overrides bucket", e))?;
        let kv = js
            .get_key_value(bucket)
            .await
            .map_err(|e| js_error("open overrides bucket", e))?;
        Ok(OverrideStore { kv })
    }

    /// Every pool's override.
    pub async fn load(&self) -> Result<HashMap<String, Override>> {
        let keys: Vec<String> = self
            .kv
            .keys()
            .await
            .map_err(|e| js_error("list overrides", e))?
            .try_collect()
            .await
            .map_err(|e| js_error("list overrides", e))?;
        let mut all: HashMap<String, Override> = HashMap::new();
        for key in keys {
            let entry = self
                .kv
                .entry(key.clone())
                .await
                .map_err(|e| js_error("read override", e))?;
            let Some(entry) = entry.filter(|e| e.operation == kv::Operation::Put) else {
                continue;
            };
            if let Some(c) = Change::decode(&key, Some(&entry.value), written(&entry)) {
                c.apply(all.entry(c.pool.clone()).or_default());
            }
        }
        all.retain(|_, o| !o.is_empty());
        Ok(all)
    }

    /// `pool`'s override.
    pub async fn get(&self, pool: &str) -> Result<Override> {
        let mut o = Override::default();
        for kind in [Kind::Paused, Kind::Pinned] {
            let key = kind.key(pool);
            let entry = self
                .kv
                .entry(key.clone())
                .await
                .map_err(|e| js_error("read override", e))?;
            if let Some(e) = entry.filter(|e| e.operation == kv::Operation::Put)
                && let Some(c) = Change::decode(&key, Some(&e.value), written(&e))
            {
                c.apply(&mut o);
            }
        }
        Ok(o)
    }

    /// Every change from each key's latest value on: the current state
    /// first, then each write and delete as it happens.
    pub async fn watch(&self) -> Result<impl Stream<Item = Result<Option<Change>>> + use<>> {
        let w = self
            .kv
            .watch_with_history(">")
            .await
            .map_err(|e| js_error("watch overrides", e))?;
        Ok(w.map(|entry| {
            let e = entry.map_err(|e| js_error("watch overrides", e))?;
            let value = (e.operation == kv::Operation::Put).then_some(&e.value[..]);
            Ok(Change::decode(&e.key, value, written(&e)))
        }))
    }

    /// Pauses `pool`.
    pub async fn pause(&self, pool: &str, stamp: &Stamp) -> Result<()> {
        self.put(Kind::Paused.key(pool), serde_json::to_vec(stamp))
            .await
    }

    /// Pins `pool`.
    pub async fn pin(&self, pool: &str, pin: &Pin) -> Result<()> {
        self.put(Kind::Pinned.key(pool), serde_json::to_vec(pin))
            .await
    }

    /// Clears one control of `pool`.
    pub async fn clear(&self, pool: &str, kind: Kind) -> Result<()> {
        self.kv
            .delete(kind.key(pool))
            .await
            .map_err(|e| js_error("delete override", e))
    }

    async fn put(&self, key: String, value: serde_json::Result<Vec<u8>>) -> Result<()> {
        let value = value.map_err(|e| js_error("encode override", e))?;
        self.kv
            .put(key, value.into())
            .await
            .map(|_| ())
            .map_err(|e| js_error("write override", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_a_plain_pool_and_a_kind() {
        assert_eq!(
            parse_key("checkout.paused"),
            Some(("checkout", Kind::Paused))
        );
        assert_eq!(parse_key("a-b_c.pinned"), Some(("a-b_c", Kind::Pinned)));
        assert_eq!(parse_key("checkout.other"), None);
        assert_eq!(parse_key("paused"), None);
        assert_eq!(parse_key("x.y.paused"), None);
        assert_eq!(Kind::Pinned.key("p"), "p.pinned");
    }

    #[test]
    fn hand_written_values_are_read_where_the_meaning_is_plain() {
        let t = Timestamp::UNIX_EPOCH;
        let mut o = Override::default();
        Change::decode("p.paused", Some(b"yes"), t)
            .unwrap()
            .apply(&mut o);
        assert_eq!(o.paused.as_ref().map(|s| s.at), Some(t));
        Change::decode("p.pinned", Some(b" 3\n"), t)
            .unwrap()
            .apply(&mut o);
        assert_eq!(o.pinned.as_ref().map(|p| p.replicas), Some(3));
        assert_eq!(Change::decode("p.pinned", Some(b"three"), t), None);
        Change::decode("p.paused", None, t).unwrap().apply(&mut o);
        Change::decode("p.pinned", None, t).unwrap().apply(&mut o);
        assert!(o.is_empty());
    }
}
