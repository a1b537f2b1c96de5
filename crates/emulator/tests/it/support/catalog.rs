//! Shared fixtures for the Catalog and Agreement tests: SDK clients, JSON <-> Smithy document
//! conversion, change-set helpers that drive the emulator clock, seeded products and offers.

#![allow(dead_code)]

use std::collections::HashMap;

use aws_sdk_marketplacecatalog::error::SdkError;
use aws_sdk_marketplacecatalog::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_marketplacecatalog::operation::describe_entity::{
    DescribeEntityError, DescribeEntityOutput,
};
use aws_sdk_marketplacecatalog::operation::list_entities::builders::ListEntitiesFluentBuilder;
use aws_sdk_marketplacecatalog::types::{Change, ChangeStatus, Entity, Intent};
use aws_smithy_types::{Document, Number};
use serde_json::{Value, json};

use crate::support::{self, BUYER, Env, control_ok, creds, no_retries};

pub const CATALOG: &str = "AWSMarketplace";
pub const RESELLER: &str = "444455556666";

/// An emulator with catalog and agreement clients and seeded products.
pub struct Cat {
    pub env: Env,
    pub catalog: aws_sdk_marketplacecatalog::Client,
    pub agreement: aws_sdk_marketplaceagreement::Client,
    /// A SaaS product from the market (dimensions users, gb metered; seats, tier, sso entitled).
    pub saas: String,
    /// The concurrent-agreement SaaS product from the market.
    pub concurrent: String,
}

impl Cat {
    pub fn url(&self) -> &str {
        &self.env.emu.url
    }

    /// Moves the emulator clock forward.
    pub fn advance(&self, seconds: i64) {
        self.env
            .emu
            .emulator
            .clock()
            .advance(time::Duration::seconds(seconds));
    }

    /// `YYYY-MM-DD`, `days` from the emulator's today.
    pub fn date(&self, days: i64) -> String {
        let d = self.env.emu.emulator.clock().now().date() + time::Duration::days(days);
        format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
    }
}

pub fn catalog_client(url: &str) -> aws_sdk_marketplacecatalog::Client {
    catalog_client_with(url, creds("AKIDTEST"))
}

pub fn catalog_client_with(
    url: &str,
    credentials: aws_credential_types::Credentials,
) -> aws_sdk_marketplacecatalog::Client {
    crate::sdk_client!(
        aws_sdk_marketplacecatalog,
        url,
        "us-east-1",
        credentials,
        no_retries()
    )
}

pub fn agreement_client(url: &str) -> aws_sdk_marketplaceagreement::Client {
    agreement_client_with(url, creds("AKIDTEST"))
}

pub fn agreement_client_with(
    url: &str,
    credentials: aws_credential_types::Credentials,
) -> aws_sdk_marketplaceagreement::Client {
    crate::sdk_client!(
        aws_sdk_marketplaceagreement,
        url,
        "us-east-1",
        credentials,
        no_retries()
    )
}

async fn product_id(url: &str, code: &str) -> String {
    let product = control_ok(url, "GET", &format!("/_souk/products/{code}"), Value::Null).await;
    product["product_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub async fn setup() -> Cat {
    let env = support::env().await;
    support::seed(&env.emu.url).await;
    listen(&env.emu.url).await;
    let saas = product_id(&env.emu.url, support::PRODUCT).await;
    let concurrent = product_id(&env.emu.url, support::LICENSED).await;
    assert!(saas.starts_with("prod-"), "product id {saas}");
    let catalog = catalog_client(&env.emu.url);
    let agreement = agreement_client(&env.emu.url);
    Cat {
        env,
        catalog,
        agreement,
        saas,
        concurrent,
    }
}

/// Seeds a catalog-only product.
pub async fn catalog_product(cat: &Cat, body: Value) -> String {
    let p = control_ok(cat.url(), "POST", "/_souk/catalog/products", body).await;
    p["id"].as_str().unwrap_or_default().to_owned()
}

pub fn to_doc(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Document::Number(Number::PosInt(u)),
            (None, Some(i)) => Document::Number(Number::NegInt(i)),
            _ => Document::Number(Number::Float(n.as_f64().unwrap_or_default())),
        },
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(to_doc).collect()),
        Value::Object(map) => Document::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), to_doc(v)))
                .collect::<HashMap<_, _>>(),
        ),
    }
}

