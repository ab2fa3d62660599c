//! The rules of the `[pool.scaling]` table: each knob's range, the stale
//! fallback against the bounds, and the rate limits' numbers.

use std::time::Duration;

use crate::config::{Problem, RateLimit, Scaling, StaleFallback, Step, format_duration};

/// Longest stabilisation window or cooldown accepted.
const MAX_WINDOW: Duration = Duration::from_secs(3600);

/// Checks the knobs against each other and against the pool's bounds.
pub(super) fn validate(s: &Scaling, min: u32, max: u32) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut check = |ok: bool, key: &str, msg: String| {
        if !ok {
            out.push(Problem::at(&["scaling", key], msg));
        }
    };
    check(
        s.target_drain_time >= Duration::from_millis(100),
        "target_drain_time",
        "target_drain_time must be at least 100ms".into(),
    );
    check(
        s.target_wait
            .is_none_or(|w| w >= Duration::from_millis(100) && w <= MAX_WINDOW),
        "target_wait",
        "target_wait must be from 100ms to 1h".into(),
    );
    check(
        s.wait_slo
            .is_none_or(|w| w >= Duration::from_secs(1) && w <= MAX_WINDOW),
        "wait_slo",
        "wait_slo must be from 1s to 1h".into(),
    );
    check(
        (0.5..=0.99999).contains(&s.wait_slo_quantile),
        "wait_slo_quantile",
        format!(
            "wait_slo_quantile must be in [0.5, 0.99999], got {}",
            s.wait_slo_quantile
        ),
    );
    check(
        s.target_utilization > 0.0 && s.target_utilization <= 1.0,
        "target_utilization",
        format!(
            "target_utilization must be in (0, 1], got {}",
            s.target_utilization
        ),
    );
    check(
        s.concurrency >= 1,
        "concurrency",
        "concurrency must be at least 1".into(),
    );
    check(
        s.service_time != Some(Duration::ZERO),
        "service_time",
        "service_time must be greater than 0".into(),
    );
    check(
        (0.0..1.0).contains(&s.tolerance),
        "tolerance",
        format!("tolerance must be in [0, 1), got {}", s.tolerance),
    );
    for (key, d) in [
        ("scale_up_delay", s.scale_up_delay),
        ("scale_down_delay", s.scale_down_delay()),
        ("cooldown", s.cooldown),
        ("cold_start", s.cold_start_hint()),
    ] {
        check(
            d <= MAX_WINDOW,
            key,
            format!("{key} must be at most 1h, got {}", format_duration(d)),
        );
    }
    check(
        s.scale_to_zero_after <= Duration::from_secs(24 * 3600),
        "scale_to_zero_after",
        "scale_to_zero_after must be at most 24h".into(),
    );
    check(
        s.activation_timeout <= Duration::from_secs(24 * 3600),
        "activation_timeout",
        "activation_timeout must be at most 24h".into(),
    );
    check(
        s.stale_after >= Duration::from_millis(500),
        "stale_after",
        "stale_after must be at least 500ms".into(),
    );
    match (s.stale_fallback, s.stale_replicas) {
        (StaleFallback::Fixed, None) => check(
            false,
            "stale_fallback",
            "stale_fallback = \"fixed\" needs stale_replicas".into(),
        ),
        (StaleFallback::Hold, Some(_)) => check(
            false,
            "stale_replicas",
            "stale_replicas only applies with stale_fallback = \"fixed\"".into(),
        ),
        (StaleFallback::Fixed, Some(n)) => check(
            (min..=max).contains(&n),
            "stale_replicas",
            format!("stale_replicas ({n}) must be within min and max ({min}..={max})"),
        ),
        (StaleFallback::Hold, None) => {}
    }
    for (key, limits) in [
        ("scale_up_limits", &s.scale_up_limits),
        ("scale_down_limits", &s.scale_down_limits),
    ] {
        for (i, limit) in limits.iter().enumerate() {
            let index = i.to_string();
            for (field, msg) in rate_limit(limit) {
                out.push(Problem::at(&["scaling", key, &index, field], msg));
            }
        }
    }
    out
}

/// Longest rate-limit period, as in the HPA (1800 s).
const MAX_PERIOD: Duration = Duration::from_secs(30 * 60);

/// What is wrong with one rate limit's numbers, as (key, message) pairs.
fn rate_limit(limit: &RateLimit) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    match limit.step {
        Step::Pods(0) => out.push(("pods", "pods must be at least 1".to_string())),
        Step::Percent(0) => out.push(("percent", "percent must be at least 1".to_string())),
        _ => {}
    }
    if limit.period < Duration::from_secs(1) || limit.period > MAX_PERIOD {
        out.push((
            "period",
            format!(
                "period must be between 1s and 30m, got {}",
                format_duration(limit.period)
            ),
        ));
    }
    out
}
