//! Turning runs into rows: SLO attainment, queue-wait percentiles,
//! agent-seconds against the work-conserving bound, churn. Rows print as a
//! text table, a Markdown table with a verdict, or JSON with a fixed key
//! set.

use std::fmt::Write as _;

use serde::Serialize;

use super::engine::Outcome;

/// One policy's results on one trace: exactly the keys of `--json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Policy name.
    pub policy: String,
    /// Trace name.
    pub trace: String,
    /// Tasks in the trace.
    pub tasks: u64,
    /// The SLO on queue wait, seconds.
    pub slo_s: f64,
    /// Share of tasks whose queue wait is within the SLO.
    pub slo_attainment: f64,
    /// Median queue wait, seconds.
    pub p50_wait_s: f64,
    /// 99th-percentile queue wait, seconds.
    pub p99_wait_s: f64,
    /// Longest queue wait, seconds.
    pub max_wait_s: f64,
    /// Σ agent lifetimes, seconds.
    pub agent_seconds: f64,
    /// Total service time / concurrency: the least agent time any policy
    /// could spend.
    pub bound_agent_seconds: f64,
    /// `agent_seconds / bound_agent_seconds`.
    pub cost_ratio: f64,
    /// Containers started.
    pub starts: u64,
    /// Containers stopped.
    pub stops: u64,
}

/// Figures kept out of the JSON (its keys are fixed) but shown in tables.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Extra {
    /// Sign changes of the replica count's steps.
    pub direction_changes: u64,
    /// Tasks lost with killed agents (and redelivered).
    pub lost: u64,
    /// Tasks not finished when the run was cut off.
    pub unfinished: u64,
}

fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// The nearest-rank percentile `p` (0..=1) of `v`, reordering `v`.
pub fn percentile(v: &mut [f32], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
    let (_, x, _) = v.select_nth_unstable_by(rank - 1, f32::total_cmp);
    f64::from(*x)
}

/// Summarises one run.
pub fn row(policy: &str, trace: &str, slo: f64, bound: f64, mut out: Outcome) -> (Row, Extra) {
    let n = out.waits.len();
    let met = out.waits.iter().filter(|&&w| f64::from(w) <= slo).count();
    let max = out.waits.iter().copied().fold(0.0f32, f32::max);
    let p50 = percentile(&mut out.waits, 0.5);
    let p99 = percentile(&mut out.waits, 0.99);
    let r = Row {
        policy: policy.to_string(),
        trace: trace.to_string(),
        tasks: n as u64,
        slo_s: slo,
        slo_attainment: if n == 0 {
            1.0
        } else {
            round(met as f64 / n as f64, 6)
        },
        p50_wait_s: round(p50, 3),
        p99_wait_s: round(p99, 3),
        max_wait_s: round(f64::from(max), 3),
        agent_seconds: round(out.agent_seconds, 1),
        bound_agent_seconds: round(bound, 1),
        cost_ratio: if bound > 0.0 {
            round(out.agent_seconds / bound, 4)
        } else {
            0.0
        },
        starts: out.starts,
        stops: out.stops,
    };
    let e = Extra {
        direction_changes: out.direction_changes,
        lost: out.lost,
        unfinished: out.unfinished,
    };
    (r, e)
}

/// The `bound` row: every task starts on arrival, on an agent that exists
/// only while it works.
pub fn bound_row(trace: &str, tasks: u64, slo: f64, bound: f64) -> Row {
    Row {
        policy: "bound".into(),
        trace: trace.into(),
        tasks,
        slo_s: slo,
        slo_attainment: 1.0,
        p50_wait_s: 0.0,
        p99_wait_s: 0.0,
        max_wait_s: 0.0,
        agent_seconds: round(bound, 1),
        bound_agent_seconds: round(bound, 1),
        cost_ratio: 1.0,
        starts: 0,
        stops: 0,
    }
}

/// The SLO attainment that counts as meeting the SLO.
pub const BAR: f64 = 0.99;

/// The name of jetpool's row with its built-in defaults, shown beside the
/// row with `--policy` (`--compare ...,jetpool-default`).
pub const JETPOOL_DEFAULT: &str = "jetpool-default";

/// Whether a row is one of the peers jetpool is judged against: not
/// jetpool's own rows, not the bound.
pub fn is_peer(policy: &str) -> bool {
    policy != "bound" && policy != "jetpool" && policy != JETPOOL_DEFAULT
}

/// The acceptance verdict for jetpool on one trace, in one sentence.
pub fn verdict(rows: &[(Row, Extra)]) -> Option<String> {
    let jp = rows.iter().find(|r| r.0.policy == "jetpool")?.0.clone();
    let meets = jp.slo_attainment >= BAR;
    let cheaper: Vec<&Row> = rows
        .iter()
        .map(|r| &r.0)
        .filter(|r| is_peer(&r.policy))
        .filter(|r| r.slo_attainment >= BAR && !beats(&jp, r))
        .collect();
    let mut s = format!(
        "jetpool meets the {}s SLO for {:.2}% of tasks ({}); ",
        jp.slo_s,
        jp.slo_attainment * 100.0,
        if meets {
            "meets the 99% bar"
        } else {
            "MISSES the 99% bar"
        }
    );
    if cheaper.is_empty() {
        s.push_str("no peer that meets the 99% bar spends less agent time: PASS");
    } else {
        let names: Vec<String> = cheaper
            .iter()
            .map(|r| {
                format!(
                    "{} ({:.1}% less)",
                    r.policy,
                    (1.0 - r.agent_seconds / jp.agent_seconds) * 100.0
                )
            })
            .collect();
        let _ = write!(
            s,
            "peers meeting the 99% bar with no more agent time: {}: FAIL",
            names.join(", ")
        );
    }
    if !meets && cheaper.is_empty() {
        s = s.replace(": PASS", ": FAIL (SLO)");
    }
    Some(s)
}

