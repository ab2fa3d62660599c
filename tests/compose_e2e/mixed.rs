//! One `jetpool run --compose` (the real binary) serves a policy-file pool
//! and a compose-label pool at once. The files also lend settings to the
//! compose pool, and a reload of them reaches it in place. A service whose
//! pool name a file pool holds, one whose policy pins above its labelled
//! max, and one that bind-mounts a host path outside `--allow-mount`, are
//! refused with messages naming the label or the path.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::compose::{Project, compose_available, service_containers};
use crate::common::*;

fn policies(file_pool: &str, lent_max: u32) -> String {
    format!(
        r#"
[[pool]]
name = "{file_pool}"
stream = "CMIX"
consumer = "files"
min = 1
max = 1
interval = "500ms"
[pool.container]
image = "{image}"
command = ["agent", "--stream", "CMIX", "--consumer", "files"]
network = "host"
stop_timeout = "2s"

# Settings only (no [pool.container]): lent to the compose service.
[[pool]]
name = "lend"
stream = "CMIX"
consumer = "labels"
max = {lent_max}
interval = "500ms"

[[pool]]
name = "pinned"
stream = "CMIX"
consumer = "labels"
max = 5
pinned = 5
"#,
        image = image()
    )
}

fn compose_file(compose_pool: &str, file_pool: &str, nats_url: &str) -> String {
    let service = |labels: &str, stream: &str| {
        format!(
            r#"
    image: {image}
    command: ["agent", "--stream", "{stream}", "--consumer", "labels"]
    network_mode: host
    environment:
      NATS_URL: {nats_url}
    stop_grace_period: 2s
    labels:
{labels}"#,
            image = image()
        )
    };
    format!(
        "services:\n  agent:{}\n  clash:{}\n  pinned:{}\n  mounting:{}\n    volumes: [\"/etc:/host-etc:ro\"]\n",
        service(
            &format!(
                "      jetpool.pool: {compose_pool}\n      jetpool.policy: lend\n      jetpool.min: \"1\""
            ),
            "CMIX"
        ),
        service(
            &format!("      jetpool.pool: {file_pool}\n      jetpool.policy: lend"),
            "NOPE"
        ),
        service(
            &format!(
                "      jetpool.pool: {compose_pool}-pin\n      jetpool.policy: pinned\n      jetpool.max: \"3\""
            ),
            "NOPE"
        ),
        service(
            &format!("      jetpool.pool: {compose_pool}-mount\n      jetpool.policy: lend"),
            "NOPE"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_jetpool_runs_a_file_pool_and_a_compose_pool() {
    if !compose_available() {
        return;
    }
    let began = std::time::Instant::now();
    let nats = Nats::start();
    setup_stream(&nats, "CMIX", "files", Duration::from_secs(30)).await;
    setup_stream(&nats, "CMIX", "labels", Duration::from_secs(30)).await;
    let file_pool = unique("it-mixf");
    let _guard = PoolGuard(file_pool.clone());
    let compose_pool = unique("it-mixc");
    let project = Project::new("mix", &compose_file(&compose_pool, &file_pool, &nats.url));
    project.ok(&["up", "-d"]);
    let dir = policy_dir(&policies(&file_pool, 3));
    let listen = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(bin())
        .args([
            "run",
            "--log-format",
            "json",
            "--compose",
            "--compose-project",
        ])
        .arg(&project.name)
        .arg("--policies")
        .arg(dir.path())
        // Every template here runs the test image; no host mount is
        // allowed but under /tmp.
        .args(["--allow-image", &image(), "--allow-mount", "/tmp"])
        .args(["--nats", &nats.url, "--listen", &listen])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start jetpool");
    let logs = Logs::follow(&mut child);

    // Both pools run: the file pool's agent from its [pool.container], the
    // compose pool on the service's container; each has decided.
    let status = eventually(Duration::from_secs(30), "both pools deciding", || async {
        let (_, body) = http_get(&listen, "/status").await?;
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let pools = v["pools"].as_array()?.clone();
        let decided = |name: &str| {
            pools
                .iter()
                .any(|p| p["pool"] == name && !p["decision"].is_null())
        };
        (decided(&file_pool) && decided(&compose_pool) && !running(&file_pool).is_empty())
            .then_some(pools)
    })
    .await;
    assert_eq!(status.len(), 2, "exactly the two pools: {status:?}");
    let agents = service_containers(&project.name, "agent");
    assert!(
        agents.iter().any(|(_, s)| s == "running"),
        "the compose pool's service runs: {agents:?}"
    );
    let compose = status
        .iter()
        .find(|p| p["pool"] == compose_pool.as_str())
        .expect("compose pool");
    assert_eq!(compose["max"], 3, "max lent by the policy: {compose}");

    // The refused services, each named with its label.
    let problems = eventually(
        Duration::from_secs(10),
        "three services refused",
        || async {
            let p = logs.fields("compose service not pooled", "problem");
            (p.len() >= 3).then_some(p)
        },
    )
    .await;
    let mount = "host path \"/etc\" is not allowed (--allow-mount /tmp)";
    assert!(
        problems.iter().any(|p| p.contains(mount)),
        "{mount} in {problems:?}"
    );
    let clash = format!(
        "label jetpool.pool: pool name \"{file_pool}\" is already used by policy file {}",
        dir.path().join("pool.toml").display()
    );
    assert!(
        problems.iter().any(|p| p.contains(&clash)),
        "{clash} in {problems:?}"
    );
    let pinned = "label jetpool.max: \"3\" conflicts with policy \"pinned\" (pinned): pinned (5) must be within min and max (0..=3)";
    assert!(
        problems.iter().any(|p| p.contains(pinned)),
        "{pinned} in {problems:?}"
    );

    // A reload of the lent settings reaches the running compose pool in place.
    std::fs::write(dir.path().join("pool.toml"), policies(&file_pool, 2)).expect("edit");
    eventually(
        Duration::from_secs(5),
        "the compose pool's max lowered",
        || async {
            let (_, body) = http_get(&listen, "/status").await?;
            let v: serde_json::Value = serde_json::from_str(&body).ok()?;
            v["pools"]
                .as_array()?
                .iter()
                .any(|p| p["pool"] == compose_pool.as_str() && p["max"] == 2)
                .then_some(())
        },
    )
    .await;
    let (_, metrics) = http_get(&listen, "/metrics").await.expect("metrics");
    assert_eq!(
        counter_sum(
            &metrics,
            "jetpool_compose_errors_total",
            &["reason=\"not_allowed\""]
        ),
        1.0,
        "the mounting service counted as not allowed"
    );
    assert_eq!(
        metric_value(&metrics, "jetpool_pool_updates_total", &compose_pool),
        Some(1.0),
        "updated in place"
    );
    let started = logs.fields("pool started", "pool");
    assert_eq!(
        started.iter().filter(|p| **p == compose_pool).count(),
        1,
        "the compose pool's loop never restarted: {started:?}"
    );

    terminate(child);
    project.ok(&["down", "-t", "2"]);
    eprintln!("compose mixed took {:?}", began.elapsed());
}
