//! Waking a pool as work arrives, instead of at its next tick.
//!
//! A watcher subscribes (core NATS, no JetStream state) to the subjects
//! the pool's consumer takes tasks from and counts what is published.
//! After every decision the loop tells it what it expects
//! ([`Expectation`]); the watcher wakes the loop only on news:
//!
//! - the first task for a pool that runs no working agent (a pool at zero
//!   starts its first container, a warm standby is activated, on that
//!   task rather than on the next tick);
//! - more tasks since the decision than its arrival rate explains, by
//!   [`SURGE_Z`] Poisson standard deviations (a step in the rate).
//!
//! The cost stays bounded at any publish rate: decisions are coalesced
//! (one wake per decision, at most one per [`MIN_GAP`]), and a pool whose
//! expected rate is above [`WATCH_CEILING`] drops the subscription, so a
//! flood is not copied to jetpool; at such rates one tick already sees
//! hundreds of tasks and the tick is the signal.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::{BoxStream, SelectAll};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tracing::debug;

/// Standard deviations of Poisson noise that arrivals must exceed the
/// expected count by to wake a working pool.
pub const SURGE_Z: f64 = 4.0;
/// Extra tasks a working pool tolerates before waking, so that at low
/// rates a pair of close arrivals is not a surge.
pub const SURGE_SLACK: f64 = 2.0;
/// The shortest time between two wakes of one pool.
pub const MIN_GAP: Duration = Duration::from_millis(100);
/// Above this expected rate (tasks/s) the pool is not watched per task.
pub const WATCH_CEILING: f64 = 500.0;

/// What the latest decision expects of arrivals.
#[derive(Debug, Clone, Copy)]
pub struct Expectation {
    /// Tasks per second the decision planned for.
    pub rate: f64,
    /// The pool runs no working agent: the first arrival is news.
    pub idle: bool,
    /// When the decision was made.
    pub at: Instant,
}

impl Expectation {
    /// Before the first decision: nothing is known, so any task is news.
    pub fn initial() -> Self {
        Expectation {
            rate: 0.0,
            idle: true,
            at: Instant::now(),
        }
    }

    /// Whether per-task watching is worth its cost for this expectation.
    pub fn watched(&self) -> bool {
        self.idle || self.rate <= WATCH_CEILING
    }
}

/// The pure wake rule: fed every arrival, says when one is news.
#[derive(Debug, Clone)]
pub struct Surprise {
    /// The expectation in force.
    expect: Expectation,
    /// Arrivals counted since it was set.
    seen: u64,
    /// Whether this expectation already woke the loop.
    fired: bool,
    /// The last wake, for [`MIN_GAP`].
    last_wake: Option<Instant>,
}

impl Surprise {
    /// A rule under `expect`.
    pub fn new(expect: Expectation) -> Self {
        Surprise {
            expect,
            seen: 0,
            fired: false,
            last_wake: None,
        }
    }

    /// Takes the expectation of a new decision; counting starts over.
    pub fn expect(&mut self, expect: Expectation) {
        self.expect = expect;
        self.seen = 0;
        self.fired = false;
    }

    /// Counts one arrival at `now`; true when it should wake the loop.
    pub fn arrival(&mut self, now: Instant) -> bool {
        self.seen += 1;
        if self.fired || self.last_wake.is_some_and(|w| now < w + MIN_GAP) {
            return false;
        }
        let news = self.expect.idle || {
            let mu = self.expect.rate.max(0.0) * (now - self.expect.at).as_secs_f64();
            self.seen as f64 > mu + SURGE_Z * mu.sqrt() + SURGE_SLACK
        };
        if news {
            self.fired = true;
            self.last_wake = Some(now);
        }
        news
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
    let mut rule = Surprise::new(*expect.borrow_and_update());
    let mut retry = Duration::from_secs(1);
    let mut subjects: Option<Vec<String>> = None;
    loop {
        // Unwatched while the rate is above the ceiling.
        if !expect.borrow().watched() {
            if expect.wait_for(Expectation::watched).await.is_err() {
                return;
            }
            rule.expect(*expect.borrow_and_update());
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
                        if rule.arrival(Instant::now()) && wake.try_send(()).is_err() && wake.is_closed() {
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
                    rule.expect(*expect.borrow_and_update());
                    if !rule.expect.watched() {
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

    fn at(rate: f64, idle: bool, t0: Instant) -> Expectation {
        Expectation { rate, idle, at: t0 }
    }

    #[test]
    fn an_idle_pool_wakes_on_the_first_task_once_per_decision() {
        let t0 = Instant::now();
        let mut s = Surprise::new(at(0.0, true, t0));
        assert!(s.arrival(t0 + Duration::from_millis(5)));
        // Coalesced: nothing more until the next decision.
        assert!(!s.arrival(t0 + Duration::from_millis(6)));
        s.expect(at(0.0, true, t0 + Duration::from_millis(20)));
        // And never sooner than MIN_GAP after the last wake.
        assert!(!s.arrival(t0 + Duration::from_millis(50)));
        assert!(s.arrival(t0 + Duration::from_millis(120)));
    }

    #[test]
    fn steady_arrivals_at_the_expected_rate_do_not_wake() {
        let t0 = Instant::now();
        let mut s = Surprise::new(at(100.0, false, t0));
        // 100/s evenly for one second: exactly what was expected.
        for i in 1..=100u64 {
            assert!(
                !s.arrival(t0 + Duration::from_millis(10 * i)),
                "arrival {i}"
            );
        }
    }

    #[test]
    fn a_step_in_the_rate_wakes_within_a_few_tasks() {
        let t0 = Instant::now();
        let mut s = Surprise::new(at(10.0, false, t0));
        // From 10/s to 100/s: woken within 100 ms.
        let woke = (1..=100u64).find(|&i| s.arrival(t0 + Duration::from_millis(10 * i)));
        assert!(woke.is_some_and(|i| i <= 10), "{woke:?}");
    }

    #[test]
    fn a_pool_with_working_agents_is_not_woken_by_a_lone_task() {
        let t0 = Instant::now();
        let mut s = Surprise::new(at(0.0, false, t0));
        assert!(!s.arrival(t0 + Duration::from_millis(500)));
        assert!(!s.arrival(t0 + Duration::from_millis(600)));
        assert!(s.arrival(t0 + Duration::from_millis(700)));
    }

    #[test]
    fn a_flood_is_not_watched() {
        assert!(!at(WATCH_CEILING * 2.0, false, Instant::now()).watched());
        assert!(at(WATCH_CEILING * 2.0, true, Instant::now()).watched());
    }
}
