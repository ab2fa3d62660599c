//! The permissions of docs/nats-permissions.md, enforced by a real
//! nats-server: an agent works its own consumer and reports on its own
//! pool under them, jetpool reads its consumer, its overrides bucket and
//! the reports, and controls the agent; an agent of another pool can
//! neither drain it, forge its reports, nor fetch its tasks.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;

use common::*;

/// The server's users: `producer` (everything, for the test's own set-up),
/// `jetpool`, and the agents of pools `pa` (consumer `ca`) and `pb` (`cb`).
const CONF: &str = r#"
authorization {
  users = [
    { user: producer, password: p }
    { user: jetpool, password: j, permissions: {
        publish: ["$JS.API.>", "$KV.jetpool-overrides.>", "$JS.FC.>", "jetpool.agent.*.*.control"]
        subscribe: ["_INBOX.>", "jetpool.agent.*.*.stats", "perm.a", "perm.b"] } }
    { user: a, password: a, permissions: {
        publish: ["$JS.API.CONSUMER.INFO.PERM.ca", "$JS.API.CONSUMER.MSG.NEXT.PERM.ca",
                  "$JS.ACK.PERM.ca.>", "jetpool.agent.pa.*.stats"]
        subscribe: ["_INBOX.>", "jetpool.agent.pa.*.control"]
        allow_responses: true } }
    { user: b, password: b, permissions: {
        publish: ["$JS.API.CONSUMER.INFO.PERM.cb", "$JS.API.CONSUMER.MSG.NEXT.PERM.cb",
                  "$JS.ACK.PERM.cb.>", "jetpool.agent.pb.*.stats"]
        subscribe: ["_INBOX.>", "jetpool.agent.pb.*.control"]
        allow_responses: true } }
  ]
}
"#;

async fn connect(url: &str, user: &str, password: &str) -> async_nats::Client {
    async_nats::ConnectOptions::with_user_and_password(user.into(), password.into())
        .connect(url)
        .await
        .expect("connect")
}

