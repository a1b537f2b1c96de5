//! Time alone moves the world: each clock-driven transition takes effect on the next request of
//! any protocol, with no catalog, agreement or control call in between (the clock is moved
//! directly, as a test's sleep would), and `/_souk/clock/advance` is bounded.

use aws_sdk_marketplacemetering::operation::resolve_customer::ResolveCustomerError;
use aws_sdk_marketplacemetering::types::{UsageRecord, UsageRecordResultStatus};
use aws_smithy_types::DateTime;
use serde_json::{Value, json};
use souk_emulator::catalog::model::ChangeSetStatus;
use souk_emulator::market::SubscriptionStatus;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::service_error;
use crate::support::a_moment_ago;
use crate::support::catalog::*;
use crate::support::{self, BUYER, PRODUCT, control, control_ok};

fn usage(account: &str, at: i64) -> UsageRecord {
    UsageRecord::builder()
        .customer_aws_account_id(account)
        .dimension("users")
        .quantity(1)
        .timestamp(DateTime::from_secs(at))
        .build()
        .unwrap_or_else(|err| panic!("record: {err}"))
}

/// The status of one BatchMeterUsage record for `BUYER` on the SaaS product, stamped a minute ago.
async fn meter_status(cat: &Cat) -> UsageRecordResultStatus {
    let out = cat
        .env
        .metering
        .batch_meter_usage()
        .product_code(PRODUCT)
        .usage_records(usage(BUYER, a_moment_ago(&cat.env, 60)))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let statuses: Vec<_> = out.results().iter().filter_map(|r| r.status()).collect();
    assert_eq!(statuses.len(), 1, "{out:?}");
    statuses[0].clone()
}

async fn entitlement_count(cat: &Cat) -> usize {
    cat.env
        .entitlement
        .get_entitlements()
        .product_code(PRODUCT)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"))
        .entitlements()
        .len()
}

fn epoch(rfc3339: &Value) -> i64 {
    let text = rfc3339.as_str().unwrap_or_default();
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|err| panic!("{text}: {err}"))
        .unix_timestamp()
}

/// A buyer with a 12-month contract (with usage pricing) on the SaaS product; returns the
/// agreement as the control API shows it.
async fn contract(cat: &Cat) -> Value {
    let offer = released_offer(cat, contract_offer(&cat.saas, &cat.date(30), true)).await;
    let agreement = accept(cat, &offer, json!({ "buyer_account_id": BUYER })).await;
    let id = agreement["id"].as_str().unwrap_or_default().to_owned();
    control_ok(
        cat.url(),
        "GET",
        &format!("/_souk/agreements/{id}"),
        Value::Null,
    )
    .await
}

#[tokio::test]
async fn an_agreement_ending_by_time_stops_metering_after_the_final_hour_and_entitlements() {
    let cat = setup().await;
    let agreement = contract(&cat).await;
    assert_eq!(meter_status(&cat).await, UsageRecordResultStatus::Success);
    assert!(entitlement_count(&cat).await > 0);

    // Half an hour after the agreement's end: the final metering hour, nothing else called.
    let end = epoch(&agreement["end_time"]);
    let now = cat.env.emu.emulator.clock().now().unix_timestamp();
    cat.advance(end - now + 1800);
    assert_eq!(meter_status(&cat).await, UsageRecordResultStatus::Success);

    // After the final hour.
    cat.advance(3600);
    assert_eq!(
        meter_status(&cat).await,
        UsageRecordResultStatus::CustomerNotSubscribed
    );
    assert_eq!(entitlement_count(&cat).await, 0);
}

#[tokio::test]
async fn an_agreement_long_past_its_end_is_gone_at_the_first_call() {
    let cat = setup().await;
    let agreement = contract(&cat).await;
    let id = agreement["id"].as_str().unwrap_or_default().to_owned();
    cat.advance(400 * 86_400);
    // The first call after the jump is metering: the agreement expired at its end time, so its
    // final hour is long over.
    assert_eq!(
        meter_status(&cat).await,
        UsageRecordResultStatus::CustomerNotSubscribed
    );
    let world = cat.env.emu.emulator.world();
    let stored = world.agreements.agreements.get(&id).cloned();
    let status = stored.map(|a| a.status.as_str().to_owned());
    assert_eq!(status.as_deref(), Some("EXPIRED"));
}

