//! An engine failure in jetpool's terms: which operation failed, what kind
//! of failure it was (so callers can branch on it and count it with a
//! bounded label), and the engine's own message (for people, never for
//! labels). No engine type appears here, so every target shares it.

use serde::{Deserialize, Serialize};

/// The operation a target was performing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetOp {
    /// Reaching the engine: connect, negotiate the API version, ping.
    Ping,
    /// Listing containers.
    List,
    /// Inspecting one container.
    Inspect,
    /// Creating a container.
    Create,
    /// Pulling an image that was missing.
    Pull,
    /// Joining a container to a network.
    Connect,
    /// Starting a container.
    Start,
    /// Stopping a container.
    Stop,
    /// Removing a container.
    Remove,
    /// Following container events.
    Events,
    /// Reading a container's resource usage.
    Stats,
}

impl TargetOp {
    /// Every operation, for registering metrics at zero.
    pub const ALL: [TargetOp; 11] = [
        TargetOp::Ping,
        TargetOp::List,
        TargetOp::Inspect,
        TargetOp::Create,
        TargetOp::Pull,
        TargetOp::Connect,
        TargetOp::Start,
        TargetOp::Stop,
        TargetOp::Remove,
        TargetOp::Events,
        TargetOp::Stats,
    ];

    /// The operation's name, also its metric label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            TargetOp::Ping => "ping",
            TargetOp::List => "list",
            TargetOp::Inspect => "inspect",
            TargetOp::Create => "create",
            TargetOp::Pull => "pull",
            TargetOp::Connect => "connect",
            TargetOp::Start => "start",
            TargetOp::Stop => "stop",
            TargetOp::Remove => "remove",
            TargetOp::Events => "events",
            TargetOp::Stats => "stats",
        }
    }
}

impl TargetOp {
    /// The metric label of the operation: the Docker metrics' `op`.
    pub const fn label(self) -> crate::telemetry::DockerOp {
        use crate::telemetry::DockerOp;
        match self {
            TargetOp::Ping => DockerOp::Ping,
            TargetOp::List => DockerOp::List,
            TargetOp::Inspect => DockerOp::Inspect,
            TargetOp::Create => DockerOp::Create,
            TargetOp::Pull => DockerOp::Pull,
            TargetOp::Connect => DockerOp::Connect,
            TargetOp::Start => DockerOp::Start,
            TargetOp::Stop => DockerOp::Stop,
            TargetOp::Remove => DockerOp::Remove,
            TargetOp::Events => DockerOp::Events,
            TargetOp::Stats => DockerOp::Stats,
        }
    }
}

impl std::fmt::Display for TargetOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of failure it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The container, image or network does not exist.
    NotFound,
    /// The request conflicts with the engine's state (a name in use, a
    /// removal already in progress).
    Conflict,
    /// The engine did not answer: no socket, connection refused or reset,
    /// a timeout.
    Unreachable,
    /// The engine answered with an error status (see
    /// [`TargetError::status`]) other than not found and conflict.
    Rejected,
    /// Anything else: an answer that could not be read, a spec the engine
    /// cannot express.
    Other,
}

impl ErrorKind {
    /// Every kind, for registering metrics at zero.
    pub const ALL: [ErrorKind; 5] = [
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::Unreachable,
        ErrorKind::Rejected,
        ErrorKind::Other,
    ];

    /// The kind's metric label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unreachable => "unreachable",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Other => "other",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unreachable => "engine unreachable",
            ErrorKind::Rejected => "rejected",
            ErrorKind::Other => "error",
        })
    }
}

/// A failed target operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{engine} {op} failed ({kind}{}): {message}", status_suffix(*.status))]
pub struct TargetError {
    /// The kind of engine (`docker`, `virtual`; later `swarm`), for messages.
    pub engine: &'static str,
    /// What was being done.
    pub op: TargetOp,
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The HTTP status of the engine's answer, when it gave one.
    pub status: Option<u16>,
    /// The engine's own message.
    pub message: String,
}

fn status_suffix(status: Option<u16>) -> String {
    status.map(|s| format!(", HTTP {s}")).unwrap_or_default()
}

impl TargetError {
    /// A failure of `op` of kind `kind` on engine `engine`.
    pub fn new(
        engine: &'static str,
        op: TargetOp,
        kind: ErrorKind,
        message: impl Into<String>,
    ) -> Self {
        TargetError {
            engine,
            op,
            kind,
            status: None,
            message: message.into(),
        }
    }

    /// The same failure with the engine's HTTP status.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// True when what the operation was about does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }

    /// A bounded label for metrics: the kind, never the message.
    pub fn metric_label(&self) -> &'static str {
        self.kind.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_engine_op_kind_and_status() {
        let e = TargetError::new("docker", TargetOp::Create, ErrorKind::Rejected, "bad mode")
            .with_status(400);
        assert_eq!(
            e.to_string(),
            "docker create failed (rejected, HTTP 400): bad mode"
        );
        assert_eq!(e.metric_label(), "rejected");
        let e = TargetError::new(
            "docker",
            TargetOp::Ping,
            ErrorKind::Unreachable,
            "no socket",
        );
        assert_eq!(
            e.to_string(),
            "docker ping failed (engine unreachable): no socket"
        );
    }

    #[test]
    fn labels_are_distinct_and_cover_all() {
        let ops: std::collections::HashSet<_> = TargetOp::ALL.iter().map(|o| o.as_str()).collect();
        assert_eq!(ops.len(), TargetOp::ALL.len());
        let kinds: std::collections::HashSet<_> =
            ErrorKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(kinds.len(), ErrorKind::ALL.len());
    }
}
