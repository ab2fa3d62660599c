//! KEDA's ScaledJob behind the `nats-jetstream` scaler: one Kubernetes Job
//! per message, for job pools (`mode = "job"` in jetpool).
//!
//! - Every `pollingInterval` (default 30 s) KEDA reads the scaler: the
//!   queue length is the consumer's lag, `num_pending + num_ack_pending`,
//!   so a message a running job holds still counts. The scaler is active
//!   when the lag is above `activationLagThreshold` (0); an inactive one
//!   creates nothing.
//! - `maxScale = min(ceil(queueLength / targetAverageValue),
//!   maxReplicaCount)`, with the target the trigger's `lagThreshold`. A
//!   ScaledJob runs one message per job, so its operator sets 1 (the
//!   scaler's default of 10 would start one job per ten messages).
//! - Then the scaling strategy turns it into the jobs to create now, from
//!   `runningJobCount` (jobs not finished, their pods starting or running)
//!   and `pendingJobCount` (jobs whose pod does not run yet):
//!   - `default`: `maxScale - runningJobCount`;
//!   - `accurate`: `maxReplicaCount - runningJobCount` when `maxScale +
//!     runningJobCount > maxReplicaCount`, else `maxScale -
//!     pendingJobCount`. KEDA recommends it for queues whose length leaves
//!     out locked (in-flight) messages; JetStream's lag includes them, so
//!     it starts a job for a message already being worked, which then
//!     waits out `--once-wait` with nothing to do.
//! - KEDA never deletes a running job to scale in; jobs end on their own.

use crate::sim::controller::{Clock, Controller, View};

/// ScaledJob's `scalingStrategy.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// `default`: `maxScale - runningJobCount`.
    Default,
    /// `accurate`: see the [module docs](self).
    Accurate,
}

/// A ScaledJob's knobs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KedaJobKnobs {
    /// `pollingInterval`, seconds (default 30).
    pub polling_interval: f64,
    /// The trigger's `lagThreshold`, the target per job.
    pub lag_threshold: f64,
    /// `maxReplicaCount`: jobs at most (KEDA's default 100; the peers get
    /// jetpool's `max`).
    pub max: u32,
    /// `scalingStrategy.strategy`.
    pub strategy: Strategy,
}

/// `keda-job`, `keda-job-tuned` and `keda-job-accurate`.
#[derive(Debug, Clone)]
pub struct KedaJob {
    name: String,
    knobs: KedaJobKnobs,
    poll: Clock,
}

impl KedaJob {
    /// A ScaledJob with `knobs`, first polling at `phase`.
    pub fn new(name: &str, knobs: KedaJobKnobs, phase: f64) -> Self {
        KedaJob {
            name: name.to_string(),
            knobs,
            poll: Clock::new(knobs.polling_interval, phase),
        }
    }

    /// Jobs to create for lag `lag` with `running` jobs, `pending` of them
    /// not running yet.
    pub fn to_create(&self, lag: u64, running: u32, pending: u32) -> u32 {
        let k = &self.knobs;
        if lag == 0 {
            return 0; // not active
        }
        let max = i64::from(k.max);
        let max_scale = ((lag as f64 / k.lag_threshold.max(1e-9)).ceil() as i64).min(max);
        let (running, pending) = (i64::from(running), i64::from(pending));
        let n = match k.strategy {
            Strategy::Default => max_scale - running,
            Strategy::Accurate if max_scale + running > max => max - running,
            Strategy::Accurate => max_scale - pending,
        };
        u32::try_from(n.max(0)).unwrap_or(u32::MAX)
    }
}

impl Controller for KedaJob {
    fn name(&self) -> &str {
        &self.name
    }

    fn next_tick(&self) -> f64 {
        self.poll.next()
    }

    fn tick(&mut self, v: &View) -> Option<u32> {
        self.poll.advance();
        // A job world's agents never drain: running jobs are the ready
        // (fetching or working) and the starting ones.
        let running = v.current();
        let n = self.to_create(v.lag(), running, v.starting);
        (n > 0).then(|| running.saturating_add(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(strategy: Strategy, max: u32) -> KedaJob {
        let knobs = KedaJobKnobs {
            polling_interval: 30.0,
            lag_threshold: 1.0,
            max,
            strategy,
        };
        KedaJob::new("keda-job", knobs, 0.0)
    }

    #[test]
    fn default_counts_running_jobs_against_the_lag() {
        let k = job(Strategy::Default, 100);
        // 10 messages, none running: 10 jobs.
        assert_eq!(k.to_create(10, 0, 0), 10);
        // The 10 jobs hold their messages (lag still 10): none more.
        assert_eq!(k.to_create(10, 10, 0), 0);
        // 5 more arrive: 5 more jobs.
        assert_eq!(k.to_create(15, 10, 0), 5);
        // Capped by maxReplicaCount.
        assert_eq!(job(Strategy::Default, 12).to_create(50, 10, 0), 2);
        assert_eq!(k.to_create(0, 3, 0), 0);
    }

    #[test]
    fn accurate_overcounts_a_lag_that_includes_held_messages() {
        let k = job(Strategy::Accurate, 100);
        // Jobs still starting: their messages are not taken, none more.
        assert_eq!(k.to_create(10, 10, 10), 0);
        // Once they run and hold the messages, the lag is still 10 and
        // accurate subtracts only pending jobs: 10 more jobs for nothing.
        assert_eq!(k.to_create(10, 10, 0), 10);
        // Near the cap: up to maxReplicaCount.
        assert_eq!(job(Strategy::Accurate, 15).to_create(10, 10, 0), 5);
    }

    #[test]
    fn creates_on_its_poll_only() {
        let mut k = job(Strategy::Default, 100);
        let v = View::at(0.0, 4, 0);
        assert_eq!(k.tick(&v), Some(4));
        assert_eq!(k.next_tick(), 30.0);
    }
}