/// The consumer `name`'s acknowledged stream sequence.
async fn acked(js: &jetstream::Context, name: &str) -> u64 {
    let s = js.get_stream("PERM").await.expect("stream");
    s.consumer_info(name)
        .await
        .expect("info")
        .ack_floor
        .stream_sequence
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_pool_is_confined_to_its_own_subjects() {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf = dir.path().join("auth.conf");
    std::fs::write(&conf, CONF).expect("write config");
    let nats = Nats::start_with(&["-c", conf.to_str().expect("utf-8")]);
    let producer = connect(&nats.url, "producer", "p").await;
    let js = jetstream::new(producer.clone());
    js.create_stream(jetstream::stream::Config {
        name: "PERM".into(),
        subjects: vec!["perm.a".into(), "perm.b".into()],
        ..Default::default()
    })
    .await
    .expect("stream");
    for (name, subject) in [("ca", "perm.a"), ("cb", "perm.b")] {
        js.create_consumer_on_stream(
            jetstream::consumer::pull::Config {
                durable_name: Some(name.into()),
                filter_subject: subject.into(),
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                ..Default::default()
            },
            "PERM",
        )
        .await
        .expect("consumer");
    }
    let jetpool = connect(&nats.url, "jetpool", "j").await;
    let mut reports = jetpool
        .subscribe("jetpool.agent.*.*.stats")
        .await
        .expect("subscribe");
    jetpool.flush().await.expect("flush");

    // An agent of pool pa, as user a.
    let mut agent = Command::new(bin())
        .args(["agent", "--stream", "PERM", "--consumer", "ca"])
        .env("NATS_URL", &nats.url)
        .env("NATS_USER", "a")
        .env("NATS_PASSWORD", "a")
        .env("JETPOOL_POOL", "pa")
        .env("JETPOOL_AGENT_ID", "a1")
        .env("JETPOOL_STATS_INTERVAL", "1s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the agent");
    let task = |n: u64| producer.publish("perm.a", format!("{{\"work_ms\":0,\"n\":{n}}}").into());
    task(1).await.expect("publish");
    eventually(
        Duration::from_secs(15),
        "pa's task done under user a",
        || async { (acked(&js, "ca").await >= 1).then_some(()) },
    )
    .await;
    let report = tokio::time::timeout(Duration::from_secs(5), reports.next())
        .await
        .expect("a report within 5 s")
        .expect("a report");
    assert_eq!(report.subject.as_str(), "jetpool.agent.pa.a1.stats");

    // User b: no drain of pa's agent, no forged report, no fetch of pa's tasks.
    let b = connect(&nats.url, "b", "b").await;
    let drain = tokio::time::timeout(
        Duration::from_secs(2),
        b.request(
            "jetpool.agent.pa.a1.control",
            "{\"v\":1,\"command\":\"drain\"}".into(),
        ),
    )
    .await;
    assert!(
        !matches!(drain, Ok(Ok(_))),
        "b drained pa's agent: {drain:?}"
    );
    let forged = "{\"v\":1,\"id\":\"x\",\"pool\":\"pa\",\"state\":\"busy\",\"in_flight\":0,\"capacity\":1,\"completed\":0,\"failed\":0}";
    let _ = b.publish("jetpool.agent.pa.x.stats", forged.into()).await;
    let fetch = tokio::time::timeout(
        Duration::from_secs(2),
        b.request("$JS.API.CONSUMER.MSG.NEXT.PERM.ca", "{\"batch\":1}".into()),
    )
    .await;
    assert!(
        !matches!(fetch, Ok(Ok(_))),
        "b fetched pa's task: {fetch:?}"
    );
    // Only a1's own reports arrive: the forged one was refused.
    let until = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(m)) = tokio::time::timeout_at(until, reports.next()).await {
        assert_eq!(
            m.subject.as_str(),
            "jetpool.agent.pa.a1.stats",
            "a forged report got through"
        );
    }
    // The agent was not drained: it still works.
    task(2).await.expect("publish");
    eventually(Duration::from_secs(10), "pa's second task done", || async {
        (acked(&js, "ca").await >= 2).then_some(())
    })
    .await;

    // jetpool may drain it.
    let answer = jetpool
        .request(
            "jetpool.agent.pa.a1.control",
            "{\"v\":1,\"command\":\"drain\"}".into(),
        )
        .await
        .expect("jetpool's drain is answered");
    assert!(
        String::from_utf8_lossy(&answer.payload).contains("\"ok\":true"),
        "{answer:?}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let exited = loop {
        if let Some(status) = agent.try_wait().expect("wait for the agent") {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the drained agent did not exit"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exited.success(), "the drained agent exits 0: {exited}");

    // The service itself under user jetpool: reads its consumer (and opens
    // its overrides bucket) in a dry run.
    let toml = "[[pool]]\nname = \"pa\"\nstream = \"PERM\"\nconsumer = \"ca\"\nmax = 2\n[pool.container]\nimage = \"jetpool:local\"\n";
    let mut nats_args = jetpool::nats::NatsArgs::for_url(&nats.url);
    nats_args.nats_user = Some("jetpool".into());
    nats_args.nats_password = Some("j".into());
    let listen = format!("127.0.0.1:{}", free_port());
    let cfg = jetpool::service::ServiceConfig {
        policies: jetpool::pool::spec::parse_policies(std::path::Path::new("p.toml"), toml)
            .expect("valid policy"),
        policy_dir: None,
        nats: nats_args,
        listen: listen.clone(),
        dry_run: true,
        agent_nats_url: nats.url.clone(),
        max_agents: None,
        compose: Default::default(),
        swarm: Default::default(),
        overrides_bucket: jetpool::overrides::DEFAULT_BUCKET.into(),
        allowed: Default::default(),
        engines: Vec::new(),
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let svc = tokio::spawn(jetpool::service::run(cfg, async {
        let _ = stopped.await;
    }));
    eventually(
        Duration::from_secs(15),
        "a fresh decision under user jetpool",
        || async {
            let (_, body) = http_get(&listen, "/status").await?;
            let st: serde_json::Value = serde_json::from_str(&body).ok()?;
            let p = &st["pools"][0];
            (p["fresh"] == true && !p["decision"].is_null()).then_some(())
        },
    )
    .await;
    let _ = stop.send(());
    let r = tokio::time::timeout(Duration::from_secs(10), svc).await;
    assert!(matches!(r, Ok(Ok(Ok(())))), "service exits cleanly: {r:?}");
}
