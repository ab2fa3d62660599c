//! `jetpool status [--watch]` and `jetpool explain POOL`: a running
//! jetpool read from the terminal, over the same HTTP endpoints the status
//! page uses (`/status`, `/status/{pool}`). One line per pool, as `kubectl
//! get hpa` prints; and a pool's recent decisions with every input.

mod explain;

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::policy::Override;

/// Where the jetpool to read listens.
#[derive(Debug, Clone, clap::Args)]
pub struct Endpoint {
    /// Base URL of a running jetpool (its `--listen` address).
    #[arg(long, env = "JETPOOL_URL", default_value = "http://127.0.0.1:9464")]
    pub url: String,
    /// Print the JSON as served instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `jetpool status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The jetpool to read.
    #[command(flatten)]
    pub endpoint: Endpoint,
    /// Keep printing a pool's line whenever it changes.
    #[arg(long, short = 'w')]
    pub watch: bool,
    /// How often `--watch` reads.
    #[arg(long, default_value = "1s", value_parser = crate::config::parse_duration)]
    pub interval: Duration,
}

/// Arguments of `jetpool explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// The pool.
    pub pool: String,
    /// The jetpool to read.
    #[command(flatten)]
    pub endpoint: Endpoint,
    /// How many decisions to show, newest first.
    #[arg(long, short = 'n', default_value_t = 5)]
    pub last: usize,
}

/// The fields of `/status` the table shows.
#[derive(Debug, Deserialize)]
struct StatusDoc {
    pools: Vec<PoolRow>,
}

#[derive(Debug, Deserialize)]
struct PoolRow {
    pool: String,
    min: u32,
    max: u32,
    observation: Option<ConsumerRow>,
    failure: Option<String>,
    decision: Option<DecisionRow>,
    replicas: ReplicasRow,
    #[serde(default)]
    fresh: bool,
    #[serde(default)]
    overrides: Override,
}

#[derive(Debug, Deserialize)]
struct ConsumerRow {
    pending: u64,
    ack_pending: u64,
}

#[derive(Debug, Deserialize)]
struct DecisionRow {
    desired: u32,
    limit: String,
    reason: String,
    estimates: EstimatesRow,
}

#[derive(Debug, Deserialize)]
struct EstimatesRow {
    arrival_rate: f64,
}

#[derive(Debug, Deserialize)]
struct ReplicasRow {
    ready: u32,
    starting: u32,
}

const HEADER: [&str; 11] = [
    "POOL",
    "DESIRED",
    "RUNNING",
    "STARTING",
    "MIN",
    "MAX",
    "BACKLOG",
    "IN-FLIGHT",
    "ARRIVALS",
    "OVERRIDE",
    "GUARDRAIL",
];

impl PoolRow {
    /// The row's cells, the reason last and unpadded.
    fn cells(&self) -> (Vec<String>, String) {
        let d = self.decision.as_ref();
        let c = self.observation.as_ref();
        let dash = || "-".to_string();
        let cells = vec![
            self.pool.clone(),
            d.map_or_else(dash, |d| d.desired.to_string()),
            self.replicas.ready.to_string(),
            self.replicas.starting.to_string(),
            self.min.to_string(),
            self.max.to_string(),
            c.map_or_else(dash, |c| c.pending.to_string()),
            c.map_or_else(dash, |c| c.ack_pending.to_string()),
            d.map_or_else(dash, |d| format!("{:.2}/s", d.estimates.arrival_rate)),
            self.overrides.label(),
            d.map_or_else(dash, |d| d.limit.clone()),
        ];
        let reason = match (&self.failure, d) {
            (Some(f), _) => format!("blind: {f}"),
            (None, Some(d)) if !self.fresh => format!("blind: {}", d.reason),
            (None, Some(d)) => d.reason.clone(),
            (None, None) => "no decision yet".into(),
        };
        (cells, reason)
    }
}

