//! Workload traces: files of per-interval counts, arrival timestamps, or the
//! Azure Functions per-minute tables, turned into one task stream (arrival
//! time and service time per task) that every policy replays.
//!
//! Counts are spread uniformly at random inside their interval (the traces'
//! README suggests this): a per-second count says nothing finer.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Error;
use super::dist::{Percentiles, Sampler};

/// One task: when it was published and how long an agent works on it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Task {
    /// Seconds from the start of the trace.
    pub arrival: f64,
    /// Seconds of agent work (one concurrency slot) it needs.
    pub service: f64,
}

/// A task stream ready to replay, sorted by arrival.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Name shown in reports.
    pub name: String,
    /// The tasks, in arrival order.
    pub tasks: Vec<Task>,
    /// Length of the trace in (compressed) seconds; at least the last arrival.
    pub duration: f64,
    /// Arrival counts per `bucket` seconds, for the plot.
    pub bucket: f64,
}

/// Which part of a trace to replay, in the trace's own time, and how much to
/// compress it.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Seconds skipped at the start.
    pub start: f64,
    /// Seconds kept (infinite: to the end).
    pub length: f64,
    /// Time compression factor: arrival times are divided by it.
    pub speedup: f64,
}

/// Where service times come from when the trace has none of its own.
pub type ServiceFn<'a> = &'a mut dyn FnMut(&mut ChaCha8Rng, usize) -> f64;

/// Turns per-interval counts into sorted tasks. `counts[i]` holds, per
/// source (a function of the Azure trace; one source otherwise), the
/// arrivals in interval `i`; `service(rng, source)` draws a service time.
pub fn spread(
    counts: impl Iterator<Item = Vec<(usize, u64)>>,
    interval: f64,
    arrivals: &mut ChaCha8Rng,
    services: &mut ChaCha8Rng,
    service: ServiceFn<'_>,
) -> Vec<Task> {
    let mut tasks = Vec::new();
    for (i, sources) in counts.enumerate() {
        let from = tasks.len();
        let t0 = i as f64 * interval;
        for (src, n) in sources {
            for _ in 0..n {
                let arrival = t0 + arrivals.random::<f64>() * interval;
                let s = service(services, src);
                tasks.push(Task {
                    arrival,
                    service: s.max(1e-6),
                });
            }
        }
        tasks[from..].sort_by(|a, b| a.arrival.total_cmp(&b.arrival));
    }
    tasks
}

fn open(path: &Path) -> Result<BufReader<File>, Error> {
    File::open(path).map(BufReader::new).map_err(|e| Error::Io {
        context: format!("cannot open trace {}", path.display()),
        source: e,
    })
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Io {
        context: format!("cannot read trace {}", path.display()),
        source: e,
    }
}

/// Reads a `counts` file (one non-negative integer per line: arrivals in
/// that interval; `#` lines are comments) for the intervals inside `win`.
pub fn read_counts(path: &Path, interval: f64, win: &Window) -> Result<Vec<u64>, Error> {
    let first = (win.start / interval).floor() as usize;
    let last = if win.length.is_finite() {
        first + (win.length / interval).ceil() as usize
    } else {
        usize::MAX
    };
    let mut out = Vec::new();
    let mut idx = 0usize;
    for (n, line) in open(path)?.lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if idx >= last {
            break;
        }
        if idx >= first {
            let v: u64 = t.parse().map_err(|_| Error::Trace {
                path: path.to_path_buf(),
                line: n + 1,
                message: format!("expected a non-negative integer count, found \"{t}\""),
            })?;
            out.push(v);
        }
        idx += 1;
    }
    Ok(out)
}

/// One line of a `timestamps` trace: arrival and optional service time.
pub type Stamp = (f64, Option<f64>);

