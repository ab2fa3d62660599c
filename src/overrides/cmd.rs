//! `jetpool pause|resume|pin|unpin POOL`: write one key of the overrides
//! bucket. Every jetpool instance following the bucket applies the change
//! at once (the pool's loop wakes for it) and keeps it across restarts.

use jiff::Timestamp;

use super::store::{DEFAULT_BUCKET, Kind, OverrideStore};
use crate::error::{Error, Result};
use crate::nats::NatsArgs;
use crate::policy::{Override, Pin, Stamp};

/// Which pool, and where its overrides are kept.
#[derive(Debug, Clone, clap::Args)]
pub struct PoolTarget {
    /// The pool's name.
    pub pool: String,
    /// NATS connection (the one jetpool uses).
    #[command(flatten)]
    pub nats: NatsArgs,
    /// The key-value bucket holding runtime overrides (as `jetpool run
    /// --overrides-bucket`).
    #[arg(long, env = "JETPOOL_OVERRIDES_BUCKET", default_value = DEFAULT_BUCKET)]
    pub bucket: String,
}

/// Arguments of `jetpool pause`.
#[derive(Debug, Clone, clap::Args)]
pub struct PauseArgs {
    /// The pool.
    #[command(flatten)]
    pub target: PoolTarget,
    /// Why, shown on the status page and by `jetpool explain`.
    #[arg(long)]
    pub reason: Option<String>,
}

/// Arguments of `jetpool pin`.
#[derive(Debug, Clone, clap::Args)]
pub struct PinArgs {
    /// The pool.
    #[command(flatten)]
    pub target: PoolTarget,
    /// How many agents it runs (still within its min and max).
    pub replicas: u32,
    /// Why, shown on the status page and by `jetpool explain`.
    #[arg(long)]
    pub reason: Option<String>,
}

/// What a command does to the pool's override.
enum Act {
    Pause(Option<String>),
    Resume,
    Pin(u32, Option<String>),
    Unpin,
}

/// `jetpool pause POOL`: hold the pool's count.
pub async fn pause(args: PauseArgs) -> i32 {
    report(run(&args.target, Act::Pause(args.reason)).await)
}

/// `jetpool resume POOL`: undo a pause.
pub async fn resume(args: PoolTarget) -> i32 {
    report(run(&args, Act::Resume).await)
}

/// `jetpool pin POOL N`: fix the pool's count.
pub async fn pin(args: PinArgs) -> i32 {
    report(run(&args.target, Act::Pin(args.replicas, args.reason)).await)
}

/// `jetpool unpin POOL`: undo a pin.
pub async fn unpin(args: PoolTarget) -> i32 {
    report(run(&args, Act::Unpin).await)
}

fn report(r: Result<String>) -> i32 {
    match r {
        Ok(msg) => {
            println!("{msg}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

async fn run(t: &PoolTarget, act: Act) -> Result<String> {
    let pool = t.pool.as_str();
    if !crate::policy::is_plain_name(pool) {
        return Err(Error::Usage(format!(
            "`{pool}` is not a pool name (letters, digits, `-` and `_`, at most 64)"
        )));
    }
    let client = t.nats.connect("jetpool-ctl").await?;
    let store = OverrideStore::open(client.clone(), &t.bucket).await?;
    let before = store.get(pool).await?;
    let stamp = |reason| Stamp {
        at: Timestamp::now(),
        by: operator(),
        reason,
    };
    let msg = match act {
        Act::Pause(reason) => {
            store.pause(pool, &stamp(reason)).await?;
            let mut m = format!(
                "paused pool {pool}: every jetpool instance holds its count from its next tick (`jetpool resume {pool}` undoes it)"
            );
            if let Some(p) = &before.pinned {
                m.push_str(&format!(
                    "\nnote: {pool} is also pinned at {}; the pin wins until `jetpool unpin {pool}`",
                    p.replicas
                ));
            }
            m
        }
        Act::Resume if before.paused.is_none() => format!("pool {pool} was not paused"),
        Act::Resume => {
            store.clear(pool, Kind::Paused).await?;
            format!("resumed pool {pool}: it scales again from its next tick")
        }
        Act::Pin(replicas, reason) => {
            let pin = Pin {
                replicas,
                stamp: stamp(reason),
            };
            store.pin(pool, &pin).await?;
            format!(
                "pinned pool {pool} at {replicas} (within its min and max) from its next tick (`jetpool unpin {pool}` undoes it)"
            )
        }
        Act::Unpin if before.pinned.is_none() => format!("pool {pool} was not pinned"),
        Act::Unpin => {
            store.clear(pool, Kind::Pinned).await?;
            let after = Override {
                pinned: None,
                ..before
            };
            if after.paused.is_some() {
                format!("unpinned pool {pool}; it is still paused (`jetpool resume {pool}`)")
            } else {
                format!("unpinned pool {pool}: it scales again from its next tick")
            }
        }
    };
    // Written acknowledged by the server; flush so nothing is cut short.
    let _ = client.flush().await;
    Ok(msg)
}

/// `user@host` of whoever runs the command, when known.
fn operator() -> Option<String> {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty());
    match (user, host) {
        (Some(u), Some(h)) => Some(format!("{u}@{h}")),
        (u, h) => u.or(h),
    }
}
