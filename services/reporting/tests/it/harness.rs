//! The reporting service on a fresh store (SQLite or PostgreSQL, through `souk-testkit`)
//! served through the real gRPC stack with in-memory API keys, reading the in-process
//! emulator's data feed bucket through the real S3 adapter. Sales are made the way a seller
//! makes them: a Catalog change set releases a private offer, a buyer accepts it through the
//! emulator's control API.

#![allow(dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use souk_auth::Scope;
use souk_core::Id;
use souk_proto::reporting as pb;
use souk_proto::reporting::reporting_service_client::ReportingServiceClient;
use souk_reporting::aws::{FeedSource, IntegrationFeeds};
use souk_reporting::{AppOptions, ReportingApp, ReportingConfig, STORE_NAME};
use souk_testkit::TestDb;
use souk_testkit::clock::EmulatorClock;
use souk_testkit::spawn::SpawnedService;
use time::OffsetDateTime;
use tonic::Status;
use tonic::transport::Channel;

use super::support::{Emu, Feeds};

pub use souk_testkit::rpc::{authed, expect_code, violations};

/// The product sold.
pub const PRODUCT: &str = "prod-soukreports01";
/// Its code.
pub const PRODUCT_CODE: &str = "soukreports";
/// The buyer.
pub const BUYER: &str = "444455556666";

/// One test on SQLite and on PostgreSQL with a started [`Harness`].
macro_rules! both {
    ($name:ident, |$h:ident| $body:block) => {
        souk_testkit::both_backends!($name, |db: TestDb| async move {
            #[allow(unused_variables)]
            let $h = $crate::harness::Harness::start(db).await;
            $body
        });
    };
}
pub(crate) use both;

/// The feed sources of one organisation's integrations, as the integration service scopes
/// them: another organisation finds none.
struct OrgFeeds {
    organization_id: Id,
    feeds: Arc<Feeds>,
}

#[async_trait]
impl IntegrationFeeds for OrgFeeds {
    async fn feed_source(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<FeedSource>, String> {
        if organization_id != &self.organization_id {
            return Ok(None);
        }
        self.feeds
            .feed_source(organization_id, integration_id)
            .await
    }

    async fn integrations_with_feeds(&self) -> Result<Vec<(Id, Id)>, String> {
        let sources = self.feeds.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(sources
            .iter()
            .filter(|(_, source)| !source.bucket.is_empty())
            .map(|(integration, _)| (self.organization_id.clone(), integration.clone()))
            .collect())
    }
}

pub struct Harness {
    pub emu: Emu,
    pub app: ReportingApp,
    pub org: Id,
    /// A FULL key of [`Harness::org`].
    pub key: String,
    /// A READ key of [`Harness::org`].
    pub reader: String,
    /// A FULL key of another organisation.
    pub other_key: String,
    client: ReportingServiceClient<Channel>,
    _service: SpawnedService,
    pub db: TestDb,
}

impl Harness {
    /// The service on `db` reading the emulator's feeds for [`Emu::integration_id`].
    pub async fn start(db: TestDb) -> Self {
        let emu = Emu::start().await;
        emu.control(
            "POST",
            "/_souk/products",
            json!({"product_id": PRODUCT, "product_code": PRODUCT_CODE, "kind": "saas",
                   "dimensions": [{"name": "seats", "type": "entitled"}]}),
        )
        .await;
        let store = db.store(STORE_NAME).await.expect("store opens");
        // The feeds answer for this organisation only; its keys are added below.
        let org = Id::generate("org");
        let feeds = Arc::new(OrgFeeds {
            organization_id: org.clone(),
            feeds: Arc::clone(&emu.feeds),
        });
        let app = ReportingApp::new(
            store,
            feeds,
            emu.assumer.clone(),
            ReportingConfig::default(),
            AppOptions {
                clock: Arc::new(EmulatorClock(emu.emulator.emulator.clone())),
                ..AppOptions::default()
            },
        )
        .await
        .expect("app starts");
        let service = souk_testkit::spawn::service(app.parts())
            .await
            .expect("gRPC server starts");
        let channel = service.server.channel().await.expect("connect");
        let keys = service.keys.clone();
        let other_org = Id::generate("org");
        Self {
            key: keys.add_key_for(&org, &[Scope::Full]),
            reader: keys.add_key_for(&org, &[Scope::ReadOnly]),
            other_key: keys.add_key_for(&other_org, &[Scope::Full]),
            emu,
            app,
            org,
            client: ReportingServiceClient::new(channel),
            _service: service,
            db,
        }
    }