/// The header of the headline table [`headline_row`] writes rows of.
pub const HEADLINE_HEAD: &str = "| trace | tasks | bound agent-h | jetpool SLO met | jetpool p99 wait s | jetpool cost x | cheapest peer meeting 99% (cost x) | verdict | jetpool defaults: SLO met, cost x |\n|---|---|---|---|---|---|---|---|---|\n";

/// True when jetpool's row beats `peer`'s on cost: less agent time, or
/// the same (to a millionth: job pools, where every policy pays one cold
/// start and one service time per task) with a shorter p99 wait.
pub fn beats(jp: &Row, peer: &Row) -> bool {
    let same = (jp.agent_seconds - peer.agent_seconds).abs()
        <= 1e-6 * jp.agent_seconds.abs().max(peer.agent_seconds.abs());
    if same {
        jp.p99_wait_s < peer.p99_wait_s
    } else {
        jp.agent_seconds < peer.agent_seconds
    }
}

/// The peer meeting the SLO bar with the least agent time, if any.
pub fn cheapest_meeting<'a>(rows: impl IntoIterator<Item = &'a Row>) -> Option<&'a Row> {
    rows.into_iter()
        .filter(|r| is_peer(&r.policy) && r.slo_attainment >= BAR)
        .min_by(|a, b| a.agent_seconds.total_cmp(&b.agent_seconds))
}

/// One headline row: jetpool against the cheapest peer meeting the bar,
/// and jetpool with its built-in defaults if that row was run. Costs have
/// four decimals: near the bound, the policies differ in the third.
pub fn headline_row(rows: &[(Row, Extra)]) -> Option<String> {
    let jp = &rows.iter().find(|r| r.0.policy == "jetpool")?.0;
    let best = cheapest_meeting(rows.iter().map(|r| &r.0));
    let defaults = rows
        .iter()
        .find(|r| r.0.policy == JETPOOL_DEFAULT)
        .map_or("-".to_string(), |r| {
            format!("{:.2}%, {:.4}", r.0.slo_attainment * 100.0, r.0.cost_ratio)
        });
    let pass = jp.slo_attainment >= BAR && best.is_none_or(|b| beats(jp, b));
    let why = if jp.slo_attainment < BAR {
        "FAIL: misses the SLO bar".to_string()
    } else if pass {
        "PASS".to_string()
    } else {
        "FAIL: a peer meeting the SLO spends less".to_string()
    };
    Some(format!(
        "| {} | {} | {:.1} | {:.2}% | {} | {:.4} | {} | {} | {defaults} |\n",
        jp.trace,
        jp.tasks,
        jp.bound_agent_seconds / 3600.0,
        jp.slo_attainment * 100.0,
        secs(jp.p99_wait_s),
        jp.cost_ratio,
        best.map_or("none".to_string(), |b| format!(
            "{} ({:.4})",
            b.policy, b.cost_ratio
        )),
        why
    ))
}

fn secs(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

const HEAD: [&str; 13] = [
    "policy",
    "SLO met",
    "p50 s",
    "p99 s",
    "max s",
    "agent-h",
    "cost x",
    "starts",
    "stops",
    "dir chg",
    "lost",
    "unfinished",
    "meets 99%",
];

fn cells(r: &Row, e: &Extra) -> [String; 13] {
    [
        r.policy.clone(),
        format!("{:.2}%", r.slo_attainment * 100.0),
        secs(r.p50_wait_s),
        secs(r.p99_wait_s),
        secs(r.max_wait_s),
        format!("{:.1}", r.agent_seconds / 3600.0),
        format!("{:.4}", r.cost_ratio),
        r.starts.to_string(),
        r.stops.to_string(),
        e.direction_changes.to_string(),
        e.lost.to_string(),
        e.unfinished.to_string(),
        if r.slo_attainment >= BAR { "yes" } else { "no" }.into(),
    ]
}

/// A plain-text table, aligned for a terminal.
pub fn text_table(rows: &[(Row, Extra)]) -> String {
    let body: Vec<[String; 13]> = rows.iter().map(|(r, e)| cells(r, e)).collect();
    let mut w = HEAD.map(str::len);
    for c in &body {
        for (i, s) in c.iter().enumerate() {
            w[i] = w[i].max(s.len());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, c: &[String]| {
        for (i, s) in c.iter().enumerate() {
            if i == 0 {
                let _ = write!(out, "{s:<width$}", width = w[i]);
            } else {
                let _ = write!(out, "  {s:>width$}", width = w[i]);
            }
        }
        out.push('\n');
    };
    line(&mut out, &HEAD.map(String::from));
    for c in &body {
        line(&mut out, c);
    }
    out
}

/// A Markdown table.
pub fn markdown_table(rows: &[(Row, Extra)]) -> String {
    let mut out = format!("| {} |\n|{}\n", HEAD.join(" | "), "---|".repeat(HEAD.len()));
    for (r, e) in rows {
        let c = cells(r, e);
        let _ = writeln!(out, "| {} |", c.join(" | "));
    }
    out
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