#[tokio::test]
async fn a_change_set_finishes_by_time_seen_through_any_protocol() {
    let cat = setup().await;
    let id = start(&cat, json!([create_offer(&cat.saas)])).await;
    let status = |cat: &Cat| {
        cat.env
            .emu
            .emulator
            .world()
            .catalog
            .change_sets
            .get(&id)
            .map(|c| c.status)
    };
    assert_eq!(status(&cat), Some(ChangeSetStatus::Preparing));
    cat.advance(60);
    // An entitlement call (rpcv2Cbor) is the first request after the deadline.
    let _ = entitlement_count(&cat).await;
    assert_eq!(status(&cat), Some(ChangeSetStatus::Succeeded));
}

#[tokio::test]
async fn unsubscribe_success_comes_after_the_final_hour() {
    let cat = setup().await;
    support::subscribe(cat.url(), PRODUCT, BUYER).await;
    support::unsubscribe(cat.url(), PRODUCT, BUYER).await;
    let state = |cat: &Cat| {
        cat.env
            .emu
            .emulator
            .world()
            .market
            .subscriptions
            .values()
            .find(|s| s.aws_account_id == BUYER && s.product_code == PRODUCT)
            .map(|s| s.status)
    };
    cat.advance(3599);
    assert_eq!(meter_status(&cat).await, UsageRecordResultStatus::Success);
    assert!(matches!(
        state(&cat),
        Some(SubscriptionStatus::UnsubscribePending { .. })
    ));
    cat.advance(2);
    assert_eq!(
        meter_status(&cat).await,
        UsageRecordResultStatus::CustomerNotSubscribed
    );
    assert!(matches!(
        state(&cat),
        Some(SubscriptionStatus::Unsubscribed { .. })
    ));
}

#[tokio::test]
async fn registration_tokens_expire_by_time() {
    let cat = setup().await;
    let sub = support::subscribe(cat.url(), PRODUCT, BUYER).await;
    let token = sub["registration_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let resolve = || {
        cat.env
            .metering
            .resolve_customer()
            .registration_token(&token)
            .send()
    };
    let out = resolve().await.unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(out.customer_aws_account_id(), Some(BUYER));
    cat.advance(4 * 3600 + 1);
    service_error!(
        resolve().await,
        400,
        ResolveCustomerError::ExpiredTokenException(_)
    );
}

#[tokio::test]
async fn an_installment_is_invoiced_once_its_date_is_reached() {
    let cat = setup().await;
    let offer = released_offer(&cat, two_charge_offer(&cat)).await;
    accept(&cat, &offer, json!({ "buyer_account_id": BUYER })).await;
    let invoiced = |cat: &Cat| {
        let cat_url = cat.url().to_owned();
        async move {
            let events =
                control_ok(&cat_url, "GET", "/_souk/feeds/billing-events", Value::Null).await;
            events["billing_events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["transaction_type"] == "SELLER_REV_SHARE")
                .count()
        }
    };
    assert_eq!(invoiced(&cat).await, 0, "no charge date reached yet");
    cat.advance(11 * 86_400);
    assert_eq!(invoiced(&cat).await, 1, "the 10-day charge");
    cat.advance(50 * 86_400);
    assert_eq!(invoiced(&cat).await, 2, "both charges");
}

#[tokio::test]
async fn clock_advance_is_bounded_and_never_breaks_the_emulator() {
    let cat = setup().await;
    support::subscribe(cat.url(), PRODUCT, BUYER).await;
    let before = control_ok(cat.url(), "GET", "/_souk/clock", Value::Null).await;
    for body in [
        json!({ "hours": 70_000_000 }),
        json!({ "seconds": i64::MAX }),
        json!({ "minutes": -1 }),
    ] {
        let (status, answer) = control(cat.url(), "POST", "/_souk/clock/advance", body).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["Message"].is_string(), "{answer}");
    }
    let after = control_ok(cat.url(), "GET", "/_souk/clock", Value::Null).await;
    assert_eq!(before["offset_seconds"], after["offset_seconds"]);
    control_ok(cat.url(), "GET", "/_souk/health", Value::Null).await;
    assert_eq!(meter_status(&cat).await, UsageRecordResultStatus::Success);
    control_ok(
        cat.url(),
        "POST",
        "/_souk/clock/advance",
        json!({ "hours": 24 * 365 * 99 }),
    )
    .await;
    control_ok(cat.url(), "POST", "/_souk/reset", Value::Null).await;
}