    /// A client of the service.
    pub fn client(&self) -> ReportingServiceClient<Channel> {
        self.client.clone()
    }

    /// IngestDataFeeds of the emulator's integration with `key`.
    pub async fn ingest(
        &self,
        key: &str,
        full_resync: bool,
    ) -> Result<pb::IngestDataFeedsResponse, Status> {
        Ok(self
            .client()
            .ingest_data_feeds(authed(
                key,
                pb::IngestDataFeedsRequest {
                    integration_id: self.emu.integration_id.to_string(),
                    full_resync,
                },
            ))
            .await?
            .into_inner())
    }

    /// GetRevenueReport of the emulator's integration grouped by `group_by`.
    pub async fn revenue(
        &self,
        key: &str,
        group_by: &[pb::RevenueGrouping],
    ) -> Result<Vec<pb::RevenueRow>, Status> {
        Ok(self
            .client()
            .get_revenue_report(authed(
                key,
                pb::GetRevenueReportRequest {
                    integration_id: self.emu.integration_id.to_string(),
                    group_by: group_by.iter().map(|g| *g as i32).collect(),
                    ..Default::default()
                },
            ))
            .await?
            .into_inner()
            .rows)
    }

    /// The emulator's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.emu.emulator.emulator.clock().now()
    }

    /// Releases a private contract offer of `quantity` seats at `price` (a decimal string) in
    /// `currency` for the buyer and has the buyer accept it: the agreement.
    pub async fn sell(&self, currency: &str, price: &str, quantity: i64) -> Value {
        use aws_sdk_marketplacecatalog::types::{Change, Entity};
        let expiry = (self.now() + time::Duration::days(30)).date().to_string();
        let offer = "$CreateOfferChange.Entity.Identifier";
        let change = |change_type: &str, details: Value, create: bool| {
            let entity = Entity::builder().r#type("Offer@1.0");
            let entity = if create {
                entity
            } else {
                entity.identifier(offer)
            };
            let change = Change::builder()
                .change_type(change_type)
                .entity(entity.build().expect("entity"))
                .details(details.to_string());
            let change = if create {
                change.change_name("CreateOfferChange")
            } else {
                change
            };
            change.build().expect("change")
        };
        let changes = vec![
            change("CreateOffer", json!({"ProductId": PRODUCT}), true),
            change(
                "UpdateInformation",
                json!({"Name": format!("{currency} seats"), "Description": "reporting test"}),
                false,
            ),
            change(
                "UpdateTargeting",
                json!({"PositiveTargeting": {"BuyerAccounts": [BUYER]}}),
                false,
            ),
            change(
                "UpdateLegalTerms",
                json!({"Terms": [{"Type": "LegalTerm", "Documents": [{"Type": "StandardEula", "Version": "2022-07-14"}]}]}),
                false,
            ),
            change(
                "UpdatePricingTerms",
                json!({"PricingModel": "Contract", "Terms": [{
                "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": currency, "RateCards": [{
                    "Selector": {"Type": "Duration", "Value": "P12M"},
                    "Constraints": {"MultipleDimensionSelection": "Disallowed", "QuantityConfiguration": "Allowed"},
                    "RateCard": [{"DimensionKey": "seats", "Price": price}]}]}]}),
                false,
            ),
            change(
                "UpdateAvailability",
                json!({"AvailabilityEndDate": expiry}),
                false,
            ),
            change("ReleaseOffer", json!({}), false),
        ];
        let clients = self
            .emu
            .assumer
            .clients(&self.emu.role)
            .await
            .expect("clients");
        let started = clients
            .catalog
            .start_change_set()
            .catalog("AWSMarketplace")
            .set_change_set(Some(changes))
            .send()
            .await
            .expect("StartChangeSet");
        let id = started.change_set_id().expect("change set id").to_owned();
        self.emu
            .control("POST", "/_souk/clock/advance", json!({"seconds": 60}))
            .await;
        self.emu
            .control("POST", "/_souk/catalog/tick", Value::Null)
            .await;
        let described = clients
            .catalog
            .describe_change_set()
            .catalog("AWSMarketplace")
            .change_set_id(&id)
            .send()
            .await
            .expect("DescribeChangeSet");
        let offer_id = described
            .change_set()
            .iter()
            .find_map(|c| c.entity().and_then(|e| e.identifier()))
            .filter(|id| id.starts_with("offer-"))
            .unwrap_or_else(|| panic!("no offer made: {described:?}"))
            .to_owned();
        self.emu
            .control(
                "POST",
                &format!("/_souk/offers/{offer_id}/accept"),
                json!({"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": quantity}]}),
            )
            .await
    }
}
