//! Durable consumers: a JetStream pull consumer (or, in standalone mode, an [`InProcessBus`]
//! subscription) driving an [`EventHandler`].
//!
//! Every message ends in exactly one of three ways: the handler succeeded (ack); the handler
//! asked for a retry (delayed nak with backoff, at most `max_deliver` deliveries); or the
//! message is parked in the dead-letter table with the reason and terminated. A payload that is
//! not an `Event`, a fatal handler error, a panic, a timeout on the last delivery: all are
//! parked, never silently dropped, and the consumer carries on with the next message.
//!
//! Delivery is at least once, so **handlers must be idempotent on `event.id`**: the same event
//! can arrive twice (a redelivery after a lost ack, a republish after a relay crash outside the
//! duplicate window). Record processed ids in the same transaction as the handler's effects, or
//! make the effect an upsert keyed by the event id.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, AckKind, consumer::pull};
use async_trait::async_trait;
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use prost::Message;
use souk_core::{SharedClock, SystemClock};
use souk_proto::events::Event;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};
use tracing::Instrument;

use crate::Error;
use crate::backoff::Backoff;
use crate::bus::{BusDelivery, InProcessBus};
use crate::dead_letter::DeadLetterSink;
use crate::subject::{Area, StreamSettings};
use souk_store::dead_letter::DeadLetter;

/// Message-stream errors in a row after which the stream is re-opened.
const REOPEN_AFTER_ERRORS: u32 = 5;

/// Why a handler could not process an event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// A transient failure (a dependency is down); the event is redelivered after a backoff,
    /// and parked once `max_deliver` deliveries have failed.
    #[error("retryable: {0}")]
    Retry(String),
    /// The event can never be processed; it is parked at once.
    #[error("fatal: {0}")]
    Fatal(String),
}

/// Processes one event. Must be idempotent on `event.id` (see the module documentation).
#[async_trait]
pub trait EventHandler: Send + Sync + 'static {
    /// Handles `event`; `Ok` acknowledges it.
    async fn handle(&self, event: &Event) -> Result<(), HandlerError>;
}

#[async_trait]
impl<H: EventHandler + ?Sized> EventHandler for std::sync::Arc<H> {
    async fn handle(&self, event: &Event) -> Result<(), HandlerError> {
        (**self).handle(event).await
    }
}

/// How a consumer behaves.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// Durable consumer name (`[A-Za-z0-9_-]`), also recorded on dead letters.
    pub name: String,
    /// The area whose stream is consumed.
    pub area: Area,
    /// Subject filters within the area (`souk.*.subscription.cancel_pending`); empty for all.
    pub filter_subjects: Vec<String>,
    /// Deliveries before a retried event is parked (3 by default).
    pub max_deliver: u32,
    /// How long the broker waits for an acknowledgement before redelivering.
    pub ack_wait: Duration,
    /// How long one handler call may take; keep it below `ack_wait`.
    pub handler_timeout: Duration,
    /// Delay before a retried event is delivered again.
    pub retry_backoff: Backoff,
    /// Unacknowledged messages the broker hands out at once.
    pub max_ack_pending: i64,
    /// Timeout of broker and store calls.
    pub call_timeout: Duration,
    /// The clock stamping dead letters.
    pub clock: SharedClock,
}

