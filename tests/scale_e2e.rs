//! End to end with a real nats-server and the real Docker engine: a burst
//! of tasks scales a pool out, every task is acknowledged exactly once, and
//! the pool returns to zero with its containers gone.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use jetpool::nats::NatsArgs;
use jetpool::service::{self, ServiceConfig};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_scales_out_and_back_to_zero() {
    if !docker_available() {
        return;
    }
    let nats = Nats::start();
    let pool = unique("it-burst");
    let _guard = PoolGuard(pool.clone());
    let stream = "BURST";
    setup_stream(&nats, stream, "work", Duration::from_secs(30)).await;
    let toml = policy_toml(
        &pool,
        stream,
        "work",
        0,
        8,
        "scale_down_delay = \"3s\"\ntarget_drain_time = \"10s\"",
    );
    let pools = jetpool::config::parse_str(Path::new("burst.toml"), &toml).expect("valid policy");
    let listen = format!("127.0.0.1:{}", free_port());
    let cfg = ServiceConfig {
        pools,
        nats: NatsArgs::for_url(&nats.url),
        listen: listen.clone(),
        dry_run: false,
        agent_nats_url: nats.url.clone(),
        max_agents: None,
        compose: Default::default(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let svc = tokio::spawn(service::run(cfg, async {
        let _ = stopped.await;
    }));

    publish(&nats, stream, 400, 250).await;
    let t0 = Instant::now();
    eventually(
        Duration::from_secs(10),
        "at least 4 agent containers running",
        || async { (running(&pool).len() >= 4).then_some(()) },
    )
    .await;
    println!(
        "4 agents running {:.2}s after the burst",
        t0.elapsed().as_secs_f64()
    );
    assert!(running(&pool).len() <= 8, "never more than max");

    let info = eventually(
        Duration::from_secs(60),
        "every task acknowledged",
        || async {
            let i = consumer_info(&nats, stream, "work").await;
            (i.num_pending == 0 && i.num_ack_pending == 0).then_some(i)
        },
    )
    .await;
    assert_eq!(info.num_redelivered, 0, "nothing redelivered");
    assert_eq!(
        info.delivered.consumer_sequence, 400,
        "each task delivered exactly once"
    );
    assert_eq!(info.ack_floor.stream_sequence, 400, "all 400 acknowledged");
    println!(
        "400 tasks acked {:.2}s after the burst",
        t0.elapsed().as_secs_f64()
    );

    eventually(
        Duration::from_secs(40),
        "the pool back at zero with no containers left",
        || async { all_containers(&pool).is_empty().then_some(()) },
    )
    .await;
    let (_, body) = http_get(&listen, "/metrics").await.expect("metrics answer");
    assert_eq!(
        metric_value(&body, "jetpool_pool_desired_replicas", &pool),
        Some(0.0)
    );
    // Counters exist from the pool's start at 0: count what they hold.
    let events = |direction: &str| {
        body.lines()
            .filter(|l| {
                l.starts_with("jetpool_scale_events_total")
                    && l.contains(&pool)
                    && l.contains(&format!("direction=\"{direction}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let (ups, downs) = (events("up") > 0.0, events("down") > 0.0);
    assert!(
        ups && downs,
        "scale events counted in both directions:\n{body}"
    );

    let _ = stop.send(());
    let result = tokio::time::timeout(Duration::from_secs(10), svc)
        .await
        .expect("service stops promptly");
    assert!(
        matches!(result, Ok(Ok(()))),
        "service exits cleanly: {result:?}"
    );
}
