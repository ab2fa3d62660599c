//! The sizing model: Little's law with a backlog term, in one of two forms.
//!
//! **Drain to empty** (the default): `agents = ceil(max(λ / (μ·ρ),
//! (λ + B/T) / μ))` where λ is the arrival rate expected when a new agent
//! would be ready (trend over the cold start), B the backlog, T the target
//! drain time, μ = k / S the per-agent throughput (k = concurrency, S =
//! service time) and ρ the target utilisation; never below what holds the
//! work already in flight.
//!
//! This is the textbook `ceil((λ + B/T) / (μ·ρ))` with one refinement: ρ
//! is headroom for the randomness of arrivals into an empty queue, and
//! while a backlog exists every agent is busy anyway, so the backlog is
//! drained at full throughput. Without it a queue of a few tasks, which a
//! pool at ρ = 0.8 clears in seconds, asked for one more agent (and a
//! minute later gave it back), the flapping near an empty queue this
//! project exists to avoid; for a burst it sizes the drain at exactly T.
//! It buys waits near zero with idle agents: at least 1/ρ of the work.
//!
//! **Standing queue** (`target_wait` = W): keep about `λ·W` tasks queued
//! and serve λ at full utilisation, `ceil((λ + dz(B − λ·W) / T') / μ)`
//! (see `standing_queue`). Tasks wait about W and agents never wait for
//! work, so agent time approaches the work itself: the right trade when a
//! wait objective of seconds allows it.
//!
//! Both are monotone non-decreasing in B (and in λ) with everything else
//! fixed.

use crate::config::Scaling;

use super::estimate::Estimates;
use super::observation::{AgentStats, ConsumerStats};
use super::slo::{self, Derived};

/// The model's inputs and outputs for one tick.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sizing {
    /// Pending tasks B.
    pub backlog: u64,
    /// Tasks held by agents right now (agent reports, else ack pending).
    pub in_flight: u64,
    /// Agents needed for the forecast arrivals plus the backlog, unrounded:
    /// the number the tolerance band compares with.
    pub load: f64,
    /// `ceil(load)`.
    pub need: u32,
    /// Standard error of `load` from counting noise in λ and S, agents.
    pub load_sd: f64,
    /// Agents needed to keep the in-flight work, at most the previous count:
    /// in-flight work is already held, so it never calls for new agents,
    /// but agents holding it must not be removed.
    pub hold: u32,
    /// Agents busy right now: in-flight work over concurrency, rounded up.
    pub busy: u32,
    /// The standing queue the model aims at, `λ·W` tasks, when
    /// `target_wait` is set.
    pub queue_target: Option<f64>,
    /// The model's recommendation: `max(need, hold)`.
    pub recommended: u32,
    /// Most agents the consumer can keep busy (`max_ack_pending / k`).
    pub feedable: Option<u32>,
    /// The oldest pending task's age and the agents the `wait_slo` age
    /// guard asked for, when it raised the count.
    pub age_guard: Option<(f64, u32)>,
    /// The agents sized for the backlog expected when new agents are
    /// ready, when that raised the count (`guard_landing`).
    pub landing: Option<u32>,
}

/// Rounds a non-negative agent count up; infinite loads saturate.
fn ceil_u32(x: f64) -> u32 {
    // `as` saturates at u32::MAX and maps NaN to 0, both safe here.
    x.max(0.0).ceil() as u32
}

/// Runs the model on one consumer snapshot. `previous` is the count the
/// pool was last told to run.
pub(crate) fn size(
    s: &Scaling,
    est: &Estimates,
    c: &ConsumerStats,
    agents: Option<&AgentStats>,
    previous: u32,
) -> Sizing {
    let k = est.concurrency.max(1.0);
    let backlog = c.pending;
    let mu = est.per_agent_rate.max(1e-9);
    let (load, load_sd, queue_target) = match s.target_wait {
        None => {
            let (load, sd) = drain_to_empty(s, est, backlog, mu);
            (load, sd, None)
        }
        Some(w) => {
            let (load, sd, target) = standing_queue(s, est, backlog, mu, w.as_secs_f64());
            (load, sd, Some(target))
        }
    };
    let need = ceil_u32(load);
    // Agents' own counts are exact; the consumer's ack pending also holds
    // tasks of agents that died, which no live agent needs to keep.
    let in_flight = match agents {
        Some(a) if a.reporting > 0 => a.in_flight,
        _ => c.ack_pending,
    };
    let busy = ceil_u32(in_flight as f64 / k);
    // A standing queue keeps every agent busy, so holding busy agents
    // would forbid any scale-in while it stands; a victim drains (finishes
    // what it holds), so nothing is lost by letting it go.
    let hold = if queue_target.is_some() {
        0
    } else {
        busy.min(previous)
    };
    let feedable = c.max_ack_pending.map(|m| ceil_u32(m as f64 / k).max(1));
    Sizing {
        backlog,
        in_flight,
        load,
        need,
        load_sd,
        hold,
        busy,
        queue_target,
        recommended: need.max(hold),
        feedable,
        age_guard: None,
        landing: None,
    }
}

/// The default model: drain any backlog within T at full throughput, and
/// plan agents at utilisation ρ for the arrivals. Returns the load in
/// agents and its standard error from counting noise.
fn drain_to_empty(s: &Scaling, est: &Estimates, backlog: u64, mu: f64) -> (f64, f64) {
    let drain = backlog as f64 / s.target_drain_time.as_secs_f64().max(1e-3);
    let steady = est.forecast_rate / (mu * s.target_utilization);
    let draining = (est.forecast_rate + drain) / mu;
    let sd =
        (est.arrival_rate_sd / (mu * s.target_utilization)).hypot(steady * est.service_time_rsd);
    (steady.max(draining), sd)
}

