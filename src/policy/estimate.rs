//! Online estimates of the three rates the sizing model needs: arrivals λ
//! (on two time scales with a trend, to forecast over the cold-start
//! horizon: see `policy::arrivals`), completions, and the
//! per-task service time S from which per-agent throughput follows.
//!
//! All estimates are time-aware EWMAs: a sample's weight depends on the time
//! it covers, so an irregular observation cadence (a slow NATS answer, a
//! simulator with another tick) does not change what is estimated.

use jiff::Timestamp;

use super::arrivals::Arrivals;
use super::cold_start::ColdStarts;
use super::ewma::alpha;
/// Kept here too: `policy::estimate::secs_between` is where callers found it.
pub use super::ewma::secs_between;
use super::observation::{AgentStats, ConsumerStats};

/// Smoothing time constant of in-flight work and completion rate, whose
/// ratio is the service time (Little's law: S = L / X). Long, because a
/// workload's service time changes slowly while a few tasks of a
/// heavy-tailed mix move a short average a lot: at 2 tasks/s a 20 s
/// average wandered ±15 % and flapped a small pool on its own.
const SERVICE_TAU_S: f64 = 120.0;
/// Completions needed before the measured service time replaces the hint.
const MIN_COMPLETIONS: f64 = 20.0;
/// Service time assumed when nothing is configured or measured yet.
pub const DEFAULT_SERVICE_TIME_S: f64 = 1.0;

/// The estimates derived so far, as reported in decisions and `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Estimates {
    /// Arrival rate λ the model uses, tasks per second: the slow mean, or
    /// the fast estimate during a level shift.
    pub arrival_rate: f64,
    /// Fast (3 s) arrival-rate estimate, tasks per second.
    pub arrival_rate_fast: f64,
    /// Whether the fast estimate just left the slow one's noise band.
    pub level_shift: bool,
    /// Standard error of `arrival_rate` from counting noise, tasks per
    /// second (that of a warmed-up mean).
    pub arrival_rate_sd: f64,
    /// `arrival_rate` two standard errors down, counting the noise over
    /// the time watched so far (see `Arrivals::rate_low`).
    pub arrival_rate_low: f64,
    /// Relative standard error of a measured `service_time_s` (0 for a hint).
    pub service_time_rsd: f64,
    /// Arrival-rate trend, tasks per second per second.
    pub arrival_trend: f64,
    /// λ forecast at the time new agents would be ready.
    pub forecast_rate: f64,
    /// Smoothed completion rate, tasks per second.
    pub completion_rate: f64,
    /// Service time S per task, seconds (measured, else hint, else default).
    pub service_time_s: f64,
    /// Whether `service_time_s` comes from measurements.
    pub service_time_measured: bool,
    /// Tasks one agent works at once, k: the agents' reported capacity
    /// per agent, else the policy's `concurrency`.
    pub concurrency: f64,
    /// Whether `concurrency` comes from the agents' reports.
    pub concurrency_measured: bool,
    /// Per-agent throughput μ = k / S, tasks per second.
    pub per_agent_rate: f64,
    /// Forecast horizon used (the cold-start time), seconds.
    pub horizon_s: f64,
    /// Whether `horizon_s` is a measured cold start (else the hint).
    pub cold_start_measured: bool,
    /// The fast end of the measured cold starts (their
    /// [`FAST_QUANTILE`](super::slo::FAST_QUANTILE)), seconds: how soon the
    /// first agents of an order land; `horizon_s` while none is measured.
    pub cold_start_fast_s: f64,
}

/// Estimator state carried from tick to tick.
#[derive(Debug, Clone, Default)]
pub struct Estimator {
    /// The consumer snapshot the last rates were computed from.
    prev: Option<ConsumerStats>,
    /// Arrival rate on two time scales.
    arrivals: Arrivals,
    /// Tasks in flight, EWMA started at zero. It and `completions` start
    /// alike and take the same steps, so their ratio S = L / X is unbiased
    /// from the first samples (seeding only one of them, as a first version
    /// did, read a 1 s task as 10 s until the averages warmed up).
    in_flight: f64,
    /// Completion rate, EWMA started at zero (see `in_flight`).
    completions: f64,
    /// Weight the two EWMAs have accumulated; dividing by it removes their
    /// bias towards zero where a rate is reported on its own.
    weight: f64,
    /// Total completions seen, to decide when S is measured.
    completed_total: f64,
    /// The latest measured cold starts; the median is the estimate.
    cold_starts: ColdStarts,
    /// Slots per agent from the agents' latest reports. Capacity is how an
    /// agent was started, not a noisy rate, so the latest value is the
    /// estimate.
    capacity_per_agent: Option<f64>,
    /// Tasks that arrived between the last two snapshots (`None` before
    /// there are two): zero is one of the signs of an idle pool.
    last_arrivals: Option<f64>,
}

