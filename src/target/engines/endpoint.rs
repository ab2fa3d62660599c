//! The engines of `jetpool run --engine NAME=URL` (with `--engine-tls
//! NAME=DIR` and `--engine-weight NAME=N`), parsed and checked before
//! anything connects: a malformed flag is an error at start, naming the
//! engine; an engine that does not answer is not (it may come back).

use std::path::PathBuf;

/// The name of the one engine jetpool uses without `--engine`: the one
/// `DOCKER_HOST` (or the local socket) points at.
pub const LOCAL: &str = "local";

/// How an engine is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket, `unix:///var/run/docker.sock`.
    Unix(PathBuf),
    /// `tcp://host:port`: plain HTTP without `tls`, else HTTPS with the
    /// client certificate and CA of `tls`.
    Tcp {
        /// `host:port`.
        addr: String,
        /// The directory holding `ca.pem`, `cert.pem` and `key.pem`.
        tls: Option<PathBuf>,
    },
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix://{}", p.display()),
            Endpoint::Tcp { addr, tls: None } => write!(f, "tcp://{addr}"),
            Endpoint::Tcp { addr, tls: Some(_) } => write!(f, "tcp://{addr} (TLS)"),
        }
    }
}

/// One engine of `--engine`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineConfig {
    /// Its name, as `[pool.container] engines` and the metrics spell it.
    pub name: String,
    /// How it is reached.
    pub endpoint: Endpoint,
    /// Its share of new agents relative to the others (default 1).
    pub weight: u32,
}

/// A malformed `--engine`, `--engine-tls` or `--engine-weight`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineFlagError {
    /// Not `NAME=VALUE`.
    #[error("{flag} {given:?} is not NAME=VALUE")]
    Shape {
        /// The flag.
        flag: &'static str,
        /// What was given.
        given: String,
    },
    /// A name outside `[a-z0-9_-]`, or empty.
    #[error(
        "engine name {name:?} must be lower-case letters, digits, `-` and `_` (it is a metric label)"
    )]
    Name {
        /// The name.
        name: String,
    },
    /// The same name twice.
    #[error("engine {name:?} is given twice")]
    Duplicate {
        /// The name.
        name: String,
    },
    /// A URL that is neither `unix:///path` nor `tcp://host:port`.
    #[error(
        "engine {name:?}: {url:?} is not unix:///absolute/path nor tcp://host:port (https: tcp:// with --engine-tls)"
    )]
    Url {
        /// The engine.
        name: String,
        /// The URL.
        url: String,
    },
    /// `--engine-tls` or `--engine-weight` about no `--engine`.
    #[error("{flag} names engine {name:?}, which no --engine declares")]
    Unknown {
        /// The flag.
        flag: &'static str,
        /// The name.
        name: String,
    },
    /// TLS for a unix socket.
    #[error("engine {name:?}: --engine-tls applies to tcp:// engines only")]
    TlsOnUnix {
        /// The engine.
        name: String,
    },
    /// A TLS directory without one of its files.
    #[error("engine {name:?}: --engine-tls: cannot read {path}")]
    TlsFile {
        /// The engine.
        name: String,
        /// The missing file.
        path: String,
    },
    /// A weight that is not a whole number from 1.
    #[error("engine {name:?}: weight {given:?} must be a whole number from 1")]
    Weight {
        /// The engine.
        name: String,
        /// What was given.
        given: String,
    },
}

/// `NAME=VALUE`, the name checked.
fn split<'a>(flag: &'static str, given: &'a str) -> Result<(&'a str, &'a str), EngineFlagError> {
    let (name, value) = given
        .split_once('=')
        .filter(|(_, v)| !v.is_empty())
        .ok_or_else(|| EngineFlagError::Shape {
            flag,
            given: given.to_string(),
        })?;
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        return Err(EngineFlagError::Name { name: name.into() });
    }
    Ok((name, value))
}

/// The endpoint a URL names.
fn endpoint(name: &str, url: &str) -> Result<Endpoint, EngineFlagError> {
    let bad = || EngineFlagError::Url {
        name: name.into(),
        url: url.into(),
    };
    if let Some(path) = url.strip_prefix("unix://") {
        return path
            .starts_with('/')
            .then(|| Endpoint::Unix(PathBuf::from(path)))
            .ok_or_else(bad);
    }
    let addr = url
        .strip_prefix("tcp://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let addr = addr.strip_suffix('/').unwrap_or(addr);
    // host:port, the port a number: anything else is a typo to catch now.
    match addr.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty() && !host.contains('/') && port.parse::<u16>().is_ok() =>
        {
            Ok(Endpoint::Tcp {
                addr: addr.to_string(),
                tls: None,
            })
        }
        _ => Err(bad()),
    }
}

/// The index of engine `name`, which `flag` names.
fn position(
    out: &[EngineConfig],
    flag: &'static str,
    name: &str,
) -> Result<usize, EngineFlagError> {
    out.iter()
        .position(|e| e.name == name)
        .ok_or_else(|| EngineFlagError::Unknown {
            flag,
            name: name.into(),
        })
}