impl ConsumerConfig {
    /// Defaults for consumer `name` on `area`: 3 deliveries, 30 s ack wait, 25 s per handler call.
    pub fn new(name: impl Into<String>, area: Area) -> Self {
        Self {
            name: name.into(),
            area,
            filter_subjects: Vec::new(),
            max_deliver: 3,
            ack_wait: Duration::from_secs(30),
            handler_timeout: Duration::from_secs(25),
            retry_backoff: Backoff {
                base: Duration::from_secs(1),
                max: Duration::from_secs(60),
            },
            max_ack_pending: 256,
            call_timeout: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let valid_name = !self.name.is_empty()
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid_name {
            return Err(Error::InvalidEvent(format!(
                "consumer name {:?} must contain only letters, digits, '_' and '-'",
                self.name
            )));
        }
        if self.handler_timeout >= self.ack_wait {
            return Err(Error::InvalidEvent(
                "handler_timeout must be shorter than ack_wait, or the broker redelivers \
                 events still being handled"
                    .into(),
            ));
        }
        if self.max_deliver == 0 {
            return Err(Error::InvalidEvent("max_deliver must be at least 1".into()));
        }
        Ok(())
    }
}

/// One delivered message, independent of the transport.
#[derive(Debug, Clone)]
struct Delivery {
    subject: String,
    /// The id to park under when the payload cannot be decoded (the `Nats-Msg-Id`, or the
    /// stream position when there is none).
    fallback_id: String,
    payload: Bytes,
    delivered: u32,
}

/// What to tell the transport about a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    Ack,
    Nak(Duration),
    /// Parked in the dead-letter table; terminate redelivery.
    Term,
}

/// The transport-independent part of a consumer: run the handler, decide, park.
struct Processor<H, D> {
    handler: H,
    dead_letters: D,
    config: ConsumerConfig,
}

impl<H: EventHandler, D: DeadLetterSink> Processor<H, D> {
    /// Whether a bus message on `subject` is for this consumer: its area's token in third
    /// position (`<prefix>.<org>.<area>.<event>`) and one of the filters, if any.
    fn wants(&self, subject: &str) -> bool {
        let in_area = subject.split('.').nth(2) == Some(self.config.area.as_str());
        in_area
            && (self.config.filter_subjects.is_empty()
                || self
                    .config
                    .filter_subjects
                    .iter()
                    .any(|filter| subject_matches(filter, subject)))
    }

