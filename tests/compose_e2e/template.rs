//! Replicas are clones of the service's container, made through the same
//! scale target the pool loop uses: same image, command, environment,
//! mounts, networks and aliases, resources, stop signal and grace period;
//! compose's name, number and labels. Replicas of an older config roll;
//! at zero the last container is kept, and comes back. No NATS needed: the
//! agents only wait for a server that is not there.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use jetpool::compose::target::OwnActs;
use jetpool::compose::{ComposeTarget, Recipe, ServiceKey, discover};
use jetpool::observe::{AgentControl, MetricsSource, ObserveError, Report};
use jetpool::policy::ConsumerStats;
use jetpool::pool::{PoolIo, PoolRunner};
use jetpool::protocol::{Command, Reply};
use jetpool::target::docker::DockerTarget;
use jetpool::target::{ScaleTarget, Template};
use serde_json::Value;

use crate::common::compose::{Project, compose_available, inspect, service_containers};
use crate::common::*;

/// A consumer with nothing to do.
struct Idle;

impl MetricsSource for Idle {
    async fn read(&self) -> Result<ConsumerStats, ObserveError> {
        Ok(ConsumerStats::default())
    }
}

/// Agents that do not speak the protocol.
struct Mute;

impl AgentControl for Mute {
    async fn control(&self, _pool: &str, _id: &str, _command: Command) -> Option<Reply> {
        None
    }

    async fn stats(&self, _pool: &str) -> BoxStream<'static, Report> {
        futures::stream::empty().boxed()
    }
}

fn compose_file(pool: &str, data: &str) -> String {
    format!(
        r#"
services:
  agent:
    image: {image}
    command: ["agent", "--stream", "S", "--consumer", "c"]
    environment:
      NATS_URL: nats://nats-that-is-not-there:4222
      NATS_CONNECT_TIMEOUT: 10m
      MODEL: small
    stop_signal: SIGINT
    stop_grace_period: 2s
    mem_limit: 64m
    cpus: 0.5
    working_dir: /work
    volumes:
      - {data}:/data:ro
      - cache:/cache
    networks:
      front:
        aliases: [workers]
      back: {{}}
    labels:
      jetpool.pool: {pool}
      jetpool.stream: S
      jetpool.consumer: c
      jetpool.max: "3"
networks:
  front: {{}}
  back: {{}}
volumes:
  cache: {{}}
"#,
        image = image()
    )
}

