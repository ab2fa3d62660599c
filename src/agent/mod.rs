//! `jetpool agent`: the reference agent, a JetStream pull-consumer worker
//! that speaks the agent protocol ([`crate::protocol`]).
//!
//! It fetches only as many tasks as it has free slots, works each one
//! (simulated, or by running a command: `jetpool agent ... -- CMD ARGS`),
//! and acknowledges it. On a drain request or SIGTERM it stops fetching,
//! finishes and acks what it holds, reports `drained` and exits 0, so a
//! scale-in loses nothing. Started as standby it stays connected but idle
//! until jetpool activates it.

mod control;
mod fetch;
mod lookup;
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use control::{Identity, Mode};
use fetch::FetchLoop;
use lookup::consumer;
pub use worker::{Work, WorkMode};

use crate::error::Result;
use crate::nats::NatsArgs;

/// Arguments of `jetpool agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct AgentArgs {
    /// Stream the consumer belongs to.
    #[arg(long)]
    pub stream: String,
    /// Durable pull consumer to fetch from.
    #[arg(long)]
    pub consumer: String,
    /// Simulated work per task when the payload has no `work_ms` (ignored
    /// when a command is given).
    #[arg(long, default_value = "100ms", value_parser = crate::config::parse_duration)]
    pub work: Duration,
    /// How simulated work spends its time: `sleep` (waits, using no CPU),
    /// `cpu` (keeps one core busy for the task's duration, for the `cpu`
    /// trigger) or `memory` (holds `--work-memory-mb` for the task's
    /// duration, for the `memory` trigger).
    #[arg(long, env = "JETPOOL_WORK_MODE", value_enum, default_value_t = WorkMode::Sleep)]
    pub work_mode: WorkMode,
    /// Memory each task holds in `--work-mode memory`, in MiB.
    #[arg(long, env = "JETPOOL_WORK_MEMORY_MB", default_value_t = 64)]
    pub work_memory_mb: u64,
    /// Tasks worked on at once.
    #[arg(long, env = "JETPOOL_CONCURRENCY", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Agent id (jetpool sets `JETPOOL_AGENT_ID` to the container name).
    #[arg(long, env = "JETPOOL_AGENT_ID")]
    pub id: Option<String>,
    /// Pool name (jetpool sets `JETPOOL_POOL`); with an id, enables the
    /// agent protocol.
    #[arg(long, env = "JETPOOL_POOL")]
    pub pool: Option<String>,
    /// Start as a warm standby: connected, not fetching, until activated.
    #[arg(long, env = "JETPOOL_STANDBY", value_parser = clap::builder::FalseyValueParser::new())]
    pub standby: bool,
    /// How often to publish stats.
    #[arg(long, env = "JETPOOL_STATS_INTERVAL", default_value = "2s", value_parser = crate::config::parse_duration)]
    pub stats_interval: Duration,
    /// Take exactly one task, work it, ack or NAK it, and exit: 0 when it
    /// succeeded (or none came within `--once-wait`), 1 when it failed.
    /// What a job pool's container runs (`mode = "job"`).
    #[arg(long, env = "JETPOOL_ONCE", value_parser = clap::builder::FalseyValueParser::new())]
    pub once: bool,
    /// With `--once`: how long to wait for a task before exiting.
    #[arg(long, default_value = "30s", value_parser = crate::config::parse_duration)]
    pub once_wait: Duration,
    /// NATS connection.
    #[command(flatten)]
    pub nats: NatsArgs,
    /// Run this command once per task (payload on stdin; exit 0 acks,
    /// non-zero naks with back-off), given after `--`.
    #[arg(last = true)]
    pub command: Vec<String>,
}

impl AgentArgs {
    /// Minimal arguments for `stream`/`consumer`, defaults elsewhere.
    pub fn new(stream: &str, consumer: &str, nats_url: &str) -> Self {
        AgentArgs {
            stream: stream.into(),
            consumer: consumer.into(),
            work: Duration::from_millis(100),
            work_mode: WorkMode::Sleep,
            work_memory_mb: 64,
            concurrency: 1,
            id: None,
            pool: None,
            standby: false,
            stats_interval: Duration::from_secs(2),
            once: false,
            once_wait: Duration::from_secs(30),
            nats: NatsArgs::for_url(nats_url),
            command: Vec::new(),
        }
    }
}

/// Counters an agent keeps about its own work.
#[derive(Debug, Default)]
pub struct Counters {
    /// Tasks being worked on now.
    pub in_flight: AtomicU64,
    /// Tasks acknowledged.
    pub completed: AtomicU64,
    /// Tasks that failed (negatively acknowledged).
    pub failed: AtomicU64,
}

