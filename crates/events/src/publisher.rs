//! The [`Publisher`] port: how the outbox relay hands one event to a broker.

use async_trait::async_trait;
use bytes::Bytes;

use crate::Error;

/// One encoded event on its way to the broker, as read from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingEvent {
    /// The event id (UUIDv7); becomes the `Nats-Msg-Id` so republishing is deduplicated.
    pub id: String,
    /// The subject (`souk.<org>.<area>.<event>`), as recorded in the outbox.
    pub subject: String,
    /// The event type (`subscription.cancel_pending`).
    pub event_type: String,
    /// The organisation the event belongs to.
    pub organization_id: String,
    /// The protobuf-encoded `souk.events.v1.Event`.
    pub payload: Bytes,
}

impl From<&souk_store::outbox::OutboxEntry> for OutgoingEvent {
    fn from(entry: &souk_store::outbox::OutboxEntry) -> Self {
        Self {
            id: entry.event_id.clone(),
            subject: entry.subject.clone(),
            event_type: entry.event_type.clone(),
            organization_id: entry.organization_id.clone(),
            payload: Bytes::from(entry.payload.clone()),
        }
    }
}

/// What the broker said about one publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishReceipt {
    /// The broker had stored this event id already and dropped the copy.
    pub duplicate: bool,
}

/// A broker that stores events durably (JetStream) or fans them out in process.
///
/// `publish` returns only once the broker holds the event: the relay marks an outbox row
/// published only after `Ok`. Publishing the same id twice must be harmless.
#[async_trait]
pub trait Publisher: Send + Sync + 'static {
    /// Publishes `event`; `Ok` means the broker stored it.
    async fn publish(&self, event: &OutgoingEvent) -> Result<PublishReceipt, Error>;
}

#[async_trait]
impl<P: Publisher + ?Sized> Publisher for std::sync::Arc<P> {
    async fn publish(&self, event: &OutgoingEvent) -> Result<PublishReceipt, Error> {
        (**self).publish(event).await
    }
}
