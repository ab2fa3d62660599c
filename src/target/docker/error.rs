//! bollard's errors as [`TargetError`]s: the HTTP status picks the kind
//! (404 not found, 409 conflict, others rejected), transport failures are
//! "engine unreachable", and the message keeps the whole cause chain
//! (bollard's own text often stops at "client error (Connect)").

use bollard::errors::Error as Bollard;

use crate::target::{ErrorKind, TargetError, TargetOp};

/// The engine name in [`TargetError::engine`].
pub(super) const ENGINE: &str = "docker";

/// The HTTP status of a Docker answer, if the error is one.
pub(super) fn status_of(e: &Bollard) -> Option<u16> {
    match e {
        Bollard::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// True for Docker's "no such container/image/network" answer.
pub(super) fn is_not_found(e: &Bollard) -> bool {
    status_of(e) == Some(404)
}

/// `e`, raised by `op`, in jetpool's terms.
pub(super) fn to_target(op: TargetOp, e: Bollard) -> TargetError {
    let kind = match &e {
        Bollard::DockerResponseServerError { status_code, .. } => match status_code {
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            _ => ErrorKind::Rejected,
        },
        Bollard::IOError { .. }
        | Bollard::HyperResponseError { .. }
        | Bollard::HyperLegacyError { .. }
        | Bollard::SocketNotFoundError(_)
        | Bollard::RequestTimeoutError => ErrorKind::Unreachable,
        _ => ErrorKind::Other,
    };
    let message = match &e {
        // The engine's own words, without bollard's "Docker responded
        // with status code" preamble: the status is a field of its own.
        Bollard::DockerResponseServerError { message, .. } => message.clone(),
        other => chain(other),
    };
    let err = TargetError::new(ENGINE, op, kind, message);
    match status_of(&e) {
        Some(s) => err.with_status(s),
        None => err,
    }
}

/// An error's message followed by those of its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let next = s.to_string();
        if !out.contains(&next) {
            out.push_str(": ");
            out.push_str(&next);
        }
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(status_code: u16, message: &str) -> Bollard {
        Bollard::DockerResponseServerError {
            status_code,
            message: message.into(),
        }
    }

    #[test]
    fn statuses_pick_the_kind_and_keep_the_engines_message() {
        let e = to_target(TargetOp::Inspect, server(404, "No such container: x"));
        assert_eq!(e.kind, ErrorKind::NotFound);
        assert!(e.is_not_found());
        assert_eq!(e.status, Some(404));
        assert_eq!(e.message, "No such container: x");
        assert_eq!(
            e.to_string(),
            "docker inspect failed (not found, HTTP 404): No such container: x"
        );
        let e = to_target(TargetOp::Create, server(409, "name in use"));
        assert_eq!(
            (e.kind, e.metric_label()),
            (ErrorKind::Conflict, "conflict")
        );
        let e = to_target(TargetOp::Create, server(400, "invalid mode"));
        assert_eq!((e.kind, e.status), (ErrorKind::Rejected, Some(400)));
        let e = to_target(TargetOp::Start, server(500, "oci runtime error"));
        assert_eq!(e.kind, ErrorKind::Rejected);
        assert_eq!(e.op, TargetOp::Start);
    }

    #[test]
    fn transport_failures_are_unreachable_with_their_cause() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = to_target(TargetOp::List, Bollard::IOError { err: io });
        assert_eq!(e.kind, ErrorKind::Unreachable);
        assert_eq!(e.status, None);
        assert!(e.message.contains("refused"), "{}", e.message);
        let e = to_target(TargetOp::Stop, Bollard::RequestTimeoutError);
        assert_eq!(e.metric_label(), "unreachable");
        let e = to_target(
            TargetOp::Ping,
            Bollard::SocketNotFoundError("/nope.sock".into()),
        );
        assert_eq!(e.kind, ErrorKind::Unreachable);
    }

    #[test]
    fn anything_else_is_other() {
        let e = to_target(
            TargetOp::Pull,
            Bollard::DockerStreamError {
                error: "manifest unknown".into(),
            },
        );
        assert_eq!((e.kind, e.metric_label()), (ErrorKind::Other, "other"));
        assert!(e.message.contains("manifest unknown"));
    }

    #[test]
    fn not_found_is_recognised_before_mapping() {
        assert!(is_not_found(&server(404, "x")));
        assert!(!is_not_found(&server(409, "x")));
        assert_eq!(status_of(&Bollard::RequestTimeoutError), None);
    }
}
