//! Leadership for `jetpool run --ha`: several instances watch the same
//! pools, and one of them, the holder of a lease in a JetStream key-value
//! bucket, acts. The others observe (decide and publish `/status`, act on
//! nothing), so the one that takes over starts with warm estimates and
//! the roster it has watched.
//!
//! - [`core`]: the pure state machine (follower, leader), time passed in.
//! - [`kv`]: the bucket edge and the task that runs the state machine.
//! - [`Fence`] and [`Ticket`]: what the pool loops consult before acting.
//! - [`state`] and [`store`]: what a leader hands over to the next one
//!   (drains under way with their deadlines, the estimates) and the bucket
//!   that keeps it.
//!
//! # The lease
//! nats-server 2.9 has no per-key TTL, so the bucket's `max_age` is the
//! lease and it keeps one value per key. An instance takes the lead by
//! creating the key (refused while it exists), and renews it every third
//! of the lease by a compare-and-set on the revision it last wrote. The
//! revision of the create names the term and is the fencing token.
//!
//! # Why two never act at once
//! A leader acts only while `now < deadline`, where `deadline` is the
//! time it *sent* its last successful write plus the lease less a margin
//! (a fifth of the lease). The server wrote that value at or after the
//! send, so the key lives on the server at least until `sent + lease`: the
//! leader stops at least `margin` before the key can expire. Nobody else
//! can create the key while it lives, and a new leader leads only once its
//! create is answered, after the expiry. A renewal that lands late cannot
//! revive a deposed leader: it is refused unless the key still holds the
//! revision that leader wrote, and then nobody else has led in between.
//! The margin covers the time between an act's fence check and the Docker
//! call it admits, and a small difference in the rates of the two clocks
//! (jetpool's monotonic clock, the server's expiry timer); a jump of the
//! server's wall clock is not covered. Every act checks the token just
//! before its Docker or drain call ([`Ticket::admit`]), and the pool loop
//! does not plan acts without it. `core_tests.rs` checks the argument
//! with two instances, arbitrary delays and lost answers.
//!
//! All instances must use the same lease: the bucket is made with the
//! first one's, and an instance whose `--ha-lease` differs refuses to
//! start.

pub mod core;
pub mod kv;
pub mod state;
pub mod store;

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tracing::info;

pub use kv::{DEFAULT_BUCKET, Lease};
pub use state::Handover;
pub use store::{DEFAULT_STATE_BUCKET, StateStore};

/// The flags of `jetpool run` for high availability.
#[derive(Debug, Clone, clap::Args)]
pub struct HaArgs {
    /// Run as one of several instances: the holder of a lease in a
    /// JetStream key-value bucket acts, the others observe and take over
    /// when it lapses.
    #[arg(long = "ha", env = "JETPOOL_HA")]
    pub ha: bool,
    /// The lease's key-value bucket; created when missing.
    #[arg(long = "ha-bucket", env = "JETPOOL_HA_BUCKET", default_value = DEFAULT_BUCKET)]
    pub ha_bucket: String,
    /// How long a leader's lease lasts unless renewed (renewed every
    /// third of it); the same for every instance.
    #[arg(long = "ha-lease", env = "JETPOOL_HA_LEASE", default_value = "5s", value_parser = crate::config::parse_duration)]
    pub ha_lease: Duration,
    /// The key-value bucket where the acting jetpool keeps, per pool, the
    /// drains under way and what it learned (the measured cold start
    /// among it) for a successor or its own restart; created when missing.
    #[arg(
        long = "state-bucket",
        value_name = "NAME",
        alias = "ha-state-bucket",
        env = "JETPOOL_STATE_BUCKET",
        default_value = DEFAULT_STATE_BUCKET
    )]
    pub ha_state_bucket: String,
    /// Keep nothing in the state bucket (without `--ha` only): a restart
    /// then starts from zero knowledge, and sizes its first surge for an
    /// assumed cold start.
    #[arg(long = "no-state", env = "JETPOOL_NO_STATE", conflicts_with = "ha")]
    pub no_state: bool,
}