/// The engines of the flags, in the order given. `engines` are the
/// `--engine NAME=URL` values, `tls` the `--engine-tls NAME=DIR`, `weights`
/// the `--engine-weight NAME=N`.
pub fn parse(
    engines: &[String],
    tls: &[String],
    weights: &[String],
) -> Result<Vec<EngineConfig>, EngineFlagError> {
    let mut out: Vec<EngineConfig> = Vec::new();
    for given in engines {
        let (name, url) = split("--engine", given)?;
        if out.iter().any(|e| e.name == name) {
            return Err(EngineFlagError::Duplicate { name: name.into() });
        }
        out.push(EngineConfig {
            name: name.into(),
            endpoint: endpoint(name, url)?,
            weight: 1,
        });
    }
    for given in tls {
        let (name, dir) = split("--engine-tls", given)?;
        let i = position(&out, "--engine-tls", name)?;
        match &mut out[i].endpoint {
            Endpoint::Tcp { tls, .. } => *tls = Some(PathBuf::from(dir)),
            Endpoint::Unix(_) => return Err(EngineFlagError::TlsOnUnix { name: name.into() }),
        }
    }
    for given in weights {
        let (name, n) = split("--engine-weight", given)?;
        let i = position(&out, "--engine-weight", name)?;
        out[i].weight =
            n.parse::<u32>()
                .ok()
                .filter(|&w| w >= 1)
                .ok_or_else(|| EngineFlagError::Weight {
                    name: name.into(),
                    given: n.into(),
                })?;
    }
    Ok(out)
}

/// The files of a TLS directory: the CA, the client certificate and key.
pub const TLS_FILES: [&str; 3] = ["ca.pem", "cert.pem", "key.pem"];

/// Checks that each TLS directory holds [`TLS_FILES`], so a typo fails at
/// start, naming the engine, rather than as an engine that never answers.
pub fn check_tls_files(engines: &[EngineConfig]) -> Result<(), EngineFlagError> {
    for e in engines {
        if let Endpoint::Tcp { tls: Some(dir), .. } = &e.endpoint {
            for f in TLS_FILES {
                let path = dir.join(f);
                if std::fs::File::open(&path).is_err() {
                    return Err(EngineFlagError::TlsFile {
                        name: e.name.clone(),
                        path: path.display().to_string(),
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn engines_parse_with_their_tls_and_weights() {
        let e = parse(
            &s(&[
                "a=unix:///var/run/docker.sock",
                "b=tcp://10.0.0.2:2376",
                "c=tcp://h:2375",
            ]),
            &s(&["b=/etc/jetpool/b"]),
            &s(&["b=3"]),
        )
        .unwrap();
        assert_eq!(e[0].endpoint, Endpoint::Unix("/var/run/docker.sock".into()));
        assert_eq!(e[0].weight, 1);
        assert_eq!(
            e[1].endpoint,
            Endpoint::Tcp {
                addr: "10.0.0.2:2376".into(),
                tls: Some("/etc/jetpool/b".into())
            }
        );
        assert_eq!(e[1].weight, 3);
        assert_eq!(e[2].endpoint.to_string(), "tcp://h:2375");
        assert_eq!(e[1].endpoint.to_string(), "tcp://10.0.0.2:2376 (TLS)");
        assert!(parse(&[], &[], &[]).unwrap().is_empty());
    }

    #[test]
    fn malformed_flags_name_the_engine() {
        let err = |e: &[&str], t: &[&str], w: &[&str]| {
            parse(&s(e), &s(t), &s(w)).unwrap_err().to_string()
        };
        assert!(err(&["a"], &[], &[]).contains("not NAME=VALUE"));
        assert!(err(&["a="], &[], &[]).contains("not NAME=VALUE"));
        assert!(err(&["A=unix:///s"], &[], &[]).contains("lower-case"));
        assert!(err(&["a=unix:///s", "a=unix:///t"], &[], &[]).contains("given twice"));
        for url in ["unix://rel", "ssh://h", "tcp://h", "tcp://h:x", "tcp://:1"] {
            let m = err(&[&format!("b={url}")], &[], &[]);
            assert!(m.contains("engine \"b\"") && m.contains(url), "{m}");
        }
        assert!(err(&["a=unix:///s"], &["z=/d"], &[]).contains("--engine-tls names engine \"z\""));
        assert!(err(&["a=unix:///s"], &["a=/d"], &[]).contains("tcp:// engines only"));
        assert!(err(&["a=unix:///s"], &[], &["a=0"]).contains("from 1"));
        assert!(err(&["a=unix:///s"], &[], &["a=x"]).contains("from 1"));
    }

    #[test]
    fn tls_directories_must_hold_their_three_files() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let e = parse(&s(&["b=tcp://h:2376"]), &[format!("b={d}")], &[]).unwrap();
        let m = check_tls_files(&e).unwrap_err().to_string();
        assert_eq!(
            m,
            format!("engine \"b\": --engine-tls: cannot read {d}/ca.pem")
        );
        for f in TLS_FILES {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        assert!(check_tls_files(&e).is_ok());
    }
}
