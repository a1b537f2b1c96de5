//! The events the integration service publishes (through the outbox, in the transaction of the
//! change): `integration.created`, `.updated`, `.verified`, `.deleted`, `.api_key_created`,
//! `.api_key_revoked`. It consumes none.

use souk_core::SharedClock;
use souk_events::Namespace;
use souk_proto::events::event::Payload;
use souk_proto::events::{
    ApiKeyCreated, ApiKeyRevoked, IntegrationCreated, IntegrationDeleted, IntegrationUpdated,
    IntegrationVerified,
};
use souk_store::outbox::OutboxRecord;

use crate::api::convert;
use crate::domain::{ApiKey, Error, Integration, IntegrationState};

/// Builds the outbox records of this service's events.
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

    fn record(
        &self,
        event_type: &str,
        organization_id: &str,
        integration_id: &str,
        payload: Payload,
    ) -> Result<OutboxRecord, Error> {
        let mut event =
            souk_events::event_with(self.clock.as_ref(), event_type, organization_id, payload)?;
        event.integration_id = integration_id.to_owned();
        Ok(souk_events::outbox_record(&self.namespace, &event)?)
    }

    /// An event about `integration`, in its organisation.
    fn about_integration(
        &self,
        event_type: &str,
        integration: &Integration,
        payload: Payload,
    ) -> Result<OutboxRecord, Error> {
        self.record(
            event_type,
            integration.organization_id.as_str(),
            integration.id.as_str(),
            payload,
        )
    }

    /// An event about API key `key`, in its organisation (about no integration).
    fn about_api_key(
        &self,
        event_type: &str,
        key: &ApiKey,
        payload: Payload,
    ) -> Result<OutboxRecord, Error> {
        self.record(event_type, key.organization_id.as_str(), "", payload)
    }

    /// `integration.created`.
    pub fn integration_created(&self, integration: &Integration) -> Result<OutboxRecord, Error> {
        let payload = Payload::IntegrationCreated(IntegrationCreated {
            integration: Some(convert::integration(integration)),
        });
        self.about_integration("integration.created", integration, payload)
    }

    /// `integration.updated`, with the mask paths that were applied.
    pub fn integration_updated(
        &self,
        integration: &Integration,
        paths: &[String],
    ) -> Result<OutboxRecord, Error> {
        let payload = Payload::IntegrationUpdated(IntegrationUpdated {
            integration: Some(convert::integration(integration)),
            update_mask: Some(prost_types::FieldMask {
                paths: paths.to_vec(),
            }),
        });
        self.about_integration("integration.updated", integration, payload)
    }

    /// `integration.verified`, whatever the outcome.
    pub fn integration_verified(
        &self,
        integration: &Integration,
        previous: IntegrationState,
    ) -> Result<OutboxRecord, Error> {
        let payload = Payload::IntegrationVerified(IntegrationVerified {
            integration: Some(convert::integration(integration)),
            previous_state: convert::state(previous).into(),
        });
        self.about_integration("integration.verified", integration, payload)
    }

    /// `integration.deleted`.
    pub fn integration_deleted(&self, integration: &Integration) -> Result<OutboxRecord, Error> {
        let payload = Payload::IntegrationDeleted(IntegrationDeleted {
            integration: Some(convert::integration(integration)),
        });
        self.about_integration("integration.deleted", integration, payload)
    }

    /// `integration.api_key_created` (never with the secret).
    pub fn api_key_created(&self, key: &ApiKey) -> Result<OutboxRecord, Error> {
        let payload = Payload::ApiKeyCreated(ApiKeyCreated {
            api_key: Some(convert::api_key(key)),
        });
        self.about_api_key("integration.api_key_created", key, payload)
    }

    /// `integration.api_key_revoked`.
    pub fn api_key_revoked(&self, key: &ApiKey) -> Result<OutboxRecord, Error> {
        let payload = Payload::ApiKeyRevoked(ApiKeyRevoked {
            api_key: Some(convert::api_key(key)),
        });
        self.about_api_key("integration.api_key_revoked", key, payload)
    }
}