impl HaArgs {
    /// Joins the election when `--ha` is set: the candidacy to run and the
    /// fence for the pool loops and `/status`.
    pub async fn join(&self, client: &async_nats::Client) -> crate::Result<Option<(Lease, Fence)>> {
        if !self.ha {
            return Ok(None);
        }
        let instance = format!(
            "jetpool-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        info!(bucket = %self.ha_bucket, lease = ?self.ha_lease, instance = %instance,
              "high availability: observing until this instance holds the lease");
        Lease::open(client.clone(), &self.ha_bucket, self.ha_lease, &instance)
            .await
            .map(Some)
    }
}

impl HaArgs {
    /// The hand-over bucket. With `--ha` it is required: a follower that
    /// cannot read its leader's drains would cut them short. Without it,
    /// it is this jetpool's memory across its own restarts, which a pool
    /// can run without: a bucket that cannot be opened (no JetStream
    /// permission for it, say) is logged and skipped; `--no-state` or an
    /// empty bucket name skips it outright.
    pub async fn state(&self, client: &async_nats::Client) -> crate::Result<Option<StateStore>> {
        let opened = StateStore::open(client.clone(), &self.ha_state_bucket);
        if self.ha {
            return opened.await.map(Some);
        }
        if self.no_state || self.ha_state_bucket.is_empty() {
            return Ok(None);
        }
        match opened.await {
            Ok(store) => Ok(Some(store)),
            Err(e) => {
                tracing::warn!(bucket = %self.ha_state_bucket, error = %e,
                    "the state bucket was not opened: a restart will start from zero knowledge (--no-state silences this)");
                Ok(None)
            }
        }
    }
}

/// The lease as the elector last published it: the term and the local
/// deadline, `None` while following.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// The term's number (the key's revision at its creation).
    pub number: u64,
    /// Until when this instance may act, unless renewed.
    pub until: Instant,
}

/// The read side of the lease, cloned into every pool loop. It compares
/// the published deadline with the clock itself, so a stuck elector task
/// cannot keep an instance acting past its lease.
#[derive(Debug, Clone)]
pub struct Fence {
    /// The lease, as the elector last published it.
    rx: watch::Receiver<Option<Term>>,
    /// This instance's id, for the log of acts.
    instance: std::sync::Arc<str>,
}

impl Fence {
    /// A fence over `rx`, for the instance `instance`.
    pub fn new(rx: watch::Receiver<Option<Term>>, instance: &str) -> Self {
        Fence {
            rx,
            instance: instance.into(),
        }
    }

    /// The current term, if this instance leads now.
    pub fn current(&self) -> Option<u64> {
        let now = Instant::now();
        self.rx.borrow().filter(|t| now < t.until).map(|t| t.number)
    }

    /// `"leader"` or `"follower"`, for `/status`.
    pub fn role(&self) -> &'static str {
        if self.current().is_some() {
            "leader"
        } else {
            "follower"
        }
    }

    /// A ticket for acts planned now: it admits them only within the
    /// current term.
    pub fn ticket(&self) -> Ticket {
        Ticket(Some((self.clone(), self.current())))
    }
}

/// What an act carries to its Docker or agent call: the term it was planned
/// in. Without `--ha` it admits everything.
#[derive(Debug, Clone, Default)]
pub struct Ticket(Option<(Fence, Option<u64>)>);

impl Ticket {
    /// A ticket that admits every act (no `--ha`).
    pub fn free() -> Self {
        Ticket(None)
    }

    /// Whether `what` (`start`, `stop`, `remove`, `drain`, ...) on `agent`
    /// of `pool` may run now: the term it was planned in is still this
    /// instance's, and its deadline has not passed. Under `--ha`, each
    /// admitted act is logged (`acting`) with the instance and the time,
    /// which is how the failover test proves no two instances overlap.
    pub fn admit(&self, what: &'static str, pool: &str, agent: &str) -> bool {
        let Some((fence, term)) = &self.0 else {
            return true;
        };
        match (*term, fence.current()) {
            (Some(planned), Some(now)) if planned == now => {
                let at_ms = jiff::Timestamp::now().as_millisecond();
                info!(instance = %fence.instance, term = planned, action = what, pool, agent, at_ms, "acting");
                true
            }
            _ => {
                info!(instance = %fence.instance, action = what, pool, agent, "not acting: the lease was lost");
                false
            }
        }
    }
}

/// Why an act did not run: the lease it was planned under is gone.
pub const NOT_LEADER: &str = "not run: this jetpool no longer holds the lease";
