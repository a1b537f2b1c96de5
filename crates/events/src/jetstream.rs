//! [`JetStreamPublisher`]: publishes events to NATS JetStream with `Nats-Msg-Id` = event id
//! and waits for the broker's acknowledgement.
//!
//! A broker can come back without its streams (a NATS restarted on an empty store, a stream
//! deleted by hand); every publish would then fail with "no stream found for given subject"
//! until the streams exist again. So the publisher ensures its streams again after every
//! reconnect (a watcher notices the reconnect even when nothing is published, so consumers find
//! their streams) and on that error, then retries the publish once.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::{self, message::PublishMessage, publish::PublishAck};
use async_trait::async_trait;

use crate::Error;
use crate::publisher::{OutgoingEvent, PublishReceipt, Publisher};
use crate::subject::{Area, StreamSettings};

/// How long one broker call (stream management, publish + acknowledgement) may take.
pub const DEFAULT_BROKER_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the reconnect watcher looks at the connection counter.
const RECONNECT_POLL: Duration = Duration::from_millis(250);

/// Publishes to the per-area JetStream streams; a publish counts only once the broker has
/// stored it (the `PubAck` arrived).
#[derive(Clone)]
pub struct JetStreamPublisher {
    context: jetstream::Context,
    settings: StreamSettings,
    timeout: Duration,
    /// The client's connection count when the streams were last ensured.
    ensured_at: Arc<AtomicU64>,
    /// Stops the reconnect watcher when the last clone is dropped.
    _watcher: Arc<AbortOnDrop>,
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
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
    /// A publisher on `client` that makes sure every area's stream exists before returning,
    /// and again after every reconnect.
    pub async fn start(
        client: async_nats::Client,
        settings: StreamSettings,
    ) -> Result<Self, Error> {
        let statistics = client.statistics();
        let context = jetstream::new(client);
        ensure_streams(&context, &settings, DEFAULT_BROKER_TIMEOUT).await?;
        // Read after the streams answered: the counter is bumped once the connection is up.
        let connects = statistics.connects.load(Ordering::Acquire);
        let ensured_at = Arc::new(AtomicU64::new(connects));
        let watcher = tokio::spawn(watch_reconnects(
            context.clone(),
            settings.clone(),
            Arc::clone(&ensured_at),
        ));
        Ok(Self {
            context,
            settings,
            timeout: DEFAULT_BROKER_TIMEOUT,
            ensured_at,
            _watcher: Arc::new(AbortOnDrop(watcher)),
        })
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

    /// Ensures the streams when the client reconnected since they were last ensured (the
    /// watcher may not have run yet).
    async fn ensure_after_reconnect(&self) -> Result<(), Error> {
        let connects = self
            .context
            .client()
            .statistics()
            .connects
            .load(Ordering::Acquire);
        if connects != self.ensured_at.load(Ordering::Acquire) {
            tracing::info!("NATS reconnected; ensuring the JetStream streams");
            self.ensure_streams().await?;
            self.ensured_at.store(connects, Ordering::Release);
        }
        Ok(())
    }

    /// Sends one publish and waits for its acknowledgement.
    async fn publish_once(
        &self,
        subject: &str,
        event: &OutgoingEvent,
    ) -> Result<PublishAck, PublishFailure> {
        let message = PublishMessage::build()
            .payload(event.payload.clone())
            .message_id(&event.id);
        let publish = async {
            let ack_future: PublishAckFuture = self
                .context
                .send_publish(subject.to_owned(), message)
                .await
                .map_err(|err| {
                    PublishFailure::Other(Error::Broker(format!("publishing to {subject}: {err}")))
                })?;
            ack_future.await.map_err(|err| {
                let error = Error::Broker(format!("waiting for ack on {subject}: {err}"));
                if err.kind() == PublishErrorKind::StreamNotFound {
                    PublishFailure::NoStream(error)
                } else {
                    PublishFailure::Other(error)
                }
            })
        };
        tokio::time::timeout(self.timeout, publish)
            .await
            .map_err(|_| PublishFailure::Other(Error::Timeout("jetstream publish")))?
    }
}

enum PublishFailure {
    /// No stream captures the subject: the broker lost (or never had) the stream.
    NoStream(Error),
    Other(Error),
}

impl From<PublishFailure> for Error {
    fn from(failure: PublishFailure) -> Self {
        match failure {
            PublishFailure::NoStream(error) | PublishFailure::Other(error) => error,
        }
    }
}

/// Ensures the streams each time the client's connection count grows (a reconnect), so a
/// broker that came back empty has its streams before anything is published or consumed.
async fn watch_reconnects(
    context: jetstream::Context,
    settings: StreamSettings,
    ensured_at: Arc<AtomicU64>,
) {
    let statistics = context.client().statistics();
    let mut interval = tokio::time::interval(RECONNECT_POLL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let connects = statistics.connects.load(Ordering::Acquire);
        if connects == ensured_at.load(Ordering::Acquire) {
            continue;
        }
        match ensure_streams(&context, &settings, DEFAULT_BROKER_TIMEOUT).await {
            Ok(()) => {
                tracing::info!("NATS reconnected; JetStream streams ensured");
                ensured_at.store(connects, Ordering::Release);
            }
            // Retried on the next tick (and by the next publish).
            Err(error) => tracing::warn!(%error, "NATS reconnected; ensuring the streams failed"),
        }
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
        self.ensure_after_reconnect().await?;
        let ack = match self.publish_once(subject, event).await {
            Ok(ack) => ack,
            Err(PublishFailure::NoStream(error)) => {
                tracing::warn!(%subject, %error, "no JetStream stream for the subject; recreating the streams and retrying");
                self.ensure_streams().await?;
                self.publish_once(subject, event).await?
            }
            Err(PublishFailure::Other(error)) => return Err(error),
        };
        if ack.duplicate {
            tracing::debug!(event_id = %event.id, %subject, "jetstream dropped a duplicate publish");
        }
        Ok(PublishReceipt {
            duplicate: ack.duplicate,
        })
    }
}
