//! A labelled compose service becomes a pool: jetpool (in process, with
//! discovery limited to the test's project) scales it out under load and
//! back to zero keeping the service's definition, comes back from zero,
//! and `docker-compose down` leaves nothing behind while jetpool runs. A
//! service with an invalid label is counted and left alone.

use std::path::Path;
use std::time::Duration;

use jetpool::compose::ComposeArgs;
use jetpool::nats::NatsArgs;
use jetpool::service::{self, ServiceConfig};

use crate::common::compose::{Project, compose_available, inspect, service_containers};
use crate::common::*;

/// The policy the service names in `jetpool.policy`: quick decisions and
/// a short scale-down delay so the test is short. No `[pool.container]`:
/// it runs no pool of its own, it only lends these settings.
const POLICY: &str = r#"
[[pool]]
name = "fast"
stream = "CSCALE"
consumer = "work"
max = 4
interval = "500ms"
[pool.scaling]
target_drain_time = "10s"
scale_down_delay = "3s"
scale_to_zero_after = "3s"
"#;

fn compose_file(pool: &str, nats_url: &str) -> String {
    format!(
        r#"
services:
  agent:
    image: {image}
    command: ["agent", "--stream", "CSCALE", "--consumer", "work"]
    network_mode: host
    environment:
      NATS_URL: {nats_url}
    stop_grace_period: 20s
    labels:
      jetpool.pool: {pool}
      jetpool.stream: CSCALE
      jetpool.consumer: work
      jetpool.min: "0"
      jetpool.max: "4"
      jetpool.policy: fast
  # Labelled with a mistake: logged, counted, not pooled; the other is.
  broken:
    image: {image}
    command: ["agent", "--stream", "NOPE", "--consumer", "none"]
    network_mode: host
    environment:
      NATS_URL: {nats_url}
    stop_grace_period: 1s
    labels:
      jetpool.pool: {pool}-broken
      jetpool.stream: CSCALE
      jetpool.consumer: work
      jetpool.max: ten
"#,
        image = image()
    )
}

