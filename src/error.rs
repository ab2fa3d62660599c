//! The crate's error type: one enum, each variant naming the cause a user
//! can act on. Library code returns [`Result`]; only `main` turns it into an
//! exit status.

use std::path::PathBuf;

use crate::config::ConfigErrors;
use crate::target::TargetError;

/// Every failure jetpool reports, from configuration to the two edges.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// One or more policy files are invalid; each problem carries its location.
    #[error("{0}")]
    Config(#[from] ConfigErrors),

    /// The NATS server could not be reached or refused us.
    #[error("cannot connect to NATS at {url}: {reason}")]
    NatsConnect {
        /// The URL we dialled, without credentials.
        url: String,
        /// Why the connection failed, as the client reported it.
        reason: String,
    },

    /// A NATS credential or TLS file could not be read.
    #[error("cannot read NATS {what} file {path}: {source}")]
    NatsFile {
        /// Which setting named the file (creds, nkey, CA, cert, key).
        what: &'static str,
        /// The file's path.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A scale target (the Docker Engine) could not be reached, or one of
    /// its operations failed.
    #[error(transparent)]
    Target(#[from] TargetError),

    /// A JetStream API call failed.
    #[error("jetstream {op} failed: {reason}")]
    JetStream {
        /// The operation, such as `consumer info`.
        op: &'static str,
        /// The error the client returned.
        reason: String,
    },

    /// The HTTP listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address from `--listen`.
        addr: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A command-line value was not usable.
    #[error("{0}")]
    Usage(String),

    /// Any other I/O failure, with what we were doing.
    #[error("{context}: {source}")]
    Io {
        /// What jetpool was doing.
        context: String,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