    async fn process(&self, delivery: &Delivery) -> Disposition {
        let event = match Event::decode(delivery.payload.clone()) {
            Ok(event) if event.id.is_empty() || event.r#type.is_empty() => {
                let reason = "malformed event payload: no id or type".to_owned();
                return self.park(delivery, None, reason).await;
            }
            Ok(event) => event,
            Err(err) => {
                return self
                    .park(delivery, None, format!("malformed event payload: {err}"))
                    .await;
            }
        };
        let max = self.config.max_deliver;
        if delivery.delivered > max {
            let reason = format!(
                "not acknowledged after {} deliveries",
                delivery.delivered - 1
            );
            return self.park(delivery, Some(&event), reason).await;
        }
        let span = tracing::info_span!(
            "handle_event",
            consumer = %self.config.name,
            event_id = %event.id,
            event_type = %event.r#type,
            organization_id = %event.organization_id,
            delivered = delivery.delivered,
        );
        let call = AssertUnwindSafe(self.handler.handle(&event).instrument(span)).catch_unwind();
        let failure = match tokio::time::timeout(self.config.handler_timeout, call).await {
            Ok(Ok(Ok(()))) => return Disposition::Ack,
            Ok(Ok(Err(HandlerError::Fatal(reason)))) => {
                return self
                    .park(delivery, Some(&event), format!("fatal: {reason}"))
                    .await;
            }
            Ok(Ok(Err(HandlerError::Retry(reason)))) => reason,
            Ok(Err(panic)) => format!("handler panicked: {}", panic_message(panic.as_ref())),
            Err(_) => format!(
                "handler timed out after {} ms",
                self.config.handler_timeout.as_millis()
            ),
        };
        if delivery.delivered >= max {
            let reason = format!("failed {} times, last: {failure}", delivery.delivered);
            return self.park(delivery, Some(&event), reason).await;
        }
        let delay = self.config.retry_backoff.delay(delivery.delivered);
        tracing::warn!(
            consumer = %self.config.name,
            event_id = %event.id,
            delivered = delivery.delivered,
            retry_in_ms = delay.as_millis() as u64,
            reason = %failure,
            "event handler failed, will retry"
        );
        Disposition::Nak(delay)
    }

    async fn park(
        &self,
        delivery: &Delivery,
        event: Option<&Event>,
        reason: String,
    ) -> Disposition {
        let letter = DeadLetter {
            consumer: self.config.name.clone(),
            event_id: event.map_or_else(|| delivery.fallback_id.clone(), |e| e.id.clone()),
            organization_id: event.map(|e| e.organization_id.clone()),
            subject: delivery.subject.clone(),
            payload: delivery.payload.to_vec(),
            reason,
            attempts: i64::from(delivery.delivered),
            created_at: self.config.clock.now(),
        };
        let parked =
            tokio::time::timeout(self.config.call_timeout, self.dead_letters.park(&letter)).await;
        match parked {
            Ok(Ok(())) => {
                tracing::error!(
                    consumer = %letter.consumer,
                    event_id = %letter.event_id,
                    subject = %letter.subject,
                    reason = %letter.reason,
                    "event parked in the dead-letter table"
                );
                Disposition::Term
            }
            outcome => {
                let error = match outcome {
                    Ok(Err(err)) => err.to_string(),
                    _ => "timed out".to_owned(),
                };
                // Never drop what could not be parked: have it delivered again.
                let delay = self.config.retry_backoff.delay(delivery.delivered);
                tracing::error!(consumer = %letter.consumer, error = %error, reason = %letter.reason, "parking an event failed, will retry");
                Disposition::Nak(delay)
            }
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(message) = panic.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = panic.downcast_ref::<String>() {
        message.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// A running consumer. Dropping the handle asks it to stop after the current message.
#[derive(Debug)]
pub struct ConsumerHandle {
    cancel: DropGuard,
    task: JoinHandle<()>,
}

impl ConsumerHandle {
    /// Runs `handler` (parking in `dead_letters`) on its own task, fed by `run`: the loop over
    /// one transport's deliveries.
    fn spawn<H, D, F>(
        handler: H,
        dead_letters: D,
        config: ConsumerConfig,
        run: impl FnOnce(Processor<H, D>, CancellationToken) -> F,
    ) -> Self
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let processor = Processor {
            handler,
            dead_letters,
            config,
        };
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run(processor, cancel.clone()));
        Self {
            cancel: cancel.drop_guard(),
            task,
        }
    }

    /// Stops the consumer after the message it is handling, and waits for it.
    pub async fn shutdown(self) {
        self.cancel.disarm().cancel();
        if let Err(err) = self.task.await {
            tracing::error!(error = %err, "consumer task failed");
        }
    }

    /// Whether the consumer task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }
}

/// Creates (or reuses) the durable pull consumer `config.name` on the stream of `config.area`
/// and starts driving `handler` with it. The stream must exist (see
/// [`JetStreamPublisher::start`](crate::JetStreamPublisher::start) or
/// [`ensure_streams`](crate::jetstream::ensure_streams)).
///
/// The broker itself never gives up on a message (its `max_deliver` is unlimited): giving up is
/// this consumer's decision, taken after parking the message, so nothing is dropped silently.
pub async fn start_jetstream_consumer<H, D>(
    context: jetstream::Context,
    settings: &StreamSettings,
    config: ConsumerConfig,
    handler: H,
    dead_letters: D,
) -> Result<ConsumerHandle, Error>
where
    H: EventHandler,
    D: DeadLetterSink,
{
    config.validate()?;
    let stream_name = settings.namespace.stream_name(config.area);
    let timeout = config.call_timeout;
    let stream = tokio::time::timeout(timeout, context.get_stream(&stream_name))
        .await
        .map_err(|_| Error::Timeout("jetstream get stream"))?
        .map_err(|err| Error::Broker(format!("getting stream {stream_name}: {err}")))?;
    let consumer_config = pull::Config {
        durable_name: Some(config.name.clone()),
        description: Some(format!("souk consumer {}", config.name)),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: config.ack_wait,
        max_deliver: -1,
        filter_subjects: config.filter_subjects.clone(),
        max_ack_pending: config.max_ack_pending,
        ..Default::default()
    };
    let consumer = tokio::time::timeout(
        timeout,
        stream.get_or_create_consumer(&config.name, consumer_config),
    )
    .await
    .map_err(|_| Error::Timeout("jetstream create consumer"))?
    .map_err(|err| Error::Broker(format!("creating consumer {}: {err}", config.name)))?;
    Ok(ConsumerHandle::spawn(
        handler,
        dead_letters,
        config,
        move |processor, cancel| run_jetstream(consumer, processor, cancel),
    ))
}

async fn run_jetstream<H: EventHandler, D: DeadLetterSink>(
    consumer: jetstream::consumer::Consumer<pull::Config>,
    processor: Processor<H, D>,
    cancel: CancellationToken,
) {
    let name = processor.config.name.clone();
    let timeout = processor.config.call_timeout;
    tracing::info!(consumer = %name, "jetstream consumer started");
    let mut failures = 0_u32;
    'outer: while !cancel.is_cancelled() {
        let messages = tokio::select! {
            () = cancel.cancelled() => break,
            opened = tokio::time::timeout(timeout, consumer.messages()) => opened,
        };
        let mut messages = match messages {
            Ok(Ok(messages)) => messages,
            outcome => {
                failures = failures.saturating_add(1);
                let delay = processor.config.retry_backoff.delay(failures);
                let error = match outcome {
                    Ok(Err(err)) => err.to_string(),
                    _ => "timed out".to_owned(),
                };
                tracing::warn!(consumer = %name, %error, retry_in_ms = delay.as_millis() as u64, "opening the message stream failed");
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(delay) => continue,
                }
            }
        };
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => break 'outer,
                next = messages.next() => next,
            };
            let message = match next {
                Some(Ok(message)) => message,
                Some(Err(err)) => {
                    // Pause instead of spinning; after a few errors in a row re-open the stream.
                    failures = failures.saturating_add(1);
                    let delay = processor.config.retry_backoff.delay(failures);
                    tracing::warn!(consumer = %name, error = %err, retry_in_ms = delay.as_millis() as u64, "message stream error");
                    tokio::select! {
                        () = cancel.cancelled() => break 'outer,
                        () = tokio::time::sleep(delay) => {}
                    }
                    if failures >= REOPEN_AFTER_ERRORS {
                        break;
                    }
                    continue;
                }
                None => break,
            };
            failures = 0;
            handle_jetstream_message(&processor, message, timeout).await;
        }
    }
    tracing::info!(consumer = %name, "jetstream consumer stopped");
}

