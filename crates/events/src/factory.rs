//! Building a service's events for its outbox: the envelope (id, type, time, organisation,
//! integration) around a payload, encoded with its subject.

use souk_core::SharedClock;
use souk_proto::events::Subject;
use souk_proto::events::event::Payload;
use souk_store::outbox::OutboxRecord;

use crate::Error;
use crate::envelope::{event_with, outbox_record};
use crate::subject::Namespace;

/// Stamps events with one clock and puts them under one subject namespace.
#[derive(Debug, Clone)]
pub struct EventFactory {
    clock: SharedClock,
    namespace: Namespace,
}

impl EventFactory {
    /// Events stamped by `clock`, with subjects in `namespace`.
    pub fn new(clock: SharedClock, namespace: Namespace) -> Self {
        Self { clock, namespace }
    }

    /// The outbox record of an event of `event_type` in `organization_id`, about
    /// `integration_id` (empty when it concerns no integration), carrying `payload`.
    pub fn record(
        &self,
        event_type: &str,
        organization_id: &str,
        integration_id: &str,
        payload: Payload,
    ) -> Result<OutboxRecord, Error> {
        self.record_about(
            event_type,
            organization_id,
            integration_id,
            Subject::default(),
            payload,
        )
    }

    /// Like [`record`](Self::record), naming the customer, subscription, agreement... the event
    /// is about, so consumers can route on them without decoding the payload.
    pub fn record_about(
        &self,
        event_type: &str,
        organization_id: &str,
        integration_id: &str,
        subject: Subject,
        payload: Payload,
    ) -> Result<OutboxRecord, Error> {
        let mut event = event_with(self.clock.as_ref(), event_type, organization_id, payload)?;
        event.integration_id = integration_id.to_owned();
        event.subject = Some(subject);
        outbox_record(&self.namespace, &event)
    }
}
