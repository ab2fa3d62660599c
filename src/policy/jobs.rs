//! Job pools (`mode = "job"`): one container per task, KEDA's ScaledJob
//! arithmetic (its `default` strategy on the consumer's lag, `pending +
//! ack_pending - running`, which is the rule below), evaluated at every
//! tick and at once when a task arrives instead of on a polling interval
//! (`make bench-jobs` compares the two). Each container fetches exactly
//! one task, works it, acks or NAKs it and exits, so the count is not a
//! capacity to size but a number of tasks to cover:
//!
//! - every pending task (not yet delivered) gets a container, except
//!   those a running job will take: jobs started but holding no task yet
//!   (running minus ack pending) are counted against the pending ones,
//!   or a burst would start each task's container twice;
//! - up to `max` running at once (and the global budget's grant);
//! - never fewer than run now: a running job is never stopped to scale in
//!   (it exits on its own), so the decision never goes below `current`;
//! - with stale or failing metrics, or `paused`, nothing new starts.
//!
//! The model's knobs, windows and rate limits do not apply: a job's
//! container is started for a task that is already there.

use jiff::Timestamp;

use super::decision::{Decision, Limit};
use super::{Observation, Policy, PoolState, blind_reason, freshness, schedule};

/// The decision of a job pool at `now`; see the [module docs](self).
pub(super) fn decide(
    policy: &Policy,
    state: &mut PoolState,
    obs: &Observation,
    now: Timestamp,
) -> Decision {
    let s = &policy.scaling;
    state.fold(obs);
    let est = state.estimator.estimates(
        s.concurrency,
        s.service_time.map(|d| d.as_secs_f64()),
        s.cold_start_hint().as_secs_f64(),
    );
    let current = obs.replicas.current();
    let (staleness, fresh) = freshness(s, obs, now);
    let bounds = schedule::bounds_at(policy, now);
    let cap = obs.budget.map_or(bounds.max, |b| b.min(bounds.max));

    let (wanted, limit, reason) = match fresh {
        None => {
            let why = blind_reason(obs, staleness);
            (current, Limit::Stale, format!("{why}: no new job started"))
        }
        Some(c) => {
            let unheld = u64::from(current).saturating_sub(c.ack_pending);
            let uncovered = c.pending.saturating_sub(unheld);
            let wanted = u64::from(current)
                .saturating_add(uncovered)
                .min(u64::from(u32::MAX)) as u32;
            let text = format!(
                "job mode: {} pending, {current} running ({unheld} not yet holding a task) -> {wanted}",
                c.pending
            );
            if policy.paused {
                (current, Limit::Paused, format!("{text}; paused"))
            } else if wanted > cap {
                let limit = if obs.budget.is_some_and(|b| b < bounds.max) {
                    Limit::Budget
                } else {
                    Limit::Max
                };
                (wanted, limit, format!("{text}; capped at {cap}"))
            } else {
                (wanted, Limit::None, text)
            }
        }
    };
    // Never below what runs: a running job is left to finish.
    let desired = wanted.min(cap).max(current);
    Decision {
        desired,
        recommended: wanted,
        current,
        limit,
        estimates: est,
        slo: None,
        slo_late_share: None,
        staleness_s: staleness,
        reason,
        demand: desired,
        triggers: Vec::new(),
        min: 0,
        max: bounds.max,
        behind: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{ConsumerStats, PoolMode, Replicas};

    fn job_policy(max: u32) -> Policy {
        Policy {
            max,
            mode: PoolMode::Job,
            ..Policy::default()
        }
    }

    fn obs(pending: u64, ack_pending: u64, running: u32, now: Timestamp) -> Observation {
        Observation {
            consumer: Some(ConsumerStats {
                at: now,
                pending,
                ack_pending,
                ..ConsumerStats::default()
            }),
            replicas: Replicas {
                ready: running,
                ..Replicas::default()
            },
            ..Observation::default()
        }
    }

    #[test]
    fn one_container_per_pending_task_counting_those_running() {
        let now = Timestamp::UNIX_EPOCH;
        let p = job_policy(10);
        let d = |pending, held, running| {
            decide(
                &p,
                &mut PoolState::default(),
                &obs(pending, held, running, now),
                now,
            )
        };
        assert_eq!(d(5, 0, 0).desired, 5, "5 tasks, 5 jobs");
        assert_eq!(d(5, 3, 3).desired, 8, "3 running hold their tasks: 5 more");
        assert_eq!(
            d(5, 0, 3).desired,
            5,
            "3 started and not yet holding a task will take 3 of the 5"
        );
        assert_eq!(d(50, 0, 0).desired, 10, "at most max");
        assert_eq!(d(50, 0, 0).limit, Limit::Max);
        assert_eq!(d(0, 4, 4).desired, 4, "never below what runs");
        assert_eq!(d(0, 0, 0).desired, 0);
    }

    #[test]
    fn stale_or_paused_starts_nothing_new_and_stops_nothing() {
        let now = Timestamp::UNIX_EPOCH;
        let mut o = obs(9, 2, 2, now);
        o.failure = Some("NATS down".into());
        let d = decide(&job_policy(10), &mut PoolState::default(), &o, now);
        assert_eq!((d.desired, d.limit), (2, Limit::Stale));
        let paused = Policy {
            paused: true,
            ..job_policy(10)
        };
        let d = decide(&paused, &mut PoolState::default(), &obs(9, 2, 2, now), now);
        assert_eq!((d.desired, d.limit), (2, Limit::Paused));
    }

    #[test]
    fn the_budget_caps_new_jobs_but_never_stops_running_ones() {
        let now = Timestamp::UNIX_EPOCH;
        let mut o = obs(20, 6, 6, now);
        o.budget = Some(8);
        let d = decide(&job_policy(10), &mut PoolState::default(), &o, now);
        assert_eq!((d.desired, d.limit), (8, Limit::Budget));
        o.budget = Some(2);
        let d = decide(&job_policy(10), &mut PoolState::default(), &o, now);
        assert_eq!(d.desired, 6, "running jobs finish");
    }
}
