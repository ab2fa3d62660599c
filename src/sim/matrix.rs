//! `jetpool matrix`: the robustness matrix. Every trace of a suite ×
//! cold start × agent concurrency × seed, each cell a `jetpool simulate`
//! run of jetpool against every peer (default and tuned, told the
//! concurrency as their operators would be). Writes a Markdown table of
//! every cell and a heat map of jetpool's cost over the cheapest peer that
//! meets the SLO.
//!
//! A cell passes when jetpool meets the SLO bar and spends less agent time
//! than every peer that meets it (or the same, to a millionth, with a
//! shorter p99 wait: in a job world every policy that starts one job per
//! task pays the same); where no policy meets it, when jetpool's
//! attainment is the highest.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;

use super::report::{BAR, Row, beats, cheapest_meeting, is_peer};
use super::run::run_case;
use super::{Error, SimulateArgs};

/// Arguments of `jetpool matrix`.
#[derive(Debug, Clone, clap::Args)]
pub struct MatrixArgs {
    /// One trace of the suite, `NAME[:SEEDS]=SIMULATE-ARGS`, such as
    /// `step=--trace step:low=10,high=50 --service-time exp:2s`; repeatable.
    /// `:SEEDS` (comma-separated) replaces `--seeds` for this trace, for
    /// traces too long to run every seed of.
    #[arg(long = "case", required = true)]
    pub cases: Vec<String>,
    /// Cold starts, one per flag (a `--cold-start` of `jetpool simulate`).
    #[arg(long = "cold-start", required = true)]
    pub cold_starts: Vec<String>,
    /// Agent concurrencies, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    pub concurrency: Vec<u32>,
    /// Seeds, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub seeds: Vec<u64>,
    /// jetpool's policy file.
    #[arg(long)]
    pub policy: PathBuf,
    /// The SLO on queue wait.
    #[arg(long, default_value = "30s")]
    pub slo: String,
    /// Where the Markdown table goes.
    #[arg(long)]
    pub markdown: PathBuf,
    /// Where the heat map goes (`.svg` or `.png`).
    #[arg(long)]
    pub heatmap: PathBuf,
    /// The report's title.
    #[arg(long, default_value = "Robustness matrix: jetpool against its peers")]
    pub title: String,
    /// The command the report says made it.
    #[arg(long, default_value = "make bench-matrix")]
    pub made_by: String,
}

/// `jetpool simulate`'s options parsed from one cell's command line.
#[derive(Debug, Parser)]
struct CellLine {
    #[command(flatten)]
    args: SimulateArgs,
}

/// How jetpool fared in one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Meets the bar, cheaper than every peer that does.
    Pass,
    /// No policy meets the bar; jetpool's attainment is the highest.
    PassBestAttainment,
    /// A peer meeting the bar spends no more agent time.
    FailCost,
    /// A peer meets the bar; jetpool does not.
    FailSlo,
    /// No policy meets the bar; a peer attains more.
    FailAttainment,
}

impl Verdict {
    /// A passing verdict.
    pub fn passed(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::PassBestAttainment)
    }

    /// The table's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::PassBestAttainment => "PASS (best attainment; none meets)",
            Verdict::FailCost => "FAIL: a peer meeting the SLO spends less",
            Verdict::FailSlo => "FAIL: misses where a peer meets",
            Verdict::FailAttainment => "FAIL: a peer attains more (none meets)",
        }
    }
}

/// One cell's figures.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Trace name.
    pub trace: String,
    /// Cold start distribution.
    pub cold: String,
    /// Agent concurrency.
    pub k: u32,
    /// Seed.
    pub seed: u64,
    /// jetpool's row.
    pub jetpool: Row,
    /// The cheapest peer meeting the bar.
    pub cheapest: Option<Row>,
    /// The peer with the highest attainment.
    pub top: Option<Row>,
    /// The outcome.
    pub verdict: Verdict,
}

impl Cell {
    /// jetpool's agent time over the cheapest peer meeting the bar.
    pub fn cost_over_peer(&self) -> Option<f64> {
        self.cheapest
            .as_ref()
            .map(|b| self.jetpool.agent_seconds / b.agent_seconds.max(1e-9))
    }
}

/// Judges one cell from its rows.
pub fn judge(rows: &[Row]) -> Option<(Row, Option<Row>, Option<Row>, Verdict)> {
    let jp = rows.iter().find(|r| r.policy == "jetpool")?.clone();
    let cheapest = cheapest_meeting(rows).cloned();
    let top = rows
        .iter()
        .filter(|r| is_peer(&r.policy))
        .max_by(|a, b| a.slo_attainment.total_cmp(&b.slo_attainment))
        .cloned();
    let meets = jp.slo_attainment >= BAR;
    let verdict = match (&cheapest, meets) {
        (Some(_), true)
            if rows
                .iter()
                .filter(|r| is_peer(&r.policy) && r.slo_attainment >= BAR)
                .all(|r| beats(&jp, r)) =>
        {
            Verdict::Pass
        }
        (Some(_), true) => Verdict::FailCost,
        (Some(_), false) => Verdict::FailSlo,
        (None, true) => Verdict::Pass,
        (None, false)
            if top
                .as_ref()
                .is_none_or(|t| jp.slo_attainment >= t.slo_attainment) =>
        {
            Verdict::PassBestAttainment
        }
        (None, false) => Verdict::FailAttainment,
    };
    Some((jp, cheapest, top, verdict))
}