pub fn from_doc(doc: &Document) -> Value {
    match doc {
        Document::Null => Value::Null,
        Document::Bool(b) => json!(b),
        Document::Number(Number::PosInt(u)) => json!(u),
        Document::Number(Number::NegInt(i)) => json!(i),
        Document::Number(Number::Float(f)) => json!(f),
        Document::String(s) => json!(s),
        Document::Array(items) => Value::Array(items.iter().map(from_doc).collect()),
        Document::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), from_doc(v))).collect())
        }
    }
}

/// SDK changes from the JSON form used in AWS samples.
pub fn changes(list: &Value) -> Vec<Change> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let entity = &c["Entity"];
            let mut e = Entity::builder().r#type(entity["Type"].as_str().unwrap_or_default());
            if let Some(id) = entity["Identifier"].as_str() {
                e = e.identifier(id);
            }
            let mut b = Change::builder()
                .change_type(c["ChangeType"].as_str().unwrap_or_default())
                .entity(e.build().unwrap_or_else(|err| panic!("entity: {err}")));
            if let Some(n) = c["ChangeName"].as_str() {
                b = b.change_name(n);
            }
            if let Some(d) = c["Details"].as_str() {
                b = b.details(d);
            } else {
                b = b.details_document(to_doc(&c["DetailsDocument"]));
            }
            b.build().unwrap_or_else(|err| panic!("change: {err}"))
        })
        .collect()
}

/// Starts a change set (APPLY) and returns its id.
pub async fn start(cat: &Cat, list: Value) -> String {
    start_with(cat, list, Intent::Apply).await
}

pub async fn start_with(cat: &Cat, list: Value, intent: Intent) -> String {
    let out = cat
        .catalog
        .start_change_set()
        .catalog(CATALOG)
        .set_change_set(Some(changes(&list)))
        .intent(intent)
        .send()
        .await
        .unwrap_or_else(|err| panic!("StartChangeSet: {err:?}"));
    out.change_set_id().unwrap_or_default().to_owned()
}

pub async fn describe(cat: &Cat, id: &str) -> DescribeChangeSetOutput {
    cat.catalog
        .describe_change_set()
        .catalog(CATALOG)
        .change_set_id(id)
        .send()
        .await
        .unwrap_or_else(|err| panic!("DescribeChangeSet: {err:?}"))
}

/// Advances the clock past processing and returns the final description.
pub async fn finish(cat: &Cat, id: &str) -> DescribeChangeSetOutput {
    cat.advance(10);
    describe(cat, id).await
}

/// Runs a change set to completion, asserting it succeeded; returns the description.
pub async fn apply_ok(cat: &Cat, list: Value) -> DescribeChangeSetOutput {
    let id = start(cat, list).await;
    let out = finish(cat, &id).await;
    assert_eq!(
        out.status(),
        Some(&ChangeStatus::Succeeded),
        "change set failed: {:?}",
        error_codes(&out)
    );
    out
}