/// What an [`Estimator`] has learned, without its link to one process's
/// consumer reads: what a `--ha` leader keeps in JetStream so the next one
/// does not start from zero knowledge ([`Estimator::learned`],
/// [`Estimator::seed`]). Opaque: only its JSON form travels.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Learned {
    /// Arrival rate on two time scales.
    arrivals: Arrivals,
    /// Tasks in flight, EWMA (see [`Estimator`]).
    in_flight: f64,
    /// Completion rate, EWMA.
    completions: f64,
    /// Weight the two EWMAs have accumulated.
    weight: f64,
    /// Total completions seen.
    completed_total: f64,
    /// The cold start estimate, seconds: the median of
    /// `cold_start_samples` (a leader of an earlier version wrote only
    /// this).
    cold_start_s: Option<f64>,
    /// The latest measured cold starts, oldest first.
    #[serde(default)]
    cold_start_samples: Vec<f64>,
    /// Slots per agent from the agents' reports.
    capacity_per_agent: Option<f64>,
}

impl Learned {
    /// How much it knows, in the order that matters: a measured service
    /// time first, then the EWMAs' weight (how long they have watched).
    fn evidence(&self) -> (bool, f64) {
        (
            self.completed_total >= MIN_COMPLETIONS && self.completions > 1e-9,
            self.weight,
        )
    }

    /// Whether every number is finite (JSON from elsewhere may not be).
    fn sane(&self) -> bool {
        [
            self.in_flight,
            self.completions,
            self.weight,
            self.completed_total,
        ]
        .iter()
        .chain(&self.cold_start_s)
        .chain(&self.cold_start_samples)
        .chain(&self.capacity_per_agent)
        .all(|x| x.is_finite() && *x >= 0.0)
            && self.weight <= 1.0
    }
}

impl Learned {
    /// What of it still holds however old it is: what belongs to the
    /// agents rather than to the moment (the measured cold start, the
    /// agents' capacity). The rates and the service time's averages are
    /// left out: a pool's load an hour ago says little about now.
    pub fn durable(&self) -> Learned {
        Learned {
            arrivals: Arrivals::default(),
            in_flight: 0.0,
            completions: 0.0,
            weight: 0.0,
            completed_total: 0.0,
            ..self.clone()
        }
    }

    /// It without what belongs to the agents' container (the cold start,
    /// the capacity): for a pool whose agents now start from another one.
    pub fn without_agent_facts(&self) -> Learned {
        Learned {
            cold_start_s: None,
            cold_start_samples: Vec::new(),
            capacity_per_agent: None,
            ..self.clone()
        }
    }
}

impl Estimator {
    /// What it has learned so far, to hand to a successor.
    pub fn learned(&self) -> Learned {
        Learned {
            arrivals: self.arrivals.clone(),
            in_flight: self.in_flight,
            completions: self.completions,
            weight: self.weight,
            completed_total: self.completed_total,
            cold_start_s: self.cold_starts.median(),
            cold_start_samples: self.cold_starts.samples(),
            capacity_per_agent: self.capacity_per_agent,
        }
    }

    /// Takes over what `other` learned where it knows more than this
    /// estimator: the rates and service time as a whole when `other` has
    /// more evidence (a measured service time, else a longer watch), the
    /// cold start and the agents' capacity when this one has none. A
    /// follower that has watched as long as the leader keeps its own. The
    /// link to this process's consumer reads (the previous snapshot) is
    /// kept, so the next update folds in a true delta. Returns whether
    /// anything was taken.
    pub fn seed(&mut self, other: &Learned) -> bool {
        if !other.sane() {
            return false;
        }
        let mut taken = false;
        if other.evidence() > self.learned().evidence() {
            self.arrivals = other.arrivals.clone();
            self.in_flight = other.in_flight;
            self.completions = other.completions;
            self.weight = other.weight;
            self.completed_total = other.completed_total;
            taken = true;
        }
        if self.cold_starts.is_empty() {
            // A leader of an earlier version wrote the estimate alone.
            let theirs = if other.cold_start_samples.is_empty() {
                other.cold_start_s.as_slice()
            } else {
                &other.cold_start_samples
            };
            self.cold_starts = ColdStarts::from_samples(theirs);
            taken |= !self.cold_starts.is_empty();
        }
        if self.capacity_per_agent.is_none() && other.capacity_per_agent.is_some() {
            self.capacity_per_agent = other.capacity_per_agent;
            taken = true;
        }
        taken
    }

    /// Takes the agents' reported slots per agent (see
    /// [`Observation::slots_per_agent`](super::Observation)).
    pub fn note_slots(&mut self, slots: Option<f64>) {
        if let Some(k) = slots.filter(|k| k.is_finite() && *k >= 1.0) {
            self.capacity_per_agent = Some(k);
        }
    }

    /// Takes one observation's measured cold start, `seconds` on average
    /// for agents asked for at `requested_s` on average (Unix seconds).
    pub fn note_cold_start(&mut self, seconds: f64, requested_s: f64) {
        self.cold_starts.push_requested(seconds, requested_s);
    }

