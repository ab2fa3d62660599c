//! The one validator of a pool's settings. A `[[pool]]` table of a policy
//! file and a compose service's labels (over the policy-file pool they
//! name) both arrive here as a [`RawPool`], so every pool meets the same
//! rules, whatever declared it. Problems come back as key paths inside the
//! table; the caller says where that is (a file's line, a label).
//!
//! - this file: names, bounds, cadence, the manual overrides, the agent
//!   lifecycle, the container table and schedule windows;
//! - `scaling`: the `[pool.scaling]` knobs and their rate limits;
//! - `triggers`: the `[[pool.trigger]]` tables.

mod scaling;
mod triggers;

use std::time::Duration;

use super::Policy;
use crate::config::{
    AgentsSpec, ContainerSpec, PoolMode, Problem, RawPool, Schedule, schedule::MINUTES_PER_DAY,
};

/// Checks every rule of a pool's table, returning all problems at once, or
/// the typed policy (bounds and knobs of the decision core). The table's
/// other parts (names, agents, container) are checked here too and are
/// then used as they are.
pub fn validate(raw: &RawPool) -> Result<Policy, Vec<Problem>> {
    let mut out = Vec::new();
    if !is_plain_name(&raw.name) {
        out.push(Problem::at(
            &["name"],
            format!(
                "pool name \"{}\" is not allowed: use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit",
                raw.name
            ),
        ));
    }
    for (key, v) in [("stream", &raw.stream), ("consumer", &raw.consumer)] {
        if !is_jetstream_name(v) {
            out.push(Problem::at(
                &[key],
                format!("{key} name \"{v}\" is not allowed: it must be non-empty with no spaces, '.', '*' or '>'"),
            ));
        }
    }
    if raw.max == 0 {
        out.push(Problem::at(&["max"], "max must be at least 1"));
    }
    if raw.min > raw.max {
        out.push(Problem::at(
            &["min"],
            format!("min ({}) must not exceed max ({})", raw.min, raw.max),
        ));
    }
    if raw.interval < Duration::from_millis(100) || raw.interval > Duration::from_secs(600) {
        out.push(Problem::at(
            &["interval"],
            "interval must be between 100ms and 10m",
        ));
    }
    if let Some(n) = raw.pinned {
        if !(raw.min..=raw.max).contains(&n) {
            out.push(Problem::at(
                &["pinned"],
                format!(
                    "pinned ({n}) must be within min and max ({}..={})",
                    raw.min, raw.max
                ),
            ));
        }
        if raw.paused {
            out.push(Problem::at(
                &["pinned"],
                "set either paused (hold the current count) or pinned (fix it), not both",
            ));
        }
    }
    if let Some(c) = &raw.container {
        out.extend(container(c));
    }
    out.extend(agents(&raw.agents, raw.max));
    out.extend(job_mode(raw));
    out.extend(scaling::validate(&raw.scaling, raw.min, raw.max));
    for (i, w) in raw.schedule.iter().enumerate() {
        out.extend(schedule(w, i, raw.min, raw.max));
    }
    let triggers = triggers::validate(&raw.triggers).unwrap_or_else(|problems| {
        out.extend(problems);
        Vec::new()
    });
    if !out.is_empty() {
        return Err(out);
    }
    Ok(Policy {
        min: raw.min,
        max: raw.max,
        interval: raw.interval,
        scaling: raw.scaling.clone(),
        priority: raw.priority,
        paused: raw.paused,
        pinned: raw.pinned,
        schedule: raw.schedule.clone(),
        mode: raw.mode,
        job_timeout: raw.job_timeout,
        triggers,
    })
}

/// True for names Docker accepts in a container name and NATS in a
/// stream or consumer name: no spaces, dots or wildcards.
pub fn is_plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// True for names JetStream accepts for a stream or consumer: non-empty,
/// no whitespace, dots or wildcards.
pub fn is_jetstream_name(v: &str) -> bool {
    !v.is_empty()
        && !v
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '.' | '*' | '>'))
}

