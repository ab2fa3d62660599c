//! Waking a pool as work arrives, instead of at its next tick.
//!
//! While a pool runs no working agent (at zero, or only warm standbys), a
//! watcher subscribes (core NATS, no JetStream state) to the subjects its
//! consumer takes tasks from. The first task published wakes the loop: a
//! pool at zero starts its first container, a warm standby is activated,
//! on that task rather than on the next tick. Once agents work, the
//! subscription is dropped and the tick decides: a busy pool's backlog is
//! in the consumer's numbers, and a flood is never copied to jetpool.
//!
//! Only this case wakes the loop. Waking a busy pool on a burst of
//! arrivals was tried and left out: the decision it brings forward reads
//! the rate over a fraction of a second chosen because it was high, and
//! the simulator's matrix came out no better for it.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::debug;

/// The shortest time between two wakes of one pool.
pub const MIN_GAP: Duration = Duration::from_millis(100);

/// What the latest decision left the pool with.
#[derive(Debug, Clone, Copy)]
pub struct Expectation {
    /// The pool runs no working agent: the first arrival is news.
    pub idle: bool,
}

impl Expectation {
    /// Before the first decision: nothing is known, so any task is news.
    pub fn initial() -> Self {
        Expectation { idle: true }
    }
}

/// The pure wake rule: fed every arrival, says when one is news. Time is
/// in seconds from any origin, so the simulator runs the same rule in
/// virtual time.
#[derive(Debug, Clone, Default)]
pub struct Surprise {
    /// Whether the latest decision left no working agent.
    idle: bool,
    /// Whether this decision already woke the loop.
    fired: bool,
    /// The last wake, seconds, for [`MIN_GAP`].
    last_wake: Option<f64>,
}

impl Surprise {
    /// A rule before any decision: the first task is news.
    pub fn new() -> Self {
        Surprise {
            idle: true,
            ..Surprise::default()
        }
    }

    /// Takes what a new decision left the pool with.
    pub fn expect(&mut self, idle: bool) {
        self.idle = idle;
        self.fired = false;
    }

    /// An arrival at `now` seconds; true when it should wake the loop:
    /// the pool is idle, this decision has not been woken yet, and the
    /// last wake is [`MIN_GAP`] ago.
    pub fn arrival(&mut self, now: f64) -> bool {
        let gap = MIN_GAP.as_secs_f64();
        if !self.idle || self.fired || self.last_wake.is_some_and(|w| now < w + gap) {
            return false;
        }
        self.fired = true;
        self.last_wake = Some(now);
        true
    }
}

/// Watches `subjects` (resolved by `resolve`, retried until it answers)
/// and sends `()` on the returned stream when an arrival is news. Ends
/// when `expect`'s sender is dropped.
pub fn watch<R, F>(
    client: async_nats::Client,
    resolve: R,
    expect: watch::Receiver<Expectation>,
    label: String,
) -> BoxStream<'static, ()>
where
    R: Fn() -> F + Send + 'static,
    F: Future<Output = Result<Vec<String>, String>> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(run(client, resolve, expect, tx, label));
    tokio_stream::wrappers::ReceiverStream::new(rx).boxed()
}

/// The watcher task.
async fn run<R, F>(
    client: async_nats::Client,
    resolve: R,
    mut expect: watch::Receiver<Expectation>,
    wake: mpsc::Sender<()>,
    label: String,
) where
    R: Fn() -> F,
    F: Future<Output = Result<Vec<String>, String>>,
{
    let origin = Instant::now();
    let secs = move |t: Instant| t.saturating_duration_since(origin).as_secs_f64();
    let mut rule = Surprise::new();
    rule.expect(expect.borrow_and_update().idle);
    let mut retry = Duration::from_secs(1);
    let mut subjects: Option<Vec<String>> = None;
    loop {
        // Unwatched while agents work.
        if !expect.borrow().idle {
            if expect.wait_for(|e| e.idle).await.is_err() {
                return;
            }
            rule.expect(expect.borrow_and_update().idle);
        }
        let subs = match &subjects {
            Some(s) => subscribe(&client, s).await,
            None => match resolve().await {
                Ok(s) if !s.is_empty() => {
                    subjects = Some(s.clone());
                    subscribe(&client, &s).await
                }
                Ok(_) => Err("the stream lists no subjects".into()),
                Err(e) => Err(e),
            },
        };
        let mut subs = match subs {
            Ok(s) => {
                retry = Duration::from_secs(1);
                s
            }
            Err(e) => {
                debug!(pool = %label, error = %e, retry_in = ?retry, "arrivals not watched yet; the tick decides");
                subjects = None;
                tokio::select! {
                    _ = tokio::time::sleep(retry) => {}
                    r = expect.changed() => if r.is_err() { return },
                }
                retry = (retry * 2).min(Duration::from_secs(30));
                continue;
            }
        };
        loop {
            tokio::select! {
                m = subs.next() => match m {
                    Some(()) => {
                        if rule.arrival(secs(Instant::now())) && wake.try_send(()).is_err() && wake.is_closed() {
                            return;
                        }
                    }
                    // The connection closed: subscribe again after a pause.
                    None => {
                        tokio::time::sleep(retry).await;
                        break;
                    }
                },
                r = expect.changed() => {
                    if r.is_err() {
                        return;
                    }
                    let idle = expect.borrow_and_update().idle;
                    rule.expect(idle);
                    if !idle {
                        // Dropping the subscribers unsubscribes.
                        break;
                    }
                }
            }
        }
    }
}

/// One subscription per subject, merged, payloads dropped at once.
async fn subscribe(
    client: &async_nats::Client,
    subjects: &[String],
) -> Result<SelectAll<BoxStream<'static, ()>>, String> {
    let mut all = SelectAll::new();
    for s in subjects {
        let sub = client
            .subscribe(s.clone())
            .await
            .map_err(|e| format!("subscribe to {s}: {e}"))?;
        all.push(sub.map(|_| ()).boxed());
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idle_pool_wakes_on_the_first_task_once_per_decision() {
        let mut s = Surprise::new();
        assert!(s.arrival(0.005));
        // Coalesced: nothing more until the next decision.
        assert!(!s.arrival(0.006));
        s.expect(true);
        // And never sooner than MIN_GAP after the last wake.
        assert!(!s.arrival(0.050));
        assert!(s.arrival(0.120));
    }

    #[test]
    fn a_pool_with_working_agents_is_not_woken() {
        let mut s = Surprise::new();
        s.expect(false);
        assert!(!s.arrival(0.5));
        assert!(!s.arrival(5.0));
        s.expect(true);
        assert!(s.arrival(5.1));
    }
}
