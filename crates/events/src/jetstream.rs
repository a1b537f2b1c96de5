//! [`JetStreamPublisher`]: publishes events to NATS JetStream with `Nats-Msg-Id` = event id
//! and waits for the broker's acknowledgement.

use std::time::Duration;

use async_nats::jetstream::{self, message::PublishMessage};
use async_trait::async_trait;

use crate::Error;
use crate::publisher::{OutgoingEvent, PublishReceipt, Publisher};
use crate::subject::{Area, StreamSettings};

/// How long one broker call (stream management, publish + acknowledgement) may take.
pub const DEFAULT_BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes to the per-area JetStream streams; a publish counts only once the broker has
/// stored it (the `PubAck` arrived).
#[derive(Clone)]
pub struct JetStreamPublisher {
    context: jetstream::Context,
    settings: StreamSettings,
    timeout: Duration,
}

impl std::fmt::Debug for JetStreamPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamPublisher")
            .field("settings", &self.settings)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl JetStreamPublisher {
    /// A publisher on `client` that makes sure every area's stream exists before returning.
    pub async fn start(
        client: async_nats::Client,
        settings: StreamSettings,
    ) -> Result<Self, Error> {
        let context = jetstream::new(client);
        let publisher = Self {
            context,
            settings,
            timeout: DEFAULT_BROKER_TIMEOUT,
        };
        publisher.ensure_streams().await?;
        Ok(publisher)
    }

    /// Changes how long one broker call may take.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The JetStream context, for consumers sharing the connection.
    pub fn context(&self) -> &jetstream::Context {
        &self.context
    }

    /// The stream settings this publisher was started with.
    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    /// Creates every area's stream, or updates it to the configured settings.
    pub async fn ensure_streams(&self) -> Result<(), Error> {
        ensure_streams(&self.context, &self.settings, self.timeout).await
    }
}

/// Creates every area's stream on `context`, or updates it to `settings`.
pub async fn ensure_streams(
    context: &jetstream::Context,
    settings: &StreamSettings,
    timeout: Duration,
) -> Result<(), Error> {
    for area in Area::ALL {
        let config = settings.stream_config(area);
        let name = config.name.clone();
        tokio::time::timeout(timeout, context.create_or_update_stream(config))
            .await
            .map_err(|_| Error::Timeout("jetstream stream update"))?
            .map_err(|err| Error::Broker(format!("ensuring stream {name}: {err}")))?;
        tracing::debug!(stream = %name, "jetstream stream ready");
    }
    Ok(())
}

#[async_trait]
impl Publisher for JetStreamPublisher {
    async fn publish(&self, event: &OutgoingEvent) -> Result<PublishReceipt, Error> {
        let subject = event.subject.as_str();
        if !self.settings.namespace.owns(subject) {
            return Err(Error::InvalidEvent(format!(
                "subject {subject:?} is not captured by any {} stream",
                self.settings.namespace.subject_prefix()
            )));
        }
        let message = PublishMessage::build()
            .payload(event.payload.clone())
            .message_id(&event.id);
        let publish = async {
            let ack_future = self
                .context
                .send_publish(subject.to_owned(), message)
                .await
                .map_err(|err| Error::Broker(format!("publishing to {subject}: {err}")))?;
            ack_future
                .await
                .map_err(|err| Error::Broker(format!("waiting for ack on {subject}: {err}")))
        };
        let ack = tokio::time::timeout(self.timeout, publish)
            .await
            .map_err(|_| Error::Timeout("jetstream publish"))??;
        if ack.duplicate {
            tracing::debug!(event_id = %event.id, %subject, "jetstream dropped a duplicate publish");
        }
        Ok(PublishReceipt {
            duplicate: ack.duplicate,
        })
    }
}