/// The rules of `mode = "job"`: its containers exit when their task is
/// done, so nothing may ask the pool to keep any running.
fn job_mode(raw: &RawPool) -> Vec<Problem> {
    let mut out = Vec::new();
    if raw.mode != PoolMode::Job {
        if raw.job_timeout.is_some() {
            out.push(Problem::at(
                &["job_timeout"],
                "job_timeout applies only to mode = \"job\"",
            ));
        }
        return out;
    }
    let job = "in mode = \"job\" each container works one task and exits";
    if raw.min > 0 {
        out.push(Problem::at(&["min"], format!("min must be 0: {job}")));
    }
    if raw.agents.warm > 0 {
        out.push(Problem::at(
            &["agents", "warm"],
            format!("warm must be 0: {job}"),
        ));
    }
    if raw.pinned.is_some() {
        out.push(Problem::at(
            &["pinned"],
            format!("pinned is not allowed: {job}"),
        ));
    }
    if !raw.triggers.is_empty() {
        out.push(Problem::at(
            &["trigger"],
            format!("triggers do not apply: {job}, one per pending task"),
        ));
    }
    if raw.job_timeout.is_some_and(|t| t < Duration::from_secs(1)) {
        out.push(Problem::at(
            &["job_timeout"],
            "job_timeout must be at least 1s",
        ));
    }
    out
}

/// The `[pool.container]` table.
fn container(c: &ContainerSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if c.image.trim().is_empty() {
        out.push(Problem::at(
            &["container", "image"],
            "image must not be empty",
        ));
    }
    for k in c.labels.keys() {
        if k.starts_with("jetpool.") {
            out.push(Problem::at(
                &["container", "labels"],
                format!("label \"{k}\": keys starting with \"jetpool.\" are reserved for jetpool"),
            ));
        }
    }
    for k in c.env.keys() {
        if k.is_empty() || k.contains('=') {
            out.push(Problem::at(
                &["container", "env"],
                format!("environment variable name \"{k}\" must be non-empty and contain no '='"),
            ));
        }
    }
    if c.stop_timeout > Duration::from_secs(3600) {
        out.push(Problem::at(
            &["container", "stop_timeout"],
            "stop_timeout must be at most 1h",
        ));
    }
    if let Some(n) = c.cpus
        && !(n > 0.0 && n.is_finite())
    {
        out.push(Problem::at(
            &["container", "cpus"],
            "cpus must be a positive number",
        ));
    }
    for e in &c.engines {
        // The rule of `--engine NAME=URL`: a name outside it names no
        // engine, whatever jetpool runs with.
        let valid = !e.is_empty()
            && e.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid {
            out.push(Problem::at(
                &["container", "engines"],
                format!("engine name \"{e}\" must be lower-case letters, digits, '-' and '_'"),
            ));
        }
    }
    for v in &c.volumes {
        if !v.contains(':') {
            out.push(Problem::at(
                &["container", "volumes"],
                format!(
                    "volume \"{v}\" must have the form \"source:target\" or \"source:target:ro\""
                ),
            ));
        }
    }
    out
}

/// The `[pool.agents]` table, against the pool's `max`.
fn agents(a: &AgentsSpec, max: u32) -> Vec<Problem> {
    let mut out = Vec::new();
    for (key, d) in [
        ("drain_timeout", a.drain_timeout),
        ("stats_timeout", a.stats_timeout),
        ("max_backoff", a.max_backoff),
    ] {
        if d < Duration::from_secs(1) {
            out.push(Problem::at(
                &["agents", key],
                format!("{key} must be at least 1s"),
            ));
        }
    }
    if a.warm > max {
        out.push(Problem::at(
            &["agents", "warm"],
            format!("warm ({}) must not exceed max ({max})", a.warm),
        ));
    }
    out
}

