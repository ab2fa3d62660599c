//! `jetpool simulate`: replays a workload trace through jetpool's decision
//! core and emulations of its peers, in virtual time, and reports queue
//! wait against agent time for each.
//!
//! - [`trace`] and [`shapes`]: trace files and synthetic shapes, turned
//!   into one task stream (arrival, service time) shared by every policy.
//! - [`engine`]: the discrete-event world: a JetStream pull consumer and
//!   agent containers with cold starts, concurrency and scale-in.
//! - [`controller`]: what a policy sees and does; [`jetpool`] calls the live
//!   service's `decide`, [`peers`] emulate KEDA, the HPA, Knative, Ray Serve
//!   and Nomad.
//! - [`report`] and [`plot`]: tables, JSON, Markdown and plots.
//! - [`load`] and [`run`]: the trace and the runs of one command line.
//! - [`matrix`] and [`heatmap`]: `jetpool matrix`, the suite over cold
//!   starts, concurrencies and seeds, as a table and a heat map.

pub mod controller;
pub mod dist;
pub mod engine;
pub mod heatmap;
pub mod jetpool;
pub mod load;
pub mod matrix;
pub mod peers;
pub mod plot;
pub mod report;
pub mod run;
pub mod shapes;
pub mod trace;

use std::path::PathBuf;
use std::time::Duration;

use crate::config::parse_duration;

/// Cold start when `--cold-start` is not given: a lognormal fitted to
/// `docker create` + `docker start` (CLI, wall clock) of a `FROM scratch`
/// image holding the static jetpool binary, Docker Engine 20.10.24 on this
/// 2-core machine. 20 samples after 2 warm-up runs, in ms: 234 241 252 279
/// 284 295 297 303 306 309 310 313 313 317 317 320 321 329 348 389 (median
/// 310, mean 304). Fit by the mean and standard deviation of ln(x): median
/// 302 ms, sigma 0.119.
pub const DEFAULT_COLD_START: &str = "lognormal:300ms,0.12";

/// Trace file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TraceFormat {
    /// One integer per line: arrivals per `--interval`.
    Counts,
    /// One arrival per line: `seconds` or `seconds,service_seconds`.
    Timestamps,
    /// The Azure Functions 2019 per-minute invocations CSV (`--trace`) and
    /// its durations CSV (`--durations`).
    AzureFunctions,
    /// A synthetic shape, `SHAPE[:key=value,...]` (step, ramp, diurnal,
    /// on-off, flash-crowd).
    Synthetic,
}

/// Arguments of `jetpool simulate`: [`Options`], boxed so the CLI's
/// command enum stays small.
#[derive(Debug, Clone, clap::Args)]
pub struct SimulateArgs {
    /// The options themselves.
    #[command(flatten)]
    pub options: Box<Options>,
}

impl std::ops::Deref for SimulateArgs {
    type Target = Options;
    fn deref(&self) -> &Options {
        &self.options
    }
}

/// The options of `jetpool simulate`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The trace file, or a synthetic shape such as
    /// `step:low=10,high=50,at=10m`.
    #[arg(long)]
    pub trace: String,
    /// How to read `--trace`; a known shape name implies `synthetic`.
    #[arg(long, value_enum, default_value = "counts")]
    pub trace_format: TraceFormat,
    /// The Azure Functions durations CSV (with `--trace-format
    /// azure-functions`).
    #[arg(long)]
    pub durations: Option<PathBuf>,
    /// Interval of a `counts` trace.
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Skip this much of the trace (trace time, before `--speedup`).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    pub start: Duration,
    /// Replay only this much of the trace (trace time); all of it if unset.
    #[arg(long, value_parser = parse_duration)]
    pub length: Option<Duration>,
    /// Compress time by this factor: arrivals come K times faster; service
    /// times are unchanged.
    #[arg(long, default_value_t = 1.0)]
    pub speedup: f64,
    /// Name of the trace in reports (default: the file stem or the shape).
    #[arg(long)]
    pub name: Option<String>,
    /// Service time per task: `exp:MEAN`, `const:D`, `lognormal:MEDIAN,SIGMA`,
    /// or `trace` (from the trace's own column or duration table). Default:
    /// `trace` where the trace has service times, else `exp:1s`.
    #[arg(long)]
    pub service_time: Option<String>,
    /// Container create to ready agent.
    #[arg(long, default_value = DEFAULT_COLD_START)]
    pub cold_start: String,
    /// Tasks one agent works on at once.
    #[arg(long, default_value_t = 1)]
    pub concurrency: u32,
    /// jetpool's policy file (its first pool); jetpool's defaults with max
    /// 10000 otherwise.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Peers to compare with, comma-separated (keda, keda-tuned, hpa,
    /// hpa-tuned, knative, knative-tuned, ray, ray-tuned, nomad,
    /// nomad-tuned, bound); a bare name such as `keda` brings only that
    /// variant; `all` is every one; `none` runs jetpool alone.
    /// `jetpool-default` adds jetpool with its built-in defaults beside
    /// the `--policy` row (it is not a peer: the verdict ignores it).
    #[arg(long, default_value = "all")]
    pub compare: String,
    /// The SLO on queue wait (arrival to delivery to an agent).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub slo: Duration,
    /// Seed of every random draw: the same seed gives the same results.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How scaled-in agents leave: `graceful` (jetpool drains; peers get
    /// SIGTERM and are killed after `--grace`) or `abrupt` (killed at once).
    #[arg(long, value_enum, default_value = "graceful")]
    pub scale_in: engine::ScaleIn,
    /// SIGTERM-to-SIGKILL grace period of the peers' orchestrators.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub grace: Duration,
    /// JetStream AckWait: a lost task is redelivered this long after its
    /// agent died.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub ack_wait: Duration,
    /// The consumer's max_ack_pending (0: unlimited).
    #[arg(long, default_value_t = 1000)]
    pub max_ack_pending: u64,
    /// Print one JSON array instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Draw arrivals, backlog and agents per policy to FILE.svg or FILE.png.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Write a Markdown section (table and verdict) to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
    /// Append one Markdown row (trace, jetpool's figures, the cheapest peer
    /// meeting 99%, the verdict, jetpool-default's figures if run) to this
    /// file, after the table's header if the file is new or empty: the
    /// benchmark's headline.
    #[arg(long)]
    pub headline: Option<PathBuf>,
    /// Worker threads (default: the available cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Everything that can go wrong in a simulation, each naming its cause.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line value is not usable.
    #[error("{0}")]
    Usage(String),
    /// A trace file has a bad line.
    #[error("bad trace line {}:{line}: {message}", path.display())]
    Trace {
        /// The file.
        path: PathBuf,
        /// 1-based line (0: the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The policy file is invalid.
    #[error("{0}")]
    Policy(#[from] crate::config::ConfigErrors),
    /// The plot could not be drawn.
    #[error("cannot draw plot {}: {message}", path.display())]
    Plot {
        /// The plot file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

/// Entry point; returns the process exit code.
pub fn main(args: &SimulateArgs) -> i32 {
    match run::simulate(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