/// Half-width of the band around the standing queue's target `λ·W`, as a
/// share of it, inside which the count follows the arrivals alone.
///
/// A pool of whole agents almost never serves exactly λ, so the queue
/// drifts; correcting every drift at once turns it into a limit cycle of
/// the tolerance band (ten percent fewer agents, the queue refills, ten
/// percent more: a cold start for each agent added, every minute or so).
/// Leaving the queue alone between ⅔ and 4/3 of its target (waits of
/// 10 to 20 s for W = 15 s) cut the starts on a day of the Twitter trace
/// by a third; a wider band bought little more and moved the tail of the
/// waits towards 2·W.
const QUEUE_BAND: f64 = 1.0 / 3.0;

/// The standing-queue model (`target_wait` = W): serve the arrivals at
/// full utilisation, and correct the backlog's distance from `λ·W`,
/// beyond the band [`QUEUE_BAND`], within `T' = max(T, (1 + QUEUE_BAND)·W)`:
/// `(λ + dz(B − λ·W) / T') / μ` with `dz` the distance past the band.
///
/// By Little's law a queue of `λ·W` tasks served at λ makes each wait
/// about W; and while it stands no agent ever waits for work, which is
/// what an agent-time objective wants. Below the band the pool runs short
/// of λ and the queue refills; above, the excess is worked off. The floor
/// on T' keeps the coefficient of λ (1 inside the band, at least
/// `1 − (1 + QUEUE_BAND)·W/T'` outside) non-negative, so the count never
/// falls as the forecast rises, nor as the backlog grows. No utilisation
/// headroom: the queue is the headroom. Returns the load, its standard
/// error and the target.
fn standing_queue(s: &Scaling, est: &Estimates, backlog: u64, mu: f64, w: f64) -> (f64, f64, f64) {
    let t = s
        .target_drain_time
        .as_secs_f64()
        .max((1.0 + QUEUE_BAND) * w)
        .max(1e-3);
    let lambda = est.forecast_rate;
    let target = lambda * w;
    let band = QUEUE_BAND * target;
    let off = backlog as f64 - target;
    let past_band = off.signum() * (off.abs() - band).max(0.0);
    let load = ((lambda + past_band / t) / mu).max(0.0);
    let sd = (est.arrival_rate_sd / mu).hypot(lambda / mu * est.service_time_rsd);
    (load, sd, target)
}

impl Sizing {
    /// Raises the need to what the `wait_slo` age guard asks for, when the
    /// oldest pending task is past the guard and the model asked for less:
    /// the measured wait overrules the model's inputs.
    pub fn guard_age(&mut self, d: &Derived, c: &ConsumerStats, est: &Estimates, interval_s: f64) {
        let age = c.oldest_pending_age_s();
        let Some(load) = slo::age_guard(
            d,
            age,
            c.pending,
            est.forecast_rate,
            est.per_agent_rate,
            interval_s,
        ) else {
            return;
        };
        if let Some(n) = self.raise(load) {
            self.age_guard = age.map(|a| (a, n));
        }
    }

    /// Raises the need to `load` agents when that is more than the model
    /// asked for; returns the raised count.
    fn raise(&mut self, load: f64) -> Option<u32> {
        let n = ceil_u32(load);
        if n <= self.need {
            return None;
        }
        self.load = self.load.max(load);
        self.need = n;
        self.recommended = self.recommended.max(n);
        Some(n)
    }

    /// Raises the need, for a `wait_slo` pool that keeps no standing queue
    /// (the reaction leaves no room for one), to what drains the backlog
    /// expected when an agent asked for now is ready: while the agents at
    /// work serve less than the arrivals, the backlog grows for a whole
    /// reaction before any new agent helps, and sizing from today's
    /// backlog orders each increment one reaction late. (Measured on the
    /// robustness matrix at a 60 s cold start: 41 of 60 cells pass against
    /// 30 without it.)
    pub fn guard_landing(&mut self, d: &Derived, est: &Estimates, ready: u32) {
        if d.target_wait_s.is_some() {
            return;
        }
        let Some(load) = slo::landing_load(
            d,
            self.backlog,
            est.forecast_rate,
            est.arrival_rate_low,
            est.per_agent_rate,
            ready,
        ) else {
            return;
        };
        if let Some(n) = self.raise(load) {
            self.landing = Some(n);
        }
    }

    /// The model's part of the reason line.
    pub fn describe(&self, est: &Estimates) -> String {
        format!(
            "backlog {}{}, in flight {}, {:.1}/s in (forecast {:.1}/s), {:.2}/s per agent{}{} -> {}{}",
            self.backlog,
            self.queue_target
                .map(|q| format!(" (standing queue {q:.0})"))
                .unwrap_or_default(),
            self.in_flight,
            est.arrival_rate,
            est.forecast_rate,
            est.per_agent_rate,
            if est.service_time_measured {
                ""
            } else {
                " (assumed)"
            },
            if est.concurrency_measured && est.concurrency != 1.0 {
                format!(" ({} slots)", est.concurrency)
            } else {
                String::new()
            },
            self.recommended,
            if self.hold > self.need {
                format!(" (in-flight work needs {})", self.hold)
            } else {
                String::new()
            },
        ) + &self
            .age_guard
            .map(|(a, n)| format!(" (oldest task waited {a:.1}s: the wait SLO needs {n})"))
            .unwrap_or_default()
            + &self
                .landing
                .map(|n| format!(" (backlog when new agents are ready needs {n})"))
                .unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "sizing_tests.rs"]
mod tests;
