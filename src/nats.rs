//! Connecting to NATS: URL, credentials and TLS from flags or the usual
//! environment variables, shared by the service, the agent and the load
//! generator. The connection reconnects forever once established.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::{Client, ConnectOptions};

use crate::error::{Error, Result};

/// NATS connection settings. Flags override the environment.
#[derive(Debug, Clone, clap::Args)]
pub struct NatsArgs {
    /// NATS server URL(s), comma-separated.
    #[arg(
        long = "nats",
        env = "NATS_URL",
        default_value = "nats://127.0.0.1:4222"
    )]
    pub url: String,
    /// User name (with --nats-password).
    #[arg(long, env = "NATS_USER")]
    pub nats_user: Option<String>,
    /// Password (with --nats-user).
    #[arg(long, env = "NATS_PASSWORD", hide_env_values = true)]
    pub nats_password: Option<String>,
    /// Authentication token.
    #[arg(long, env = "NATS_TOKEN", hide_env_values = true)]
    pub nats_token: Option<String>,
    /// Credentials file (JWT and nkey seed), as `nsc` writes them.
    #[arg(long, env = "NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// File holding an nkey seed (`SU...`).
    #[arg(long, env = "NATS_NKEY")]
    pub nats_nkey: Option<PathBuf>,
    /// CA certificate(s) (PEM) to verify the server; implies TLS.
    #[arg(long, env = "NATS_CA")]
    pub nats_ca: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS; needs --nats-key.
    #[arg(long, env = "NATS_CERT")]
    pub nats_cert: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS; needs --nats-cert.
    #[arg(long, env = "NATS_KEY")]
    pub nats_key: Option<PathBuf>,
    /// Require TLS even without a CA or client certificate.
    #[arg(long, env = "NATS_TLS")]
    pub nats_tls: bool,
    /// How long to keep trying the first connection before giving up.
    #[arg(long, env = "NATS_CONNECT_TIMEOUT", default_value = "10s", value_parser = crate::config::parse_duration)]
    pub nats_connect_timeout: Duration,
}

impl Default for NatsArgs {
    fn default() -> Self {
        NatsArgs {
            url: "nats://127.0.0.1:4222".into(),
            nats_user: None,
            nats_password: None,
            nats_token: None,
            nats_creds: None,
            nats_nkey: None,
            nats_ca: None,
            nats_cert: None,
            nats_key: None,
            nats_tls: false,
            nats_connect_timeout: Duration::from_secs(10),
        }
    }
}

impl NatsArgs {
    /// Settings for `url` with defaults everywhere else.
    pub fn for_url(url: impl Into<String>) -> Self {
        NatsArgs {
            url: url.into(),
            ..Default::default()
        }
    }