/// What an agent did, returned when it exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Tasks acknowledged.
    pub completed: u64,
    /// Tasks that failed.
    pub failed: u64,
}

/// Entry point of `jetpool agent`; returns the exit code.
pub async fn main(args: AgentArgs) -> i32 {
    crate::service::init_tracing(crate::service::LogFormat::Text);
    let client = match args.nats.connect("jetpool-agent").await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        crate::service::signals().await;
        let _ = tx.send(true);
    });
    match run(&args, client, rx).await {
        Ok(s) => {
            info!(
                completed = s.completed,
                failed = s.failed,
                "agent drained; exiting"
            );
            // A job's exit code is its task's outcome: jetpool counts it.
            i32::from(args.once && s.failed > 0)
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Works tasks until `stop` turns true (SIGTERM) or a drain request
/// arrives, then finishes what it holds and returns.
pub async fn run(
    args: &AgentArgs,
    client: async_nats::Client,
    mut stop: watch::Receiver<bool>,
) -> Result<Summary> {
    let counters = Arc::new(Counters::default());
    // Until the consumer is found the agent reports `starting`: jetpool
    // learns its capacity at once and measures its cold start to `ready`.
    let initial = if args.standby {
        Mode::Standby
    } else {
        Mode::Starting
    };
    // One mode, changed by the control requests and SIGTERM, read by the
    // fetch loop and the stats publisher.
    let (mode_tx, mode_rx) = watch::channel(initial);
    let mut side = JoinSet::new();
    let mut stats_task = None;
    if let (Some(pool), Some(id)) = (&args.pool, &args.id) {
        let who = Identity {
            pool: pool.clone(),
            id: id.clone(),
            capacity: u64::from(args.concurrency),
        };
        stats_task = Some(tokio::spawn(control::publish_stats(
            client.clone(),
            who.clone(),
            mode_rx.clone(),
            counters.clone(),
            args.stats_interval,
        )));
        let tx = mode_tx.clone();
        let c = counters.clone();
        let cl = client.clone();
        side.spawn(async move { control::serve_control(cl, who, tx, c).await });
    }
    // SIGTERM turns into a drain that cannot be cancelled.
    let tx = mode_tx.clone();
    side.spawn(async move {
        let _ = stop.wait_for(|&v| v).await;
        tx.send_modify(|m| {
            if *m != Mode::Drained {
                *m = Mode::Draining { resumable: false };
            }
        });
    });

    let work = if args.command.is_empty() {
        match args.work_mode {
            WorkMode::Sleep => Work::Simulate(args.work),
            WorkMode::Cpu => Work::Burn(args.work),
            WorkMode::Memory => Work::Hold(args.work, args.work_memory_mb),
        }
    } else {
        Work::Command(args.command.clone())
    };
    let js = jetstream::new(client.clone());
    // A stop before the consumer is found ends the agent at once: it holds
    // nothing yet, so there is nothing to drain.
    let mut early = mode_rx.clone();
    let lookup = consumer(&js, &args.stream, &args.consumer, Duration::from_secs(30));
    let consumer = tokio::select! {
        c = lookup => c?,
        _ = early.wait_for(|m| matches!(m, Mode::Draining { .. })) => {
            info!("stopped before the consumer was found; exiting");
            side.abort_all();
            return Ok(Summary { completed: 0, failed: 0 });
        }
    };
    mode_tx.send_if_modified(|m| {
        let starting = *m == Mode::Starting;
        if starting {
            *m = Mode::Active;
        }
        starting
    });
    let ack_wait = consumer.cached_info().config.ack_wait;
    info!(stream = %args.stream, consumer = %args.consumer, concurrency = args.concurrency,
          id = args.id.as_deref().unwrap_or("-"), standby = args.standby, "agent started");
    // One task at a time, and only one, for a job.
    let concurrency = if args.once { 1 } else { args.concurrency };
    let mut loop_ = FetchLoop {
        consumer,
        slots: Arc::new(Semaphore::new(concurrency as usize)),
        once: args
            .once
            .then(|| tokio::time::Instant::now() + args.once_wait),
        taken: 0,
        tasks: JoinSet::new(),
        counters: counters.clone(),
        work,
        ack_wait,
        mode: mode_rx,
    };
    loop_.run().await;
    mode_tx.send_replace(Mode::Drained);
    // Let the final `drained` report go out before exiting.
    if let Some(t) = stats_task {
        let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
    }
    if let Err(e) = client.flush().await {
        warn!(error = %e, "flush before exit failed");
    }
    side.abort_all();
    Ok(Summary {
        completed: counters.completed.load(Ordering::Relaxed),
        failed: counters.failed.load(Ordering::Relaxed),
    })
}
