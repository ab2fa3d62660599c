//! The lease's edge: the bucket (made here when missing, `max_age` = the
//! lease, one value per key) and the task that runs the [`Elector`],
//! sending its creates and renewals and publishing the lease to the
//! [`Fence`]s of the pool loops.

use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{info, warn};

use super::core::{Created, Elector, Renewed, Step, Timing};
use super::{Fence, Term};
use crate::error::{Error, Result};

/// The bucket's name unless `--ha-bucket` says otherwise.
pub const DEFAULT_BUCKET: &str = "jetpool_leader";

/// The one key of the bucket; its value is the holder's instance id.
const KEY: &str = "leader";

fn js_error(op: &'static str, e: impl std::fmt::Display) -> Error {
    Error::JetStream {
        op,
        reason: e.to_string(),
    }
}

/// One instance's candidacy: the elector and the bucket it talks to.
pub struct Lease {
    /// The bucket.
    kv: kv::Store,
    /// The pure state machine.
    elector: Elector,
    /// The origin of the elector's time.
    origin: Instant,
    /// Where the lease is published for the fences.
    tx: watch::Sender<Option<Term>>,
    /// This instance's id: the key's value while it leads.
    instance: String,
}

impl Lease {
    /// Opens `bucket` (creating it with `max_age = lease`), and returns the
    /// candidacy, not yet running, with the fence the pool loops consult.
    /// A bucket made with another lease is refused: instances with
    /// different leases would break the argument of the module doc.
    pub async fn open(
        client: async_nats::Client,
        bucket: &str,
        lease: Duration,
        instance: &str,
    ) -> Result<(Lease, Fence)> {
        let js = jetstream::new(client);
        // Made by the key-value conventions rather than with
        // `create_key_value`, as the overrides bucket is (that call reads
        // account info this client cannot parse from a 2.9 server).
        let mut stream = js
            .get_or_create_stream(jetstream::stream::Config {
                max_age: lease,
                ..crate::nats::kv_bucket_stream(
                    bucket,
                    "jetpool leader lease (--ha): key `leader`",
                    1,
                )
            })
            .await
            .map_err(|e| js_error("create leader bucket", e))?;
        let info = stream
            .info()
            .await
            .map_err(|e| js_error("leader bucket info", e))?;
        if info.config.max_age != lease {
            return Err(Error::JetStream {
                op: "open leader bucket",
                reason: format!(
                    "bucket {bucket} leases for {:?} but --ha-lease is {lease:?}; every instance must use the same lease",
                    info.config.max_age
                ),
            });
        }
        let kv = js
            .get_key_value(bucket)
            .await
            .map_err(|e| js_error("open leader bucket", e))?;
        let (tx, rx) = watch::channel(None);
        let origin = Instant::now();
        let lease = Lease {
            kv,
            elector: Elector::new(Timing::new(lease), Duration::ZERO),
            origin,
            tx,
            instance: instance.to_string(),
        };
        Ok((lease, Fence::new(rx, instance)))
    }

    /// Runs the election until `shutdown` resolves, then stops leading and
    /// deletes the key if it holds it, so a standby takes over at once.
    /// Give it a `shutdown` that resolves once the pool loops have
    /// stopped, so nothing acts after the release.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        crate::telemetry::leader(false);
        let mut leading = false;
        loop {
            let now = self.origin.elapsed();
            match self.elector.next(now) {
                Step::Wait { until } => {
                    tokio::select! {
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep_until(self.origin + until) => {}
                    }
                }
                Step::Create => {
                    let outcome = self.create().await;
                    self.elector.created(now, outcome, self.origin.elapsed());
                }
                Step::Renew { revision } => {
                    let outcome = self.renew(revision).await;
                    self.elector.renewed(now, outcome, self.origin.elapsed());
                }
            }
            leading = self.publish(leading);
        }
        self.release().await;
    }

    /// Publishes the lease and logs and counts a change of role; returns
    /// whether it leads now.
    fn publish(&self, was: bool) -> bool {
        let held = self.elector.held().map(|h| Term {
            number: h.term,
            until: self.origin + h.deadline,
        });
        self.tx.send_if_modified(|t| {
            let changed = *t != held;
            *t = held;
            changed
        });
        let now = self.elector.leading(self.origin.elapsed());
        match (was, now) {
            (false, Some(h)) => {
                info!(instance = %self.instance, term = h.term, "leading: this jetpool holds the lease and acts");
                crate::telemetry::leader(true);
            }
            (true, None) => {
                warn!(instance = %self.instance, "following: the lease lapsed or was taken; acting stops");
                crate::telemetry::leader(false);
            }
            _ => {}
        }
        now.is_some()
    }

    /// Tries to create the key.
    async fn create(&self) -> Created {
        let value = Bytes::from(self.instance.clone());
        let timeout = self.elector.timing().request_timeout();
        match tokio::time::timeout(timeout, self.kv.create(KEY, value)).await {
            Ok(Ok(revision)) => Created::Ok { revision },
            Ok(Err(e)) if e.kind() == kv::CreateErrorKind::AlreadyExists => {
                match self.ours().await {
                    Some(revision) => Created::Unconfirmed { revision },
                    None => Created::Taken,
                }
            }
            Ok(Err(e)) => {
                warn!(error = %e, "leader lease: create failed");
                Created::Failed
            }
            Err(_) => Created::Failed,
        }
    }

    /// Renews the key, compare-and-set on `revision`.
    async fn renew(&self, revision: u64) -> Renewed {
        let value = Bytes::from(self.instance.clone());
        let timeout = self.elector.timing().request_timeout();
        match tokio::time::timeout(timeout, self.kv.update(KEY, value, revision)).await {
            Ok(Ok(revision)) => Renewed::Ok { revision },
            Ok(Err(e)) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                match self.ours().await {
                    Some(revision) => Renewed::Unconfirmed { revision },
                    None => Renewed::Lost,
                }
            }
            Ok(Err(e)) => {
                warn!(error = %e, "leader lease: renewal failed");
                Renewed::Failed
            }
            Err(_) => Renewed::Failed,
        }
    }

    /// The key's revision if it holds this instance's id: a write of ours
    /// whose answer was lost.
    async fn ours(&self) -> Option<u64> {
        let timeout = self.elector.timing().request_timeout();
        let entry = tokio::time::timeout(timeout, self.kv.entry(KEY))
            .await
            .ok()?
            .ok()??;
        (entry.operation == kv::Operation::Put && entry.value == self.instance.as_bytes())
            .then_some(entry.revision)
    }

    /// Stops leading, then deletes the key if this instance still holds it.
    async fn release(&mut self) {
        self.tx.send_replace(None);
        crate::telemetry::leader(false);
        let Some(revision) = self.elector.revision() else {
            return;
        };
        let timeout = self.elector.timing().request_timeout();
        let released = self.kv.delete_expect_revision(KEY, Some(revision));
        match tokio::time::timeout(timeout, released).await {
            Ok(Ok(())) => info!(instance = %self.instance, "lease released"),
            _ => info!(instance = %self.instance, "lease not released; it lapses on its own"),
        }
    }
}