/// The aliases of a container on each network, without its own short id.
fn aliases(c: &Value) -> Vec<(String, BTreeSet<String>)> {
    let short: String = c["Id"].as_str().unwrap_or("").chars().take(12).collect();
    let mut v: Vec<(String, BTreeSet<String>)> = c["NetworkSettings"]["Networks"]
        .as_object()
        .expect("networks")
        .iter()
        .map(|(net, ep)| {
            let a = ep["Aliases"].as_array().cloned().unwrap_or_default();
            let set = a
                .iter()
                .filter_map(Value::as_str)
                .filter(|a| *a != short)
                .map(str::to_string)
                .collect();
            (net.clone(), set)
        })
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_clone_the_service_roll_to_new_config_and_keep_the_last() {
    if !compose_available() {
        return;
    }
    let pool = unique("it-clone");
    let data = tempfile::tempdir().expect("temp dir");
    let project = Project::new(
        "clone",
        &compose_file(&pool, &data.path().display().to_string()),
    );
    let p = project.name.clone();
    project.ok(&["up", "-d"]);

    let docker = Arc::new(
        DockerTarget::connect(Duration::from_secs(10))
            .await
            .expect("docker"),
    );
    let services = discover::scan(&docker, Some(&p)).await.expect("scan");
    assert_eq!(services.len(), 1, "one labelled service");
    let svc = &services[0];
    let source = svc.source().map(|c| c.id.clone()).expect("source");
    let seed = docker.inspect(&source).await.expect("inspect");
    let template: Template = Recipe::from_inspected(&seed)
        .expect("recipe")
        .template(svc.highest_number());
    let key = ServiceKey {
        project: p.clone(),
        service: "agent".into(),
    };
    let target = Arc::new(ComposeTarget::new(
        docker.clone(),
        key,
        &pool,
        Arc::new(OwnActs::default()),
    ));

    target
        .start(template.start_request(&pool, ""))
        .await
        .expect("start a replica");
    let (s, r) = (
        inspect(&format!("{p}_agent_1")),
        inspect(&format!("{p}_agent_2")),
    );
    assert_eq!(r["Image"], s["Image"], "same image");
    for k in [
        "Cmd",
        "Entrypoint",
        "User",
        "WorkingDir",
        "StopSignal",
        "StopTimeout",
        "Healthcheck",
    ] {
        assert_eq!(r["Config"][k], s["Config"][k], "Config.{k}");
    }
    for k in ["Binds", "Memory", "NanoCpus", "NetworkMode", "LogConfig"] {
        assert_eq!(r["HostConfig"][k], s["HostConfig"][k], "HostConfig.{k}");
    }
    assert_eq!(r["HostConfig"]["RestartPolicy"]["Name"], "no");
    let env: Vec<&str> = r["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for e in s["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
    {
        assert!(env.contains(&e), "replica env has {e}");
    }
    assert!(env.contains(&format!("JETPOOL_AGENT_ID={p}_agent_2").as_str()));
    assert_eq!(
        aliases(&r),
        aliases(&s),
        "same networks, same service aliases"
    );
    let (rl, sl) = (&r["Config"]["Labels"], &s["Config"]["Labels"]);
    for k in sl
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "com.docker.compose.container-number")
    {
        assert_eq!(rl[k], sl[k], "label {k}");
    }
    assert_eq!(rl["com.docker.compose.container-number"], "2");
    assert_eq!(rl["jetpool.managed"], "true");
    let listed = project.ps("agent");
    assert!(
        listed.contains(&(format!("{p}_agent_2"), "Up".into())),
        "{listed:?}"
    );

    // A replica of an older config (as left by a config change compose
    // did not apply to it) is rolled: replaced by one of the current config.
    let mut old = template.start_request(&pool, "");
    let labels = &mut old.spec.labels;
    labels.insert("com.docker.compose.config-hash".into(), "0ld".into());
    labels.insert("jetpool.template".into(), "0ld".into());
    target.start(old).await.expect("start an old replica");
    // The pool loop rolls it: pinned at 3, it stops the old replica (these
    // agents never reach NATS, so they cannot be drained) and starts one
    // from the current template.
    let mut spec = jetpool::pool::spec::parse_str(
        std::path::Path::new("compose.toml"),
        &format!(
            "[[pool]]\nname = \"{pool}\"\nstream = \"S\"\nconsumer = \"c\"\nmax = 3\n\
             pinned = 3\n[pool.container]\nimage = \"unused\"\n[pool.agents]\nstats_timeout = \"1s\"\n"
        ),
    )
    .expect("pool spec")
    .remove(0);
    spec.template = template.clone();
    let io = PoolIo {
        source: Idle,
        target: target.clone(),
        agents: Arc::new(Mute),
    };
    let (runner, _status) = PoolRunner::new(spec, io, String::new());
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let pool_loop = tokio::spawn(runner.run(async {
        let _ = stop_rx.await;
    }));
    let expected: Vec<(String, String)> = [1, 2, 4]
        .iter()
        .map(|n| (format!("{p}_agent_{n}"), "running".to_string()))
        .collect();
    eventually(
        Duration::from_secs(30),
        "the old replica replaced",
        || async { (service_containers(&p, "agent") == expected).then_some(()) },
    )
    .await;
    let _ = stop.send(());
    pool_loop.await.expect("pool loop stops");
    assert_eq!(
        inspect(&format!("{p}_agent_4"))["Config"]["Labels"]["com.docker.compose.config-hash"],
        sl["com.docker.compose.config-hash"]
    );

    // Down to zero through the pool's stop path: the last one is kept.
    for c in target.list(&pool).await.expect("list") {
        target
            .stop(&c.id, Duration::from_secs(2))
            .await
            .expect("stop");
        target.remove(&c.id).await.expect("remove");
    }
    let left = service_containers(&p, "agent");
    assert_eq!(left.len(), 1, "one container kept: {left:?}");
    assert_eq!(left[0].1, "exited");
    assert!(
        target.list(&pool).await.expect("list").is_empty(),
        "kept, not counted"
    );
    assert_eq!(
        project.ps("agent"),
        [(left[0].0.clone(), "Exit".to_string())]
    );

    // And back: a new replica runs, the kept one goes.
    target
        .start(template.start_request(&pool, ""))
        .await
        .expect("start from zero");
    let now = service_containers(&p, "agent");
    assert_eq!(now, [(format!("{p}_agent_5"), "running".to_string())]);

    // Several agents that exit at once (drains finishing in the same
    // second): only the newest is kept; the others stay listed, exited,
    // for the pool to remove.
    target
        .start(template.start_request(&pool, ""))
        .await
        .expect("a second replica");
    for c in target.list(&pool).await.expect("list") {
        docker
            .stop(&c.id, Duration::from_secs(1))
            .await
            .expect("stop outside the pool");
    }
    let listed = target.list(&pool).await.expect("list");
    let names: Vec<&str> = listed.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [format!("{p}_agent_5")],
        "the older one listed for removal, the newest kept"
    );
    for c in &listed {
        target.remove(&c.id).await.expect("remove");
    }
    assert_eq!(
        service_containers(&p, "agent"),
        [(format!("{p}_agent_6"), "exited".to_string())]
    );

    project.ok(&["down", "-v", "-t", "1"]);
    assert_eq!(
        project.leftovers(),
        Vec::<String>::new(),
        "down removes every replica"
    );
}