async fn handle_jetstream_message<H: EventHandler, D: DeadLetterSink>(
    processor: &Processor<H, D>,
    message: jetstream::Message,
    timeout: Duration,
) {
    let (delivered, position) = match message.info() {
        Ok(info) => (
            u32::try_from(info.delivered).unwrap_or(u32::MAX),
            format!("{}#{}", info.stream, info.stream_sequence),
        ),
        Err(err) => {
            // Not a JetStream delivery (no ack subject): nothing can be acknowledged.
            tracing::error!(consumer = %processor.config.name, error = %err, "message without delivery info");
            return;
        }
    };
    let delivery = Delivery {
        subject: message.subject.to_string(),
        fallback_id: message
            .headers
            .as_ref()
            .and_then(|h| h.get(async_nats::header::NATS_MESSAGE_ID))
            .map_or(position, |v| v.as_str().to_owned()),
        payload: message.payload.clone(),
        delivered,
    };
    let kind = match processor.process(&delivery).await {
        Disposition::Ack => AckKind::Ack,
        Disposition::Nak(delay) => AckKind::Nak(Some(delay)),
        Disposition::Term => AckKind::Term,
    };
    match tokio::time::timeout(timeout, message.ack_with(kind)).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => {
            tracing::warn!(consumer = %processor.config.name, error = %err, "acknowledging a message failed; it will be redelivered");
        }
        Err(_) => {
            tracing::warn!(consumer = %processor.config.name, "acknowledging a message timed out; it will be redelivered");
        }
    }
}

