//! The agent's fetch-and-work loop: pulls only as many tasks as it has
//! free slots, works each on its own task, and on a drain finishes what it
//! holds (a `resume` during the drain goes back to fetching).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use super::worker::{self, Work};
use super::{Counters, Mode};

/// How long one pull request waits on the server for messages: short, so a
/// drain or a mode change is seen within about a second.
const FETCH_EXPIRES: Duration = Duration::from_secs(1);

/// How long past `FETCH_EXPIRES` the agent waits for the server to end a
/// pull request before ending it itself.
const FETCH_GRACE: Duration = Duration::from_millis(500);

/// The fetch-and-work loop, owned by the agent's main task.
pub(super) struct FetchLoop {
    pub(super) consumer: PullConsumer,
    /// One permit per task the agent may hold.
    pub(super) slots: Arc<Semaphore>,
    /// Tasks being worked.
    pub(super) tasks: JoinSet<()>,
    pub(super) counters: Arc<Counters>,
    pub(super) work: Work,
    pub(super) ack_wait: Duration,
    pub(super) mode: watch::Receiver<Mode>,
    /// With `--once`: until when to wait for the one task.
    pub(super) once: Option<tokio::time::Instant>,
    /// Tasks taken so far.
    pub(super) taken: u64,
}

impl FetchLoop {
    /// Fetches while active, idles in standby, and on a drain finishes the
    /// held tasks; a `resume` during the drain goes back to fetching.
    pub(super) async fn run(&mut self) {
        loop {
            self.fetch_while_active().await;
            // Draining: finish what is held, unless resumed meanwhile.
            info!(
                in_flight = self.counters.in_flight.load(Ordering::Relaxed),
                "stopped fetching; finishing held tasks"
            );
            loop {
                if self.tasks.is_empty() {
                    return;
                }
                tokio::select! {
                    _ = self.tasks.join_next() => {},
                    r = self.mode.changed() => {
                        if r.is_err() {
                            while self.tasks.join_next().await.is_some() {}
                            return;
                        }
                        if *self.mode.borrow() == Mode::Active {
                            info!("drain cancelled; fetching again");
                            break;
                        }
                    }
                }
            }
        }
    }

    async fn fetch_while_active(&mut self) {
        loop {
            while self.tasks.try_join_next().is_some() {}
            if let Some(deadline) = self.once {
                if self.taken > 0 {
                    return;
                }
                if tokio::time::Instant::now() >= deadline {
                    info!("no task within --once-wait; exiting");
                    return;
                }
            }
            let mode = *self.mode.borrow_and_update();
            match mode {
                Mode::Active => {}
                Mode::Standby | Mode::Starting => {
                    if self.mode.changed().await.is_err() {
                        return;
                    }
                    continue;
                }
                Mode::Draining { .. } | Mode::Drained => return,
            }
            // Fetch only when a slot is free: a task fetched but not
            // started would sit ack-pending here and be lost with us.
            let first = tokio::select! {
                p = self.slots.clone().acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => return,
                },
                r = self.mode.changed() => {
                    if r.is_err() { return; }
                    continue;
                }
            };
            let free = 1 + self.slots.available_permits();
            let batch = self
                .consumer
                .fetch()
                .max_messages(free)
                .expires(FETCH_EXPIRES)
                .messages()
                .await;
            // Our own end to the pull: nats-server before 2.9.15 can drop an
            // expired pull request without the 408 that ends the batch
            // (nats-io/nats-server df282a2), and the client then waits 5 s
            // more with free slots. By this deadline the server's request has
            // expired, so nothing can still be sent to it.
            let deadline = tokio::time::Instant::now() + FETCH_EXPIRES + FETCH_GRACE;
            let mut batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    warn!(error = %e, "fetch failed; retrying");
                    drop(first);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let mut first = Some(first);
            // The batch is read to its end even after a drain began:
            // messages the server already sent must be worked, not dropped.
            loop {
                let next = match tokio::time::timeout_at(deadline, batch.next()).await {
                    Ok(Some(next)) => next,
                    Ok(None) => break,
                    Err(_) => {
                        debug!("pull request outlived its expiry; ending it here");
                        break;
                    }
                };
                let msg = match next {
                    Ok(m) => m,
                    Err(e) => {
                        debug!(error = %e, "batch ended early");
                        break;
                    }
                };
                let permit = match first.take() {
                    Some(p) => p,
                    None => match self.slots.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                let c = self.counters.clone();
                let work = self.work.clone();
                let ack_wait = self.ack_wait;
                // A job's log names its one task: the record of what each
                // container did, kept with the container's log.
                let job = self.once.is_some().then(|| {
                    msg.info()
                        .map(|i| (i.stream_sequence, i.delivered))
                        .unwrap_or_default()
                });
                c.in_flight.fetch_add(1, Ordering::Relaxed);
                self.taken += 1;
                self.tasks.spawn(async move {
                    let ok = worker::work_one(&msg, &work, ack_wait).await;
                    if let Some((stream_seq, delivered)) = job {
                        info!(stream_seq, delivered, ok, "job: worked its one task");
                    }
                    if ok {
                        c.completed.fetch_add(1, Ordering::Relaxed);
                    } else {
                        c.failed.fetch_add(1, Ordering::Relaxed);
                    }
                    c.in_flight.fetch_sub(1, Ordering::Relaxed);
                    drop(permit);
                });
            }
        }
    }
}
