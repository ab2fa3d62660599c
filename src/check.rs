//! `jetpool check`: validates policy files and prints every problem with
//! file, line and column, so a broken policy is caught before deploying it.

use std::path::PathBuf;

use crate::policy::{Policy, slo};
use crate::pool::spec;

/// Arguments of `jetpool check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Policy files or directories of `*.toml` files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

/// Validates the files; prints a summary on success, every problem on
/// failure. Returns the process exit code (0 when all files are valid).
pub fn check(args: &CheckArgs) -> i32 {
    match spec::load_paths(&args.paths) {
        Ok(policies) => {
            for t in &policies.tables {
                let kind = if t.raw.container.is_some() {
                    "pool"
                } else {
                    "settings"
                };
                println!(
                    "ok   {}: {kind} {} (stream {}, consumer {}, {})",
                    t.source.display(),
                    t.raw.name,
                    t.raw.stream,
                    t.raw.consumer,
                    summary(&t.policy)
                );
                if let Some(lines) = slo_lines(&t.policy) {
                    println!("{lines}");
                }
            }
            let settings = policies.tables.len() - policies.pools().len();
            match settings {
                0 => println!("{} pool(s) valid", policies.tables.len()),
                n => println!(
                    "{} pool(s) valid, {n} of them settings only (no [pool.container]: they run nothing, compose services borrow them through jetpool.policy)",
                    policies.tables.len()
                ),
            }
            0
        }
        Err(errors) => {
            for e in &errors.0 {
                eprintln!("error {e}");
            }
            eprintln!("{} problem(s) found", errors.0.len());
            1
        }
    }
}

/// For a `wait_slo` pool, what it derives: with the cold start assumed
/// until one is measured, and with a 2 s one, so the user sees both ends of
/// what the pool may run with.
fn slo_lines(p: &Policy) -> Option<String> {
    let s = &p.scaling;
    let slo = s.wait_slo?;
    let interval = p.interval.as_secs_f64();
    let assumed = slo::assumed_cold_start_s(s);
    let first = slo::derive(s, assumed, interval)?;
    let quick = slo::derive(s, 2.0, interval)?;
    Some(format!(
        "     wait_slo {} at {}: until a cold start is measured (assumed {}{}): {}\n     \
         with a 2s cold start measured: {}",
        crate::config::format_duration(slo),
        s.wait_slo_quantile,
        crate::config::format_duration(std::time::Duration::from_secs_f64(assumed)),
        if s.cold_start.is_some() {
            ", the cold_start key"
        } else {
            ", twice the SLO"
        },
        first.describe(),
        quick.describe()
    ))
}

/// The policy facts a person checks first: bounds, priority, schedule
/// windows and manual overrides.
fn summary(p: &Policy) -> String {
    let mut parts = vec![format!("min {}, max {}", p.min, p.max)];
    if p.priority != 0 {
        parts.push(format!("priority {}", p.priority));
    }
    match p.schedule.len() {
        0 => {}
        1 => parts.push("1 schedule window".into()),
        n => parts.push(format!("{n} schedule windows")),
    }
    if !p.triggers.is_empty() {
        let names: Vec<&str> = p.triggers.iter().map(|t| t.name.as_str()).collect();
        parts.push(format!("triggers backlog, {}", names.join(", ")));
    }
    if p.paused {
        parts.push("PAUSED".into());
    }
    if let Some(n) = p.pinned {
        parts.push(format!("PINNED at {n}"));
    }
    parts.join(", ")
}
