//! One `jetpool simulate` command: load the trace, build the policies, run
//! them in parallel on the shared task stream, and report.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::mpsc;
use std::time::Instant;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::controller::Controller;
use super::dist::{Dist, fmt_secs};
use super::engine::{self, World};
use super::jetpool::Jetpool;
use super::peers::{self, PEERS, PeerCtx, name_seed};
use super::plot::{self, Figure, Panel};
use super::report::{self, Extra, Row};
use super::shapes::{SHAPES, Shape};
use super::trace::{self, Trace, Window};
use super::{Error, SimulateArgs, TraceFormat};
use crate::policy::Policy;

/// The largest pool jetpool and the peers may use when no policy file says.
pub const DEFAULT_MAX: u32 = 10_000;

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

/// jetpool's policy and a note on where it came from.
pub fn jetpool_policy(args: &SimulateArgs) -> Result<(Policy, String), Error> {
    match &args.policy {
        Some(p) => {
            let specs = crate::config::load_files(std::slice::from_ref(p))?;
            let Some(spec) = specs.into_iter().next() else {
                return Err(Error::Usage(format!("{}: no pool", p.display())));
            };
            let note = format!("jetpool: policy of pool {} from {}", spec.name, p.display());
            Ok((spec.policy, note))
        }
        None => {
            let mut policy = Policy {
                max: DEFAULT_MAX,
                ..Policy::default()
            };
            policy.scaling.concurrency = args.concurrency;
            Ok((
                policy,
                format!("jetpool: built-in policy defaults with max {DEFAULT_MAX} (no --policy)"),
            ))
        }
    }
}

/// The policy names `--compare` selects, jetpool first.
pub fn names(compare: &str) -> Result<Vec<String>, Error> {
    let mut out = vec!["jetpool".to_string()];
    let c = compare.trim();
    if c == "all" {
        out.extend(PEERS.iter().map(|s| s.to_string()));
        return Ok(out);
    }
    if c == "none" || c.is_empty() {
        return Ok(out);
    }
    for n in c.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !PEERS.contains(&n) {
            return Err(Error::Usage(format!(
                "unknown policy \"{n}\" in --compare; known: {}",
                PEERS.join(", ")
            )));
        }
        if !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    }
    Ok(out)
}

/// One policy's results and series.
pub type Result1 = (Row, Extra, Panel);

/// Runs every named policy on `trace`, `threads` at a time; results in the
/// order of `names`, whatever order the threads finish in.
pub fn run_all(
    trace: &Trace,
    world: &World,
    policy: &Policy,
    ctx: &PeerCtx,
    names: &[String],
    slo: f64,
    threads: usize,
) -> Vec<Result1> {
    let bound: f64 =
        trace.tasks.iter().map(|t| t.service).sum::<f64>() / f64::from(ctx.concurrency);
    let jobs: Vec<(usize, &String)> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| *n != "bound")
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            let tx = tx.clone();
            let next = &next;
            let jobs = &jobs;
            s.spawn(move || {
                loop {
                    let j = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(i, name)) = jobs.get(j) else { break };
                    let mut ctl: Box<dyn Controller> = if name == "jetpool" {
                        Box::new(Jetpool::new(policy.clone()))
                    } else {
                        match peers::build(name, ctx) {
                            Some(c) => c,
                            None => continue, // names() admits known names only
                        }
                    };
                    let out = engine::run(&trace.tasks, world, ctl.as_mut());
                    let panel_series = (out.agents.clone(), out.backlog.clone());
                    let (row, extra) = report::row(name, &trace.name, slo, bound, out);
                    let panel = Panel {
                        title: format!(
                            "{name}: SLO met {:.2}%, p99 wait {:.1}s, cost x{:.2}",
                            row.slo_attainment * 100.0,
                            row.p99_wait_s,
                            row.cost_ratio
                        ),
                        agents: panel_series.0,
                        backlog: panel_series.1,
                    };
                    // The receiver outlives the scope; a send cannot fail.
                    let _ = tx.send((i, (row, extra, panel)));
                }
            });
        }
    });
    drop(tx);
    let mut slots: Vec<Option<Result1>> = names.iter().map(|_| None).collect();
    for (i, r) in rx {
        slots[i] = Some(r);
    }
    for (i, n) in names.iter().enumerate() {
        if n == "bound" {
            let row = report::bound_row(&trace.name, trace.tasks.len() as u64, slo, bound);
            let panel = Panel {
                title: "bound".into(),
                agents: Vec::new(),
                backlog: Vec::new(),
            };
            slots[i] = Some((row, Extra::default(), panel));
        }
    }
    slots.into_iter().flatten().collect()
}

