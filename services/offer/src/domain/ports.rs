//! What the domain needs from the outside world: its store (a unit of work that also takes the
//! events, so a state change and its event commit together) and the AWS Marketplace Catalog and
//! Agreement APIs acting as the offer's integration. The clock is `souk_core::Clock`.

use async_trait::async_trait;
use souk_core::{Id, Idempotency, Page, PageRequest};
use time::OffsetDateTime;

use super::change_set::Change;
use super::error::Error;
use super::event::OfferEvent;
use super::model::{Offer, OfferKind, OfferState};
use super::resale::{ResaleAuthorization, ResaleEvent, ResaleFilter};

/// How a write began: fresh, or as a retry of a request that already ran.
pub enum Begun {
    /// Do the work in this transaction.
    Fresh(Box<dyn Transaction>),
    /// The encoded response of the first call, to return unchanged.
    Replayed(Vec<u8>),
}

/// Which offers ListOffers returns (AND of the set filters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OfferFilter {
    /// Only this integration's.
    pub integration_id: Option<Id>,
    /// Only for this product.
    pub product_id: Option<String>,
    /// Only those targeting this buyer account.
    pub buyer_account_id: Option<String>,
    /// Any of these states (empty: all).
    pub states: Vec<OfferState>,
    /// Any of these kinds (empty: all).
    pub kinds: Vec<OfferKind>,
    /// Only those whose expiry time is before this instant.
    pub expiring_before: Option<OffsetDateTime>,
}

/// The offer service's persistent state.
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
    /// Offer `id` of `organization_id` (another organisation's is `None`).
    async fn get_offer(&self, organization_id: &Id, id: &Id) -> Result<Option<Offer>, Error>;
    /// The organisation's offer with AWS offer id `aws_offer_id`, if Souk knows it.
    async fn offer_by_aws_id(
        &self,
        organization_id: &Id,
        aws_offer_id: &str,
    ) -> Result<Option<Offer>, Error>;
    /// One page of the organisation's offers matching `filter`, newest first.
    async fn list_offers(
        &self,
        organization_id: &Id,
        filter: &OfferFilter,
        page: &PageRequest,
    ) -> Result<Page<Offer>, Error>;
    /// Up to `limit` offers of any organisation whose next check is due at `now`, oldest due
    /// first.
    async fn due_offers(&self, now: OffsetDateTime, limit: u32) -> Result<Vec<Offer>, Error>;
    /// Moves the next check of `offer` from `offer.next_check_at` to `until`; `false` when
    /// another replica moved it first (it tracks the offer now).
    async fn claim(&self, offer: &Offer, until: OffsetDateTime) -> Result<bool, Error>;
    /// Resale authorisation `id` of `organization_id` (another organisation's is `None`).
    async fn get_resale_authorization(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ResaleAuthorization>, Error>;
    /// The organisation's resale authorisation with AWS id `aws_id`, if Souk knows it.
    async fn resale_authorization_by_aws_id(
        &self,
        organization_id: &Id,
        aws_id: &str,
    ) -> Result<Option<ResaleAuthorization>, Error>;
    /// One page of the organisation's resale authorisations matching `filter`, newest first.
    async fn list_resale_authorizations(
        &self,
        organization_id: &Id,
        filter: &ResaleFilter,
        page: &PageRequest,
    ) -> Result<Page<ResaleAuthorization>, Error>;
    /// Up to `limit` resale authorisations of any organisation whose next check is due at
    /// `now`, oldest due first.
    async fn due_resale_authorizations(
        &self,
        now: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<ResaleAuthorization>, Error>;
    /// As [`Store::claim`], for a resale authorisation.
    async fn claim_resale_authorization(
        &self,
        ra: &ResaleAuthorization,
        until: OffsetDateTime,
    ) -> Result<bool, Error>;
}

/// One write: statements, events, then the commit with the response to remember. Dropped
/// without a commit, nothing happens.
#[async_trait]
pub trait Transaction: Send {
    /// Inserts a new offer.
    async fn insert_offer(&mut self, offer: &Offer) -> Result<(), Error>;
    /// Offer `id` of `organization_id`, locked until the commit.
    async fn lock_offer(&mut self, organization_id: &Id, id: &Id) -> Result<Option<Offer>, Error>;
    /// Writes `offer` back.
    async fn update_offer(&mut self, offer: &Offer) -> Result<(), Error>;
    /// Publishes `event` when the transaction commits.
    fn emit(&mut self, event: OfferEvent) -> Result<(), Error>;
    /// Inserts a new resale authorisation.
    async fn insert_resale_authorization(&mut self, ra: &ResaleAuthorization) -> Result<(), Error>;
    /// Resale authorisation `id` of `organization_id`, locked until the commit.
    async fn lock_resale_authorization(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<ResaleAuthorization>, Error>;
    /// Writes `ra` back.
    async fn update_resale_authorization(&mut self, ra: &ResaleAuthorization) -> Result<(), Error>;
    /// Publishes a resale-authorisation `event` when the transaction commits.
    fn emit_resale(&mut self, event: ResaleEvent) -> Result<(), Error>;
    /// Whether the request's response is remembered (it carried an idempotency key).
    fn remembers_response(&self) -> bool;
    /// Commits, remembering `response` for an idempotent request.
    async fn commit(self: Box<Self>, response: Vec<u8>) -> Result<(), Error>;
}

/// Who a Catalog or Agreement call acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acting {
    /// The organisation.
    pub organization_id: Id,
    /// The integration whose AWS role is assumed.
    pub integration_id: Id,
}

impl Acting {
    /// The integration of `offer`.
    pub fn of(offer: &Offer) -> Self {
        Self {
            organization_id: offer.organization_id.clone(),
            integration_id: offer.integration_id.clone(),
        }
    }
}

/// A StartChangeSet call.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeSetRequest {
    /// `ChangeSetName`.
    pub name: String,
    /// `ClientRequestToken`: the same token starts no second change set.
    pub client_request_token: String,
    /// The changes.
    pub changes: Vec<Change>,
}

