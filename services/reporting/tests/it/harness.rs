//! The reporting service on a fresh store (SQLite or PostgreSQL, through `souk-testkit`)
//! served through the real gRPC stack with in-memory API keys, reading the in-process
//! emulator's data feed bucket through the real S3 adapter. Sales are made the way a seller
//! makes them: a Catalog change set releases a private offer, a buyer accepts it through the
//! emulator's control API.

#![allow(dead_code)]

use std::collections::BTreeMap;
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
/// The emulator's seller account (the role's).
pub const SELLER: &str = "111122223333";

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
        Self::start_with_metering(db, None).await
    }

    /// [`Harness::start`] with the metering records `metered` answers.
    pub async fn start_with_metering(
        db: TestDb,
        metered: Option<Arc<dyn souk_reporting::domain::ports::MeteredUsage>>,
    ) -> Self {
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
                metered,
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

    /// The payloads of the `event_type` events in the service's outbox, oldest first.
    pub async fn outbox(&self, event_type: &str) -> Vec<souk_proto::events::event::Payload> {
        use prost::Message;
        let store = self.db.store(STORE_NAME).await.expect("store opens");
        let rows: Vec<Vec<u8>> =
            sqlx::query_scalar("SELECT payload FROM outbox WHERE event_type = $1 ORDER BY seq")
                .bind(event_type)
                .fetch_all(store.pool())
                .await
                .expect("outbox");
        rows.iter()
            .map(|bytes| {
                let event = souk_proto::events::Event::decode(bytes.as_slice()).expect("an event");
                event.payload.expect("a payload")
            })
            .collect()
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
        self.revenue_report(
            key,
            pb::GetRevenueReportRequest {
                group_by: group_by.iter().map(|g| *g as i32).collect(),
                ..self.revenue_request()
            },
        )
        .await
    }

    /// The emulator's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.emu.emulator.emulator.clock().now()
    }

    /// Releases a private contract offer of `quantity` seats at `price` (a decimal string) in
    /// `currency` for the buyer and has the buyer accept it: the agreement.
    pub async fn sell(&self, currency: &str, price: &str, quantity: i64) -> Value {
        self.sell_to(BUYER, PRODUCT, currency, price, quantity)
            .await
    }

    /// [`Harness::sell`] of `product` to `buyer`: the agreement.
    pub async fn sell_to(
        &self,
        buyer: &str,
        product: &str,
        currency: &str,
        price: &str,
        quantity: i64,
    ) -> Value {
        self.sell_for(buyer, product, currency, price, "P12M", quantity)
            .await
    }

    /// [`Harness::sell_to`] for `duration` (`P12M`, `P36M`): the agreement.
    pub async fn sell_for(
        &self,
        buyer: &str,
        product: &str,
        currency: &str,
        price: &str,
        duration: &str,
        quantity: i64,
    ) -> Value {
        let made = self
            .apply(json!([
                {"ChangeType": "CreateOffer", "Entity": {"Type": "Offer@1.0"},
                 "ChangeName": "CreateOfferChange", "DetailsDocument": {"ProductId": product}},
                offer_change("UpdateInformation", json!({"Name": format!("{currency} seats"),
                                                         "Description": "reporting test"})),
                offer_change("UpdateTargeting", json!({"PositiveTargeting": {"BuyerAccounts": [buyer]}})),
                offer_change("UpdateLegalTerms", json!({"Terms": [{"Type": "LegalTerm", "Documents": [
                    {"Type": "StandardEula", "Version": "2022-07-14"}]}]})),
                offer_change("UpdatePricingTerms", json!({"PricingModel": "Contract", "Terms": [{
                    "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": currency,
                    "RateCards": [{"Selector": {"Type": "Duration", "Value": duration},
                        "Constraints": {"MultipleDimensionSelection": "Disallowed",
                                        "QuantityConfiguration": "Allowed"},
                        "RateCard": [{"DimensionKey": "seats", "Price": price}]}]}]})),
                offer_change("UpdateAvailability", json!({"AvailabilityEndDate": self.date(30)})),
                offer_change("ReleaseOffer", json!({})),
            ]))
            .await;
        self.accept(&made, buyer, quantity).await
    }

    /// Runs the Catalog change set `changes` (JSON in the API's shape) with the seller's role
    /// and lets the emulator finish it: the ids of the entities it made or changed.
    pub async fn apply(&self, changes: Value) -> Vec<String> {
        use aws_sdk_marketplacecatalog::types::{Change, Entity};
        let changes: Vec<Change> = changes
            .as_array()
            .expect("a list of changes")
            .iter()
            .map(|c| {
                let mut entity =
                    Entity::builder().r#type(c["Entity"]["Type"].as_str().expect("type"));
                if let Some(id) = c["Entity"]["Identifier"].as_str() {
                    entity = entity.identifier(id);
                }
                let mut change = Change::builder()
                    .change_type(c["ChangeType"].as_str().expect("change type"))
                    .entity(entity.build().expect("entity"))
                    .details(c["DetailsDocument"].to_string());
                if let Some(name) = c["ChangeName"].as_str() {
                    change = change.change_name(name);
                }
                change.build().expect("change")
            })
            .collect();
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
        self.advance(json!({"seconds": 60})).await;
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
        assert_eq!(
            described.status().map(|s| s.as_str()),
            Some("SUCCEEDED"),
            "{described:?}"
        );
        described
            .change_set()
            .iter()
            .filter_map(|c| c.entity().and_then(|e| e.identifier()))
            .map(str::to_owned)
            .collect()
    }

    /// `buyer` accepts `quantity` seats of the offer among the entities `made`: the agreement.
    pub async fn accept(&self, made: &[String], buyer: &str, quantity: i64) -> Value {
        let offer_id = made
            .iter()
            .find(|id| id.starts_with("offer-"))
            .unwrap_or_else(|| panic!("no offer made: {made:?}"));
        self.emu
            .control(
                "POST",
                &format!("/_souk/offers/{offer_id}/accept"),
                json!({"buyer_account_id": buyer,
                       "quantities": [{"dimension_key": "seats", "quantity": quantity}]}),
            )
            .await
    }

    /// The emulator's date `days` from now, `YYYY-MM-DD`.
    pub fn date(&self, days: i64) -> String {
        (self.now() + time::Duration::days(days)).date().to_string()
    }

    /// Advances the emulator's clock `by` (`{"seconds": n}`, `{"hours": n}`).
    pub async fn advance(&self, by: Value) {
        self.emu.control("POST", "/_souk/clock/advance", by).await;
    }

    /// Has the emulator pay out what is due (its answer: the payouts made).
    pub async fn disburse(&self) -> Value {
        self.emu
            .control("POST", "/_souk/feeds/disbursements", Value::Null)
            .await
    }

    /// Has the emulator write its feeds to the bucket.
    pub async fn generate(&self) {
        self.emu
            .control("POST", "/_souk/feeds/generate", Value::Null)
            .await;
    }

    /// [`Harness::generate`], then IngestDataFeeds with the FULL key, which must succeed: what
    /// was read.
    pub async fn generate_and_ingest(&self) -> pb::IngestDataFeedsResponse {
        self.generate().await;
        self.ingest(&self.key, false).await.expect("ingest")
    }

    /// The key of the billing_event file in the emulator's bucket and where it is on disk.
    pub fn billing_event_file(&self) -> (String, std::path::PathBuf) {
        let key = self
            .emu
            .keys
            .iter()
            .find(|k| k.starts_with("billing_event_"))
            .expect("a billing_event file")
            .clone();
        let path = self.emu.file(&key);
        (key, path)
    }

    /// The emulator's billing events (accounts as AWS account ids).
    pub async fn billing_events(&self) -> Vec<Value> {
        self.emu
            .control("GET", "/_souk/feeds/billing-events", Value::Null)
            .await["billing_events"]
            .as_array()
            .expect("billing events")
            .clone()
    }

    /// A GetRevenueReport request of the emulator's integration.
    pub fn revenue_request(&self) -> pb::GetRevenueReportRequest {
        pb::GetRevenueReportRequest {
            integration_id: self.emu.integration_id.to_string(),
            ..Default::default()
        }
    }

    /// GetRevenueReport `request` with `key`: its rows.
    pub async fn revenue_report(
        &self,
        key: &str,
        request: pb::GetRevenueReportRequest,
    ) -> Result<Vec<pb::RevenueRow>, Status> {
        Ok(self
            .client()
            .get_revenue_report(authed(key, request))
            .await?
            .into_inner()
            .rows)
    }

    /// GetDisbursementReport of the emulator's integration with the READ key, `filter`ed.
    pub async fn disbursements(
        &self,
        filter: Option<pb::ReportFilter>,
    ) -> Result<pb::GetDisbursementReportResponse, Status> {
        Ok(self
            .client()
            .get_disbursement_report(authed(
                &self.reader,
                pb::GetDisbursementReportRequest {
                    integration_id: self.emu.integration_id.to_string(),
                    filter,
                    ..Default::default()
                },
            ))
            .await?
            .into_inner())
    }
}

