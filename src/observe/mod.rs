//! The metrics edge: reads a pool's consumer through the JetStream API over
//! the authenticated NATS connection (never the unauthenticated HTTP
//! monitoring port) and turns the answer into [`ConsumerStats`].

use std::time::Duration;

use async_nats::jetstream::{self, context::ConsumerInfoErrorKind};
use futures::StreamExt;
use futures::stream::BoxStream;
use jiff::Timestamp;
use tokio::sync::watch;
use tracing::debug;

use crate::policy::ConsumerStats;
use crate::telemetry::ObserveReason;

/// Why a consumer read failed, as a bounded set (used as a metric label).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    /// The stream does not exist.
    #[error("stream {stream} not found")]
    StreamNotFound {
        /// The stream name from the policy.
        stream: String,
    },
    /// The consumer does not exist on the stream.
    #[error("consumer {consumer} not found on stream {stream}")]
    ConsumerNotFound {
        /// The stream name from the policy.
        stream: String,
        /// The consumer name from the policy.
        consumer: String,
    },
    /// No answer in time: NATS disconnected, JetStream disabled or overloaded.
    #[error("no answer from JetStream: {0}")]
    Unavailable(String),
    /// Anything else the server or client reported.
    #[error("consumer info failed: {0}")]
    Other(String),
}

impl ObserveError {
    /// The metric label of this failure (never the error's text).
    pub fn reason(&self) -> ObserveReason {
        match self {
            ObserveError::StreamNotFound { .. } => ObserveReason::StreamNotFound,
            ObserveError::ConsumerNotFound { .. } => ObserveReason::ConsumerNotFound,
            ObserveError::Unavailable(_) => ObserveReason::Unavailable,
            ObserveError::Other(_) => ObserveReason::Other,
        }
    }
}

/// Something that reports a pool's consumer numbers; the JetStream reader
/// in production, a scripted fake in loop tests.
pub trait MetricsSource: Send + Sync + 'static {
    /// Reads the consumer once.
    fn read(&self) -> impl Future<Output = Result<ConsumerStats, ObserveError>> + Send;

    /// A signal for each arrival that is news under the loop's latest
    /// [`Expectation`] ([`wake`]). The default never fires: the tick alone
    /// decides.
    fn arrivals(&self, expect: watch::Receiver<Expectation>, pool: &str) -> BoxStream<'static, ()> {
        let _ = (expect, pool);
        futures::stream::pending().boxed()
    }
}

/// Reads one consumer's info through the JetStream API.
#[derive(Clone)]
pub struct JetStreamSource {
    /// JetStream context on the shared connection.
    js: jetstream::Context,
    /// Stream name.
    stream: String,
    /// Durable consumer name.
    consumer: String,
    /// Upper bound on one request, so a slow server cannot stall the loop.
    timeout: Duration,
}

impl JetStreamSource {
    /// A reader for `stream`/`consumer` on `client`.
    pub fn new(
        client: async_nats::Client,
        stream: &str,
        consumer: &str,
        timeout: Duration,
    ) -> Self {
        JetStreamSource {
            js: jetstream::new(client),
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            timeout,
        }
    }
}

