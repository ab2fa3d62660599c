//! Finding the agent's consumer: an agent may start before its consumer
//! exists (a compose stack starting all at once), so it waits a while.

use std::time::Duration;

use async_nats::jetstream::{self, consumer::PullConsumer};
use tracing::debug;

use crate::error::{Error, Result};

/// Looks up the consumer, waiting (up to `patience`) for it to be created:
/// an agent may start before its consumer exists.
pub(super) async fn consumer(
    js: &jetstream::Context,
    stream: &str,
    name: &str,
    patience: Duration,
) -> Result<PullConsumer> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        match js.get_consumer_from_stream(name, stream).await {
            Ok(c) => return Ok(c),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::JetStream {
                    op: "get consumer",
                    reason: format!("{stream}/{name}: {e}"),
                });
            }
            Err(e) => {
                debug!(error = %e, "consumer not ready yet");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
