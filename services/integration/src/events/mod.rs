//! The events the integration service publishes (through the outbox, in the transaction of the
//! change): `integration.created`, `.updated`, `.verified`, `.deleted`, `.api_key_created`,
//! `.api_key_revoked`. It consumes none.

use souk_events::EventFactory;
use souk_proto::events::event::Payload;
use souk_proto::events::{
    ApiKeyCreated, ApiKeyRevoked, IntegrationCreated, IntegrationDeleted, IntegrationUpdated,
    IntegrationVerified,
};
use souk_store::outbox::OutboxRecord;

use crate::domain::{ApiKey, Error, Integration, IntegrationEvent};
use crate::proto;

/// The outbox record of `event`.
pub fn record(factory: &EventFactory, event: &IntegrationEvent) -> Result<OutboxRecord, Error> {
    let (event_type, organization_id, integration_id, payload) = match event {
        IntegrationEvent::Created(integration) => about(
            "integration.created",
            integration,
            Payload::IntegrationCreated(IntegrationCreated {
                integration: Some(proto::integration(integration)),
            }),
        ),
        IntegrationEvent::Updated { integration, paths } => about(
            "integration.updated",
            integration,
            Payload::IntegrationUpdated(IntegrationUpdated {
                integration: Some(proto::integration(integration)),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.clone(),
                }),
            }),
        ),
        IntegrationEvent::Verified {
            integration,
            previous,
        } => about(
            "integration.verified",
            integration,
            Payload::IntegrationVerified(IntegrationVerified {
                integration: Some(proto::integration(integration)),
                previous_state: proto::state(*previous).into(),
            }),
        ),
        IntegrationEvent::Deleted(integration) => about(
            "integration.deleted",
            integration,
            Payload::IntegrationDeleted(IntegrationDeleted {
                integration: Some(proto::integration(integration)),
            }),
        ),
        IntegrationEvent::ApiKeyCreated(key) => key_event(
            "integration.api_key_created",
            key,
            Payload::ApiKeyCreated(ApiKeyCreated {
                api_key: Some(proto::api_key(key)),
            }),
        ),
        IntegrationEvent::ApiKeyRevoked(key) => key_event(
            "integration.api_key_revoked",
            key,
            Payload::ApiKeyRevoked(ApiKeyRevoked {
                api_key: Some(proto::api_key(key)),
            }),
        ),
    };
    factory
        .record(event_type, organization_id, integration_id, payload)
        .map_err(|e| Error::Internal(format!("building event {event_type}: {e}")))
}

/// An event about `integration`, in its organisation.
fn about<'a>(
    event_type: &'static str,
    integration: &'a Integration,
    payload: Payload,
) -> (&'static str, &'a str, &'a str, Payload) {
    (
        event_type,
        integration.organization_id.as_str(),
        integration.id.as_str(),
        payload,
    )
}

/// An event about API key `key`, in its organisation (about no integration).
fn key_event<'a>(
    event_type: &'static str,
    key: &'a ApiKey,
    payload: Payload,
) -> (&'static str, &'a str, &'static str, Payload) {
    (event_type, key.organization_id.as_str(), "", payload)
}
