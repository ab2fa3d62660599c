//! jetpool's NATS connection with every supported kind of credentials,
//! against real nats-servers: user/password, token, nkey seed, and TLS
//! with a client certificate. The client side is the one `jetpool run`,
//! `agent` and `load` share; `jetpool load` drives it here.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};

/// Publishes one task through `jetpool load` with the given extra flags.
fn load(url: &str, extra: &[&str]) -> Output {
    let out = Command::new(bin())
        .args([
            "load",
            "--stream",
            "AUTH",
            "--subject",
            "auth.tasks",
            "--count",
            "1",
        ])
        .args(["--nats", url, "--nats-connect-timeout", "1s"])
        .args(extra)
        .env_remove("NATS_URL")
        .output()
        .expect("run jetpool load");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    out
}

fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "expected success:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn refused(out: &Output, why: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot connect to NATS"), "{err}");
    assert!(
        err.to_lowercase().contains(why),
        "expected '{why}' in:\n{err}"
    );
}

#[test]
fn user_and_password() {
    let nats = Nats::start_with(&["--user", "jet", "--pass", "s3cret"]);
    ok(&load(
        &nats.url,
        &["--nats-user", "jet", "--nats-password", "s3cret"],
    ));
    refused(
        &load(
            &nats.url,
            &["--nats-user", "jet", "--nats-password", "wrong"],
        ),
        "authorization",
    );
}

#[test]
fn token() {
    let nats = Nats::start_with(&["--auth", "t0ken"]);
    ok(&load(&nats.url, &["--nats-token", "t0ken"]));
    refused(&load(&nats.url, &[]), "authorization");
}

#[test]
fn nkey_seed_file() {
    let user = nkeys::KeyPair::new_user();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "authorization {{ users = [ {{ nkey: \"{}\" }} ] }}\n",
            user.public_key()
        ),
    )
    .unwrap();
    let seed = dir.path().join("user.nk");
    std::fs::write(&seed, user.seed().unwrap()).unwrap();
    let nats = Nats::start_with(&["-c", conf.to_str().unwrap()]);
    ok(&load(&nats.url, &["--nats-nkey", seed.to_str().unwrap()]));
    let other = nkeys::KeyPair::new_user();
    let wrong = dir.path().join("other.nk");
    std::fs::write(&wrong, other.seed().unwrap()).unwrap();
    refused(
        &load(&nats.url, &["--nats-nkey", wrong.to_str().unwrap()]),
        "authorization",
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate,
/// written as PEM files into `dir`.
fn pki(dir: &Path) {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let write = |name: &str, pem: String| std::fs::write(dir.join(name), pem).unwrap();
    write("ca.pem", ca_cert.pem());
    for (name, purpose) in [
        ("server", ExtendedKeyUsagePurpose::ServerAuth),
        ("client", ExtendedKeyUsagePurpose::ClientAuth),
    ] {
        let mut p =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
        p.extended_key_usages.push(purpose);
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &issuer).unwrap();
        write(&format!("{name}.pem"), cert.pem());
        write(&format!("{name}-key.pem"), key.serialize_pem());
    }
}

#[test]
fn tls_with_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    pki(dir.path());
    let f = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let nats = Nats::start_with(&[
        "--tlsverify",
        "--tlscert",
        &f("server.pem"),
        "--tlskey",
        &f("server-key.pem"),
        "--tlscacert",
        &f("ca.pem"),
    ]);
    let url = format!("tls://127.0.0.1:{}", nats.port);
    ok(&load(
        &url,
        &[
            "--nats-ca",
            &f("ca.pem"),
            "--nats-cert",
            &f("client.pem"),
            "--nats-key",
            &f("client-key.pem"),
        ],
    ));
    // Without the client certificate the server refuses the handshake.
    let out = load(&url, &["--nats-ca", &f("ca.pem")]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot connect to NATS"));
}
