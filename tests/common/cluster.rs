//! A three-node NATS cluster with JetStream on loopback, owned by one
//! test: each node its own client port, cluster port and store; any node
//! can be killed and started again on the same store.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, wait_until};

/// One node of a [`Cluster`].
struct Node {
    /// `n1`, `n2`, `n3`: the JetStream server name.
    name: String,
    /// Client port.
    port: u16,
    /// Route port.
    route: u16,
    /// The process, while it runs.
    child: Option<Child>,
    /// Its JetStream store.
    store: tempfile::TempDir,
}

/// Three `nats-server -js` processes routed to each other.
pub struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    /// Starts three nodes and waits until each accepts clients.
    pub fn start() -> Cluster {
        let nodes = (1..=3)
            .map(|i| Node {
                name: format!("n{i}"),
                port: free_port(),
                route: free_port(),
                child: None,
                store: tempfile::tempdir().expect("temp dir"),
            })
            .collect();
        let mut c = Cluster { nodes };
        for i in 0..3 {
            c.start_node(i);
        }
        c
    }

    /// The client URL of node `i` (0-based).
    pub fn url(&self, i: usize) -> String {
        format!("nats://127.0.0.1:{}", self.nodes[i].port)
    }

    /// Every node's client URL, comma-separated.
    pub fn urls(&self) -> String {
        (0..3).map(|i| self.url(i)).collect::<Vec<_>>().join(",")
    }

    /// The index of the node whose JetStream server name is `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// Starts node `i` (again, on its store) and waits until it accepts
    /// clients.
    pub fn start_node(&mut self, i: usize) {
        let routes: Vec<String> = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| format!("nats://127.0.0.1:{}", n.route))
            .collect();
        let n = &mut self.nodes[i];
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", &n.port.to_string()])
            .args(["--server_name", &n.name, "--cluster_name", "jp"])
            .arg("--cluster")
            .arg(format!("nats://127.0.0.1:{}", n.route))
            .arg("--routes")
            .arg(routes.join(","))
            .arg("-sd")
            .arg(n.store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server must be installed (make deps installs it)");
        n.child = Some(child);
        let port = n.port;
        wait_until(
            Duration::from_secs(10),
            "a cluster node to accept clients",
            || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        );
    }

    /// Kills node `i` (SIGKILL) and reaps it.
    pub fn kill_node(&mut self, i: usize) {
        if let Some(mut c) = self.nodes[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill_node(i);
        }
    }
}
