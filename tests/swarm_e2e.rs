//! Swarm pools end to end, on a `dockerd` this test owns (its own socket
//! and data root, `docker swarm init` on it; the machine's engine is never
//! touched): the README's "Docker Swarm services" stack and policy, taken
//! from the README itself, deployed with `docker stack deploy`; jetpool
//! runs `--swarm --swarm-stack jobs` against it. A burst scales the
//! service out and back in, and:
//! - every task is acked exactly once and none is redelivered, with the
//!   agents' stop signal set to SIGKILL: a busy task Swarm removed would
//!   lose its work and be redelivered;
//! - no task is ever seen running while Swarm shuts it down: every task
//!   removed had completed (drained) first.

mod common;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::dockerd::Dockerd;
use common::*;

const STACK: &str = "jobs";
const SERVICE: &str = "jobs_agent";

/// The first fenced block of `lang` in the README's Swarm section.
fn readme_block(lang: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let section = readme
        .split("### Docker Swarm services")
        .nth(1)
        .expect("the README has a Docker Swarm services section");
    let start = section
        .find(&format!("```{lang}\n"))
        .unwrap_or_else(|| panic!("a {lang} block in the Swarm section"));
    let body = &section[start + lang.len() + 4..];
    body[..body.find("```").expect("block end")].to_string()
}

/// The service's replica count.
fn replicas(engine: &Dockerd) -> Option<u64> {
    engine
        .docker(&[
            "service",
            "inspect",
            SERVICE,
            "--format",
            "{{.Spec.Mode.Replicated.Replicas}}",
        ])?
        .trim()
        .parse()
        .ok()
}

/// (task id, desired state, current state) of the service's tasks.
fn tasks(host: &str) -> Vec<(String, String, String)> {
    let out = Command::new("docker")
        .args(["-H", host, "service", "ps", SERVICE, "--no-trunc"])
        .args(["--format", "{{.ID}} {{.DesiredState}} {{.CurrentState}}"])
        .stderr(Stdio::null())
        .output();
    let Ok(out) = out else { return Vec::new() };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.into(), w.next()?.into(), w.next()?.into()))
        })
        .collect()
}

/// Every task seen, with the (desired, current) states it was seen in.
type Seen = Arc<Mutex<BTreeMap<String, Vec<(String, String)>>>>;

/// Removes the stack when dropped, before the engine goes.
struct StackGuard<'a>(&'a Dockerd);

impl Drop for StackGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.docker(&["stack", "rm", STACK]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_stack_scales_out_and_in_removing_only_drained_tasks() {
    if !docker_available() {
        return;
    }
    let began = Instant::now();
    let engine = Dockerd::start();
    engine
        .docker(&["swarm", "init", "--advertise-addr", "127.0.0.1"])
        .expect("docker swarm init on the private engine");
    let nats = Nats::start();
    setup_stream(&nats, "TASKS", "agents", Duration::from_secs(30)).await;
    let acks = AckCounts::watch(&nats, "TASKS", "agents").await;

    let dir = tempfile::tempdir().expect("temp dir");
    let stack = dir.path().join("stack.yml");
    std::fs::write(&stack, readme_block("yaml")).expect("stack file");
    let policies = dir.path().join("policies");
    std::fs::create_dir(&policies).expect("policies dir");
    std::fs::write(policies.join("quick.toml"), readme_block("toml")).expect("policy");
    let host = engine.host();
    let deployed = Command::new("docker")
        .args([
            "-H",
            &host,
            "stack",
            "deploy",
            "--resolve-image",
            "never",
            "-c",
        ])
        .arg(&stack)
        .arg(STACK)
        .env("NATS_URL", &nats.url)
        .env("JETPOOL_IMAGE", image())
        .status()
        .expect("docker stack deploy");
    assert!(deployed.success(), "the README's stack deploys");
    let _stack = StackGuard(&engine);
    // A busy task removed by Swarm dies at once and its work is
    // redelivered: the drain path never signals an agent.
    engine
        .docker(&[
            "service",
            "update",
            "--quiet",
            "--stop-signal",
            "SIGKILL",
            SERVICE,
        ])
        .expect("stop signal SIGKILL");

    // The task the update replaced is not the pool's business.
    let before: std::collections::HashSet<String> = tasks(&host)
        .into_iter()
        .filter(|t| t.1 != "Running")
        .map(|t| t.0)
        .collect();
    // Every task seen, with the states it was seen in.
    let seen: Seen = Arc::default();
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = {
        let (seen, watching, host) = (seen.clone(), watching.clone(), host.clone());
        let before = before.clone();
        std::thread::spawn(move || {
            // One last pass after the flag drops, so the states that
            // ended the test are in the record too.
            loop {
                let go_on = watching.load(std::sync::atomic::Ordering::Relaxed);
                for (id, desired, current) in tasks(&host) {
                    if before.contains(&id) {
                        continue;
                    }
                    let mut s = seen.lock().expect("seen");
                    let states = s.entry(id).or_default();
                    if states.last() != Some(&(desired.clone(), current.clone())) {
                        states.push((desired, current));
                    }
                }
                if !go_on {
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };

    let listen = format!("127.0.0.1:{}", free_port());
    let _jetpool = JetpoolProcess::start_env(
        &policies,
        &nats.url,
        &listen,
        &["--swarm", "--swarm-stack", STACK],
        &[("DOCKER_HOST", &host)],
    );
    eventually(
        Duration::from_secs(30),
        "the Swarm pool running",
        || async {
            let (_, body) = http_get(&listen, "/status").await?;
            body.contains("\"agents\"").then_some(())
        },
    )
    .await;

    let tasks_sent = 80;
    publish(&nats, "TASKS", tasks_sent, 400).await;
    let peak = eventually(
        Duration::from_secs(40),
        "the service scaled out",
        || async { replicas(&engine).filter(|&n| n >= 3) },
    )
    .await;
    eventually(Duration::from_secs(60), "every task acked", || async {
        let i = consumer_info(&nats, "TASKS", "agents").await;
        (i.ack_floor.stream_sequence == tasks_sent).then_some(())
    })
    .await;
    eventually(Duration::from_secs(40), "the service back at 1", || async {
        let running = tasks(&host)
            .iter()
            .filter(|t| t.1 == "Running" && t.2.starts_with("Running"))
            .count();
        (replicas(&engine) == Some(1) && running == 1).then_some(())
    })
    .await;
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    watcher.join().expect("watcher");

    acks.assert_each_once(tasks_sent);
    let info = consumer_info(&nats, "TASKS", "agents").await;
    assert_eq!(info.num_ack_pending, 0);
    assert_eq!(info.num_redelivered, 0, "no task redelivered");
    let seen = seen.lock().expect("seen").clone();
    for (id, states) in &seen {
        // Swarm shutting a task down while it still runs would be a busy
        // agent removed; a drained one is seen "Complete" first.
        let killed = states
            .iter()
            .any(|(d, c)| d != "Running" && d != "Ready" && c.starts_with("Running"));
        assert!(!killed, "task {id} was shut down while running: {states:?}");
    }
    let completed = seen
        .values()
        .filter(|s| s.iter().any(|(_, c)| c.starts_with("Complete")))
        .count();
    eprintln!(
        "swarm: peak {peak} replicas, {} tasks seen, {completed} drained and removed, {:.1}s",
        seen.len(),
        began.elapsed().as_secs_f64()
    );
    assert!(completed as u64 >= peak - 1, "the drained tasks: {seen:?}");
}