impl MetricsSource for JetStreamSource {
    async fn read(&self) -> Result<ConsumerStats, ObserveError> {
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|e| ObserveError::Other(e.to_string()))?;
        let info = tokio::time::timeout(self.timeout, stream.consumer_info(&self.consumer))
            .await
            .map_err(|_| ObserveError::Unavailable(format!("timed out after {:?}", self.timeout)))?
            .map_err(|e| match e.kind() {
                ConsumerInfoErrorKind::NotFound => ObserveError::ConsumerNotFound {
                    stream: self.stream.clone(),
                    consumer: self.consumer.clone(),
                },
                ConsumerInfoErrorKind::StreamNotFound => ObserveError::StreamNotFound {
                    stream: self.stream.clone(),
                },
                ConsumerInfoErrorKind::TimedOut | ConsumerInfoErrorKind::NoResponders => {
                    ObserveError::Unavailable(e.to_string())
                }
                ConsumerInfoErrorKind::Request => ObserveError::Unavailable(e.to_string()),
                _ => ObserveError::Other(e.to_string()),
            })?;
        let oldest_pending_at = if info.num_pending > 0 {
            self.oldest_pending(&stream, &info).await
        } else {
            None
        };
        Ok(ConsumerStats {
            at: Timestamp::now(),
            oldest_pending_at,
            pending: info.num_pending,
            ack_pending: info.num_ack_pending as u64,
            waiting: info.num_waiting as u64,
            redelivered: info.num_redelivered as u64,
            delivered_consumer_seq: info.delivered.consumer_sequence,
            delivered_stream_seq: info.delivered.stream_sequence,
            ack_floor_consumer_seq: info.ack_floor.consumer_sequence,
            ack_floor_stream_seq: info.ack_floor.stream_sequence,
            max_ack_pending: u64::try_from(info.config.max_ack_pending)
                .ok()
                .filter(|&m| m > 0),
        })
    }

    fn arrivals(&self, expect: watch::Receiver<Expectation>, pool: &str) -> BoxStream<'static, ()> {
        let this = self.clone();
        let resolve = move || {
            let this = this.clone();
            async move { this.subjects().await }
        };
        wake::watch(self.js.client(), resolve, expect, pool.to_string())
    }
}

impl JetStreamSource {
    /// The subjects the consumer takes tasks from: its filters, or else
    /// every subject of its stream.
    async fn subjects(&self) -> Result<Vec<String>, String> {
        let stream = self
            .js
            .get_stream_no_info(&self.stream)
            .await
            .map_err(|e| e.to_string())?;
        let info = stream
            .consumer_info(&self.consumer)
            .await
            .map_err(|e| e.to_string())?;
        let c = &info.config;
        if !c.filter_subjects.is_empty() {
            return Ok(c.filter_subjects.clone());
        }
        if !c.filter_subject.is_empty() {
            return Ok(vec![c.filter_subject.clone()]);
        }
        let mut stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(|e| e.to_string())?;
        let info = stream.info().await.map_err(|e| e.to_string())?;
        Ok(info.config.subjects.clone())
    }

    /// When the consumer's oldest pending task was stored: the first
    /// message after the last delivered stream sequence that matches the
    /// consumer's filter (`MSG.GET` with `next_by_subj`, answered by the
    /// stream's leader). `None` when it cannot be read: the age is
    /// feedback on top of the model, and a failed read must not make the
    /// consumer's numbers count as failing.
    async fn oldest_pending(
        &self,
        stream: &jetstream::stream::Stream<()>,
        info: &jetstream::consumer::Info,
    ) -> Option<Timestamp> {
        let c = &info.config;
        let filters: Vec<&str> = if !c.filter_subjects.is_empty() {
            c.filter_subjects.iter().map(String::as_str).collect()
        } else if !c.filter_subject.is_empty() {
            vec![c.filter_subject.as_str()]
        } else {
            vec![">"]
        };
        let from = info.delivered.stream_sequence.saturating_add(1);
        let mut oldest: Option<Timestamp> = None;
        for f in filters {
            let get = stream
                .raw_message_builder()
                .sequence(from)
                .next_by_subject(f)
                .send();
            let msg = match tokio::time::timeout(self.timeout, get).await {
                Ok(Ok(m)) => m,
                Ok(Err(e)) => {
                    debug!(stream = %self.stream, consumer = %self.consumer, error = %e, "oldest pending task not read");
                    continue;
                }
                Err(_) => {
                    debug!(stream = %self.stream, consumer = %self.consumer, "oldest pending task: read timed out");
                    continue;
                }
            };
            let Ok(at) = Timestamp::from_nanosecond(msg.time.unix_timestamp_nanos()) else {
                continue;
            };
            oldest = Some(oldest.map_or(at, |o| o.min(at)));
        }
        oldest
    }
}

pub mod agents;
pub mod build;
pub mod prometheus;
pub mod wake;
pub use agents::{AgentControl, AgentRegistry, NatsControl, Report};
pub use build::{Tick, observation};
pub use wake::Expectation;
