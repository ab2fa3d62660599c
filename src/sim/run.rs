//! One `jetpool simulate` command: load the trace, build the policies, run
//! them in parallel on the shared task stream, and report.

use std::fmt::Write as _;
use std::sync::mpsc;
use std::time::Instant;

use super::controller::Controller;
use super::dist::Dist;
use super::engine::{self, World};
use super::jetpool::Jetpool;
use super::peers::{self, JOB_PEERS, PEERS, PeerCtx};
use super::plot::{self, Figure, Panel};
use super::report::{self, Extra, JETPOOL_DEFAULT, Row};
use super::trace::Trace;
use super::{Error, SimulateArgs};
use crate::policy::Policy;

/// The largest pool jetpool and the peers may use when no policy file says.
pub const DEFAULT_MAX: u32 = 10_000;

/// jetpool's built-in defaults, as the simulator runs them without
/// `--policy` (and as the `jetpool-default` row runs them beside it).
pub fn default_policy(concurrency: u32) -> Policy {
    let mut policy = Policy {
        max: DEFAULT_MAX,
        ..Policy::default()
    };
    policy.scaling.concurrency = concurrency;
    policy
}

/// jetpool's policy and a note on where it came from.
pub fn jetpool_policy(args: &SimulateArgs) -> Result<(Policy, String), Error> {
    match &args.policy {
        Some(p) => {
            let policies = crate::pool::spec::load_files(std::slice::from_ref(p))?;
            let Some(table) = policies.tables.into_iter().next() else {
                return Err(Error::Usage(format!("{}: no pool", p.display())));
            };
            let note = format!(
                "jetpool: policy of pool {} from {}",
                table.raw.name,
                p.display()
            );
            Ok((table.policy, note))
        }
        None => Ok((
            default_policy(args.concurrency),
            format!("jetpool: built-in policy defaults with max {DEFAULT_MAX} (no --policy)"),
        )),
    }
}

/// How long a job's agent waits for its one task (the reference agent's
/// `--once-wait` default).
pub const ONCE_WAIT_S: f64 = 30.0;

/// The policy names `--compare` selects, jetpool first (then
/// `jetpool-default` if asked for), the peers in the order given; `all`
/// stands for every peer. In a job world (`jobs`) the peers are KEDA's
/// ScaledJob variants, the only ones that run a container per task.
pub fn names(compare: &str, jobs: bool) -> Result<Vec<String>, Error> {
    let peers: &[&str] = if jobs { &JOB_PEERS } else { &PEERS };
    let mut out = vec!["jetpool".to_string()];
    let c = compare.trim();
    if c == "none" || c.is_empty() {
        return Ok(out);
    }
    let mut add = |n: &str| {
        if !out.iter().any(|o| o == n) {
            out.push(n.to_string());
        }
    };
    let tokens: Vec<&str> = c
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if tokens.contains(&JETPOOL_DEFAULT) {
        add(JETPOOL_DEFAULT);
    }
    for n in tokens {
        match n {
            "all" => peers.iter().for_each(|p| add(p)),
            JETPOOL_DEFAULT if jobs => {
                return Err(Error::Usage(format!(
                    "{JETPOOL_DEFAULT} runs agents, not jobs: a job pool's policy (mode = \"job\") compares with {}",
                    JOB_PEERS.join(", ")
                )));
            }
            JETPOOL_DEFAULT => {}
            _ if peers.contains(&n) => add(n),
            _ => {
                let kind = if jobs {
                    "a job pool's policy (mode = \"job\")"
                } else {
                    "a pool of agents"
                };
                return Err(Error::Usage(format!(
                    "unknown policy \"{n}\" in --compare for {kind}; known: all, {}{}",
                    if jobs { "" } else { "jetpool-default, " },
                    peers.join(", ")
                )));
            }
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
                    } else if name == JETPOOL_DEFAULT {
                        Box::new(Jetpool::new(default_policy(ctx.concurrency)))
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
                            "{name}: SLO met {:.2}%, p99 wait {:.1}s, cost x{:.4}",
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

/// One command line's runs: the trace, the header describing the world,
/// and every named policy's results.
pub struct Case {
    /// The trace and what it came from.
    pub loaded: super::load::Loaded,
    /// The world and policies, in two lines.
    pub header: String,
    /// One entry per policy, in the order of `--compare`.
    pub rows: Vec<Result1>,
    /// Time to read or build the trace.
    pub loaded_in: std::time::Duration,
    /// Time for the whole case.
    pub elapsed: std::time::Duration,
    /// Worker threads used.
    pub threads: usize,
}

/// Loads the trace of `args` and runs every named policy on it.
pub fn run_case(args: &SimulateArgs) -> Result<Case, Error> {
    let started = Instant::now();
    if args.concurrency == 0 {
        return Err(Error::Usage("--concurrency must be at least 1".into()));
    }
    let (policy, policy_note) = jetpool_policy(args)?;
    let jobs = policy.mode == crate::policy::PoolMode::Job;
    let names = names(&args.compare, jobs)?;
    if jobs && args.concurrency != 1 {
        return Err(Error::Usage(
            "a job pool's policy (mode = \"job\") runs one task per container: --concurrency must be 1".into(),
        ));
    }
    let cold = Dist::parse(&args.cold_start)?;
    let loaded = super::load::load(args)?;
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
        once_wait: jobs.then_some(ONCE_WAIT_S),
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
        "trace {}: {n} tasks over {:.0}s; {}; mean service {:.3}s; cold start {cold}; {}; SLO {}s; scale-in {:?} (grace {}s, AckWait {}s); seed {}\n{policy_note}; tuned peers' lag per replica L = {}",
        tr.name,
        tr.duration,
        loaded.about,
        mean_service,
        if jobs {
            format!("jobs (one task per container, --once-wait {ONCE_WAIT_S}s)")
        } else {
            format!("concurrency {}", args.concurrency)
        },
        slo,
        args.scale_in,
        world.grace,
        world.ack_wait,
        args.seed,
        ctx.lag_threshold(),
    );
    Ok(Case {
        loaded,
        header,
        rows,
        loaded_in,
        elapsed,
        threads,
    })
}

/// The whole command.
pub fn simulate(args: &SimulateArgs) -> Result<(), Error> {
    let Case {
        loaded,
        header,
        rows,
        loaded_in,
        elapsed,
        threads,
    } = run_case(args)?;
    let tr = &loaded.trace;
    let n = tr.tasks.len();
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
    if let Some(h) = &args.headline
        && let Some(line) = report::headline_row(&pairs)
    {
        use std::io::Write as _;
        // A new (or empty) file starts with the table's header.
        let fresh = std::fs::metadata(h).map_or(true, |m| m.len() == 0);
        let text = if fresh {
            format!("{}{line}", report::HEADLINE_HEAD)
        } else {
            line
        };
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(h)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .map_err(|e| Error::Io {
                context: format!("cannot append to {}", h.display()),
                source: e,
            })?;
    }
    if let Some(md) = &args.markdown {
        let mut s = format!(
            "### {}\n\n{}\n\nSimulated {} policies in {:.1} s ({threads} threads).\n\n",
            tr.name,
            header.replace('\n', "\n\n"),
            pairs.iter().filter(|r| r.0.policy != "bound").count(),
            elapsed.as_secs_f64()
        );
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

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