/// One `[[pool.schedule]]` window against itself and the pool's static
/// bounds; `i` is its index in the pool's `schedule` array.
fn schedule(w: &Schedule, i: usize, min: u32, max: u32) -> Vec<Problem> {
    let idx = i.to_string();
    let at = |key: &'static str| -> Vec<&str> { vec!["schedule", idx.as_str(), key] };
    let mut out = Vec::new();
    if w.min.is_none() && w.max.is_none() {
        out.push(Problem::at(
            &["schedule", &idx],
            "a schedule window must set min, max or both",
        ));
    }
    if w.start == w.end {
        out.push(Problem::at(
            &at("end"),
            format!(
                "end must differ from start ({}); use start = \"00:00\" and end = \"24:00\" for a whole day",
                w.start
            ),
        ));
    }
    if w.start.0 == MINUTES_PER_DAY {
        out.push(Problem::at(
            &at("start"),
            "start must be between 00:00 and 23:59",
        ));
    }
    if let Some(m) = w.min
        && m > max
    {
        out.push(Problem::at(
            &at("min"),
            format!("schedule min ({m}) must not exceed the pool's max ({max})"),
        ));
    }
    if let Some(m) = w.max
        && m < min
    {
        out.push(Problem::at(
            &at("max"),
            format!("schedule max ({m}) must not be below the pool's min ({min})"),
        ));
    }
    if let (Some(lo), Some(hi)) = (w.min, w.max)
        && lo > hi
    {
        out.push(Problem::at(
            &at("min"),
            format!("schedule min ({lo}) must not exceed its max ({hi})"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(extra: &str) -> RawPool {
        let toml = format!(
            "[[pool]]\nname = \"p\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 3\n{extra}\n[pool.container]\nimage = \"x\"\n"
        );
        let read = crate::config::parse_file(std::path::Path::new("t.toml"), &toml).unwrap();
        read.into_iter().next().unwrap().raw
    }

    fn paths(r: Result<Policy, Vec<Problem>>) -> Vec<String> {
        r.unwrap_err().iter().map(Problem::dotted).collect()
    }

    #[test]
    fn a_valid_table_gives_its_policy() {
        let p = validate(&raw("min = 1\npinned = 2")).unwrap();
        assert_eq!((p.min, p.max, p.pinned), (1, 3, Some(2)));
    }

    #[test]
    fn triggers_are_typed_and_every_mistake_names_its_key() {
        let p = validate(&raw(
            "[[pool.trigger]]\ntype = \"cpu\"\ntarget = 0.7\n[[pool.trigger]]\ntype = \"prometheus\"\nurl = \"http://127.0.0.1:9090/\"\nquery = \"sum(x)\"\ntarget = 10",
        ))
        .unwrap();
        assert_eq!(p.triggers.len(), 2);
        assert_eq!(
            (p.triggers[0].name.as_str(), p.triggers[0].tolerance),
            ("cpu", 0.1)
        );
        match &p.triggers[1].source {
            crate::policy::Source::Prometheus(q) => {
                assert_eq!(q.url, "http://127.0.0.1:9090");
                assert!(q.ignore_null_values);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            paths(validate(&raw(
                "[[pool.trigger]]\ntype = \"cpu\"\ntarget = 0\nquery = \"x\"\n[[pool.trigger]]\ntype = \"prometheus\"\nurl = \"ftp://x\"\ntarget = 1\n[[pool.trigger]]\ntype = \"memory\"\ntarget = 0.5\nname = \"cpu\""
            ))),
            [
                "trigger[0].target",
                "trigger[0].query",
                "trigger[1].url",
                "trigger[1].query",
                "trigger[2].name"
            ]
        );
    }

    #[test]
    fn engine_names_follow_the_flags_rule() {
        let toml = "[[pool]]\nname = \"p\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 3\n[pool.container]\nimage = \"x\"\nengines = [\"gpu-1\", \"GPU\"]\n";
        let read = crate::config::parse_file(std::path::Path::new("t.toml"), toml).unwrap();
        let raw = read.into_iter().next().unwrap().raw;
        assert_eq!(paths(validate(&raw)), ["container.engines"]);
    }

    #[test]
    fn every_rule_reports_its_key() {
        assert_eq!(paths(validate(&raw("pinned = 5"))), ["pinned"]);
        assert_eq!(
            paths(validate(&raw("min = 4\n[pool.agents]\nwarm = 4"))),
            ["min", "agents.warm"]
        );
        assert_eq!(
            paths(validate(&raw(
                "[pool.scaling]\nscale_up_limits = [{ pods = 0, period = \"1s\" }]"
            ))),
            ["scaling.scale_up_limits[0].pods"]
        );
        assert_eq!(
            paths(validate(&raw(
                "[[pool.schedule]]\nstart = \"08:00\"\nend = \"09:00\"\nmin = 9"
            ))),
            ["schedule[0].min"]
        );
    }
}
