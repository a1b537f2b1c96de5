//! What the integration service tells the world, as the domain sees it. The `events/` adapter
//! turns each into a `souk.events.v1.Event` in the transaction of the change.

use super::model::{ApiKey, Integration, IntegrationState};

/// One event of the integration service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrationEvent {
    /// `integration.created`.
    Created(Integration),
    /// `integration.updated`, with the update-mask paths that were applied.
    Updated {
        /// The integration after the change.
        integration: Integration,
        /// The paths applied.
        paths: Vec<String>,
    },
    /// `integration.verified`, whatever the outcome.
    Verified {
        /// The integration with its new report.
        integration: Integration,
        /// Its state before.
        previous: IntegrationState,
    },
    /// `integration.deleted`.
    Deleted(Integration),
    /// `integration.api_key_created` (never with the secret).
    ApiKeyCreated(ApiKey),
    /// `integration.api_key_revoked`.
    ApiKeyRevoked(ApiKey),
}
