//! The shipped stack, `compose/docker-compose.yml`: a valid file, and it
//! comes up on the locally built images (jetpool, and NATS and Prometheus
//! from Debian's binaries, `make compose-images`), scales its agent pool
//! out for the load generator's burst as Prometheus sees it, and `down`
//! leaves nothing behind.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::compose::{Project, compose_available, docker_gid, required};
use crate::common::prometheus::query;
use crate::common::*;

fn stack_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("compose/docker-compose.yml")
}

#[test]
fn stack_file_is_valid_and_grafana_is_opt_in() {
    if !compose_available() {
        return;
    }
    let project = Project::existing("cfg", &stack_file(), Vec::new());
    project.ok(&["config", "-q"]);
    let listed = project.ok(&["config", "--services"]);
    let mut services: Vec<&str> = listed.lines().collect();
    services.sort();
    assert_eq!(
        services,
        ["agent", "grafana", "jetpool", "load", "nats", "prometheus"]
    );
    let config = project.ok(&["config"]);
    assert!(
        config.contains("profiles:\n    - grafana"),
        "Grafana only with --profile grafana:\n{config}"
    );
    assert!(
        config.contains("jetpool.pool: demo"),
        "the agent is a pool:\n{config}"
    );
    assert!(
        config.contains(&format!("JETPOOL_COMPOSE_PROJECT: {}", project.name)),
        "{config}"
    );
}

fn image_exists(image: &str) -> bool {
    Command::new("docker")
        .args(["image", "inspect", image])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_comes_up_on_local_images_and_scales() {
    if !compose_available() {
        return;
    }
    let local = ["jetpool-nats:local", "jetpool-prometheus:local"];
    if !required(
        local.iter().all(|i| image_exists(i)),
        "the local NATS and Prometheus images (make compose-images)",
    ) {
        return;
    }
    let (prom_port, jet_port) = (free_port(), free_port());
    let env: Vec<(String, String)> = [
        ("JETPOOL_IMAGE", image()),
        ("NATS_IMAGE", local[0].to_string()),
        ("PROMETHEUS_IMAGE", local[1].to_string()),
        ("PROMETHEUS_PORT", prom_port.to_string()),
        ("JETPOOL_PORT", jet_port.to_string()),
        ("DEMO_TASKS", "300".to_string()),
        ("DOCKER_GID", docker_gid().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let project = Project::existing("stack", &stack_file(), env);
    project.ok(&["up", "-d"]);
    let prom = format!("127.0.0.1:{prom_port}");
    let services = project.ps_all();
    assert!(
        !services.contains("_grafana_"),
        "Grafana is opt-in:\n{services}"
    );

    let peak = eventually(
        Duration::from_secs(60),
        "Prometheus to see the pool scale out",
        || async {
            let desired = query(&prom, r#"jetpool_pool_desired_replicas{pool="demo"}"#).await?;
            let ready = query(&prom, r#"jetpool_pool_replicas{pool="demo",state="ready"}"#).await?;
            (desired >= 3.0 && ready >= 3.0).then_some(ready)
        },
    )
    .await;
    let up = project
        .ps("agent")
        .into_iter()
        .filter(|(_, s)| s == "Up")
        .count();
    assert!(
        up >= 3,
        "docker-compose ps lists the replicas ({up} up, {peak} ready seen)"
    );
    eventually(
        Duration::from_secs(60),
        "the burst worked off and the pool back at min",
        || async {
            let pending = query(&prom, r#"jetpool_consumer_pending_messages{pool="demo"}"#).await?;
            let up = project
                .ps("agent")
                .into_iter()
                .filter(|(_, s)| s == "Up")
                .count();
            (pending == 0.0 && up == 1).then_some(())
        },
    )
    .await;
    project.ok(&["down", "-v", "-t", "5"]);
    assert_eq!(
        project.leftovers(),
        Vec::<String>::new(),
        "down leaves nothing behind"
    );
}