fn running(project: &str) -> Vec<String> {
    service_containers(project, "agent")
        .into_iter()
        .filter(|(_, s)| s == "running")
        .map(|(n, _)| n)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labelled_service_scales_out_and_back_and_down_leaves_nothing() {
    if !compose_available() {
        return;
    }
    let nats = Nats::start();
    setup_stream(&nats, "CSCALE", "work", Duration::from_secs(30)).await;
    let pool = unique("it-compose");
    let project = Project::new("scale", &compose_file(&pool, &nats.url));
    let p = project.name.clone();
    project.ok(&["up", "-d"]);

    let policies =
        jetpool::pool::spec::parse_policies(Path::new("fast.toml"), POLICY).expect("policy");
    let listen = format!("127.0.0.1:{}", free_port());
    let cfg = ServiceConfig {
        policies,
        policy_dir: None,
        nats: NatsArgs::for_url(&nats.url),
        listen: listen.clone(),
        dry_run: false,
        agent_nats_url: nats.url.clone(),
        max_agents: None,
        compose: ComposeArgs {
            enabled: true,
            project: Some(p.clone()),
        },
        swarm: Default::default(),
        overrides_bucket: jetpool::overrides::DEFAULT_BUCKET.into(),
        allowed: Default::default(),
        engines: Vec::new(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let svc = tokio::spawn(service::run(cfg, async {
        let _ = stopped.await;
    }));

    // Discovered; min 0 and no backlog: the one container compose made is
    // stopped but kept, so the service still exists for compose and jetpool.
    eventually(
        Duration::from_secs(15),
        "the pool discovered and at zero",
        || async {
            let (_, body) = http_get(&listen, "/status").await?;
            (body.contains(&format!("\"pool\":\"{pool}\"")) && running(&p).is_empty()).then_some(())
        },
    )
    .await;
    let (_, metrics) = http_get(&listen, "/metrics").await.expect("metrics");
    let invalid = metrics
        .lines()
        .find(|l| l.starts_with("jetpool_compose_errors_total{reason=\"invalid_label\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok());
    assert!(
        invalid.is_some_and(|n| n >= 1.0),
        "invalid labels counted:\n{metrics}"
    );
    let (_, status) = http_get(&listen, "/status").await.expect("status");
    assert!(
        !status.contains("-broken"),
        "the broken service is not a pool: {status}"
    );
    let first = format!("{p}_agent_1");
    assert_eq!(project.ps("agent"), [(first.clone(), "Exit".to_string())]);

    publish(&nats, "CSCALE", 200, 250).await;
    let out = eventually(
        Duration::from_secs(20),
        "at least 3 agents running",
        || async {
            let r = running(&p);
            (r.len() >= 3).then_some(r)
        },
    )
    .await;
    assert!(out.len() <= 4, "never more than max: {out:?}");
    let listed = project.ps("agent");
    for name in &out {
        assert!(
            name.starts_with(&format!("{p}_agent_")),
            "compose v1 naming: {name}"
        );
        assert!(
            listed.contains(&(name.clone(), "Up".to_string())),
            "docker-compose ps lists {name}: {listed:?}"
        );
    }
    assert!(
        !listed.iter().any(|(n, _)| *n == first),
        "the kept container is removed once replicas run: {listed:?}"
    );
    let replica = inspect(&out[0]);
    let labels = &replica["Config"]["Labels"];
    assert_eq!(labels["com.docker.compose.oneoff"], "False");
    assert_eq!(labels["com.docker.compose.service"], "agent");
    assert_eq!(labels["jetpool.managed"], "true");
    assert_eq!(labels["jetpool.pool"], pool.as_str());
    assert!(
        labels["com.docker.compose.container-number"]
            .as_str()
            .is_some()
    );

    let info = eventually(
        Duration::from_secs(60),
        "every task acknowledged",
        || async {
            let i = consumer_info(&nats, "CSCALE", "work").await;
            (i.num_pending == 0 && i.num_ack_pending == 0).then_some(i)
        },
    )
    .await;
    assert_eq!(info.ack_floor.stream_sequence, 200);
    // Back to zero, one container kept. On a timeout, say what was there
    // and what the pool thought, so a failure under load can be read.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    loop {
        let all = service_containers(&p, "agent");
        if all.len() == 1 && all[0].1 == "exited" {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let status = http_get(&listen, "/status").await.map(|(_, b)| b);
            panic!(
                "not back to zero with one container kept: containers {all:?}; status {status:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let listed = project.ps("agent");
    assert_eq!(
        listed.len(),
        1,
        "compose lists the kept container: {listed:?}"
    );
    assert_eq!(listed[0].1, "Exit");

    // Back from zero, from the kept definition.
    publish(&nats, "CSCALE", 10, 100).await;
    eventually(
        Duration::from_secs(20),
        "an agent back for new work",
        || async { (!running(&p).is_empty()).then_some(()) },
    )
    .await;

    // `down` while jetpool runs: jetpool pauses the pool instead of
    // replacing what compose stops, and nothing is left.
    project.ok(&["down", "-t", "5"]);
    eventually(
        Duration::from_secs(15),
        "nothing of the project left",
        || async { project.leftovers().is_empty().then_some(()) },
    )
    .await;
    let settle = tokio::time::Instant::now() + Duration::from_secs(3);
    while tokio::time::Instant::now() < settle {
        assert_eq!(
            project.leftovers(),
            Vec::<String>::new(),
            "jetpool recreated nothing"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, status) = http_get(&listen, "/status").await.expect("status");
    assert!(
        !status.contains(&pool),
        "the pool is gone with its service: {status}"
    );

    let _ = stop.send(());
    let result = tokio::time::timeout(Duration::from_secs(10), svc)
        .await
        .expect("service stops promptly");
    assert!(matches!(result, Ok(Ok(()))), "clean exit: {result:?}");
}
