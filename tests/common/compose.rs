//! docker-compose fixtures: a project in a temporary directory with a
//! unique name, the installed `docker-compose` run against it, and clean-up
//! of everything labelled with the project when dropped.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{docker_available, unique};

/// True when `tool --version` runs.
fn runs(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Skips (or, with `JETPOOL_REQUIRE_DOCKER=1`, fails) when `ok` is false.
pub fn required(ok: bool, what: &str) -> bool {
    if !ok {
        let msg = format!("{what} is not available (make deps installs it)");
        if std::env::var("JETPOOL_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!("{msg}; JETPOOL_REQUIRE_DOCKER=1, so this is a failure");
        }
        eprintln!("skipping: {msg}");
    }
    ok
}

/// Docker, the agent image and `docker-compose` are all there.
pub fn compose_available() -> bool {
    docker_available() && required(runs("docker-compose"), "docker-compose")
}

/// The `prometheus` binary is there.
pub fn prometheus_available() -> bool {
    required(runs("prometheus"), "prometheus (the Debian package)")
}

/// A compose project: its own directory, file and name (`jp-it-...`).
pub struct Project {
    /// The project name.
    pub name: String,
    /// The compose file.
    pub file: PathBuf,
    /// Extra environment for every docker-compose call.
    env: Vec<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl Project {
    /// A project named `jp-it-<prefix>-<random>` whose compose file is `yaml`.
    pub fn new(prefix: &str, yaml: &str) -> Project {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("docker-compose.yml");
        std::fs::write(&file, yaml).expect("write compose file");
        Project {
            name: unique(&format!("jp-it-{prefix}")),
            file,
            env: Vec::new(),
            _dir: Some(dir),
        }
    }

    /// A project over an existing compose file, with `env` for it.
    pub fn existing(prefix: &str, file: &Path, env: Vec<(String, String)>) -> Project {
        let name = unique(&format!("jp-it-{prefix}"));
        let mut env = env;
        // The file takes its project name from the environment (it passes
        // it on to jetpool), so set it there rather than with -p.
        env.push(("COMPOSE_PROJECT_NAME".into(), name.clone()));
        Project {
            name,
            file: file.to_path_buf(),
            env,
            _dir: None,
        }
    }

    /// The directory holding the compose file.
    pub fn dir(&self) -> &Path {
        self.file.parent().expect("compose file has a directory")
    }

    /// Runs `docker-compose -p <name> -f <file> ARGS`.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("docker-compose")
            .args(["-p", &self.name, "-f"])
            .arg(&self.file)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("run docker-compose")
    }

    /// `docker-compose ps` for every service, as text.
    pub fn ps_all(&self) -> String {
        self.listing(&["ps"])
    }

    /// Runs a listing (`ps ...`) and returns its output. Compose v1 lists
    /// the containers, then inspects each: one that jetpool removes in
    /// between (a scale-in) fails the whole command. That race is
    /// compose's, not a finding: list again, up to five times; any other
    /// failure fails the test.
    fn listing(&self, args: &[&str]) -> String {
        let mut attempts = 0;
        loop {
            let out = self.run(args);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            attempts += 1;
            if out.status.success() {
                return text;
            }
            assert!(
                attempts < 5 && text.contains("No such container"),
                "docker-compose {args:?} failed:\n{text}"
            );
        }
    }

    /// Runs ARGS and fails the test, with compose's output, unless it succeeds.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success(),
            "docker-compose {args:?} failed:\n{text}"
        );
        text
    }

    /// `docker-compose ps` rows as (name, state) for one service.
    pub fn ps(&self, service: &str) -> Vec<(String, String)> {
        let out = self.listing(&["ps", service]);
        out.lines()
            .skip_while(|l| !l.starts_with("---"))
            .skip(1)
            .filter_map(|l| {
                let name = l.split_whitespace().next()?.to_string();
                let state = if l.contains(" Up ") || l.trim_end().ends_with(" Up") {
                    "Up"
                } else if l.contains(" Exit ") {
                    "Exit"
                } else {
                    "other"
                };
                Some((name, state.to_string()))
            })
            .collect()
    }

    /// Containers, networks and volumes labelled with the project.
    pub fn leftovers(&self) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.name);
        let mut found = Vec::new();
        for kind in [
            &["ps", "-a"][..],
            &["network", "ls"][..],
            &["volume", "ls"][..],
        ] {
            let out = Command::new("docker")
                .args(kind)
                .args(["-q", "--filter", &label])
                .output()
                .expect("docker ls");
            found.extend(
                String::from_utf8_lossy(&out.stdout)
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(|l| format!("{} {l}", kind[0])),
            );
        }
        found
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.run(&["down", "-v", "--remove-orphans", "-t", "1"]);
        // Whatever compose did not take (a failing test may leave more).
        let label = format!("label=com.docker.compose.project={}", self.name);
        for (ls, rm) in [
            (&["ps", "-aq"][..], &["rm", "-f"][..]),
            (&["network", "ls", "-q"][..], &["network", "rm"][..]),
            (&["volume", "ls", "-q"][..], &["volume", "rm", "-f"][..]),
        ] {
            let Ok(out) = Command::new("docker")
                .args(ls)
                .args(["--filter", &label])
                .output()
            else {
                continue;
            };
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect();
            if !ids.is_empty() {
                let _ = Command::new("docker")
                    .args(rm)
                    .args(&ids)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// `docker inspect` of one container, as JSON.
pub fn inspect(name: &str) -> serde_json::Value {
    let out = Command::new("docker")
        .args(["inspect", name])
        .output()
        .expect("docker inspect");
    assert!(out.status.success(), "docker inspect {name} failed");
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("inspect JSON");
    v[0].take()
}

/// Names and states (`running`, `exited`, ...) of the project's containers
/// of `service`.
pub fn service_containers(project: &str, service: &str) -> Vec<(String, String)> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}} {{.State}}", "--filter"])
        .arg(format!("label=com.docker.compose.project={project}"))
        .arg("--filter")
        .arg(format!("label=com.docker.compose.service={service}"))
        .output()
        .expect("docker ps");
    let mut v: Vec<(String, String)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (n, s) = l.split_once(' ')?;
            Some((n.to_string(), s.to_string()))
        })
        .collect();
    v.sort();
    v
}

/// The group of the Docker socket, which compose grants to jetpool's
/// unprivileged user (`DOCKER_GID` in `compose/docker-compose.yml`).
pub fn docker_gid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/var/run/docker.sock").map_or(0, |m| m.gid())
}
