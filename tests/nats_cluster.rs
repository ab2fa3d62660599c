//! A three-node NATS cluster with an R3 stream: jetpool, connected to one
//! node, scales a pool whose agents know all three. The node jetpool uses
//! is killed, then (with it back) the consumer's leader: each time
//! jetpool is healthy again within seconds, no agent is stopped while it
//! is blind, and every task is done.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer, stream};
use common::cluster::Cluster;
use common::*;

/// Publishes `count` tasks of `work_ms`, each with its publish ack.
async fn publish_to(js: &jetstream::Context, subject: &str, first: u64, count: u64, work_ms: u64) {
    for i in first..first + count {
        let payload = format!("{{\"id\":{i},\"work_ms\":{work_ms}}}");
        eventually(Duration::from_secs(20), "a publish ack", || async {
            js.publish(subject.to_string(), payload.clone().into())
                .await
                .ok()?
                .await
                .ok()
        })
        .await;
    }
}

/// The consumer's info, once the cluster answers.
async fn info(js: &jetstream::Context, stream: &str) -> Option<consumer::Info> {
    let s = js.get_stream(stream).await.ok()?;
    let mut c: consumer::PullConsumer = s.get_consumer("work").await.ok()?;
    c.info().await.ok().cloned()
}

/// Waits until jetpool has read the consumer again since `since` (a
/// read after the loss, through another node) and `/healthz` answers
/// 200, with `before` all still running (none stopped while jetpool was
/// blind); the time it took.
async fn healthy_again(
    listen: &str,
    pool: &str,
    before: &BTreeSet<String>,
    since: (Instant, jiff::Timestamp),
) -> f64 {
    eventually(
        Duration::from_secs(30),
        "a fresh read after the loss",
        || async {
            let (_, body) = http_get(listen, "/status").await?;
            let st: serde_json::Value = serde_json::from_str(&body).ok()?;
            let at: jiff::Timestamp = st["pools"][0]["observation"]["at"].as_str()?.parse().ok()?;
            let fresh = st["pools"][0]["fresh"].as_bool()?;
            (fresh && at > since.1 && health(listen).await == Some(200)).then_some(())
        },
    )
    .await;
    let secs = since.0.elapsed().as_secs_f64();
    let now: BTreeSet<String> = running(pool).into_iter().collect();
    assert!(
        before.is_subset(&now),
        "an agent stopped while jetpool was blind: before {before:?}, after {now:?}"
    );
    secs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clustered_nats_loses_nodes_and_scaling_goes_on() {
    if !docker_available() {
        return;
    }
    let mut cluster = Cluster::start();
    let client = eventually(Duration::from_secs(30), "a cluster client", || async {
        let addrs: Vec<async_nats::ServerAddr> =
            (0..3).filter_map(|i| cluster.url(i).parse().ok()).collect();
        async_nats::connect(addrs).await.ok()
    })
    .await;
    let js = jetstream::new(client);
    let stream = "CLUSTERED";
    let subject = format!("{stream}.tasks");
    // The JetStream meta leader is elected a moment after the nodes meet.
    eventually(Duration::from_secs(30), "an R3 stream", || async {
        js.get_or_create_stream(stream::Config {
            name: stream.into(),
            subjects: vec![subject.clone()],
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .ok()
    })
    .await;
    eventually(Duration::from_secs(30), "the consumer", || async {
        js.create_consumer_on_stream(
            consumer::pull::Config {
                durable_name: Some("work".into()),
                ack_wait: Duration::from_secs(30),
                ..Default::default()
            },
            stream,
        )
        .await
        .ok()
    })
    .await;

    let pool = unique("it-cluster");
    let _guard = PoolGuard(pool.clone());
    let toml = TestPool::new(&pool, stream)
        .bounds(0, 4)
        .interval("500ms")
        .toml();
    let dir = policy_dir(&toml);
    let listen = format!("127.0.0.1:{}", free_port());
    let urls = cluster.urls();
    let _jetpool = JetpoolProcess::start(
        dir.path(),
        &cluster.url(0),
        &listen,
        &["--agent-nats-url", &urls],
    );
    // 40 tasks of 2 s: 20 s of work for 4 agents, across both losses.
    publish_to(&js, &subject, 0, 40, 2000).await;
    eventually(Duration::from_secs(30), "the pool scaled out", || async {
        (running(&pool).len() >= 2 && health(&listen).await == Some(200)).then_some(())
    })
    .await;

    // The node jetpool is connected to.
    let before: BTreeSet<String> = running(&pool).into_iter().collect();
    cluster.kill_node(0);
    let lost = healthy_again(
        &listen,
        &pool,
        &before,
        (Instant::now(), jiff::Timestamp::now()),
    )
    .await;

    // With it back and caught up, the consumer's leader.
    cluster.start_node(0);
    eventually(Duration::from_secs(30), "all replicas current", || async {
        let mut s = js.get_stream(stream).await.ok()?;
        let c = s.info().await.ok()?.cluster.clone()?;
        (c.replicas.len() == 2 && c.replicas.iter().all(|r| r.current)).then_some(())
    })
    .await;
    let leader = eventually(Duration::from_secs(20), "the consumer's leader", || async {
        let name = info(&js, stream).await?.cluster?.leader?;
        cluster.index_of(&name)
    })
    .await;
    let before: BTreeSet<String> = running(&pool).into_iter().collect();
    cluster.kill_node(leader);
    let leader_lost = healthy_again(
        &listen,
        &pool,
        &before,
        (Instant::now(), jiff::Timestamp::now()),
    )
    .await;

    // Scaling goes on: new work is taken up and everything is done.
    publish_to(&js, &subject, 40, 20, 500).await;
    eventually(Duration::from_secs(120), "every task acked", || async {
        let i = info(&js, stream).await?;
        (i.ack_floor.stream_sequence == 60 && i.num_pending == 0 && i.num_ack_pending == 0)
            .then_some(())
    })
    .await;
    println!(
        "jetpool's node lost: healthy {lost:.2} s later; the consumer's leader (n{}) lost: healthy {leader_lost:.2} s later; 60 of 60 tasks acked",
        leader + 1
    );
}
