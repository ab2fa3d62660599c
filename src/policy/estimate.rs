//! Online estimates of the three rates the sizing model needs: arrivals λ
//! (with a trend, to forecast over the cold-start horizon), completions, and
//! the per-task service time S from which per-agent throughput follows.
//!
//! All estimates are time-aware EWMAs: a sample's weight depends on the time
//! it covers, so an irregular observation cadence (a slow NATS answer, a
//! simulator with another tick) does not change what is estimated.

use jiff::Timestamp;

use super::observation::{AgentStats, ConsumerStats};

/// Smoothing time constant of the arrival-rate level.
const LAMBDA_TAU_S: f64 = 5.0;
/// Smoothing time constant of the arrival-rate trend (slope).
const TREND_TAU_S: f64 = 15.0;
/// Smoothing time constant of in-flight work and completion rate, whose
/// ratio is the service time (Little's law: S = L / X).
const SERVICE_TAU_S: f64 = 20.0;
/// Completions needed before the measured service time replaces the hint.
const MIN_COMPLETIONS: f64 = 20.0;
/// Service time assumed when nothing is configured or measured yet.
pub const DEFAULT_SERVICE_TIME_S: f64 = 1.0;

/// Seconds from `a` to `b` (negative if `b` is earlier).
pub fn secs_between(a: Timestamp, b: Timestamp) -> f64 {
    (b.as_millisecond() - a.as_millisecond()) as f64 / 1000.0
}

/// Weight of a new sample covering `dt` seconds in an EWMA with time
/// constant `tau`.
fn alpha(dt: f64, tau: f64) -> f64 {
    1.0 - (-dt / tau).exp()
}

/// The estimates derived so far, as reported in decisions and `/status`.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Estimates {
    /// Smoothed arrival rate λ, tasks per second.
    pub arrival_rate: f64,
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
    /// Per-agent throughput μ = concurrency / S, tasks per second.
    pub per_agent_rate: f64,
    /// Forecast horizon used (the cold-start time), seconds.
    pub horizon_s: f64,
}

/// Estimator state carried from tick to tick.
#[derive(Debug, Clone, Default)]
pub struct Estimator {
    /// The consumer snapshot the last rates were computed from.
    prev: Option<ConsumerStats>,
    /// Arrival-rate level (Holt's linear method).
    level: Option<f64>,
    /// Arrival-rate slope.
    slope: f64,
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
    /// Smoothed cold start, seconds.
    cold_start_s: Option<f64>,
    /// Tasks that arrived between the last two snapshots (`None` before
    /// there are two): zero is one of the signs of an idle pool.
    last_arrivals: Option<f64>,
}

impl Estimator {
    /// Folds in a consumer snapshot (ignored if it is not newer than the
    /// previous one) and optional agent reports.
    pub fn update(
        &mut self,
        stats: &ConsumerStats,
        agents: Option<&AgentStats>,
        cold_start_s: Option<f64>,
    ) {
        if let Some(c) = cold_start_s {
            self.cold_start_s = Some(match self.cold_start_s {
                Some(prev) => prev + 0.3 * (c - prev),
                None => c,
            });
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
        // Agents' own counters are exact (the consumer's are blurred by
        // redeliveries), so prefer them when every agent reports.
        let (completions, in_flight) = match agents {
            Some(a) if a.reporting > 0 => (a.completed_delta as f64, a.in_flight as f64),
            _ => (consumer_completions, stats.ack_pending as f64),
        };
        self.update_arrivals(arrivals / dt, dt);
        let a = alpha(dt, SERVICE_TAU_S);
        self.completions += a * (completions / dt - self.completions);
        self.in_flight += a * (in_flight - self.in_flight);
        self.weight += a * (1.0 - self.weight);
        self.completed_total += completions;
        self.last_arrivals = Some(arrivals);
        self.prev = Some(*stats);
    }

    /// Tasks that arrived between the last two snapshots folded in.
    pub fn last_arrivals(&self) -> Option<f64> {
        self.last_arrivals
    }

    fn update_arrivals(&mut self, rate: f64, dt: f64) {
        match self.level {
            None => {
                self.level = Some(rate);
                self.slope = 0.0;
            }
            Some(level) => {
                let a = alpha(dt, LAMBDA_TAU_S);
                let b = alpha(dt, TREND_TAU_S);
                let next = a * rate + (1.0 - a) * (level + self.slope * dt);
                let next = next.max(0.0);
                self.slope = b * ((next - level) / dt) + (1.0 - b) * self.slope;
                self.level = Some(next);
            }
        }
    }

    /// The current estimates for a pool whose agents each run
    /// `concurrency` tasks at once.
    pub fn estimates(
        &self,
        concurrency: u32,
        service_hint_s: Option<f64>,
        cold_start_hint_s: f64,
    ) -> Estimates {
        let level = self.level.unwrap_or(0.0);
        let horizon = self.cold_start_s.unwrap_or(cold_start_hint_s).max(0.0);
        // Only an upward trend is extrapolated: sizing for a falling load
        // ahead of time would trade queue wait for a little agent time.
        let forecast = level + (self.slope * horizon).max(0.0);
        let measured = self.completed_total >= MIN_COMPLETIONS && self.completions > 1e-9;
        let service = if measured {
            // Little's law; the shared weight cancels in the ratio.
            (self.in_flight / self.completions).max(1e-3)
        } else {
            service_hint_s.unwrap_or(DEFAULT_SERVICE_TIME_S)
        };
        let k = f64::from(concurrency.max(1));
        Estimates {
            arrival_rate: level,
            arrival_trend: self.slope,
            forecast_rate: forecast,
            completion_rate: if self.weight > 0.0 {
                self.completions / self.weight
            } else {
                0.0
            },
            service_time_s: service,
            service_time_measured: measured,
            per_agent_rate: k / service,
            horizon_s: horizon,
        }
    }
}