/// One entry of a failed change's `ErrorDetailList`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeError {
    /// The change type that failed.
    pub change_type: String,
    /// AWS's code, e.g. `INVALID_CHARGE_DATES`.
    pub code: String,
    /// AWS's message.
    pub message: String,
}

/// Where a change set is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeSetStatus {
    /// `PREPARING` or `APPLYING`: ask again later.
    Running,
    /// `SUCCEEDED`, with the id of the entity its create change made.
    Succeeded {
        /// The new entity's id (`offer-...`).
        entity_id: Option<String>,
    },
    /// `FAILED`, with AWS's errors.
    Failed {
        /// `FailureCode` (`CLIENT_ERROR`, `SERVER_FAULT`).
        failure_code: String,
        /// `FailureDescription`.
        description: String,
        /// Every change's errors.
        errors: Vec<ChangeError>,
    },
    /// `CANCELLED`.
    Cancelled,
}

/// A failed AWS call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Throttling, a 5xx, a timeout or a transport error, or the role is unknown for now:
    /// retried with backoff.
    #[error("{0}")]
    Retry(String),
    /// AWS refused the call for good (validation, access denied, not found).
    #[error("{code}: {message}")]
    Refused {
        /// AWS's error type, e.g. `ValidationException`.
        code: String,
        /// AWS's message.
        message: String,
    },
}

/// The Catalog and Agreement APIs as the offer service uses them.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// StartChangeSet; the change set's id.
    async fn start_change_set(
        &self,
        acting: &Acting,
        request: &ChangeSetRequest,
    ) -> Result<String, CallError>;
    /// DescribeChangeSet.
    async fn describe_change_set(
        &self,
        acting: &Acting,
        change_set_id: &str,
    ) -> Result<ChangeSetStatus, CallError>;
    /// The ids of every offer the integration's seller account owns (ListEntities).
    async fn list_offer_ids(&self, acting: &Acting) -> Result<Vec<String>, CallError>;
    /// The ids of every resale authorisation the integration's seller account granted
    /// (ListEntities, `ResaleAuthorization`).
    async fn list_resale_authorization_ids(
        &self,
        acting: &Acting,
    ) -> Result<Vec<String>, CallError>;
    /// How many offers were made from resale authorisation `resale_authorization_id`
    /// (ListEntities of offers filtered by it): a one-time authorisation allows one.
    async fn count_offers_from(
        &self,
        acting: &Acting,
        resale_authorization_id: &str,
    ) -> Result<u32, CallError>;
    /// The `DetailsDocument` of entity `aws_offer_id`, an offer or a resale authorisation
    /// (DescribeEntity).
    async fn describe_offer(
        &self,
        acting: &Acting,
        aws_offer_id: &str,
    ) -> Result<serde_json::Value, CallError>;
    /// The entity type of product `product_id` (DescribeEntity), e.g. `AmiProduct@1.0`: an
    /// offer's terms alone do not tell an AMI's hourly prices from a SaaS subscription's.
    async fn product_type(&self, acting: &Acting, product_id: &str) -> Result<String, CallError>;
    /// The agreement a buyer made from offer `aws_offer_id`, if any (SearchAgreements by
    /// offer id, as the proposer).
    async fn agreement_of_offer(
        &self,
        acting: &Acting,
        aws_offer_id: &str,
    ) -> Result<Option<String>, CallError>;
}
