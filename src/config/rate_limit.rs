//! Rate limits per period, the Kubernetes HPA's scaling policies:
//! `[{ pods = 4, period = "15s" }, { percent = 100, period = "15s" }]` with
//! a select rule saying which of them applies. Applied in
//! `policy::rate`.

use std::time::Duration;

use serde::Deserialize;

use super::duration;

/// How far one period may move the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// At most this many agents per period.
    Pods(u32),
    /// At most this percentage of the count at the period's start.
    Percent(u32),
}

/// One rate limit: a step per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawRateLimit")]
pub struct RateLimit {
    /// How far the count may move within one period.
    pub step: Step,
    /// The sliding period the step is measured over.
    pub period: Duration,
}

/// A rate limit as written: exactly one of `pods` and `percent`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    /// Agents per period.
    #[serde(default)]
    pods: Option<u32>,
    /// Percent of the count at the period's start, per period.
    #[serde(default)]
    percent: Option<u32>,
    /// The period.
    #[serde(deserialize_with = "duration::required")]
    period: Duration,
}

impl TryFrom<RawRateLimit> for RateLimit {
    type Error = String;

    /// Only the shape is checked here; the numbers are checked by
    /// [`policy::validate`](crate::policy::validate), which can name the
    /// element and key.
    fn try_from(raw: RawRateLimit) -> Result<Self, String> {
        let step = match (raw.pods, raw.percent) {
            (Some(p), None) => Step::Pods(p),
            (None, Some(p)) => Step::Percent(p),
            _ => {
                return Err(
                    "a rate limit needs exactly one of `pods` or `percent`, plus `period`".into(),
                );
            }
        };
        Ok(RateLimit {
            step,
            period: raw.period,
        })
    }
}

/// Which of several rate limits applies, as the HPA's `selectPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Select {
    /// The limit allowing the largest change.
    #[default]
    Max,
    /// The limit allowing the smallest change.
    Min,
    /// No change in this direction at all (bounds, pinned and the budget
    /// still move the count).
    Disabled,
}
