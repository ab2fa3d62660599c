//! Scaling triggers beside the backlog model: each recommends a count
//! with its own reason, and the highest recommendation wins (the HPA's
//! rule for several metrics). Pure: a trigger's reading arrives in the
//! [`Observation`](super::Observation) as a timestamped number, read at
//! the edge by a background reader; nothing here performs I/O.
//!
//! - `cpu` / `memory`: the HPA's resource-utilisation rule,
//!   `ceil(current × utilisation / target)`, with its tolerance band and
//!   its treatment of agents not measured yet (assumed idle when scaling
//!   out, fully used when scaling in, so neither direction overshoots).
//! - `prometheus`: KEDA's prometheus scaler: `ceil(value / target)` (an
//!   `AverageValue` target), with the HPA's tolerance band around the
//!   current count, and an `activation` threshold: only a value above it
//!   wakes a pool from zero or keeps a running one from being idle.
//!
//! A trigger that cannot be read (its reader failed, or its reading is
//! older than the pool's `stale_after`, see [`stale_after`]) recommends
//! nothing and holds the pool: while it is blind, the count never goes
//! below what runs.

use std::path::PathBuf;
use std::time::Duration;

use jiff::Timestamp;

use super::decision::{Limit, Trail};
use super::ewma::secs_between;

/// The name of the backlog model among the triggers.
pub const BACKLOG: &str = "backlog";

/// The shortest time between two reads of one trigger: a pool ticking
/// every 250 ms need not query Prometheus four times a second, and one
/// Docker stats read samples for about a second anyway.
pub const MIN_READ_INTERVAL: Duration = Duration::from_secs(1);

/// How old a trigger's reading may be before it is stale: the pool's
/// `stale_after`, but at least three read intervals, so a `stale_after`
/// shorter than a read's cadence cannot keep every trigger blind.
pub fn stale_after(stale_after: Duration, interval: Duration) -> Duration {
    stale_after.max(3 * interval.max(MIN_READ_INTERVAL))
}

/// One validated `[[pool.trigger]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Its name: in `/status`, reasons and the `trigger` metric label.
    pub name: String,
    /// What it reads.
    pub source: Source,
    /// The utilisation (cpu, memory) or per-agent value (prometheus) to
    /// keep; greater than 0.
    pub target: f64,
    /// No change while `|ratio - 1| <= tolerance`.
    pub tolerance: f64,
}

/// What a trigger reads, with what its reader needs to read it.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Mean CPU use of the agents, a share of each one's limit (one core
    /// without a limit).
    Cpu,
    /// Mean memory use of the agents, a share of each one's limit (the
    /// host's memory without a limit, as `docker stats` shows it).
    Memory,
    /// An instant Prometheus query.
    Prometheus(PromQuery),
}

impl Source {
    /// The type as policy files spell it.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Cpu => "cpu",
            Source::Memory => "memory",
            Source::Prometheus(_) => "prometheus",
        }
    }
}

/// How to run one Prometheus query.
#[derive(Debug, Clone, PartialEq)]
pub struct PromQuery {
    /// The server's base URL, without `/api/v1/query`.
    pub url: String,
    /// The PromQL expression.
    pub query: String,
    /// Active only while the value is above this.
    pub activation: f64,
    /// A file holding a bearer token, read at each query.
    pub token_file: Option<PathBuf>,
    /// An empty result or NaN is 0 rather than an error.
    pub ignore_null_values: bool,
    /// The longest one query may take.
    pub timeout: Duration,
}

/// A trigger's latest reading, as its reader published it.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct TriggerReading {
    /// When the latest successful read finished; `None` until one has.
    pub at: Option<Timestamp>,
    /// `cpu`/`memory`: the measured agents' mean utilisation, a share of
    /// their limit; `prometheus`: the query's value.
    pub value: f64,
    /// `cpu`/`memory`: how many agents the mean is over.
    pub agents: u32,
    /// Why the latest read failed, when it did (the value is then the
    /// last good one, and not used).
    pub failure: Option<String>,
}

/// What one trigger recommended at a decision.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TriggerOutcome {
    /// The trigger's name (`backlog` for the model).
    pub name: String,
    /// `backlog`, `cpu`, `memory` or `prometheus`.
    pub kind: &'static str,
    /// Its recommendation; `None` while it cannot be read.
    pub recommended: Option<u32>,
    /// The value it read, when it could.
    pub value: Option<f64>,
    /// Whether it wakes the pool from zero and keeps it from idling.
    pub active: bool,
    /// One phrase a person can read.
    pub reason: String,
}

impl TriggerOutcome {
    /// The backlog model's outcome: `None` while its metrics are stale.
    pub fn backlog(recommended: Option<u32>, reason: &str) -> Self {
        TriggerOutcome {
            name: BACKLOG.to_string(),
            kind: BACKLOG,
            recommended,
            value: None,
            active: false,
            reason: reason.to_string(),
        }
    }

    /// Whether it could not be read (stale or failing).
    pub fn blind(&self) -> bool {
        self.recommended.is_none()
    }
}

