//! The spec's own rules: short mount syntax, network modes, host
//! namespaces, serialisation. Compiled only for tests, so it unwraps.

use super::*;

#[test]
fn short_mounts_tell_host_paths_from_volumes() {
    let m = Mount::parse_short("/srv/data:/data:ro,z").unwrap();
    assert_eq!(m.kind, MountKind::Bind);
    assert_eq!(
        (m.source.as_str(), m.target.as_str()),
        ("/srv/data", "/data")
    );
    assert!(m.read_only);
    assert_eq!(m.options, ["z"]);
    let v = Mount::parse_short("cache:/cache:rw").unwrap();
    assert_eq!(v.kind, MountKind::Volume);
    assert!(!v.read_only && v.options.is_empty());
    assert!(Mount::parse_short("nothing").is_none());
}

#[test]
fn network_modes_round_trip_docker_spelling() {
    for m in ["host", "bridge", "none", "container:abc", "proj_back"] {
        assert_eq!(NetworkMode::from_docker(m).as_docker().as_deref(), Some(m));
    }
    assert_eq!(NetworkMode::from_docker("default"), NetworkMode::Default);
}

#[test]
fn host_namespaces_are_named() {
    let mut s = ContainerSpec::new("img");
    assert!(s.host_namespaces().is_empty());
    s.network = NetworkMode::Host;
    s.pid_mode = Some("host".into());
    s.ipc_mode = Some("private".into());
    assert_eq!(s.host_namespaces(), ["network", "pid"]);
}

#[test]
fn specs_serialize_with_readable_durations() {
    let mut s = ContainerSpec::new("img");
    s.stop_timeout = Some(Duration::from_secs(20));
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["stop_timeout"], "20s");
    let back: ContainerSpec = serde_json::from_value(json).unwrap();
    assert_eq!(back, s);
}