/// Reads a `timestamps` file: one arrival per line, `seconds` or
/// `seconds,service_seconds`. Returns the tasks inside `win`, shifted to
/// start at 0, and whether every line carried a service time.
pub fn read_timestamps(path: &Path, win: &Window) -> Result<(Vec<Stamp>, bool), Error> {
    let mut out = Vec::new();
    let mut all_service = true;
    let end = win.start + win.length;
    for (n, line) in open(path)?.lines().enumerate() {
        let line = line.map_err(io_err(path))?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let bad = |m: String| Error::Trace {
            path: path.to_path_buf(),
            line: n + 1,
            message: m,
        };
        let mut parts = t.split(',').map(str::trim);
        let at: f64 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .filter(|v: &f64| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                bad(format!(
                    "expected `seconds[,service_seconds]`, found \"{t}\""
                ))
            })?;
        let svc = match parts.next() {
            None => None,
            Some(s) => Some(
                s.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| bad(format!("service time \"{s}\" is not a positive number")))?,
            ),
        };
        if parts.next().is_some() {
            return Err(bad(format!("too many columns in \"{t}\"")));
        }
        if at < win.start || at >= end {
            continue;
        }
        all_service &= svc.is_some();
        out.push((at - win.start, svc));
    }
    out.sort_by(|a, b| a.0.total_cmp(&b.0));
    let has = all_service && !out.is_empty();
    Ok((out, has))
}

/// The Azure Functions 2019 trace: per-function invocations per minute and
/// per-function duration percentiles (milliseconds).
#[derive(Debug)]
pub struct Azure {
    /// `counts[minute]` = per-function `(function index, invocations)`.
    pub minutes: Vec<Vec<(usize, u64)>>,
    /// Duration table per function index, seconds.
    pub durations: Vec<Percentiles>,
}

/// Percentile columns of the durations file and their probabilities.
const AZURE_PCT: [(&str, f64); 7] = [
    ("percentile_Average_0", 0.0),
    ("percentile_Average_1", 0.01),
    ("percentile_Average_25", 0.25),
    ("percentile_Average_50", 0.5),
    ("percentile_Average_75", 0.75),
    ("percentile_Average_99", 0.99),
    ("percentile_Average_100", 1.0),
];

fn csv_err(path: &Path, e: csv::Error) -> Error {
    let line = e.position().map_or(0, |p| p.line() as usize);
    Error::Trace {
        path: path.to_path_buf(),
        line,
        message: e.to_string(),
    }
}

/// Reads the Azure invocations file (`HashFunction,HashApp,HashOwner,` then
/// one column per minute) and its durations file, keeping the minutes
/// inside `win`.
pub fn read_azure(invocations: &Path, durations: &Path, win: &Window) -> Result<Azure, Error> {
    let mut table = std::collections::HashMap::new();
    let mut rd = csv::Reader::from_reader(open(durations)?);
    let headers = rd.headers().map_err(|e| csv_err(durations, e))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let key_cols = ["HashOwner", "HashApp", "HashFunction"].map(col);
    let pct_cols: Vec<Option<usize>> = AZURE_PCT.iter().map(|(n, _)| col(n)).collect();
    if key_cols.iter().chain(&pct_cols).any(Option::is_none) {
        return Err(Error::Trace {
            path: durations.to_path_buf(),
            line: 1,
            message: "not an Azure Functions durations file: needs HashOwner, HashApp, HashFunction and percentile_Average_{0,1,25,50,75,99,100}".into(),
        });
    }
    for rec in rd.records() {
        let rec = rec.map_err(|e| csv_err(durations, e))?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let key: Vec<String> = key_cols
            .iter()
            .map(|c| c.and_then(|c| rec.get(c)).unwrap_or("").to_string())
            .collect();
        let mut pts = Vec::new();
        for ((_, p), c) in AZURE_PCT.iter().zip(&pct_cols) {
            let v = c.and_then(|c| rec.get(c)).unwrap_or("");
            let ms: f64 = v.trim().parse().map_err(|_| Error::Trace {
                path: durations.to_path_buf(),
                line,
                message: format!("percentile \"{v}\" is not a number"),
            })?;
            pts.push((*p, ms / 1000.0));
        }
        if let Some(p) = Percentiles::new(pts) {
            table.insert(key, p);
        }
    }

    let first = (win.start / 60.0).floor() as usize;
    let take = if win.length.is_finite() {
        (win.length / 60.0).ceil() as usize
    } else {
        usize::MAX
    };
    let mut minutes: Vec<Vec<(usize, u64)>> = Vec::new();
    let mut durs = Vec::new();
    let mut rd = csv::Reader::from_reader(open(invocations)?);
    let headers = rd.headers().map_err(|e| csv_err(invocations, e))?.clone();
    if headers.len() < 4 || headers.get(2) != Some("HashOwner") {
        return Err(Error::Trace {
            path: invocations.to_path_buf(),
            line: 1,
            message: "not an Azure Functions invocations file: expected HashFunction,HashApp,HashOwner,<one column per minute>".into(),
        });
    }
    for rec in rd.records() {
        let rec = rec.map_err(|e| csv_err(invocations, e))?;
        let line = rec.position().map_or(0, |p| p.line() as usize);
        let key: Vec<String> = [2, 1, 0]
            .iter()
            .map(|&c| rec.get(c).unwrap_or("").to_string())
            .collect();
        let Some(d) = table.remove(&key) else {
            return Err(Error::Trace {
                path: invocations.to_path_buf(),
                line,
                message: format!(
                    "function {} has no row in the durations file {}",
                    key[2],
                    durations.display()
                ),
            });
        };
        let f = durs.len();
        durs.push(d);
        for (m, v) in rec.iter().skip(3).skip(first).take(take).enumerate() {
            let n: u64 = if v.trim().is_empty() {
                0
            } else {
                v.trim().parse().map_err(|_| Error::Trace {
                    path: invocations.to_path_buf(),
                    line,
                    message: format!("invocation count \"{v}\" is not a non-negative integer"),
                })?
            };
            if minutes.len() <= m {
                minutes.resize_with(m + 1, Vec::new);
            }
            if n > 0 {
                minutes[m].push((f, n));
            }
        }
    }
    Ok(Azure {
        minutes,
        durations: durs,
    })
}