/// Lays rows out in columns two spaces apart, REASON last.
fn table(rows: &[(Vec<String>, String)], header: bool) -> Vec<String> {
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for (cells, _) in rows {
        for (w, c) in widths.iter_mut().zip(cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String], reason: &str| {
        let mut s = String::new();
        for (c, w) in cells.iter().zip(&widths) {
            s.push_str(&format!("{c:<w$}  "));
        }
        s.push_str(reason);
        s
    };
    let mut out = Vec::new();
    if header {
        let h: Vec<String> = HEADER.iter().map(|s| s.to_string()).collect();
        out.push(line(&h, "REASON"));
    }
    out.extend(rows.iter().map(|(c, r)| line(c, r)));
    out
}

fn get(base: &str, path: &str) -> Result<String, String> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut resp = agent.get(&url).call().map_err(|e| {
        format!("cannot reach jetpool at {url}: {e} (is `jetpool run` listening there? set --url or JETPOOL_URL)")
    })?;
    let status = resp.status();
    let body = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("cannot read {url}: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        let why = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_string))
            .unwrap_or(body);
        Err(format!("{url}: {status}: {why}"))
    }
}

fn rows(body: &str) -> Result<Vec<(Vec<String>, String)>, String> {
    let doc: StatusDoc =
        serde_json::from_str(body).map_err(|e| format!("unexpected /status document: {e}"))?;
    Ok(doc.pools.iter().map(PoolRow::cells).collect())
}

/// `jetpool status`; returns the exit code.
pub fn status(args: &StatusArgs) -> i32 {
    match run_status(args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn run_status(args: &StatusArgs) -> Result<(), String> {
    let base = &args.endpoint.url;
    let body = get(base, "/status")?;
    if args.endpoint.json && !args.watch {
        println!("{body}");
        return Ok(());
    }
    let first = rows(&body)?;
    if first.is_empty() && !args.watch {
        println!("no pools");
        return Ok(());
    }
    for l in table(&first, true) {
        println!("{l}");
    }
    if !args.watch {
        return Ok(());
    }
    // Print a pool's line again whenever it changes, as `kubectl get -w`.
    let mut last: std::collections::HashMap<String, (Vec<String>, String)> =
        first.into_iter().map(|r| (r.0[0].clone(), r)).collect();
    loop {
        std::thread::sleep(args.interval);
        let now = match get(base, "/status").and_then(|b| rows(&b)) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        for r in now {
            if last.get(&r.0[0]) != Some(&r) {
                for l in table(std::slice::from_ref(&r), false) {
                    println!("{l}");
                }
                last.insert(r.0[0].clone(), r);
            }
        }
    }
}

/// `jetpool explain POOL`; returns the exit code.
pub fn explain(args: &ExplainArgs) -> i32 {
    let body = match get(&args.endpoint.url, &format!("/status/{}", args.pool)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if args.endpoint.json {
        println!("{body}");
        return 0;
    }
    match serde_json::from_str::<Value>(&body) {
        Ok(v) => {
            print!("{}", explain::render(&v, args.last));
            0
        }
        Err(e) => {
            eprintln!("error: unexpected /status/{} document: {e}", args.pool);
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_pool_in_columns() {
        let body = r#"{"dry_run":false,"pools":[
          {"pool":"checkout","min":0,"max":10,"observation":{"pending":1200,"ack_pending":16},
           "failure":null,"fresh":true,
           "decision":{"desired":10,"limit":"max","reason":"backlog 1200 -> 12; capped by max 10",
                       "estimates":{"arrival_rate":35.04}},
           "replicas":{"ready":4,"starting":6},
           "overrides":{"paused":null,"pinned":null}},
          {"pool":"b","min":1,"max":3,"observation":null,"failure":"stream not found","fresh":false,
           "decision":null,"replicas":{"ready":1,"starting":0},
           "overrides":{"paused":{"at":"2024-01-01T00:00:00Z"},"pinned":null}}]}"#;
        let lines = table(&rows(body).unwrap(), true);
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].starts_with("POOL      DESIRED  RUNNING"),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("GUARDRAIL  REASON"), "{}", lines[0]);
        let cols: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(
            &cols[..11],
            &[
                "checkout", "10", "4", "6", "0", "10", "1200", "16", "35.04/s", "-", "max"
            ]
        );
        assert!(lines[1].ends_with("capped by max 10"));
        assert!(lines[2].contains(" paused "), "{}", lines[2]);
        assert!(
            lines[2].ends_with("blind: stream not found"),
            "{}",
            lines[2]
        );
    }
}
