//! The pure decision core: [`decide`] turns a policy, the pool's memory and
//! one observation into the number of agents the pool should run, with the
//! guardrail that bounded it and a reason a person can read.
//!
//! Nothing here performs I/O or reads a clock: time is an argument, so the
//! live loop and the simulator run exactly the same code, and the same inputs
//! always give the same decisions.
//!
//! - `sizing`: the model, `ceil(max(λ/(μ·ρ), (λ + B/T)/μ))`, or with
//!   `target_wait` W a standing queue of about `λ·W` served at full
//!   utilisation.
//! - [`estimate`] and `arrivals`: λ (two time scales, a trend) and μ,
//!   learned online.
//! - `guardrails`, `stabilize`, `rate`: the rules around the model, in the
//!   order [`decide`] documents.
//! - [`schedule`]: bounds that change with the time of day.
//! - [`budget`]: one agent budget shared by all pools.
//! - [`validate`]: the one validator of a pool's settings, for policy
//!   files and compose labels alike; it returns the typed [`Policy`].

mod arrivals;
mod attainment;
pub mod budget;
pub mod cold_start;
pub mod decision;
pub mod estimate;
mod ewma;
mod guardrails;
mod jobs;
pub mod observation;
pub mod overrides;
mod rate;
pub mod schedule;
mod sizing;
pub mod slo;
mod stabilize;
pub mod triggers;
mod validate;

use std::time::Duration;

use jiff::Timestamp;

pub use decision::{Decision, Limit};
pub use estimate::{Estimates, Estimator, Learned};
pub use observation::{AgentStats, ConsumerStats, Observation, Replicas};
pub use overrides::{Override, Pin, Stamp};
pub use triggers::{PromQuery, Source, Trigger, TriggerOutcome, TriggerReading};
pub use validate::{is_jetstream_name, is_plain_name, validate};

pub use crate::config::PoolMode;
use crate::config::{Scaling, Schedule};
use decision::Trail;
use ewma::secs_between;
use guardrails::Gate;

/// Bounds and knobs of one pool, as [`validate`] returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Fewest agents the pool runs (0 allows scaling to zero).
    pub min: u32,
    /// Most agents the pool runs.
    pub max: u32,
    /// Observation cadence.
    pub interval: Duration,
    /// Sizing knobs and guardrails.
    pub scaling: Scaling,
    /// Share of the global agent budget: higher is served first.
    pub priority: u32,
    /// Hold the current count: no automatic scaling.
    pub paused: bool,
    /// Fix the count at this number.
    pub pinned: Option<u32>,
    /// Time windows that raise `min` or lower `max`.
    pub schedule: Vec<Schedule>,
    /// Long-lived agents or one container per task (job pools are
    /// decided by their own rule: one container per pending task).
    pub mode: PoolMode,
    /// Job pools: how long a job may run before it is killed.
    pub job_timeout: Option<Duration>,
    /// Triggers beside the backlog model; the highest recommendation wins.
    pub triggers: Vec<Trigger>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min: 0,
            max: 10,
            interval: Duration::from_secs(1),
            scaling: Scaling::default(),
            priority: 0,
            paused: false,
            pinned: None,
            schedule: Vec::new(),
            mode: PoolMode::Agents,
            job_timeout: None,
            triggers: Vec::new(),
        }
    }
}

/// What the decision core remembers about one pool between ticks. Owned by
/// the pool's task (or the simulator); nothing else mutates it.
#[derive(Debug, Clone, Default)]
pub struct PoolState {
    /// Rate and service-time estimates.
    pub estimator: Estimator,
    /// Recent recommendations, for the stabilisation windows.
    windows: stabilize::Windows,
    /// Recent decisions, for rate limits, cooldown and the previous count.
    history: rate::History,
    /// Since when the pool has been idle (no backlog, nothing in flight, no
    /// arrivals), by the consumer's clock.
    idle_since: Option<Timestamp>,
    /// Since when tasks have been pending without a break, by the
    /// consumer's clock: the activation timeout counts from here.
    backlog_since: Option<Timestamp>,
    /// A `wait_slo` pool's late deliveries over the last hour.
    attainment: attainment::Attainment,
}

impl PoolState {
    /// Folds a new consumer snapshot into the estimates and the idle clock.
    fn fold(&mut self, obs: &Observation) {
        self.estimator.note_slots(obs.slots_per_agent);
        // A start measured with its request time goes in however old the
        // consumer read is: it is not measured again.
        let cold_start_s = match (obs.cold_start_s, obs.cold_start_requested_s) {
            (Some(s), Some(at)) => {
                self.estimator.note_cold_start(s, at);
                None
            }
            (s, _) => s,
        };
        let Some(c) = &obs.consumer else { return };
        if self.estimator.last_at().is_some_and(|t| c.at <= t) {
            return;
        }
        self.estimator.update(c, obs.agents.as_ref(), cold_start_s);
        let agents_busy = obs.agents.is_some_and(|a| a.in_flight > 0);
        let idle = c.pending == 0
            && c.ack_pending == 0
            && !agents_busy
            && self.estimator.last_arrivals().unwrap_or(0.0) == 0.0;
        self.backlog_since = if c.pending > 0 {
            self.backlog_since.or(Some(c.at))
        } else {
            None
        };
        self.idle_since = if idle {
            self.idle_since.or(Some(c.at))
        } else {
            None
        };
    }
}