    /// The URL with any `user:password@` part removed, for messages.
    pub fn redacted_url(&self) -> String {
        self.url
            .split(',')
            .map(|u| match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => format!("{}{}", &u[..s + 3], &u[at + 1..]),
                _ => u.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Builds client options from the settings; reads credential files.
    async fn options(&self, name: &str) -> Result<ConnectOptions> {
        let mut opts = match &self.nats_creds {
            Some(path) => ConnectOptions::with_credentials_file(path.clone())
                .await
                .map_err(|source| Error::NatsFile {
                    what: "creds",
                    path: path.clone(),
                    source,
                })?,
            None => ConnectOptions::new(),
        };
        match (&self.nats_user, &self.nats_password) {
            (Some(u), Some(p)) => opts = opts.user_and_password(u.clone(), p.clone()),
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::Usage(
                    "--nats-user and --nats-password must be given together".into(),
                ));
            }
            (None, None) => {}
        }
        if let Some(t) = &self.nats_token {
            opts = opts.token(t.clone());
        }
        if let Some(path) = &self.nats_nkey {
            let seed = tokio::fs::read_to_string(path)
                .await
                .map_err(|source| Error::NatsFile {
                    what: "nkey seed",
                    path: path.clone(),
                    source,
                })?;
            opts = opts.nkey(seed.trim().to_string());
        }
        if let Some(ca) = &self.nats_ca {
            check_readable("CA", ca)?;
            opts = opts.add_root_certificates(ca.clone()).require_tls(true);
        }
        match (&self.nats_cert, &self.nats_key) {
            (Some(c), Some(k)) => {
                check_readable("client certificate", c)?;
                check_readable("client key", k)?;
                opts = opts
                    .add_client_certificate(c.clone(), k.clone())
                    .require_tls(true);
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(Error::Usage(
                    "--nats-cert and --nats-key must be given together".into(),
                ));
            }
            (None, None) => {}
        }
        if self.nats_tls {
            opts = opts.require_tls(true);
        }
        Ok(opts
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Disconnected => {
                        tracing::warn!(
                            "NATS disconnected; reconnecting (metrics go stale meanwhile)"
                        )
                    }
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    other => tracing::debug!(event = %other, "NATS event"),
                }
            })
            .name(name)
            // Reconnect forever: an autoscaler that gives up on its broker
            // is worse than one that waits, holding its pools.
            .max_reconnects(None)
            // Retry at once, then at most every 500 ms (the library's
            // default backs off to 4 s): a pool is blind for as long as
            // the connection is down, so it comes back within half a
            // second of the server, not four.
            .reconnect_delay_callback(reconnect_delay)
            .connection_timeout(Duration::from_secs(5)))
    }

    /// Connects, retrying the first connection for `nats_connect_timeout`
    /// so a service started alongside NATS does not race it, then failing
    /// with a message that names the server and the cause.
    pub async fn connect(&self, name: &str) -> Result<Client> {
        let deadline = tokio::time::Instant::now() + self.nats_connect_timeout;
        let mut delay = Duration::from_millis(100);
        loop {
            let opts = self.options(name).await?;
            let urls: Vec<&str> = self.url.split(',').map(str::trim).collect();
            let attempt = opts.connect(urls.as_slice()).await;
            match attempt {
                Ok(client) => return Ok(client),
                Err(e) => {
                    let retryable = matches!(
                        e.kind(),
                        async_nats::ConnectErrorKind::Io
                            | async_nats::ConnectErrorKind::TimedOut
                            | async_nats::ConnectErrorKind::Dns
                    );
                    let now = tokio::time::Instant::now();
                    if !retryable || now + delay > deadline {
                        return Err(Error::NatsConnect {
                            url: self.redacted_url(),
                            reason: describe_connect_error(&e),
                        });
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}

fn check_readable(what: &'static str, path: &PathBuf) -> Result<()> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|source| Error::NatsFile {
            what,
            path: path.clone(),
            source,
        })
}

/// A readable account of a connect error, including its source chain
/// (async-nats puts the useful part, such as "connection refused", there).
fn describe_connect_error(e: &async_nats::ConnectError) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        let t = inner.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        src = inner.source();
    }
    s
}

/// The pause before reconnect attempt `attempts` (counted from 1): none
/// for the first, then doubling from 2 ms up to [`MAX_RECONNECT_DELAY`].
pub fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(attempts - 1).unwrap_or(u32::MAX).min(16);
    Duration::from_millis(1u64 << exp).min(MAX_RECONNECT_DELAY)
}

/// The longest pause between reconnect attempts.
pub const MAX_RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// The stream of JetStream key-value bucket `bucket`, by the key-value
/// conventions (ADR-8), keeping `history` values per key. jetpool makes
/// its buckets this way rather than with `create_key_value`, which first
/// reads the account info, and this client cannot parse that from a 2.9
/// server.
pub fn kv_bucket_stream(
    bucket: &str,
    description: &str,
    history: i64,
) -> async_nats::jetstream::stream::Config {
    use async_nats::jetstream::stream::{Config, DiscardPolicy};
    Config {
        name: format!("KV_{bucket}"),
        description: Some(description.into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: history,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: DiscardPolicy::New,
        num_replicas: 1,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnects_back_off_to_half_a_second() {
        assert_eq!(reconnect_delay(1), Duration::ZERO);
        assert_eq!(reconnect_delay(2), Duration::from_millis(2));
        assert_eq!(reconnect_delay(9), Duration::from_millis(256));
        assert_eq!(reconnect_delay(10), MAX_RECONNECT_DELAY);
        assert_eq!(reconnect_delay(usize::MAX), MAX_RECONNECT_DELAY);
    }

    #[test]
    fn redacts_credentials() {
        let a = NatsArgs::for_url("nats://bob:secret@h:4222,nats://h2:4222");
        assert_eq!(a.redacted_url(), "nats://h:4222,nats://h2:4222");
    }
}