/// Every (change type, error code) of a described change set.
pub fn error_codes(
    out: &aws_sdk_marketplacecatalog::operation::describe_change_set::DescribeChangeSetOutput,
) -> Vec<(String, String)> {
    out.change_set()
        .iter()
        .flat_map(|c| {
            c.error_detail_list()
                .iter()
                .map(|e| {
                    (
                        c.change_type().unwrap_or_default().to_owned(),
                        e.error_code().unwrap_or_default().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The entity id a create change produced.
pub fn created_id(
    out: &aws_sdk_marketplacecatalog::operation::describe_change_set::DescribeChangeSetOutput,
) -> String {
    out.change_set()
        .first()
        .and_then(|c| c.entity())
        .and_then(|e| e.identifier())
        .unwrap_or_default()
        .to_owned()
}

/// DescribeEntity's DetailsDocument as JSON.
/// Sends DescribeEntity for `id` in the `AWSMarketplace` catalog.
pub async fn describe_entity(
    cat: &Cat,
    id: &str,
) -> Result<DescribeEntityOutput, SdkError<DescribeEntityError>> {
    cat.catalog
        .describe_entity()
        .catalog(CATALOG)
        .entity_id(id)
        .send()
        .await
}

pub async fn entity(cat: &Cat, id: &str) -> Value {
    let out = describe_entity(cat, id)
        .await
        .unwrap_or_else(|err| panic!("DescribeEntity {id}: {err:?}"));
    out.details_document().map(from_doc).unwrap_or(Value::Null)
}

pub const REF: &str = "$CreateOfferChange.Entity.Identifier";

pub fn offer_change(change_type: &str, details: Value) -> Value {
    json!({ "ChangeType": change_type, "Entity": { "Type": "Offer@1.0", "Identifier": REF }, "DetailsDocument": details })
}

pub fn create_offer(product: &str) -> Value {
    json!({ "ChangeType": "CreateOffer", "Entity": { "Type": "Offer@1.0" }, "ChangeName": "CreateOfferChange",
            "DetailsDocument": { "ProductId": product } })
}

pub fn info(name: &str) -> Value {
    offer_change(
        "UpdateInformation",
        json!({ "Name": name, "Description": "Emulated offer" }),
    )
}

pub fn targeting(buyers: &[&str]) -> Value {
    offer_change(
        "UpdateTargeting",
        json!({ "PositiveTargeting": { "BuyerAccounts": buyers } }),
    )
}

pub fn legal() -> Value {
    offer_change(
        "UpdateLegalTerms",
        json!({ "Terms": [{ "Type": "LegalTerm", "Documents": [{ "Type": "CustomEula", "Url": "https://s3.amazonaws.com/sample-bucket/custom-eula.pdf" }] }] }),
    )
}

pub fn availability(date: &str) -> Value {
    offer_change("UpdateAvailability", json!({ "AvailabilityEndDate": date }))
}

pub fn release() -> Value {
    offer_change("ReleaseOffer", json!({}))
}

/// The example private offer of docs/aws/catalog.md: FixedUpfront $0 + flexible payment schedule.
/// A private fixed-payment offer on the SaaS product expiring in 30 days that charges 200.00 in
/// 10 days and 170.00 in 60.
pub fn two_charge_offer(cat: &Cat) -> Value {
    fps_offer(
        &cat.saas,
        &cat.date(30),
        &[(&cat.date(10), "200.00"), (&cat.date(60), "170.00")],
    )
}

pub fn fps_offer(product: &str, expiry: &str, charges: &[(&str, &str)]) -> Value {
    let schedule: Vec<Value> = charges
        .iter()
        .map(|(d, a)| json!({ "ChargeDate": d, "ChargeAmount": a }))
        .collect();
    json!([
        create_offer(product),
        info("Test private offer with FPS"),
        targeting(&[BUYER, "222222222222"]),
        offer_change(
            "UpdatePricingTerms",
            json!({ "PricingModel": "Contract", "Terms": [
            { "Type": "FixedUpfrontPricingTerm", "CurrencyCode": "USD", "Price": "0.0",
              "Grants": [{ "DimensionKey": "seats", "MaxQuantity": 1 }, { "DimensionKey": "sso", "MaxQuantity": 1 }] }] })
        ),
        offer_change(
            "UpdateValidityTerms",
            json!({ "Terms": [{ "Type": "ValidityTerm", "AgreementDuration": "P12M" }] })
        ),
        offer_change(
            "UpdatePaymentScheduleTerms",
            json!({ "Terms": [{ "Type": "PaymentScheduleTerm", "CurrencyCode": "USD", "Schedule": schedule }] })
        ),
        legal(),
        availability(expiry),
        release(),
    ])
}

/// A private contract offer with configurable upfront pricing (optionally plus usage).
pub fn contract_offer(product: &str, expiry: &str, with_usage: bool) -> Value {
    let mut terms = vec![
        json!({ "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": [
        { "Selector": { "Type": "Duration", "Value": "P12M" },
          "Constraints": { "MultipleDimensionSelection": "Allowed", "QuantityConfiguration": "Allowed" },
          "RateCard": [{ "DimensionKey": "seats", "Price": "100.00" }, { "DimensionKey": "tier", "Price": "250.00" }] }] }),
    ];
    if with_usage {
        terms.push(json!({ "Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
            "RateCards": [{ "RateCard": [{ "DimensionKey": "users", "Price": "0.015" }, { "DimensionKey": "gb", "Price": "0.10" }] }] }));
    }
    json!([
        create_offer(product),
        info("Contract offer"),
        targeting(&[BUYER]),
        offer_change(
            "UpdatePricingTerms",
            json!({ "PricingModel": "Contract", "Terms": terms })
        ),
        offer_change(
            "UpdateSupportTerms",
            json!({ "Terms": [{ "Type": "SupportTerm", "RefundPolicy": "Full refund within 30 days." }] })
        ),
        offer_change(
            "UpdateRenewalTerms",
            json!({ "Terms": [{ "Type": "RenewalTerm" }] })
        ),
        legal(),
        availability(expiry),
        release(),
    ])
}

/// Creates a released offer and returns its id.
pub async fn released_offer(cat: &Cat, list: Value) -> String {
    let out = apply_ok(cat, list).await;
    created_id(&out)
}

/// Accepts an offer as `buyer` through the control API and returns the agreement.
pub async fn accept(cat: &Cat, offer: &str, body: Value) -> Value {
    control_ok(
        cat.url(),
        "POST",
        &format!("/_souk/offers/{offer}/accept"),
        body,
    )
    .await
}

/// Asks the control API to accept `offer` with `body` and returns the HTTP status.
pub async fn accept_status(cat: &Cat, offer: &str, body: Value) -> u16 {
    let (status, _) = support::control(
        cat.url(),
        "POST",
        &format!("/_souk/offers/{offer}/accept"),
        body,
    )
    .await;
    status
}

/// Subscribes an SQS queue to every EventBridge event so tests can read what was emitted.
async fn listen(url: &str) {
    let queue = support::raw(
        url,
        "POST",
        "/",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "AmazonSQS.CreateQueue"),
        ],
        br#"{"QueueName":"catalog-events"}"#,
    )
    .await
    .json();
    let queue_url = queue["QueueUrl"]
        .as_str()
        .unwrap_or("catalog-events")
        .to_owned();
    control_ok(
        url,
        "POST",
        "/_souk/notifications/subscriptions",
        json!({ "type": "eventbridge", "protocol": "sqs", "endpoint": queue_url }),
    )
    .await;
}

/// The EventBridge detail-types delivered so far (after a flush), in order.
/// A ListEntities request for the offers of the `AWSMarketplace` catalog.
pub fn list_offers(cat: &Cat) -> ListEntitiesFluentBuilder {
    cat.catalog
        .list_entities()
        .catalog(CATALOG)
        .entity_type("Offer")
}

/// Asserts a change set that creates an offer applied nothing: its first change names no entity
/// and the catalog lists no offer.
pub async fn assert_nothing_applied(cat: &Cat, out: &DescribeChangeSetOutput) {
    assert!(
        out.change_set()[0]
            .entity()
            .and_then(|e| e.identifier())
            .is_none()
    );
    let listed = list_offers(cat).send().await;
    assert!(
        listed
            .unwrap_or_else(|err| panic!("{err:?}"))
            .entity_summary_list()
            .is_empty()
    );
}

/// Asserts an EventBridge event of each of `detail_types` was emitted.
pub async fn assert_events(cat: &Cat, detail_types: &[&str]) {
    let events = events(cat).await;
    for detail_type in detail_types {
        assert!(events.iter().any(|e| e == detail_type), "{events:?}");
    }
}

pub async fn events(cat: &Cat) -> Vec<String> {
    control_ok(cat.url(), "POST", "/_souk/notifications/flush", Value::Null).await;
    let log = control_ok(
        cat.url(),
        "GET",
        "/_souk/notifications/deliveries",
        Value::Null,
    )
    .await;
    log["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| serde_json::from_str::<Value>(d["body"].as_str().unwrap_or_default()).ok())
        .filter_map(|b| b["detail-type"].as_str().map(str::to_owned))
        .collect()
}
