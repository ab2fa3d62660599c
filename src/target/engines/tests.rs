use super::*;
use crate::target::ContainerSpec;

/// A set of engines none of which answers (their sockets do not exist).
fn unreachable(names: &[(&str, u32)]) -> EngineSet {
    let engines = names
        .iter()
        .map(|&(name, weight)| Engine {
            name: name.into(),
            weight,
            endpoint: Some(Endpoint::Unix(format!("/nonexistent/{name}.sock").into())),
            longest_stop: Duration::from_secs(10),
            client: watch::Sender::new(None),
            up: AtomicBool::new(true),
            probing: AtomicBool::new(false),
            several: names.len() > 1,
        })
        .collect();
    EngineSet::new(engines)
}

fn request(engines: &[&str]) -> StartRequest {
    StartRequest {
        pool: "p".into(),
        name: "jetpool-p-1".into(),
        spec: ContainerSpec::default(),
        standby: false,
        engines: engines.iter().map(|s| s.to_string()).collect(),
    }
}

#[test]
fn ids_name_their_engine_when_there_are_several() {
    let set = unreachable(&[("a", 1), ("b", 1)]);
    let id = set.issue(1, ContainerId::from("abc"));
    assert_eq!(id.as_str(), "b/abc");
    assert_eq!(
        set.route(TargetOp::Stop, &id).unwrap(),
        (1, ContainerId::from("abc"))
    );
    let e = set
        .route(TargetOp::Stop, &ContainerId::from("zz/abc"))
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    let one = unreachable(&[("local", 1)]);
    let id = one.issue(0, ContainerId::from("abc"));
    assert_eq!(id.as_str(), "abc", "one engine: the engine's own ids");
    assert_eq!(one.route(TargetOp::Remove, &id).unwrap().0, 0);
}

#[test]
fn placement_counts_listed_agents_starts_under_way_and_the_pools_engines() {
    let set = unreachable(&[("a", 1), ("b", 1), ("c", 1)]);
    set.counts.lock().unwrap().insert(
        "p".into(),
        Counts {
            listed: vec![2, 1, 1],
            placing: vec![0, 1, 0],
        },
    );
    // a 2, b 1 + 1 under way, c 1: c, then the tie of a and b in order.
    assert_eq!(set.order(&request(&[])), [2, 0, 1]);
    assert_eq!(set.order(&request(&["b", "c"])), [2, 1]);
    set.engines[2].up.store(false, Ordering::Relaxed);
    assert_eq!(set.order(&request(&[])), [0, 1]);
    // A start that succeeded counts until the next listing does.
    set.placing("p", 1, -1, true);
    set.placing("p", 0, 1, false);
    assert_eq!(set.order(&request(&[])), [1, 0]);
}

#[tokio::test]
async fn with_no_engine_answering_list_and_start_fail_naming_them() {
    let set = unreachable(&[("a", 1), ("b", 2)]);
    let e = set.list("p").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(e.message.starts_with("engine \"a\": "), "{e}");
    assert!(set.engines.iter().all(|e| !e.is_up()));
    assert!(
        set.engines
            .iter()
            .all(|e| e.probing.load(Ordering::Relaxed)),
        "lost engines are probed"
    );
    // Lost engines are not listed again: their probes watch for them.
    let e = set.list("p").await.unwrap_err();
    assert!(e.message.contains("no engine answers (a, b)"), "{e}");
    let e = set.start(request(&["b"])).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Unreachable);
    assert!(e.message.contains("(b)"), "{e}");
    // The one engine of DOCKER_HOST is tried even after a failure: its
    // error is the engine's own, as before there were several.
    let one = unreachable(&[("local", 1)]);
    one.engines[0].up.store(false, Ordering::Relaxed);
    let e = one.start(request(&[])).await.unwrap_err();
    assert!(e.message.contains("/nonexistent/local.sock"), "{e}");
    assert!(one.remove(&ContainerId::from("x")).await.is_err());
}

#[tokio::test]
async fn an_engine_down_at_start_is_probed_from_the_first_listing() {
    let set = unreachable(&[("a", 1), ("b", 1)]);
    set.engines[1].up.store(false, Ordering::Relaxed);
    let _ = set.list("p").await;
    assert!(set.engines[1].probing.load(Ordering::Relaxed));
}