/// What trigger `t` recommends from `reading` for a pool of `current`
/// agents at `now`; a reading older than `stale_after` is not used.
pub fn recommend(
    t: &Trigger,
    reading: Option<&TriggerReading>,
    current: u32,
    stale_after: Duration,
    now: Timestamp,
) -> TriggerOutcome {
    let mut out = TriggerOutcome {
        name: t.name.clone(),
        kind: t.source.kind(),
        recommended: None,
        value: None,
        active: false,
        reason: String::new(),
    };
    let fresh = match reading {
        None | Some(TriggerReading { at: None, .. }) => Err("not read yet".to_string()),
        Some(TriggerReading {
            failure: Some(f), ..
        }) => Err(format!("failing: {f}")),
        Some(r @ TriggerReading { at: Some(at), .. }) => {
            let age = secs_between(*at, now).max(0.0);
            if age > stale_after.as_secs_f64() {
                Err(format!("reading {age:.1}s old"))
            } else {
                Ok(r)
            }
        }
    };
    let r = match fresh {
        Ok(r) => r,
        Err(why) => {
            out.reason = format!("{} {why}", t.name);
            return out;
        }
    };
    out.value = Some(r.value);
    let (n, why) = match &t.source {
        Source::Cpu | Source::Memory => utilisation(t, r, current),
        Source::Prometheus(q) => {
            out.active = r.value > q.activation;
            prometheus(t, q, r.value, current, out.active)
        }
    };
    out.recommended = Some(n);
    out.reason = format!("{} {why}", t.name);
    out
}

/// The HPA's resource rule over the measured agents: agents counted in
/// `current` but not measured yet are assumed idle when the measured ones
/// ask for more, and fully used when they ask for fewer, and no change is
/// made if that reverses the direction or lands in the tolerance band.
fn utilisation(t: &Trigger, r: &TriggerReading, current: u32) -> (u32, String) {
    let (n, u) = (r.agents, r.value.max(0.0));
    if n == 0 {
        return (0, "no agent measured".to_string());
    }
    let count = n.max(current);
    let missing = f64::from(count - n);
    let ratio = u / t.target;
    let shown = format!("{u:.2} of target {:.2} over {n} agents", t.target);
    if (ratio - 1.0).abs() <= t.tolerance {
        return (
            current,
            format!("{shown}: within tolerance, keeps {current}"),
        );
    }
    let assumed = if ratio > 1.0 { 0.0 } else { 1.0 };
    let total = u * f64::from(n) + assumed * missing;
    let adjusted = total / (t.target * f64::from(count));
    if (adjusted - 1.0).abs() <= t.tolerance || (adjusted > 1.0) != (ratio > 1.0) {
        return (
            current,
            format!("{shown}: unmeasured agents would reverse it, keeps {current}"),
        );
    }
    let want = ceil_u32(adjusted * f64::from(count));
    (want, format!("{shown} -> {want}"))
}

/// KEDA's prometheus scaler over the HPA: `ceil(value / target)` with the
/// tolerance band around a running pool; at zero, only an active trigger
/// asks for agents (at least one).
fn prometheus(t: &Trigger, q: &PromQuery, v: f64, current: u32, active: bool) -> (u32, String) {
    let want = ceil_u32(v / t.target);
    let shown = format!("{v} / target {}", t.target);
    let state = if active {
        "active".to_string()
    } else {
        format!("inactive, not above activation {}", q.activation)
    };
    if current == 0 {
        let n = if active { want.max(1) } else { 0 };
        return (n, format!("{shown} -> {n} ({state})"));
    }
    let ratio = v / (t.target * f64::from(current));
    if (ratio - 1.0).abs() <= t.tolerance {
        return (
            current,
            format!("{shown}: within tolerance, keeps {current} ({state})"),
        );
    }
    (want, format!("{shown} -> {want} ({state})"))
}

/// Rounds a non-negative count up; infinities saturate, NaN is 0.
fn ceil_u32(x: f64) -> u32 {
    x.max(0.0).ceil() as u32
}

/// Raises the count to the highest recommendation of the other triggers
/// when it beats the one so far (the highest wins), naming the trigger.
pub(crate) fn highest(t: &mut Trail, outcomes: &[TriggerOutcome]) {
    let best = outcomes
        .iter()
        .filter(|o| o.kind != BACKLOG)
        .filter_map(|o| o.recommended.map(|n| (n, o)))
        .max_by_key(|(n, _)| *n);
    if let Some((n, o)) = best
        && n > t.value
    {
        t.bound(n, Limit::Trigger, |n| {
            format!("raised to {n} by trigger {}", o.name)
        });
    }
}

/// The first active trigger, which keeps the pool from idling to zero and
/// wakes it from zero.
pub(crate) fn active(outcomes: &[TriggerOutcome]) -> Option<&TriggerOutcome> {
    outcomes
        .iter()
        .find(|o| o.active && o.recommended.is_some())
}

/// Never scale in on a blind trigger: while one cannot be read, the count
/// stays at or above `hold` (the larger of the last decision and what
/// runs), as for stale consumer metrics.
pub(crate) fn hold_blind(t: &mut Trail, outcomes: &[TriggerOutcome], hold: u32) {
    if let Some(b) = outcomes.iter().find(|o| o.blind() && o.kind != BACKLOG)
        && t.value < hold
    {
        t.bound(hold, Limit::Stale, |n| {
            format!(
                "held at {n}: trigger {} is blind (never scale in blind)",
                b.name
            )
        });
    }
}

/// The triggers' phrases for the reason line, or nothing without any.
pub(crate) fn describe(outcomes: &[TriggerOutcome]) -> String {
    let others: Vec<&str> = outcomes
        .iter()
        .filter(|o| o.kind != BACKLOG)
        .map(|o| o.reason.as_str())
        .collect();
    if others.is_empty() {
        String::new()
    } else {
        format!("; triggers: {}", others.join(", "))
    }
}

#[cfg(test)]
#[path = "triggers_tests.rs"]
mod tests;
