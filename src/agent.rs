//! `jetpool agent`: the reference agent, a JetStream pull-consumer worker.
//! It fetches only as many tasks as it has free slots, simulates each
//! task's work, acknowledges it, and on SIGTERM stops fetching, finishes
//! what it holds and exits 0, so a scale-in loses nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::PullConsumer};
use futures::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, error, info, warn};

use crate::error::{Error, Result};
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
    /// Work per task when the payload has no `work_ms`.
    #[arg(long, default_value = "100ms", value_parser = crate::config::parse_duration)]
    pub work: Duration,
    /// Tasks worked on at once.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub concurrency: u32,
    /// Agent id (jetpool sets `JETPOOL_AGENT_ID` to the container name).
    #[arg(long, env = "JETPOOL_AGENT_ID")]
    pub id: Option<String>,
    /// Pool name (jetpool sets `JETPOOL_POOL`).
    #[arg(long, env = "JETPOOL_POOL")]
    pub pool: Option<String>,
    /// NATS connection.
    #[command(flatten)]
    pub nats: NatsArgs,
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

/// The task payload fields the reference agent understands.
#[derive(Debug, serde::Deserialize)]
struct Task {
    /// Simulated work in milliseconds.
    work_ms: Option<u64>,
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
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Looks up the consumer, waiting (up to `patience`) for it to be created:
/// an agent may start before its consumer exists.
async fn consumer(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
    patience: Duration,
) -> Result<PullConsumer> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match js.get_consumer_from_stream(name, stream).await {
            Ok(c) => return Ok(c),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::JetStream {
                    op: "get consumer",
                    reason: format!("{stream}/{name}: {e}"),
                });
            }
            Err(e) => {
                debug!(error = %e, "consumer not ready yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Works tasks until `stop` turns true, then finishes what it holds.
pub async fn run(
    args: &AgentArgs,
    client: async_nats::Client,
    stop: watch::Receiver<bool>,
) -> Result<Summary> {
    let counters = Arc::new(Counters::default());
    run_with(args, client, stop, counters).await
}

/// [`run`] with caller-owned counters (the protocol layer reports them).
pub async fn run_with(
    args: &AgentArgs,
    client: async_nats::Client,
    mut stop: watch::Receiver<bool>,
    counters: Arc<Counters>,
) -> Result<Summary> {
    let js = jetstream::new(client.clone());
    let mut consumer = consumer(&js, &args.stream, &args.consumer, Duration::from_secs(30)).await?;
    let ack_wait = consumer
        .info()
        .await
        .map(|i| i.config.ack_wait)
        .unwrap_or(Duration::from_secs(30));
    let slots = Arc::new(Semaphore::new(args.concurrency as usize));
    let mut work: JoinSet<()> = JoinSet::new();
    info!(stream = %args.stream, consumer = %args.consumer, concurrency = args.concurrency,
          id = args.id.as_deref().unwrap_or("-"), "agent started");
    'fetching: loop {
        while work.try_join_next().is_some() {}
        if *stop.borrow() {
            break;
        }
        // Fetch only when a slot is free: a task fetched but not started
        // would sit ack-pending in this process and be lost with it.
        let first = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.wait_for(|&v| v) => break,
        };
        let free = 1 + slots.available_permits();
        let batch = consumer
            .fetch()
            .max_messages(free)
            .expires(Duration::from_secs(1))
            .messages()
            .await;
        let mut batch = match batch {
            Ok(b) => b,
            Err(e) => {
                warn!(error = %e, "fetch failed; retrying");
                drop(first);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {},
                    _ = stop.wait_for(|&v| v) => break,
                }
                continue;
            }
        };
        let mut first = Some(first);
        // The batch is always read to its end, even after SIGTERM: messages
        // the server already sent us must be worked, not abandoned.
        while let Some(next) = batch.next().await {
            let msg = match next {
                Ok(m) => m,
                Err(e) => {
                    debug!(error = %e, "batch ended early");
                    break;
                }
            };
            let permit = match first.take() {
                Some(p) => p,
                None => match slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break 'fetching,
                },
            };
            let default_work = args.work;
            let c = counters.clone();
            c.in_flight.fetch_add(1, Ordering::Relaxed);
            work.spawn(async move {
                let ok = work_one(&msg, default_work, ack_wait).await;
                c.in_flight.fetch_sub(1, Ordering::Relaxed);
                if ok {
                    c.completed.fetch_add(1, Ordering::Relaxed);
                } else {
                    c.failed.fetch_add(1, Ordering::Relaxed);
                }
                drop(permit);
            });
        }
    }
    info!(
        in_flight = counters.in_flight.load(Ordering::Relaxed),
        "stopped fetching; finishing held tasks"
    );
    while work.join_next().await.is_some() {}
    if let Err(e) = client.flush().await {
        warn!(error = %e, "flush before exit failed");
    }
    Ok(Summary {
        completed: counters.completed.load(Ordering::Relaxed),
        failed: counters.failed.load(Ordering::Relaxed),
    })
}

/// Works one task: sleeps its `work_ms`, sending in-progress acks so a task
/// longer than AckWait is not redelivered, then acknowledges it (waiting
/// for the server's confirmation, so an exit right after loses nothing).
async fn work_one(msg: &jetstream::Message, default_work: Duration, ack_wait: Duration) -> bool {
    let work = serde_json::from_slice::<Task>(&msg.payload)
        .ok()
        .and_then(|t| t.work_ms)
        .map_or(default_work, Duration::from_millis);
    let progress_every = (ack_wait / 2).max(Duration::from_millis(100));
    let done = tokio::time::sleep(work);
    tokio::pin!(done);
    let mut progress =
        tokio::time::interval_at(tokio::time::Instant::now() + progress_every, progress_every);
    loop {
        tokio::select! {
            _ = &mut done => break,
            _ = progress.tick() => {
                if let Err(e) = msg.ack_with(AckKind::Progress).await {
                    warn!(error = %e, "in-progress ack failed");
                }
            }
        }
    }
    for attempt in 1..=5u32 {
        match msg.double_ack().await {
            Ok(()) => return true,
            Err(e) => {
                warn!(error = %e, attempt, "ack not confirmed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
        }
    }
    error!("ack never confirmed; the task will be redelivered after AckWait");
    false
}
