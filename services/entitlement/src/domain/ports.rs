//! What the domain needs from the outside world: its store (with a unit of work that also takes
//! the events), the integrations it serves (owned by the integration service), and AWS
//! Marketplace acting as an integration's role. The clock is `souk_core::Clock`.

use async_trait::async_trait;
use souk_core::{Id, Idempotency, Page, PageRequest};
use time::OffsetDateTime;

use super::check::CustomerView;
use super::error::Error;
use super::event::EntitlementEvent;
use super::model::{
    Agreement, BuyerKeys, Customer, Entitlement, Feature, FulfilmentSettings, Subscription,
    SubscriptionState,
};
use super::plan::Plan;

/// How a write began: fresh, or as a retry of a request that already ran.
pub enum Begun {
    /// Do the work in this transaction.
    Fresh(Box<dyn Transaction>),
    /// The encoded response of the first call, to return unchanged.
    Replayed(Vec<u8>),
}

/// Filters of ListCustomers (combined with AND).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Integration.
    pub integration_id: Option<Id>,
    /// Product code.
    pub product_code: Option<String>,
    /// AWS account id.
    pub aws_account_id: Option<String>,
    /// Legacy identifier.
    pub customer_identifier: Option<String>,
    /// Linked seller id.
    pub external_id: Option<String>,
    /// Subscription state.
    pub state: Option<SubscriptionState>,
}

/// Filters of ListSubscriptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFilter {
    /// Customer.
    pub customer_id: Option<Id>,
    /// Integration.
    pub integration_id: Option<Id>,
    /// Product code.
    pub product_code: Option<String>,
    /// State.
    pub state: Option<SubscriptionState>,
}

/// Filters of ListAgreements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgreementFilter {
    /// Customer.
    pub customer_id: Option<Id>,
    /// Integration.
    pub integration_id: Option<Id>,
    /// Offer.
    pub offer_id: Option<String>,
    /// Statuses (any of).
    pub statuses: Vec<String>,
}

/// A customer with its subscription, for the use cases that change both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerRecord {
    /// The customer.
    pub customer: Customer,
    /// Its subscription.
    pub subscription: Subscription,
}

