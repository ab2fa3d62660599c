//! Working one task: either simulated (sleep for the payload's `work_ms`)
//! or by running a command with the payload on stdin. Either way the task
//! gets in-progress acks while it runs, so AckWait never redelivers work
//! that is still going, and a confirmed ack (or a delayed NAK) at the end.

use std::process::Stdio;
use std::time::Duration;

use async_nats::jetstream::{AckKind, Message};
use tokio::io::AsyncWriteExt;
use tracing::{debug, error, warn};

/// How simulated work spends its time (`jetpool agent --work-mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkMode {
    /// Sleep: the task takes time but no CPU.
    Sleep,
    /// Busy-loop: the task keeps one core busy for its duration.
    Cpu,
    /// Hold memory: the task keeps a block of memory written for its
    /// duration.
    Memory,
}

/// How a task is worked.
#[derive(Debug, Clone)]
pub enum Work {
    /// Sleep for the payload's `work_ms`, else this long.
    Simulate(Duration),
    /// Keep one core busy for the payload's `work_ms`, else this long.
    Burn(Duration),
    /// Hold this many MiB, every page written, for the payload's
    /// `work_ms`, else this long.
    Hold(Duration, u64),
    /// Run this program (and arguments) once per task, payload on stdin.
    Command(Vec<String>),
}

/// The payload fields the simulated worker understands.
#[derive(Debug, serde::Deserialize)]
struct Task {
    /// Simulated work in milliseconds.
    work_ms: Option<u64>,
    /// Simulated failure: the task fails on its first this many
    /// deliveries (and is NAKed), then succeeds.
    fail_deliveries: Option<u64>,
}

/// Works `msg` and acknowledges it; returns whether it succeeded.
pub async fn work_one(msg: &Message, work: &Work, ack_wait: Duration) -> bool {
    if let Ok(i) = msg.info() {
        debug!(
            stream_seq = i.stream_sequence,
            consumer_seq = i.consumer_sequence,
            delivered = i.delivered,
            "task started"
        );
    }
    let progress_every = (ack_wait / 2).max(Duration::from_millis(100));
    let mut progress =
        tokio::time::interval_at(tokio::time::Instant::now() + progress_every, progress_every);
    let job = run(msg, work);
    tokio::pin!(job);
    let outcome = loop {
        tokio::select! {
            r = &mut job => break r,
            _ = progress.tick() => {
                if let Err(e) = msg.ack_with(AckKind::Progress).await {
                    warn!(error = %e, "in-progress ack failed");
                }
            }
        }
    };
    debug!(ok = outcome.is_ok(), "task ended");
    match outcome {
        Ok(()) => confirm(msg).await,
        Err(why) => {
            let delay = nak_delay(msg);
            warn!(error = %why, retry_in = ?delay, "task failed; negatively acknowledged");
            // A NAK is not confirmed: if it is lost, AckWait redelivers the
            // task anyway, which is what a NAK asks for.
            if let Err(e) = msg.ack_with(AckKind::Nak(Some(delay))).await {
                warn!(error = %e, "NAK failed; the task is redelivered after AckWait");
            }
            false
        }
    }
}

/// Back-off before a failed task is redelivered: 1 s, doubling with each
/// delivery, at most 60 s.
fn nak_delay(msg: &Message) -> Duration {
    let delivered = msg.info().map(|i| i.delivered).unwrap_or(1).clamp(1, 7) as u32;
    Duration::from_secs(1u64 << (delivered - 1)).min(Duration::from_secs(60))
}

/// Acknowledges and waits for the server to confirm it, retrying a few
/// times: an exit right after must not lose the ack.
async fn confirm(msg: &Message) -> bool {
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

async fn run(msg: &Message, work: &Work) -> Result<(), String> {
    match work {
        Work::Simulate(default) => {
            tokio::time::sleep(duration(msg, *default)).await;
            simulated_failure(msg)
        }
        Work::Burn(default) => {
            let d = duration(msg, *default);
            // On a blocking thread: a busy loop on a runtime worker would
            // starve the agent's reports and in-progress acks.
            tokio::task::spawn_blocking(move || burn(d))
                .await
                .map_err(|e| format!("busy loop failed: {e}"))?;
            simulated_failure(msg)
        }
        Work::Hold(default, mib) => {
            let d = duration(msg, *default);
            // Written, not just allocated: untouched pages are not resident
            // and would not show in the container's memory use.
            let bytes = usize::try_from(mib.saturating_mul(1 << 20))
                .map_err(|_| format!("{mib} MiB does not fit in memory"))?;
            let held = vec![1u8; bytes];
            tokio::time::sleep(d).await;
            std::hint::black_box(&held);
            drop(held);
            simulated_failure(msg)
        }
        Work::Command(argv) => run_command(msg, argv).await,
    }
}

/// The payload's `work_ms`, else `default`.
fn duration(msg: &Message, default: Duration) -> Duration {
    serde_json::from_slice::<Task>(&msg.payload)
        .ok()
        .and_then(|t| t.work_ms)
        .map_or(default, Duration::from_millis)
}

/// The payload's `fail_deliveries`: the task fails (and is NAKed) on its
/// first that many deliveries, for tests of retries.
fn simulated_failure(msg: &Message) -> Result<(), String> {
    let fail = serde_json::from_slice::<Task>(&msg.payload)
        .ok()
        .and_then(|t| t.fail_deliveries);
    let delivered = msg.info().map(|i| i.delivered).unwrap_or(1);
    match fail {
        Some(n) if u64::try_from(delivered).unwrap_or(0) <= n => Err(format!(
            "simulated failure (delivery {delivered} of the first {n})"
        )),
        _ => Ok(()),
    }
}

/// Keeps this thread's core busy for `d`.
fn burn(d: Duration) {
    let until = std::time::Instant::now() + d;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while std::time::Instant::now() < until {
        for _ in 0..10_000 {
            // An xorshift step the optimiser cannot remove (black_box).
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
        }
        std::hint::black_box(x);
    }
}

async fn run_command(msg: &Message, argv: &[String]) -> Result<(), String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("no command given".into());
    };
    let deliveries = msg.info().map(|i| i.delivered).unwrap_or(1);
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .env("JETPOOL_TASK_SUBJECT", msg.subject.as_str())
        .env("JETPOOL_TASK_DELIVERIES", deliveries.to_string())
        .stdin(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its stdin closes the pipe early;
        // that is its choice, not a failure of the task.
        let _ = stdin.write_all(&msg.payload).await;
        drop(stdin);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("waiting for {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{program} exited with {status}"))
    }
}