    /// Folds in a consumer snapshot (ignored if it is not newer than the
    /// previous one) and optional agent reports.
    pub fn update(
        &mut self,
        stats: &ConsumerStats,
        agents: Option<&AgentStats>,
        cold_start_s: Option<f64>,
    ) {
        if let Some(c) = cold_start_s {
            self.cold_starts.push(c);
        }
        let Some(prev) = self.prev else {
            self.prev = Some(*stats);
            return;
        };
        let dt = secs_between(prev.at, stats.at);
        if dt <= 0.0 {
            return;
        }
        if stats.delivered_consumer_seq < prev.delivered_consumer_seq {
            // The consumer was recreated: its counters restarted, so the
            // deltas would be meaningless. Start over from this snapshot.
            self.prev = Some(*stats);
            self.last_arrivals = None;
            return;
        }
        let deliveries = (stats.delivered_consumer_seq - prev.delivered_consumer_seq) as f64;
        let arrivals = (stats.pending as f64 - prev.pending as f64 + deliveries).max(0.0);
        let consumer_completions =
            (deliveries - (stats.ack_pending as f64 - prev.ack_pending as f64)).max(0.0);
        // Agents' own completion counters are exact (the consumer's are
        // blurred by redeliveries), so prefer them when every agent reports.
        // Work in flight is the larger of the agents' sum and the consumer's
        // ack pending: the sum is as old as the last report (up to a stats
        // interval, which in a burst reads new agents as idle) and leaves
        // out draining agents, whose completions are counted all the same;
        // either would read S = L / X short and size the pool too small.
        let (completions, in_flight) = match agents {
            Some(a) if a.reporting > 0 => (
                a.completed_delta as f64,
                (a.in_flight as f64).max(stats.ack_pending as f64),
            ),
            _ => (consumer_completions, stats.ack_pending as f64),
        };
        self.arrivals.update(arrivals / dt, dt);
        let a = alpha(dt, SERVICE_TAU_S);
        self.completions += a * (completions / dt - self.completions);
        self.in_flight += a * (in_flight - self.in_flight);
        self.weight += a * (1.0 - self.weight);
        self.completed_total += completions;
        self.last_arrivals = Some(arrivals);
        self.prev = Some(*stats);
    }

    /// When the last snapshot folded in was taken.
    pub fn last_at(&self) -> Option<Timestamp> {
        self.prev.map(|p| p.at)
    }

    /// Tasks that arrived between the last two snapshots folded in.
    pub fn last_arrivals(&self) -> Option<f64> {
        self.last_arrivals
    }

    /// The current estimates. `concurrency` is the policy's tasks per
    /// agent, used only until the agents have reported their capacity.
    pub fn estimates(
        &self,
        concurrency: u32,
        service_hint_s: Option<f64>,
        cold_start_hint_s: f64,
    ) -> Estimates {
        let cold_start = self.cold_starts.median();
        let horizon = cold_start.unwrap_or(cold_start_hint_s).max(0.0);
        let measured = self.completed_total >= MIN_COMPLETIONS && self.completions > 1e-9;
        // Mean of the n service times in a warmed-up window (2τ), with a
        // coefficient of variation of about 1 (exponential-like; heavier
        // tails are wider still): ±1/sqrt(n).
        let service_noise = if measured {
            let n = self.completions / self.weight.max(1e-9) * 2.0 * SERVICE_TAU_S;
            1.0 / n.max(1.0).sqrt()
        } else {
            0.0
        };
        let service = if measured {
            // Little's law; the shared weight cancels in the ratio.
            (self.in_flight / self.completions).max(1e-3)
        } else {
            service_hint_s.unwrap_or(DEFAULT_SERVICE_TIME_S)
        };
        let k = self
            .capacity_per_agent
            .unwrap_or_else(|| f64::from(concurrency.max(1)));
        Estimates {
            arrival_rate: self.arrivals.rate(),
            arrival_rate_fast: self.arrivals.fast(),
            level_shift: self.arrivals.shifted(),
            arrival_rate_sd: self.arrivals.sd(),
            arrival_rate_low: self.arrivals.rate_low(2.0),
            service_time_rsd: service_noise,
            arrival_trend: self.arrivals.slope(),
            forecast_rate: self.arrivals.forecast(horizon),
            completion_rate: if self.weight > 0.0 {
                self.completions / self.weight
            } else {
                0.0
            },
            service_time_s: service,
            service_time_measured: measured,
            concurrency: k,
            concurrency_measured: self.capacity_per_agent.is_some(),
            per_agent_rate: k / service,
            horizon_s: horizon,
            cold_start_measured: cold_start.is_some(),
            cold_start_fast_s: self
                .cold_starts
                .quantile(super::slo::FAST_QUANTILE)
                .unwrap_or(horizon),
        }
    }
}

#[cfg(test)]
#[path = "estimate_tests.rs"]
mod tests;