/// The entitlement service's persistent state.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Begins a write of `organization_id`; with `idempotency`, a request that already ran is
    /// [`Begun::Replayed`].
    async fn begin(
        &self,
        organization_id: &Id,
        idempotency: Option<&Idempotency>,
    ) -> Result<Begun, Error>;
    /// Customer `id` of `organization_id`.
    async fn get_customer(&self, organization_id: &Id, id: &Id) -> Result<Option<Customer>, Error>;
    /// The subscription of customer `customer_id`.
    async fn subscription_of(
        &self,
        organization_id: &Id,
        customer_id: &Id,
    ) -> Result<Option<Subscription>, Error>;
    /// One page of customers, oldest first.
    async fn list_customers(
        &self,
        organization_id: &Id,
        filter: &CustomerFilter,
        page: &PageRequest,
    ) -> Result<Page<(Customer, Option<SubscriptionState>)>, Error>;
    /// Subscription `id`.
    async fn get_subscription(
        &self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<Subscription>, Error>;
    /// One page of subscriptions, oldest first.
    async fn list_subscriptions(
        &self,
        organization_id: &Id,
        filter: &SubscriptionFilter,
        page: &PageRequest,
    ) -> Result<Page<Subscription>, Error>;
    /// Agreement `id`.
    async fn get_agreement(
        &self,
        organization_id: &Id,
        id: &str,
    ) -> Result<Option<Agreement>, Error>;
    /// One page of agreements, oldest first.
    async fn list_agreements(
        &self,
        organization_id: &Id,
        filter: &AgreementFilter,
        page: &PageRequest,
    ) -> Result<Page<Agreement>, Error>;
    /// The customer's entitlements, by dimension.
    async fn entitlements_of(
        &self,
        organization_id: &Id,
        customer_id: &Id,
    ) -> Result<Vec<Entitlement>, Error>;
    /// The customer's derived features, by name.
    async fn features_of(
        &self,
        organization_id: &Id,
        customer_id: &Id,
    ) -> Result<Vec<Feature>, Error>;
    /// Plan `id`.
    async fn get_plan(&self, organization_id: &Id, id: &Id) -> Result<Option<Plan>, Error>;
    /// One page of plans, oldest first.
    async fn list_plans(
        &self,
        organization_id: &Id,
        integration_id: Option<&Id>,
        product_code: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Plan>, Error>;
    /// The integration's fulfilment settings, if stored.
    async fn settings(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<FulfilmentSettings>, Error>;
    /// Customers of `integration_id` whose subscription is not cancelled or failed.
    async fn live_customers(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Vec<CustomerRecord>, Error>;
    /// Customers whose entitlements must be read from AWS again (a contract notice arrived
    /// or the last read failed), oldest first, at most `limit`.
    async fn customers_to_sync(&self, limit: i64) -> Result<Vec<CustomerRecord>, Error>;
    /// Entitlements expiring after `from` and before `until`, with their customers.
    async fn entitlements_expiring_between(
        &self,
        from: OffsetDateTime,
        until: OffsetDateTime,
    ) -> Result<Vec<(CustomerRecord, Entitlement)>, Error>;
    /// The check view of every customer whose subscription, entitlements or features changed at
    /// or after `since` (every customer when `None`).
    async fn customer_views(
        &self,
        since: Option<OffsetDateTime>,
    ) -> Result<Vec<CustomerView>, Error>;
}

/// One write: statements, events, then the commit with the response to remember. Dropped
/// without a commit, nothing happens.
#[async_trait]
pub trait Transaction: Send {
    /// The customers of `integration_id` matching any of `keys` (same product when
    /// `keys.product_code` is set), locked until the commit.
    async fn find_customers(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
        keys: &BuyerKeys,
    ) -> Result<Vec<CustomerRecord>, Error>;
    /// Customer `id` and its subscription, locked until the commit.
    async fn lock_customer(
        &mut self,
        organization_id: &Id,
        id: &Id,
    ) -> Result<Option<CustomerRecord>, Error>;
    /// Inserts a customer and its subscription.
    async fn insert_customer(&mut self, record: &CustomerRecord) -> Result<(), Error>;
    /// Writes a customer back; `Conflict` if its external id is taken.
    async fn update_customer(&mut self, customer: &Customer) -> Result<(), Error>;
    /// Writes a subscription back.
    async fn update_subscription(&mut self, subscription: &Subscription) -> Result<(), Error>;
    /// Marks whether the customer's entitlements must be read from AWS again.
    async fn mark_sync(&mut self, customer_id: &Id, needed: bool) -> Result<(), Error>;
    /// Records that notification `message_id` of `integration_id` was processed; false if it
    /// was already.
    async fn first_sight(
        &mut self,
        integration_id: &Id,
        message_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool, Error>;
    /// Records that registration token `token_hash` resolved in `integration_id`; returns the
    /// integration it resolved in first.
    async fn claim_token(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
        token_hash: &str,
        customer_id: &Id,
        now: OffsetDateTime,
    ) -> Result<Id, Error>;
    /// Inserts or replaces an agreement; returns whether it was new.
    async fn put_agreement(&mut self, agreement: &Agreement) -> Result<bool, Error>;
    /// Agreement `id`, locked until the commit.
    async fn lock_agreement(
        &mut self,
        organization_id: &Id,
        id: &str,
    ) -> Result<Option<Agreement>, Error>;
    /// Replaces the customer's entitlements.
    async fn replace_entitlements(
        &mut self,
        customer: &Customer,
        entitlements: &[Entitlement],
    ) -> Result<(), Error>;
    /// The customer's entitlements (inside the transaction).
    async fn entitlements_of(&mut self, customer_id: &Id) -> Result<Vec<Entitlement>, Error>;
    /// Replaces the customer's derived features.
    async fn replace_features(
        &mut self,
        customer: &Customer,
        features: &[Feature],
    ) -> Result<(), Error>;
    /// The customer's derived features (inside the transaction).
    async fn features_of(&mut self, customer_id: &Id) -> Result<Vec<Feature>, Error>;
    /// Plans of the product (inside the transaction).
    async fn plans_of(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
        product_code: &str,
    ) -> Result<Vec<Plan>, Error>;
    /// Customers of the product, locked until the commit.
    async fn customers_of(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
        product_code: &str,
    ) -> Result<Vec<CustomerRecord>, Error>;
    /// Inserts a plan; `Conflict` if its key is taken for the product.
    async fn insert_plan(&mut self, plan: &Plan) -> Result<(), Error>;
    /// Plan `id`, locked until the commit.
    async fn lock_plan(&mut self, organization_id: &Id, id: &Id) -> Result<Option<Plan>, Error>;
    /// Writes a plan back.
    async fn update_plan(&mut self, plan: &Plan) -> Result<(), Error>;
    /// Deletes a plan.
    async fn delete_plan(&mut self, plan: &Plan) -> Result<(), Error>;
    /// Writes the integration's fulfilment settings.
    async fn put_settings(&mut self, settings: &FulfilmentSettings) -> Result<(), Error>;
    /// The integration's fulfilment settings, locked until the commit.
    async fn lock_settings(
        &mut self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<FulfilmentSettings>, Error>;
    /// Records that the `days` notice of the entitlement expiring at `expires_at` was sent;
    /// false if it was already.
    async fn first_expiry_notice(
        &mut self,
        customer_id: &Id,
        dimension: &str,
        expires_at: OffsetDateTime,
        days: i32,
    ) -> Result<bool, Error>;
    /// Publishes `event` when the transaction commits.
    fn emit(&mut self, event: EntitlementEvent) -> Result<(), Error>;
    /// Whether the request's response is remembered (it carried an idempotency key).
    fn remembers_response(&self) -> bool;
    /// Commits, remembering `response` for an idempotent request.
    async fn commit(self: Box<Self>, response: Vec<u8>) -> Result<(), Error>;
}

/// How an integration's products identify buyers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Licensing {
    /// Legacy CustomerIdentifier.
    ProductCode,
    /// Concurrent agreements: AWS account + licence ARN.
    LicenseArn,
}

/// A product of an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationProduct {
    /// Marketplace product code.
    pub product_code: String,
    /// Catalog product id, if known.
    pub product_id: Option<String>,
    /// How buyers are identified.
    pub licensing: Licensing,
}

/// What the entitlement service needs of a seller integration (owned by the integration
/// service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrationInfo {
    /// `int_...`.
    pub id: Id,
    /// Owning organisation.
    pub organization_id: Id,
    /// The role Souk assumes; empty until set.
    pub role_arn: String,
    /// ExternalId for the role.
    pub external_id: String,
    /// Home region.
    pub region: String,
    /// The products Souk manages.
    pub products: Vec<IntegrationProduct>,
    /// SQS queues to poll.
    pub sqs_queue_urls: Vec<String>,
}

impl IntegrationInfo {
    /// Product `code` of this integration.
    pub fn product(&self, code: &str) -> Option<&IntegrationProduct> {
        self.products.iter().find(|p| p.product_code == code)
    }
}

/// The integrations, as the integration service knows them.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Integration `id` (of `organization_id` when given: another tenant's is not found).
    async fn integration(
        &self,
        organization_id: Option<&Id>,
        id: &Id,
    ) -> Result<Option<IntegrationInfo>, Error>;
    /// Every integration of every organisation (for the SQS pollers).
    async fn all_integrations(&self) -> Result<Vec<IntegrationInfo>, Error>;
}

/// A buyer as AWS ResolveCustomer tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedBuyer {
    /// Product code.
    pub product_code: String,
    /// Legacy identifier.
    pub customer_identifier: Option<String>,
    /// AWS account id.
    pub aws_account_id: Option<String>,
    /// Licence ARN.
    pub license_arn: Option<String>,
    /// Agreement id.
    pub agreement_id: Option<String>,
}