/// Decides how many agents the pool should run at `now`.
///
/// Mutates only `state` (estimators and windows); performs no I/O.
///
/// The guardrails run in this order, each seeing the previous one's count
/// (so a later rule wins over an earlier one):
///
/// 1. **model** (`sizing`): `ceil(max(λ/(μ·ρ), (λ + B/T)/μ))`, at least
///    the agents holding in-flight work; with `target_wait` W,
///    `ceil((λ + dz(B − λ·W)/T')/μ)`, a standing queue whose busy agents
///    are not held (they drain when removed).
/// 2. **tolerance**: keep the previous count while the need is within
///    `tolerance` of it.
/// 3. **feed cap**: no more agents than `max_ack_pending` can feed.
///    Then the **triggers** ([`triggers`]): the highest of the model's
///    count and every readable trigger's recommendation wins.
/// 4. **zero gate**: a pool at zero wakes only above `activation_backlog`,
///    once tasks have waited `activation_timeout`, or on an active
///    trigger; a running pool reaches zero only after `scale_to_zero_after`
///    idle with no trigger active, and then skips step 5 (an idle pool's
///    old needs are void).
/// 5. **stabilisation windows**: `scale_up_delay` (lowest recommendation
///    in it), `scale_down_delay` (highest in it); with `target_wait` and an
///    empty queue, the down window holds no idle agent. Then the **SLO
///    hold** (`slo::hold`): a `wait_slo` pool whose last hour missed the
///    SLO [`slo::HOLD_BURN`] times over lets no agent go.
/// 6. **rate limits**: `scale_up_limits` / `scale_down_limits` from the
///    count at each period's start.
/// 7. **cooldown**: no change within `cooldown` of the last one.
///
///    Steps 1 to 5 are replaced by an override when one applies, highest
///    first: **pinned** (the count is N; skips 6 and 7), **paused** (the
///    count last decided, so an agent lost while paused is replaced; skips
///    6 and 7), **stale** (metrics stale or failing: hold, or
///    raise to `stale_replicas`; never lower; readable triggers may still
///    raise it). After step 7, a **blind trigger** (failing or stale)
///    holds the count at or above the last decision and what runs.
/// 8. **step to zero**: from more than one agent, stop at 1 first.
/// 9. **bounds**: `[min, max]`, as raised / lowered by open schedule
///    windows. Bounds beat every rule above: `min` wins over the down
///    window and the idle rule, `max` over pinned.
/// 10. **budget**: the pool's grant from the global budget, a hard cap that
///     beats even `min`: the machine's limit is real, a `min` is a wish.
///     With a budget that never shrinks, [`budget::allocate`] keeps every
///     running pool at 1 or more on its way down, so step 8 still holds.
pub fn decide(
    policy: &Policy,
    state: &mut PoolState,
    obs: &Observation,
    now: Timestamp,
) -> Decision {
    if policy.mode == PoolMode::Job {
        return jobs::decide(policy, state, obs, now);
    }
    let s = &policy.scaling;
    let current = obs.replicas.current();
    let previous = state.history.previous().unwrap_or(current);
    state.fold(obs);
    if state.history.previous().is_none() {
        // First decision since (re)start: what runs is the best guess at
        // what is needed, as the HPA seeds its window with the current
        // count, so a restart of jetpool never scales running pools in.
        state.windows.seed(now, current);
    }
    let est = state.estimator.estimates(
        s.concurrency,
        s.service_time.map(|d| d.as_secs_f64()),
        s.cold_start_hint().as_secs_f64(),
    );
    let interval_s = policy.interval.as_secs_f64();
    let cold_start_s = if est.cold_start_measured {
        est.horizon_s
    } else {
        slo::assumed_cold_start_s(&policy.scaling)
    };
    let starts = if est.cold_start_measured {
        slo::Starts {
            typical_s: cold_start_s,
            fast_s: est.cold_start_fast_s,
        }
    } else {
        slo::Starts::constant(cold_start_s)
    };
    let slo = slo::derive_with(&policy.scaling, starts, interval_s);
    let derived;
    let s = match &slo {
        Some(d) => {
            derived = d.apply(&policy.scaling);
            &derived
        }
        None => s,
    };
    let (staleness, fresh) = freshness(s, obs, now);
    let bounds = schedule::bounds_at(policy, now);
    let trigger_stale = triggers::stale_after(s.stale_after, policy.interval);
    let others: Vec<TriggerOutcome> = policy
        .triggers
        .iter()
        .enumerate()
        .map(|(i, tr)| triggers::recommend(tr, obs.triggers.get(i), current, trigger_stale, now))
        .collect();
    let active = triggers::active(&others).map(|o| o.name.as_str());

    let (mut t, recommended, inputs) = match fresh {
        Some(c) => {
            let mut z = sizing::size(s, &est, &c, obs.agents.as_ref(), previous);
            if let Some(d) = &slo {
                state.attainment.update(&c, d.slo_s);
                z.guard_age(d, &c, &est, interval_s);
                z.guard_landing(d, &est, obs.replicas.ready);
            }
            let mut t = Trail::new(z.recommended);
            guardrails::tolerance(&mut t, s, &z, previous);
            guardrails::feed_cap(&mut t, &z);
            triggers::highest(&mut t, &others);
            let idle_for = state.idle_since.map(|i| secs_between(i, c.at));
            let waiting_for = state.backlog_since.map(|b| secs_between(b, c.at));
            let waits = guardrails::Waits {
                idle_for,
                waiting_for,
                active,
            };
            let gate = guardrails::zero_gate(&mut t, s, &z, previous, waits);
            state.windows.record(now, t.value, s);
            match gate {
                Gate::Open => {
                    let release = (z.queue_target.is_some() && z.backlog == 0).then_some(z.busy);
                    state.windows.stabilize(&mut t, s, now, previous, release)
                }
                Gate::ToZero => state.windows.clear(),
            }
            if let Some(d) = &slo {
                let late = state.attainment.late_share();
                slo::hold(&mut t, d, late, policy.scaling.wait_slo_quantile, previous);
            }
            (t, z.recommended, z.describe(&est))
        }
        None => {
            let why = blind_reason(obs, staleness);
            (Trail::new(current), current, why)
        }
    };

    if let Some(n) = policy.pinned {
        guardrails::pinned(&mut t, n);
    } else if policy.paused {
        guardrails::paused(&mut t, previous);
    } else {
        if fresh.is_none() {
            guardrails::stale(&mut t, s, previous, current);
            // The backlog model is blind, the other triggers may not be.
            triggers::highest(&mut t, &others);
        }
        state.history.limit(&mut t, s, now, previous);
        let since_change = state.history.last_change().map(|c| secs_between(c, now));
        guardrails::cooldown(&mut t, s, since_change, previous);
        triggers::hold_blind(&mut t, &others, previous.max(current));
    }
    guardrails::step_to_zero(&mut t, previous, current);
    guardrails::bounds(&mut t, &bounds);
    let demand = t.value;
    guardrails::budget(&mut t, obs.budget);

    let keep = longest_period(s);
    state.history.record(now, t.value, current, keep);
    let reason = format!("{inputs}{}{}", triggers::describe(&others), t.notes());
    let backlog = match fresh {
        Some(_) => TriggerOutcome::backlog(Some(recommended), &format!("backlog -> {recommended}")),
        None => TriggerOutcome::backlog(None, "backlog blind: consumer metrics stale or failing"),
    };
    let late_age = match (&slo, fresh.and_then(|c| c.oldest_pending_age_s())) {
        (Some(d), Some(age)) if age >= d.age_guard_s => Some(age),
        _ => None,
    };
    let behind = late_age.is_some();
    // The planner stops counting on overdue starters only once a start is
    // measured (before, none is known to be late): the reason says so only
    // then.
    let reason = match late_age {
        Some(age) if est.cold_start_measured => format!(
            "{reason}; behind the SLO (oldest task waited {age:.1}s): agents overdue in their start are not counted on"
        ),
        Some(age) => format!("{reason}; behind the SLO (oldest task waited {age:.1}s)"),
        None => reason,
    };
    let mut outcomes = vec![backlog];
    outcomes.extend(others);
    Decision {
        desired: t.value,
        recommended,
        current,
        limit: t.limit,
        estimates: est,
        slo,
        slo_late_share: slo.and(state.attainment.late_share()),
        staleness_s: staleness,
        reason,
        demand,
        min: bounds.min,
        max: bounds.max,
        triggers: outcomes,
        behind,
    }
}

/// How old the consumer numbers are at `now`, with the numbers when they
/// are fresh enough to act on: read without a failure, within
/// `stale_after`.
fn freshness(s: &Scaling, obs: &Observation, now: Timestamp) -> (f64, Option<ConsumerStats>) {
    let staleness = obs
        .consumer
        .map_or(f64::INFINITY, |c| secs_between(c.at, now).max(0.0));
    let fresh = obs
        .consumer
        .filter(|_| obs.failure.is_none() && staleness <= s.stale_after.as_secs_f64());
    (staleness, fresh)
}

/// Why numbers that are not fresh cannot be acted on, for the reason.
fn blind_reason(obs: &Observation, staleness: f64) -> String {
    obs.failure
        .clone()
        .unwrap_or_else(|| format!("metrics {staleness:.1}s old"))
}

/// How far back the decision history must reach: the longest rate-limit
/// period.
fn longest_period(s: &Scaling) -> Duration {
    s.scale_up_limits
        .iter()
        .chain(&s.scale_down_limits)
        .map(|l| l.period)
        .max()
        .unwrap_or(Duration::ZERO)
}