/// Drives `handler` from the in-process bus (standalone mode) with the same rules as
/// [`start_jetstream_consumer`]: events of `config.area` matching `config.filter_subjects`
/// are handled, retried in place with backoff, and parked
/// when they fail `max_deliver` times, are fatal, or are malformed.
pub fn start_bus_consumer<H, D>(
    bus: &InProcessBus,
    config: ConsumerConfig,
    handler: H,
    dead_letters: D,
) -> Result<ConsumerHandle, Error>
where
    H: EventHandler,
    D: DeadLetterSink,
{
    config.validate()?;
    let subscription = bus.subscribe();
    Ok(ConsumerHandle::spawn(
        handler,
        dead_letters,
        config,
        move |processor, cancel| run_bus(subscription, processor, cancel),
    ))
}

async fn run_bus<H: EventHandler, D: DeadLetterSink>(
    mut subscription: crate::bus::BusSubscription,
    processor: Processor<H, D>,
    cancel: CancellationToken,
) {
    let name = processor.config.name.clone();
    tracing::info!(consumer = %name, "in-process consumer started");
    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => break,
            next = subscription.recv() => next,
        };
        let delivery = match next {
            None => break,
            Some(BusDelivery::Lagged { skipped }) => {
                tracing::error!(consumer = %name, skipped, "in-process consumer fell behind and lost events");
                continue;
            }
            Some(BusDelivery::Malformed {
                id,
                subject,
                payload,
                ..
            }) => {
                if !processor.wants(&subject) {
                    continue;
                }
                Delivery {
                    subject,
                    fallback_id: id,
                    payload,
                    delivered: 1,
                }
            }
            Some(BusDelivery::Event { event, subject }) => {
                if !processor.wants(&subject) {
                    continue;
                }
                let payload = Bytes::from(event.encode_to_vec());
                Delivery {
                    subject,
                    fallback_id: event.id,
                    payload,
                    delivered: 1,
                }
            }
        };
        let mut delivery = delivery;
        loop {
            match processor.process(&delivery).await {
                Disposition::Ack | Disposition::Term => break,
                Disposition::Nak(delay) => {
                    tokio::select! {
                        () = cancel.cancelled() => {
                            tracing::warn!(consumer = %name, "in-process consumer stopped with an event pending retry");
                            return;
                        }
                        () = tokio::time::sleep(delay) => {}
                    }
                    delivery.delivered = delivery.delivered.saturating_add(1);
                }
            }
        }
    }
    tracing::info!(consumer = %name, "in-process consumer stopped");
}

/// NATS subject matching: `*` matches one token, a trailing `>` one or more.
pub fn subject_matches(filter: &str, subject: &str) -> bool {
    let mut filter_tokens = filter.split('.');
    let mut subject_tokens = subject.split('.');
    loop {
        match (filter_tokens.next(), subject_tokens.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(f), Some(s)) if f == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_matching_follows_nats_wildcards() {
        assert!(subject_matches("souk.*.offer.>", "souk.acme.offer.created"));
        assert!(subject_matches(
            "souk.acme.offer.created",
            "souk.acme.offer.created"
        ));
        assert!(!subject_matches("souk.*.offer.>", "souk.acme.offer"));
        assert!(!subject_matches(
            "souk.*.offer.created",
            "souk.acme.offer.deleted"
        ));
        assert!(!subject_matches("souk.*", "souk.acme.offer"));
    }
}