/// Why AWS refused a Marketplace call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketError {
    /// The registration token is unknown.
    #[error("AWS does not recognise this registration token")]
    InvalidToken,
    /// The registration token expired.
    #[error("the registration token has expired")]
    ExpiredToken,
    /// The role cannot be assumed or lacks a permission.
    #[error("AWS refused access: {0}")]
    AccessDenied(String),
    /// Throttled, 5xx, timeout: retry later.
    #[error("AWS is unavailable: {0}")]
    Unavailable(String),
    /// Any other refusal.
    #[error("AWS refused the call: {0}")]
    Rejected(String),
}

/// A product's listing in the Catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingProduct {
    /// Product code.
    pub product_code: String,
    /// Catalog id.
    pub product_id: String,
    /// Title.
    pub title: String,
    /// Dimensions.
    pub dimensions: Vec<ListingDimension>,
}

/// A dimension of a listed product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListingDimension {
    /// Key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Catalog types (`ExternallyMetered`, `Entitled`).
    pub types: Vec<String>,
}

/// Whose entitlements to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntitlementQuery {
    /// Product code.
    pub product_code: String,
    /// Legacy identifier filter.
    pub customer_identifier: Option<String>,
    /// AWS account filter (when no legacy identifier).
    pub aws_account_id: Option<String>,
    /// Licence filter.
    pub license_arn: Option<String>,
}

/// AWS Marketplace, acting as an integration's role.
#[async_trait]
pub trait Marketplace: Send + Sync + 'static {
    /// ResolveCustomer.
    async fn resolve_customer(
        &self,
        integration: &IntegrationInfo,
        token: &str,
    ) -> Result<ResolvedBuyer, MarketError>;
    /// Every page of GetEntitlements for one buyer (within the API's quota). The returned
    /// entitlements carry an empty customer id, which the caller fills in.
    async fn get_entitlements(
        &self,
        integration: &IntegrationInfo,
        query: &EntitlementQuery,
    ) -> Result<Vec<Entitlement>, MarketError>;
    /// The integration's products and dimensions (Catalog ListEntities + DescribeEntity).
    async fn listing(
        &self,
        integration: &IntegrationInfo,
    ) -> Result<Vec<ListingProduct>, MarketError>;
}
