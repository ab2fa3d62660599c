//! A Docker engine owned by one test: its own socket, data root and exec
//! root under a temporary directory, no bridge and no iptables rules (its
//! containers use the host network), the fuse-overlayfs storage driver.
//! A test can stop it, start it again on the same data, freeze it, or
//! kill it, which a test must never do to the machine's own engine.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{image, wait_until};

/// A private `dockerd`, stopped and its containers removed when dropped.
pub struct Dockerd {
    /// Its directory: socket, data, exec root, pid file, config.
    dir: tempfile::TempDir,
    /// The daemon, while it runs.
    child: Option<Child>,
    /// It is frozen (SIGSTOP).
    frozen: bool,
}

impl Dockerd {
    /// Starts an engine, waits until it answers, and loads the agent
    /// image into it from the machine's engine.
    pub fn start() -> Dockerd {
        // Short paths: a unix socket path is limited to 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("jpd")
            .tempdir_in("/tmp")
            .expect("temp dir for dockerd");
        std::fs::write(dir.path().join("daemon.json"), "{}").expect("daemon.json");
        let mut d = Dockerd {
            dir,
            child: None,
            frozen: false,
        };
        d.resume();
        d.load_image();
        d
    }

    /// `unix://…/docker.sock`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts the daemon (again, on the same data) and waits until it
    /// answers.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "dockerd already runs");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path("dockerd.log"))
            .expect("dockerd log");
        let child = Command::new("dockerd")
            .arg("--host")
            .arg(self.host())
            .arg("--data-root")
            .arg(self.path("data"))
            .arg("--exec-root")
            .arg(self.path("x"))
            .arg("--pidfile")
            .arg(self.path("pid"))
            .args([
                "--storage-driver",
                "fuse-overlayfs",
                "--bridge",
                "none",
                "--iptables=false",
                "--ip-masq=false",
            ])
            .arg("--config-file")
            .arg(self.path("daemon.json"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd must be installed");
        self.child = Some(child);
        let host = self.host();
        let log = self.path("dockerd.log");
        let child = self.child.as_mut().expect("just set");
        wait_until(
            Duration::from_secs(60),
            "the private dockerd to answer",
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    let log = std::fs::read_to_string(&log).unwrap_or_default();
                    panic!("the private dockerd exited ({status}):\n{log}");
                }
                docker_at(&host, &["info"]).is_some()
            },
        );
    }

    /// Freezes the daemon (SIGSTOP): its socket is there but nothing
    /// answers, and its containers keep running, as an engine behind a
    /// network partition.
    pub fn freeze(&mut self) {
        self.signal("-STOP");
        self.frozen = true;
    }

    /// Thaws a frozen daemon (SIGCONT).
    pub fn thaw(&mut self) {
        if self.frozen {
            self.signal("-CONT");
            self.frozen = false;
        }
    }

    fn signal(&self, sig: &str) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .args([sig, &child.id().to_string()])
                .status();
        }
    }

    /// Stops the daemon as `systemctl stop docker` would (SIGTERM: it
    /// stops its containers with their stop timeouts, then exits) and
    /// waits for it to exit.
    pub fn stop(&mut self) {
        self.thaw();
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
        }
    }

    /// Runs `docker -H <this engine> args…`; its stdout, or `None` when
    /// the command failed.
    pub fn docker(&self, args: &[&str]) -> Option<String> {
        docker_at(&self.host(), args)
    }

    /// Names of the containers labelled `jetpool.pool=<pool>`, running
    /// only or all.
    pub fn containers(&self, pool: &str, all: bool) -> Vec<String> {
        let filter = format!("label=jetpool.pool={pool}");
        let mut args = vec!["ps", "--format", "{{.Names}}", "--filter", &filter];
        if all {
            args.push("-a");
        }
        let mut v: Vec<String> = self
            .docker(&args)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        v.sort();
        v
    }

    /// Copies the agent image from the machine's engine.
    fn load_image(&self) {
        let mut save = Command::new("docker")
            .args(["save", &image()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("docker save");
        let out = save.stdout.take().expect("docker save output");
        let status = Command::new("docker")
            .args(["-H", &self.host(), "load", "-q"])
            .stdin(out)
            .stdout(Stdio::null())
            .status()
            .expect("docker load");
        let saved = save.wait().expect("docker save exits");
        assert!(
            status.success() && saved.success(),
            "the image loads into the private dockerd"
        );
    }
}

/// `docker -H host args…`; its stdout when it succeeded.
fn docker_at(host: &str, args: &[&str]) -> Option<String> {
    let out = Command::new("docker")
        .args(["-H", host])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // A frozen daemon would hang the clean-up below.
        self.thaw();
        if self.child.is_some() {
            let ids = self.docker(&["ps", "-aq"]).unwrap_or_default();
            let ids: Vec<&str> = ids.lines().filter(|l| !l.is_empty()).collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f"];
                args.extend(ids);
                let _ = self.docker(&args);
            }
            self.stop();
        }
        // The storage driver leaves mounts under the data root; unmount
        // them so the directory can be removed.
        let data = self.path("data");
        if let Ok(mounts) = std::fs::read_to_string("/proc/mounts") {
            for m in mounts.lines().filter_map(|l| l.split_whitespace().nth(1)) {
                if m.starts_with(&*data.to_string_lossy())
                    || m.starts_with(&*self.path("x").to_string_lossy())
                {
                    let _ = Command::new("umount").args(["-l", m]).status();
                }
            }
        }
    }
}