/// The offered load per bucket, in agents: the service time arriving in
/// each bucket over its width and the concurrency.
pub fn offered_load(trace: &Trace, concurrency: u32) -> Vec<f32> {
    let n = (trace.duration / trace.bucket).ceil() as usize;
    let mut v = vec![0.0f64; n.max(1)];
    for t in &trace.tasks {
        let i = ((t.arrival / trace.bucket) as usize).min(v.len() - 1);
        v[i] += t.service;
    }
    let div = trace.bucket * f64::from(concurrency.max(1));
    v.into_iter().map(|x| (x / div) as f32).collect()
}

/// The whole command.
pub fn simulate(args: &SimulateArgs) -> Result<(), Error> {
    let started = Instant::now();
    if args.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    let names = names(&args.compare)?;
    let (policy, policy_note) = jetpool_policy(args)?;
    let cold = Dist::parse(&args.cold_start)?;
    let loaded = load(args)?;
    let tr = &loaded.trace;
    let n = tr.tasks.len();
    let mean_service = if n == 0 {
        0.0
    } else {
        tr.tasks.iter().map(|t| t.service).sum::<f64>() / n as f64
    };
    let slo = args.slo.as_secs_f64();
    let world = World {
        concurrency: args.concurrency,
        ack_wait: args.ack_wait.as_secs_f64(),
        grace: args.grace.as_secs_f64(),
        scale_in: args.scale_in,
        max_ack_pending: (args.max_ack_pending > 0).then_some(args.max_ack_pending),
        cold_start: cold.sampler(),
        seed: args.seed,
        bucket: tr.bucket,
        duration: tr.duration,
    };
    let ctx = PeerCtx {
        max: policy.max,
        concurrency: args.concurrency,
        slo,
        mean_service,
        seed: args.seed,
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let loaded_in = started.elapsed();
    let rows = run_all(tr, &world, &policy, &ctx, &names, slo, threads);
    let elapsed = started.elapsed();

    let header = format!(
        "trace {}: {n} tasks over {:.0}s; {}; mean service {:.3}s; cold start {cold}; concurrency {}; SLO {}s; scale-in {:?} (grace {}s, AckWait {}s); seed {}\n{policy_note}; tuned peers' lag per replica L = {}",
        tr.name,
        tr.duration,
        loaded.about,
        mean_service,
        args.concurrency,
        slo,
        args.scale_in,
        world.grace,
        world.ack_wait,
        args.seed,
        ctx.lag_threshold(),
    );
    eprintln!("{header}");
    eprintln!(
        "simulated {} policies on {n} tasks in {:.2}s (trace ready in {:.2}s, {threads} threads)",
        rows.iter().filter(|r| r.0.policy != "bound").count(),
        elapsed.as_secs_f64(),
        loaded_in.as_secs_f64()
    );
    let pairs: Vec<(Row, Extra)> = rows.iter().map(|r| (r.0.clone(), r.1)).collect();
    let verdict = report::verdict(&pairs);
    if args.json {
        let json: Vec<&Row> = pairs.iter().map(|p| &p.0).collect();
        let s = serde_json::to_string_pretty(&json).map_err(|e| Error::Usage(e.to_string()))?;
        println!("{s}");
    } else {
        print!("{}", report::text_table(&pairs));
        if let Some(v) = &verdict {
            println!("{v}");
        }
    }
    if let Some(p) = &args.plot {
        let fig = Figure {
            trace: tr.name.clone(),
            bucket: tr.bucket,
            load: offered_load(tr, args.concurrency),
            panels: rows
                .iter()
                .filter(|r| r.0.policy != "bound")
                .map(|r| r.2.clone())
                .collect(),
        };
        plot::draw(&fig, p)?;
    }
    if let Some(md) = &args.markdown {
        let mut s = format!("### {}\n\n{}\n\n", tr.name, header.replace('\n', "\n\n"));
        s.push_str(&report::markdown_table(&pairs));
        if let Some(v) = &verdict {
            let _ = write!(s, "\n**Verdict:** {v}\n");
        }
        if let Some(p) = &args.plot {
            let file = p.file_name().and_then(|f| f.to_str()).unwrap_or("plot.svg");
            let _ = write!(s, "\n![{}]({file})\n", tr.name);
        }
        std::fs::write(md, s).map_err(|e| Error::Io {
            context: format!("cannot write {}", md.display()),
            source: e,
        })?;
    }
    Ok(())
}