/// Runs every cell; returns them in the suite's order.
pub fn run(args: &MatrixArgs) -> Result<Vec<Cell>, Error> {
    let mut cells = Vec::new();
    for case in &args.cases {
        let (head, line) = case.split_once('=').ok_or_else(|| {
            Error::Usage(format!(
                "--case {case:?}: expected NAME[:SEEDS]=SIMULATE-ARGS"
            ))
        })?;
        let (name, seeds) = match head.split_once(':') {
            Some((name, list)) => {
                let seeds: Result<Vec<u64>, _> = list.split(',').map(str::parse).collect();
                let seeds = seeds.map_err(|_| {
                    Error::Usage(format!("--case {head}: seeds must be numbers, such as 1,2"))
                })?;
                (name, seeds)
            }
            None => (head, args.seeds.clone()),
        };
        for cold in &args.cold_starts {
            for &k in &args.concurrency {
                for &seed in &seeds {
                    let mut argv = vec!["simulate".to_string(), "--name".into(), name.into()];
                    argv.extend(line.split_whitespace().map(String::from));
                    let (k_s, seed_s) = (k.to_string(), seed.to_string());
                    let policy = args.policy.display().to_string();
                    for (flag, v) in [
                        ("--cold-start", cold.as_str()),
                        ("--concurrency", &k_s),
                        ("--seed", &seed_s),
                        ("--policy", &policy),
                        ("--slo", &args.slo),
                        ("--compare", "all"),
                    ] {
                        argv.push(flag.into());
                        argv.push(v.into());
                    }
                    let cell = CellLine::try_parse_from(&argv)
                        .map_err(|e| Error::Usage(format!("--case {name}: {e}")))?;
                    let case = run_case(&cell.args)?;
                    let rows: Vec<Row> = case.rows.into_iter().map(|r| r.0).collect();
                    let Some((jetpool, cheapest, top, verdict)) = judge(&rows) else {
                        continue;
                    };
                    eprintln!(
                        "{name:<20} {cold:<22} k={k:<3} seed {seed}: jetpool {:.2}% x{:.4}; {}",
                        jetpool.slo_attainment * 100.0,
                        jetpool.cost_ratio,
                        verdict.as_str()
                    );
                    cells.push(Cell {
                        trace: name.into(),
                        cold: cold.clone(),
                        k,
                        seed,
                        jetpool,
                        cheapest,
                        top,
                        verdict,
                    });
                }
            }
        }
    }
    Ok(cells)
}

/// The way from the report's directory back to the directory the paths
/// are relative to (the repository root, for `make`): one `../` per
/// directory of a relative `markdown` path.
fn up_to_root(markdown: &std::path::Path) -> String {
    let depth = markdown.parent().map_or(0, |d| {
        d.components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .count()
    });
    "../".repeat(depth)
}

/// The Markdown report: a summary, then one row per cell.
pub fn markdown(cells: &[Cell], args: &MatrixArgs, secs: f64) -> String {
    let passed = cells.iter().filter(|c| c.verdict.passed()).count();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# {}\n\n\
         Generated by `{}`: {} traces x {} cold starts x concurrency {:?} x seeds {:?} \
         (fewer where the cells below say so: the day-long traces), \
         jetpool on [`{}`]({}{}), every peer in its default and tuned variants (told the concurrency). \
         SLO: queue wait within {} for 99% of tasks. {} cells in {secs:.0} s.\n\n\
         A cell passes when jetpool meets the SLO and spends less agent time than every peer that meets it \
         (or the same, to a millionth, with a shorter p99 wait); \
         where no policy meets it, when jetpool's attainment is the highest.\n\n\
         **{passed} of {} cells pass.** ![heat map]({})\n",
        args.title,
        args.made_by,
        args.cases.len(),
        args.cold_starts.len(),
        args.concurrency,
        args.seeds,
        args.policy.display(),
        up_to_root(&args.markdown),
        args.policy.display(),
        args.slo,
        cells.len(),
        cells.len(),
        args.heatmap
            .file_name()
            .map_or_else(String::new, |f| f.to_string_lossy().into_owned()),
    );
    s.push_str(
        "| trace | cold start | k | seed | jetpool SLO met | jetpool cost x | jetpool p99 wait s | cheapest peer meeting (cost x, p99 wait s) | top peer attainment | jetpool / cheapest | verdict |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for c in cells {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.2}% | {:.4} | {:.1} | {} | {} | {} | {} |",
            c.trace,
            c.cold,
            c.k,
            c.seed,
            c.jetpool.slo_attainment * 100.0,
            c.jetpool.cost_ratio,
            c.jetpool.p99_wait_s,
            c.cheapest.as_ref().map_or("none".into(), |b| format!(
                "{} ({:.4}, {:.1})",
                b.policy, b.cost_ratio, b.p99_wait_s
            )),
            c.top.as_ref().map_or("-".into(), |t| format!(
                "{} {:.2}%",
                t.policy,
                t.slo_attainment * 100.0
            )),
            c.cost_over_peer().map_or("-".into(), |r| format!("{r:.3}")),
            c.verdict.as_str()
        );
    }
    s
}

/// Entry point of `jetpool matrix`; returns the exit code.
pub fn main(args: &MatrixArgs) -> i32 {
    let started = Instant::now();
    let result = run(args).and_then(|cells| {
        let secs = started.elapsed().as_secs_f64();
        std::fs::write(&args.markdown, markdown(&cells, args, secs)).map_err(|e| Error::Io {
            context: format!("cannot write {}", args.markdown.display()),
            source: e,
        })?;
        super::heatmap::draw(&cells, &args.heatmap)?;
        let passed = cells.iter().filter(|c| c.verdict.passed()).count();
        println!(
            "matrix: {passed} of {} cells pass in {secs:.0} s; {} and {}",
            cells.len(),
            args.markdown.display(),
            args.heatmap.display()
        );
        Ok(())
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}

#[cfg(test)]
#[path = "matrix_tests.rs"]
mod tests;
