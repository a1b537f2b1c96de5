//! `entitlement.expiring` before a contract entitlement runs out: once per threshold of the
//! integration's `expiry_notice_days`, only the nearest threshold reached (a contract first seen
//! 3 days before its end gets the 7-day notice, not also the 30-day one), never after the end.
//! The service runs on the emulator's clock, so advancing it moves both.

use serde_json::json;
use souk_proto::entitlement as pb;
use souk_proto::events::event::Payload;

use crate::harness::{BUYER, PRODUCT};
use crate::rpc_harness::{Rpc, authed};

const DAY: i64 = 24 * 3600;

/// B's customer of [`PRODUCT`] with `seats = 10` expiring `days` from now (emulator time),
/// and thresholds `[30, 7, 1]`; returns the customer's id and the expiry (epoch seconds).
async fn contract_expiring_in(h: &Rpc, days: i64) -> (String, i64) {
    h.list_product(PRODUCT, &[("users", "metered"), ("seats", "entitled")])
        .await;
    h.client()
        .update_fulfilment_settings(authed(
            &h.b_admin,
            pb::UpdateFulfilmentSettingsRequest {
                integration_id: h.b.id.to_string(),
                expiry_notice_days: vec![30, 7, 1],
                ..Default::default()
            },
        ))
        .await
        .expect("update settings");
    let customer = h.active_customer(BUYER).await;
    let expires = h.emulator_now().await + days * DAY;
    h.set_contract(PRODUCT, BUYER, json!({"seats": 10}), Some(expires))
        .await;
    h.sync(&customer.id).await;
    let read = h
        .client()
        .list_entitlements(authed(
            &h.b_full,
            pb::ListEntitlementsRequest {
                customer_id: customer.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("list entitlements")
        .into_inner()
        .entitlements;
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].expire_time.map(|t| t.seconds), Some(expires));
    (customer.id, expires)
}

/// `(customer, dimension, days, expiry)` of every `entitlement.expiring` of B, oldest first.
async fn notices(h: &Rpc) -> Vec<(String, String, i32, Option<i64>)> {
    h.events_of(&h.b.organization_id, "entitlement.expiring")
        .await
        .into_iter()
        .map(|e| match e.payload {
            Some(Payload::EntitlementExpiring(expiring)) => (
                expiring.customer_id,
                expiring
                    .entitlement
                    .map(|e| e.dimension)
                    .unwrap_or_default(),
                expiring.days,
                expiring.expire_time.map(|t| t.seconds),
            ),
            other => panic!("entitlement.expiring with {other:?}"),
        })
        .collect()
}

async fn send(h: &Rpc) -> usize {
    h.app
        .entitlements()
        .send_expiry_notices()
        .await
        .expect("send expiry notices")
}

async fn advance_days(h: &Rpc, days: u32) {
    h.advance_hours(days * 24).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn each_threshold_is_announced_once_nearest_first_and_never_after_the_end() {
    let h = Rpc::start().await;
    let (customer, expires) = contract_expiring_in(&h, 10).await;
    let notice = |days: i32| (customer.clone(), "seats".to_owned(), days, Some(expires));

    // 10 days left: the 30-day threshold is reached, the 7-day one not yet.
    assert_eq!(send(&h).await, 1);
    assert_eq!(notices(&h).await, [notice(30)]);
    assert_eq!(send(&h).await, 0, "a threshold is announced once");
    assert_eq!(notices(&h).await, [notice(30)]);

    // 6 days left: the 7-day notice, once.
    advance_days(&h, 4).await;
    assert_eq!(send(&h).await, 1);
    assert_eq!(send(&h).await, 0);
    assert_eq!(notices(&h).await, [notice(30), notice(7)]);

    // 1 day left: the 1-day notice, once.
    advance_days(&h, 5).await;
    assert_eq!(send(&h).await, 1);
    assert_eq!(send(&h).await, 0);
    assert_eq!(notices(&h).await, [notice(30), notice(7), notice(1)]);

    // Expired: nothing more.
    advance_days(&h, 2).await;
    assert_eq!(send(&h).await, 0);
    assert_eq!(notices(&h).await.len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contract_first_seen_close_to_its_end_gets_only_the_nearest_notice() {
    let h = Rpc::start().await;
    let (customer, expires) = contract_expiring_in(&h, 3).await;

    assert_eq!(send(&h).await, 1);
    assert_eq!(
        notices(&h).await,
        [(customer, "seats".to_owned(), 7, Some(expires))],
        "the 7-day notice only, not also the 30-day one"
    );
    assert_eq!(send(&h).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_contract_beyond_every_threshold_gets_no_notice_yet() {
    let h = Rpc::start().await;
    contract_expiring_in(&h, 45).await;

    assert_eq!(send(&h).await, 0);
    assert!(notices(&h).await.is_empty());
    advance_days(&h, 16).await;
    assert_eq!(send(&h).await, 1);
    assert_eq!(notices(&h).await[0].2, 30);
}
