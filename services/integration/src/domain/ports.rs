//! What the domain needs from the outside world, as traits its adapters implement: the store
//! (with a unit of work that also takes the events, so a change and its events commit
//! together), the verifier that probes AWS, and the key revocation notice. The clock is
//! `souk_core::Clock`.

use async_trait::async_trait;
use souk_core::access::KeyHash;
use souk_core::{Id, Idempotency, Page, PageRequest};

use super::error::Error;
use super::event::IntegrationEvent;
use super::model::{ApiKey, Integration, Organization, VerificationReport};

/// How a write began: fresh, or as a retry of a request that already ran.
pub enum Begun {
    /// Do the work in this transaction.
    Fresh(Box<dyn Transaction>),
    /// The encoded response of the first call, to return unchanged.
    Replayed(Vec<u8>),
}

/// The integration service's persistent state.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Begins a write of `organization_id`; with `idempotency`, a request that already ran is
    /// [`Begun::Replayed`].
    async fn begin(
        &self,
        organization_id: &Id,
        idempotency: Option<&Idempotency>,
    ) -> Result<Begun, Error>;
    /// The stored response of an earlier identical request, if any.
    async fn replay(
        &self,
        organization_id: &Id,
        idempotency: &Idempotency,
    ) -> Result<Option<Vec<u8>>, Error>;
    /// Whether any organisation exists.
    async fn has_organizations(&self) -> Result<bool, Error>;
    /// The oldest organisation.
    async fn first_organization(&self) -> Result<Option<Organization>, Error>;
    /// Organisation `id`.
    async fn get_organization(&self, id: &Id) -> Result<Option<Organization>, Error>;
    /// Integration `id` of `organization_id`.
    async fn get_integration(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<Integration>, Error>;
    /// Integration `id` of any organisation (for other services' public endpoints, which
    /// authenticate the caller otherwise).
    async fn find_integration(&self, id: &Id) -> Result<Option<Integration>, Error>;
    /// Every integration of every organisation, oldest first (for other services' background
    /// work, such as polling notification queues).
    async fn all_integrations(&self) -> Result<Vec<Integration>, Error>;
    /// The integration named `name` in `organization_id`.
    async fn integration_named(
        &self,
        organization_id: &Id,
        name: &str,
    ) -> Result<Option<Integration>, Error>;
    /// One page of the organisation's integrations, oldest first.
    async fn list_integrations(
        &self,
        organization_id: &Id,
        page: &PageRequest,
    ) -> Result<Page<Integration>, Error>;
    /// API key `id` of `organization_id`.
    async fn get_api_key(&self, organization_id: &Id, id: &Id) -> Result<Option<ApiKey>, Error>;
    /// One page of the organisation's API keys, oldest first.
    async fn list_api_keys(
        &self,
        organization_id: &Id,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, Error>;
}

/// One write: statements, events, then the commit with the response to remember. Dropped
/// without a commit, nothing happens.
#[async_trait]
pub trait Transaction: Send {
    /// Serialises the creation of the first organisation across replicas.
    async fn lock_bootstrap(&mut self) -> Result<(), Error>;
    /// Whether any organisation exists (inside the transaction).
    async fn has_organizations(&mut self) -> Result<bool, Error>;
    /// Inserts `organization`.
    async fn insert_organization(&mut self, organization: &Organization) -> Result<(), Error>;
    /// Inserts `key`, stored under `hash`.
    async fn insert_api_key(&mut self, key: &ApiKey, hash: &KeyHash) -> Result<(), Error>;
    /// Inserts `integration`; `Conflict` if its name is taken in the organisation.
    async fn insert_integration(&mut self, integration: &Integration) -> Result<(), Error>;
    /// Integration `id` of `organization_id`, locked until the commit.
    async fn lock_integration(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<Integration>, Error>;
    /// Writes `integration` back; `Conflict` if its new name is taken.
    async fn update_integration(&mut self, integration: &Integration) -> Result<(), Error>;
    /// Deletes `integration`.
    async fn delete_integration(&mut self, integration: &Integration) -> Result<(), Error>;
    /// API key `id` of `organization_id`, locked until the commit.
    async fn lock_api_key(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ApiKey>, Error>;
    /// Records `key.revoked_at`.
    async fn revoke_api_key(&mut self, key: &ApiKey) -> Result<(), Error>;
    /// Publishes `event` when the transaction commits.
    fn emit(&mut self, event: IntegrationEvent) -> Result<(), Error>;
    /// Whether the request's response is remembered (it carried an idempotency key).
    fn remembers_response(&self) -> bool;
    /// Commits, remembering `response` for an idempotent request.
    async fn commit(self: Box<Self>, response: Vec<u8>) -> Result<(), Error>;
}

/// Probes an integration's role in AWS.
#[async_trait]
pub trait Verifier: Send + Sync + 'static {
    /// Assumes the role afresh and probes every permission Souk needs. Never fails: every
    /// problem is reported in the result.
    async fn verify(&self, integration: &Integration) -> VerificationReport;
    /// Forgets credentials cached for the integration's role (its role or region changed, or
    /// it was deleted).
    fn forget(&self, integration: &Integration);
}

/// Tells the authenticators of this process that a key was revoked (others notice within
/// their cache time).
pub trait Revocations: Send + Sync + 'static {
    /// Key `key_id` is revoked.
    fn revoked(&self, key_id: &Id);
}
