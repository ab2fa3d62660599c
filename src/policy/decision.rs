//! What [`decide`](super::decide) returns: the count, the guardrail that set
//! it, and the reason; plus `Trail`, the one place every guardrail goes
//! through to change the count and record that it did.

use super::estimate::Estimates;

/// Which rule set the final count, when it was not the model alone. A
/// bounded label for metrics ([`Limit::as_str`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The model's number stood.
    None,
    /// Capped by what the consumer can feed (max_ack_pending / concurrency).
    ConsumerLimit,
    /// The need was within `tolerance` of the current count: kept it.
    Tolerance,
    /// At zero with the backlog at or below `activation_backlog`: stays at zero.
    Activation,
    /// At zero, tasks have been pending for `activation_timeout`: wakes even
    /// below `activation_backlog`.
    ActivationTimeout,
    /// Holding one agent until the pool has been idle for `scale_to_zero_after`.
    ScaleToZeroDelay,
    /// Idle for `scale_to_zero_after`: heading to zero.
    ScaleToZero,
    /// A higher need has not yet held for `scale_up_delay`.
    ScaleUpDelay,
    /// A lower need has not yet held for `scale_down_delay`.
    ScaleDownDelay,
    /// A `wait_slo` pool missing its SLO keeps its agents.
    SloHold,
    /// Slowed by `scale_up_limits`.
    ScaleUpLimit,
    /// Slowed by `scale_down_limits`.
    ScaleDownLimit,
    /// Held by `cooldown` after the previous change.
    Cooldown,
    /// Stopped at one agent on the way to zero (never N to 0 at once).
    StepToZero,
    /// Raised to the pool's `min`.
    Min,
    /// Lowered to the pool's `max`.
    Max,
    /// Raised to the `min` of an open schedule window.
    ScheduleMin,
    /// Lowered to the `max` of an open schedule window.
    ScheduleMax,
    /// Metrics are stale or failing: the fallback count.
    Stale,
    /// `paused = true`: holding what runs.
    Paused,
    /// `pinned = N`: the count is fixed.
    Pinned,
    /// Capped by the pool's share of the global agent budget.
    Budget,
    /// Raised by a trigger (cpu, memory, prometheus) whose recommendation
    /// beat the backlog model's.
    Trigger,
}

impl Limit {
    /// Every variant, for metrics that pre-register their label values.
    pub const ALL: [Limit; 23] = [
        Limit::None,
        Limit::ConsumerLimit,
        Limit::Tolerance,
        Limit::Activation,
        Limit::ActivationTimeout,
        Limit::ScaleToZeroDelay,
        Limit::ScaleToZero,
        Limit::ScaleUpDelay,
        Limit::ScaleDownDelay,
        Limit::SloHold,
        Limit::ScaleUpLimit,
        Limit::ScaleDownLimit,
        Limit::Cooldown,
        Limit::StepToZero,
        Limit::Min,
        Limit::Max,
        Limit::ScheduleMin,
        Limit::ScheduleMax,
        Limit::Stale,
        Limit::Paused,
        Limit::Pinned,
        Limit::Budget,
        Limit::Trigger,
    ];

    /// A fixed, bounded label for metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::None => "none",
            Limit::ConsumerLimit => "consumer_limit",
            Limit::Tolerance => "tolerance",
            Limit::Activation => "activation",
            Limit::ActivationTimeout => "activation_timeout",
            Limit::ScaleToZeroDelay => "scale_to_zero_delay",
            Limit::ScaleToZero => "scale_to_zero",
            Limit::ScaleUpDelay => "scale_up_delay",
            Limit::ScaleDownDelay => "scale_down_delay",
            Limit::SloHold => "slo_hold",
            Limit::ScaleUpLimit => "scale_up_limit",
            Limit::ScaleDownLimit => "scale_down_limit",
            Limit::Cooldown => "cooldown",
            Limit::StepToZero => "step_to_zero",
            Limit::Min => "min",
            Limit::Max => "max",
            Limit::ScheduleMin => "schedule_min",
            Limit::ScheduleMax => "schedule_max",
            Limit::Stale => "stale",
            Limit::Paused => "paused",
            Limit::Pinned => "pinned",
            Limit::Budget => "budget",
            Limit::Trigger => "trigger",
        }
    }
}

/// The outcome of one [`decide`](super::decide) call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    /// Agents the pool should run.
    pub desired: u32,
    /// What the sizing model asked for before guardrails (the current count
    /// when metrics are stale).
    pub recommended: u32,
    /// Agents counted as current (ready + starting).
    pub current: u32,
    /// The last guardrail that changed the count; [`Limit::None`] if the
    /// model's number stood.
    pub limit: Limit,
    /// The estimates the model used.
    pub estimates: Estimates,
    /// What a `wait_slo` pool derived for this decision (standing queue,
    /// down window, drain time, age guard); `None` without `wait_slo`.
    pub slo: Option<super::slo::Derived>,
    /// A `wait_slo` pool: the share of the last hour's deliveries that
    /// started later than the SLO, as measured from the consumer; `None`
    /// without `wait_slo` or before any delivery.
    pub slo_late_share: Option<f64>,
    /// Age of the consumer metrics, seconds (infinite if never read).
    pub staleness_s: f64,
    /// One line a person can read: inputs, model, guardrails.
    pub reason: String,
    /// The count before the budget cap: what this pool asks of the global
    /// budget ([`budget::Request::desired`](super::budget::Request)).
    pub demand: u32,
    /// The lower bound in force now (`min`, raised by open schedule windows).
    pub min: u32,
    /// The upper bound in force now (`max`, lowered by open schedule windows).
    pub max: u32,
    /// What each trigger recommended, the backlog model first.
    pub triggers: Vec<super::triggers::TriggerOutcome>,
    /// A `wait_slo` pool whose oldest pending task has waited past the age
    /// guard: the plan is behind the SLO, and the planner no longer counts
    /// on agents overdue in their start.
    pub behind: bool,
}

/// The count as it passes through the guardrails, with a note from each
/// one that changed it. Every guardrail changes the count only through
/// [`Trail::bound`] or [`Trail::force`], so the reason and the [`Limit`]
/// can never disagree with what happened.
#[derive(Debug, Clone)]
pub(crate) struct Trail {
    /// The count so far.
    pub value: u32,
    /// The last guardrail that changed it.
    pub limit: Limit,
    /// One note per change, in order.
    notes: Vec<String>,
}

impl Trail {
    /// Starts from the model's number.
    pub fn new(value: u32) -> Self {
        Trail {
            value,
            limit: Limit::None,
            notes: Vec::new(),
        }
    }

    /// Sets the count to `value` if that changes it, recording `limit` and
    /// the note.
    pub fn bound(&mut self, value: u32, limit: Limit, note: impl FnOnce(u32) -> String) {
        if value != self.value {
            self.force(value, limit, note);
        }
    }

    /// Sets the count and records `limit` even when the number is the same:
    /// for overrides (paused, pinned, stale), which own the count outright.
    pub fn force(&mut self, value: u32, limit: Limit, note: impl FnOnce(u32) -> String) {
        self.notes.push(note(value));
        self.value = value;
        self.limit = limit;
    }

    /// Records a note without changing the count: a rule that let the
    /// count through where it would otherwise have held it.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// The notes, joined for the reason line.
    pub fn notes(&self) -> String {
        self.notes
            .iter()
            .map(|n| format!("; {n}"))
            .collect::<String>()
    }
}
