//! Reading or generating the trace a command line names, with a one-line
//! account of how it was built (source, window, speedup, service times).

use std::fmt::Write as _;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::dist::{Dist, fmt_secs};
use super::peers::name_seed;
use super::shapes::{SHAPES, Shape};
use super::trace::{self, Trace, Window};
use super::{Error, SimulateArgs, TraceFormat};

/// A loaded trace and how it was built, for the report.
#[derive(Debug)]
pub struct Loaded {
    /// The task stream.
    pub trace: Trace,
    /// One line describing the source, scaling and service times.
    pub about: String,
}

fn rng(seed: u64, what: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(name_seed(seed, what))
}

fn is_shape(s: &str) -> bool {
    let name = s.split_once(':').map_or(s, |x| x.0);
    SHAPES.contains(&name) && !Path::new(s).exists()
}

/// Reads or generates the trace `args` names.
pub fn load(args: &SimulateArgs) -> Result<Loaded, Error> {
    if !(args.speedup.is_finite() && args.speedup > 0.0) {
        return Err(Error::Usage(format!(
            "--speedup must be a positive number, got {}",
            args.speedup
        )));
    }
    let win = Window {
        start: args.start.as_secs_f64(),
        length: args.length.map_or(f64::INFINITY, |d| d.as_secs_f64()),
        speedup: args.speedup,
    };
    let format = if is_shape(&args.trace) {
        TraceFormat::Synthetic
    } else {
        args.trace_format
    };
    let dist = match args.service_time.as_deref() {
        None | Some("trace") => None,
        Some(s) => Some(Dist::parse(s)?),
    };
    let want_trace_service = args.service_time.as_deref() == Some("trace");
    let no_column = |what: &str| {
        Error::Usage(format!(
            "--service-time trace: a {what} trace has no service times; give a distribution such as exp:1s"
        ))
    };
    let default_dist = || dist.clone().unwrap_or(Dist::Exp(1.0));
    let mut arr = rng(args.seed, "arrivals");
    let mut svc = rng(args.seed, "services");
    let path = Path::new(&args.trace);
    let k = args.speedup;
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("trace")
        .to_string();
    let (name, tasks, duration, about) = match format {
        TraceFormat::Synthetic => {
            if want_trace_service {
                return Err(no_column("synthetic"));
            }
            let shape = Shape::parse(&args.trace)?;
            let counts = shape.counts(&mut rng(args.seed, "shape"));
            let from = (win.start as usize).min(counts.len());
            let to = if win.length.is_finite() {
                (from + win.length.ceil() as usize).min(counts.len())
            } else {
                counts.len()
            };
            let d = default_dist();
            let s = d.sampler();
            let mut f = |r: &mut ChaCha8Rng, _| s.sample(r);
            let tasks = trace::spread(
                counts[from..to].iter().map(|&c| vec![(0, c)]),
                1.0 / k,
                &mut arr,
                &mut svc,
                &mut f,
            );
            let about = format!("synthetic {} (Poisson per second), service {d}", args.trace);
            (shape.name.clone(), tasks, (to - from) as f64 / k, about)
        }
        TraceFormat::Counts => {
            if want_trace_service {
                return Err(no_column("counts"));
            }
            let iv = args.interval.as_secs_f64();
            if iv <= 0.0 {
                return Err(Error::Usage("--interval must be positive".into()));
            }
            let counts = trace::read_counts(path, iv, &win)?;
            let d = default_dist();
            let s = d.sampler();
            let mut f = |r: &mut ChaCha8Rng, _| s.sample(r);
            let n = counts.len();
            let tasks = trace::spread(
                counts.into_iter().map(|c| vec![(0, c)]),
                iv / k,
                &mut arr,
                &mut svc,
                &mut f,
            );
            let about = format!(
                "counts per {} from {}, service {d}",
                fmt_secs(iv),
                path.display()
            );
            (stem, tasks, n as f64 * iv / k, about)
        }
        TraceFormat::Timestamps => {
            let (rows, has_service) = trace::read_timestamps(path, &win)?;
            if want_trace_service && !has_service {
                return Err(Error::Usage(format!(
                    "--service-time trace: not every line of {} has a service time",
                    path.display()
                )));
            }
            let use_column = has_service && dist.is_none();
            let d = default_dist();
            let s = d.sampler();
            let tasks: Vec<trace::Task> = rows
                .iter()
                .map(|&(t, sv)| trace::Task {
                    arrival: t / k,
                    service: match sv {
                        Some(v) if use_column => v,
                        _ => s.sample(&mut svc),
                    },
                })
                .collect();
            let last = tasks.last().map_or(0.0, |t| t.arrival);
            let dur = if win.length.is_finite() {
                win.length / k
            } else {
                last
            };
            let service = if use_column {
                "from the trace".to_string()
            } else {
                d.to_string()
            };
            let about = format!("timestamps from {}, service {service}", path.display());
            (stem, tasks, dur.max(last), about)
        }
        TraceFormat::AzureFunctions => {
            let Some(durs) = &args.durations else {
                return Err(Error::Usage(
                    "--trace-format azure-functions needs --durations FILE (the durations CSV)"
                        .into(),
                ));
            };
            let az = trace::read_azure(path, durs, &win)?;
            let s = dist.as_ref().map(Dist::sampler);
            let mut f = trace::service_from(s, &az.durations);
            let n = az.minutes.len();
            let funcs = az.durations.len();
            let tasks = trace::spread(
                az.minutes.iter().cloned(),
                60.0 / k,
                &mut arr,
                &mut svc,
                &mut f,
            );
            let service = dist.as_ref().map_or_else(
                || "per function from its duration percentiles".to_string(),
                ToString::to_string,
            );
            let about = format!(
                "Azure Functions {funcs} functions in one queue, per-minute counts from {}, service {service}",
                path.display()
            );
            (stem, tasks, n as f64 * 60.0 / k, about)
        }
    };
    let mut about = about;
    if k != 1.0 {
        let _ = write!(about, ", time compressed x{k}");
    }
    if args.start.as_secs() > 0 || args.length.is_some() {
        let _ = write!(
            about,
            ", window {}+{}",
            fmt_secs(win.start),
            args.length
                .map_or("end".to_string(), |l| fmt_secs(l.as_secs_f64()))
        );
    }
    let duration = duration.max(tasks.last().map_or(0.0, |t| t.arrival));
    let bucket = (duration / 1200.0).ceil().max(1.0);
    Ok(Loaded {
        trace: Trace {
            name: args.name.clone().unwrap_or(name),
            tasks,
            duration,
            bucket,
        },
        about,
    })
}
