//! jetpool's own cost: RSS and CPU with 1, 50 and 200 pools at a 1 s
//! interval, idle and with every pool under load, and one pool under a
//! flood of 10,000 tasks a second. The pools run `--dry-run` (virtual
//! containers), so what is measured is jetpool, not the agents.

use std::fmt::Write as _;
use std::time::Duration;

use async_nats::jetstream;

use super::phases::Publisher;
use super::probe::Jetpool;
use crate::common::{Nats, eventually, image, policy_dir, usage};

/// How long each figure is averaged over.
const WINDOW: Duration = Duration::from_secs(20);

/// One measured case.
pub struct Cost {
    /// What ran.
    pub case: String,
    /// Tasks published per second, all pools together.
    pub published: f64,
    /// CPU, percent of one core, over the window.
    pub cpu: f64,
    /// RSS at the end of the window, MiB.
    pub rss: f64,
}

/// The policy of `n` dry-run pools, `OV<run>_<i>`.
fn pools(run: &str, n: usize) -> String {
    let mut out = String::new();
    for i in 0..n {
        let _ = write!(
            out,
            r#"
[[pool]]
name = "ov-{run}-{i}"
stream = "OV{run}_{i}"
consumer = "work"
min = 0
max = 10
interval = "1s"

[pool.container]
image = "{image}"
command = ["agent"]
"#,
            image = image()
        );
    }
    out
}

/// CPU percent and RSS of `pid` over [`WINDOW`].
async fn measure(pid: u32) -> (f64, f64) {
    let (cpu0, _) = usage(pid);
    tokio::time::sleep(WINDOW).await;
    let (cpu1, rss) = usage(pid);
    ((cpu1 - cpu0) / WINDOW.as_secs_f64() * 100.0, rss)
}

/// Streams and consumers for `n` pools.
async fn streams(js: &jetstream::Context, run: &str, n: usize) -> Vec<String> {
    let mut subjects = Vec::new();
    for i in 0..n {
        let name = format!("OV{run}_{i}");
        let subject = format!("ov.{run}.{i}");
        let s = js
            .get_or_create_stream(jetstream::stream::Config {
                name: name.clone(),
                subjects: vec![subject.clone()],
                storage: jetstream::stream::StorageType::Memory,
                max_messages: 100_000,
                ..Default::default()
            })
            .await
            .expect("create stream");
        s.get_or_create_consumer(
            "work",
            jetstream::consumer::pull::Config {
                durable_name: Some("work".into()),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .expect("create consumer");
        subjects.push(subject);
    }
    subjects
}

/// `n` pools idle, then each under `per_pool` tasks per second.
pub async fn pools_cost(
    nats: &Nats,
    client: &async_nats::Client,
    n: usize,
    per_pool: f64,
) -> [Cost; 2] {
    let run = format!("{n}");
    let what = if n == 1 {
        "1 pool".to_string()
    } else {
        format!("{n} pools")
    };
    let js = jetstream::new(client.clone());
    let subjects = streams(&js, &run, n).await;
    let dir = policy_dir(&pools(&run, n));
    let jp = Jetpool::start(dir.path(), &nats.url, &["--dry-run"]);
    eventually(Duration::from_secs(60), "every pool deciding", || async {
        let st = jp.status().await;
        let deciding = st["pools"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|p| !p["decision"].is_null()).count());
        (deciding == n).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu, rss) = measure(jp.pid()).await;
    let idle = Cost {
        case: format!("{what}, idle"),
        published: 0.0,
        cpu,
        rss,
    };
    let publisher = Publisher::start(client.clone(), subjects, per_pool, 0);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu, rss) = measure(jp.pid()).await;
    drop(publisher);
    let loaded = Cost {
        case: format!("{what}, each under {per_pool}/s"),
        published: per_pool * n as f64,
        cpu,
        rss,
    };
    drop(jp);
    for i in 0..n {
        let _ = js.delete_stream(format!("OV{run}_{i}")).await;
    }
    [idle, loaded]
}

/// One pool under `rate` tasks per second.
pub async fn flood_cost(nats: &Nats, client: &async_nats::Client, rate: f64) -> Cost {
    let run = "flood";
    let js = jetstream::new(client.clone());
    let subjects = streams(&js, run, 1).await;
    let dir = policy_dir(&pools(run, 1));
    let jp = Jetpool::start(dir.path(), &nats.url, &["--dry-run"]);
    eventually(Duration::from_secs(30), "the pool deciding", || async {
        (!jp.status().await["pools"][0]["decision"].is_null()).then_some(())
    })
    .await;
    let publisher = Publisher::start(client.clone(), subjects, rate, 0);
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu, rss) = measure(jp.pid()).await;
    drop(publisher);
    drop(jp);
    let _ = js.delete_stream(format!("OV{run}_0")).await;
    Cost {
        case: format!("1 pool under {rate}/s"),
        published: rate,
        cpu,
        rss,
    }
}