/// Service times from a distribution, or from per-source percentile tables.
pub fn service_from(
    sampler: Option<Sampler>,
    tables: &[Percentiles],
) -> impl FnMut(&mut ChaCha8Rng, usize) -> f64 + '_ {
    move |rng, src| match (&sampler, tables.get(src)) {
        (Some(s), _) => s.sample(rng),
        (None, Some(t)) => t.sample(rng),
        (None, None) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use std::io::Write;

    fn win() -> Window {
        Window {
            start: 0.0,
            length: f64::INFINITY,
            speedup: 1.0,
        }
    }

    #[test]
    fn counts_report_the_bad_line() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "3\n# comment\n4\nx5").unwrap();
        let e = read_counts(f.path(), 1.0, &win()).unwrap_err().to_string();
        assert!(e.contains(":4:") || e.contains("line 4"), "{e}");
    }

    #[test]
    fn counts_window_selects_intervals() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "1\n2\n3\n4\n5").unwrap();
        let w = Window {
            start: 1.0,
            length: 2.0,
            speedup: 1.0,
        };
        assert_eq!(read_counts(f.path(), 1.0, &w).unwrap(), vec![2, 3]);
    }

    #[test]
    fn spread_keeps_counts_inside_their_interval() {
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let mut s = ChaCha8Rng::seed_from_u64(2);
        let mut svc = |_: &mut ChaCha8Rng, _| 1.0;
        let t = spread(
            [vec![(0, 3)], vec![], vec![(0, 2)]].into_iter(),
            2.0,
            &mut a,
            &mut s,
            &mut svc,
        );
        assert_eq!(t.len(), 5);
        assert!(t[..3].iter().all(|x| x.arrival < 2.0));
        assert!(t[3..].iter().all(|x| (4.0..6.0).contains(&x.arrival)));
        assert!(t.windows(2).all(|w| w[0].arrival <= w[1].arrival));
    }

    #[test]
    fn timestamps_parse_service_column() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "0.5,2\n0.1,1.5\n").unwrap();
        let (v, svc) = read_timestamps(f.path(), &win()).unwrap();
        assert!(svc);
        assert_eq!(v, vec![(0.1, Some(1.5)), (0.5, Some(2.0))]);
        let mut g = tempfile::NamedTempFile::new().unwrap();
        writeln!(g, "1\nabc").unwrap();
        let e = read_timestamps(g.path(), &win()).unwrap_err().to_string();
        assert!(e.contains("2"), "{e}");
    }
}
