//! `jetpool load`: publishes a batch of tasks (`{"id": N, "work_ms": M}`)
//! with publish acknowledgements, optionally at a fixed rate. Creates the
//! stream, and the durable pull consumer if one is named, when missing.

use std::collections::VecDeque;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, context::PublishAckFuture, stream};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::nats::NatsArgs;

/// Arguments of `jetpool load`.
#[derive(Debug, Clone, clap::Args)]
pub struct LoadArgs {
    /// Stream to publish into (created with `--subject` if missing).
    #[arg(long)]
    pub stream: String,
    /// Subject to publish on.
    #[arg(long)]
    pub subject: String,
    /// Number of tasks.
    #[arg(long)]
    pub count: u64,
    /// Publish rate, such as `200/s` (default: as fast as acks allow).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Work each task asks for (`work_ms` in the payload).
    #[arg(long, default_value = "100ms", value_parser = crate::config::parse_duration)]
    pub work: Duration,
    /// Also make sure this durable pull consumer exists on the stream.
    #[arg(long)]
    pub consumer: Option<String>,
    /// AckWait of a consumer created by `--consumer`.
    #[arg(long, default_value = "30s", value_parser = crate::config::parse_duration)]
    pub ack_wait: Duration,
    /// max_ack_pending of a consumer created by `--consumer`.
    #[arg(long, default_value_t = 1000)]
    pub max_ack_pending: i64,
    /// First task id (ids are `first_id .. first_id + count`).
    #[arg(long, default_value_t = 0)]
    pub first_id: u64,
    /// NATS connection.
    #[command(flatten)]
    pub nats: NatsArgs,
}

/// Parses `200/s`, `200` or `12000/m` into tasks per second.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, u)) => (n, u.trim()),
        None => (t, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("invalid rate \"{s}\": expected a number of tasks per second, such as \"200/s\" or \"600/m\""))?;
    let scale = match per {
        "s" | "sec" => 1.0,
        "m" | "min" => 1.0 / 60.0,
        "h" => 1.0 / 3600.0,
        _ => return Err(format!("invalid rate unit \"{per}\": use /s, /m or /h")),
    };
    if n > 0.0 && n.is_finite() {
        Ok(n * scale)
    } else {
        Err(format!("invalid rate \"{s}\": must be greater than 0"))
    }
}

/// Entry point of `jetpool load`; returns the exit code.
pub async fn main(args: LoadArgs) -> i32 {
    let client = match args.nats.connect("jetpool-load").await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let started = Instant::now();
    match run(&args, client).await {
        Ok(n) => {
            let secs = started.elapsed().as_secs_f64();
            println!(
                "published {n} tasks to {} ({}) in {secs:.2}s",
                args.stream, args.subject
            );
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// Ensures the stream (and consumer) exist, then publishes; returns the
/// number of tasks the server acknowledged.
pub async fn run(args: &LoadArgs, client: async_nats::Client) -> Result<u64> {
    let js = jetstream::new(client);
    let stream = js
        .get_or_create_stream(stream::Config {
            name: args.stream.clone(),
            subjects: vec![args.subject.clone()],
            ..Default::default()
        })
        .await
        .map_err(|e| Error::JetStream {
            op: "create stream",
            reason: format!("{}: {e}", args.stream),
        })?;
    if let Some(name) = &args.consumer {
        stream
            .get_or_create_consumer(
                name,
                consumer::pull::Config {
                    durable_name: Some(name.clone()),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: args.ack_wait,
                    max_ack_pending: args.max_ack_pending,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| Error::JetStream {
                op: "create consumer",
                reason: format!("{}/{name}: {e}", args.stream),
            })?;
    }
    let work_ms = args.work.as_millis() as u64;
    let started = Instant::now();
    // Up to this many publishes await their ack at once: enough to keep
    // the pipe full, bounded so a slow server applies back-pressure.
    const WINDOW: usize = 512;
    let mut inflight: VecDeque<PublishAckFuture> = VecDeque::with_capacity(WINDOW);
    let mut acked = 0u64;
    for i in 0..args.count {
        if let Some(rate) = args.rate {
            let due = started + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
        let id = args.first_id + i;
        let payload = serde_json::json!({ "id": id, "work_ms": work_ms }).to_string();
        let fut = js
            .publish(args.subject.clone(), payload.into())
            .await
            .map_err(|e| Error::JetStream {
                op: "publish",
                reason: e.to_string(),
            })?;
        inflight.push_back(fut);
        if inflight.len() >= WINDOW
            && let Some(f) = inflight.pop_front()
        {
            await_ack(f).await?;
            acked += 1;
        }
    }
    while let Some(f) = inflight.pop_front() {
        await_ack(f).await?;
        acked += 1;
    }
    Ok(acked)
}

async fn await_ack(f: PublishAckFuture) -> Result<()> {
    f.await.map(|_| ()).map_err(|e| Error::JetStream {
        op: "publish ack",
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("200/s"), Ok(200.0));
        assert_eq!(parse_rate("120/m"), Ok(2.0));
        assert_eq!(parse_rate("5"), Ok(5.0));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("x/s").is_err());
        assert!(parse_rate("5/d").is_err());
    }
}