/// The instant `seconds` after the Unix epoch.
pub fn epoch_seconds(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}

/// A change of the offer the change set's `CreateOfferChange` makes (JSON in the API's shape).
pub fn offer_change(change_type: &str, details: Value) -> Value {
    json!({"ChangeType": change_type,
           "Entity": {"Type": "Offer@1.0", "Identifier": "$CreateOfferChange.Entity.Identifier"},
           "DetailsDocument": details})
}

/// How [`ledger`] counts the disbursed column.
#[derive(Clone, Copy)]
pub enum Disbursed {
    /// The payouts (DISBURSEMENT rows) to the seller.
    Payouts,
    /// The part of each payout that settles the kept events (their DISBURSED rows).
    Settled,
}

/// Per currency: gross, listing fee, refunds, net, disbursed, as the seller guide derives them
/// from the emulator's billing `events` that `keep` keeps (docs/reporting.md).
pub fn ledger(
    events: &[Value],
    keep: impl Fn(&Value) -> bool,
    disbursed: Disbursed,
) -> BTreeMap<String, [i64; 5]> {
    let mut sums: BTreeMap<String, [i64; 5]> = BTreeMap::new();
    for e in events.iter().filter(|e| keep(e)) {
        let (from, to) = (e["from_account"].as_str(), e["to_account"].as_str());
        if from != Some(SELLER) && to != Some(SELLER) {
            continue;
        }
        let amount = e["amount_micros"].as_i64().expect("amount");
        let action = e["action"].as_str().unwrap_or_default();
        let kind = e["transaction_type"].as_str().unwrap_or_default();
        let row = sums
            .entry(e["currency"].as_str().unwrap_or_default().to_owned())
            .or_default();
        match (action, kind, disbursed) {
            ("INVOICED", "SELLER_REV_SHARE", _) if to == Some(SELLER) => row[0] += amount,
            ("INVOICED", "AWS_REV_SHARE", _) => row[1] -= amount,
            ("INVOICED", "SELLER_REV_SHARE_REFUND", _) => row[2] -= amount,
            ("DISBURSED", "DISBURSEMENT", Disbursed::Payouts) if to == Some(SELLER) => {
                row[4] += amount;
            }
            ("DISBURSED", "DISBURSEMENT", _) => {}
            ("DISBURSED", _, Disbursed::Settled) => row[4] -= amount,
            _ => {}
        }
        if e["balance_impacting"].as_bool() == Some(true) && action != "DISBURSED" {
            row[3] += amount;
        }
    }
    sums
}

/// Per currency: gross, listing fee, refunds, net, disbursed of the report's `rows`.
pub fn figures(rows: &[pb::RevenueRow]) -> BTreeMap<String, [i64; 5]> {
    rows.iter()
        .map(|r| {
            (
                r.currency_code.clone(),
                [
                    r.gross_amount_micros,
                    r.listing_fee_micros,
                    r.refund_amount_micros,
                    r.net_amount_micros,
                    r.disbursed_amount_micros,
                ],
            )
        })
        .collect()
}

/// Per currency: the disbursed and the outstanding micros of a disbursement report's totals.
pub fn totals(report: &pb::GetDisbursementReportResponse) -> BTreeMap<String, (i64, i64)> {
    report
        .totals
        .iter()
        .map(|t| {
            (
                t.currency_code.clone(),
                (t.disbursed_micros, t.outstanding_micros),
            )
        })
        .collect()
}
