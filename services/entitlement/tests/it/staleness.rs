//! How current a check answer is: `LIVE` while the replica's snapshot was confirmed within
//! `fresh_within`, then `STALE` (the last known state) up to `max_staleness`, then `DEFAULT`
//! (refused, unless the feature is listed to fail open). These tests wait for real time to pass:
//! they test time-based behaviour, with margins of a hundred milliseconds or more.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use souk_core::{Id, SystemClock};
use souk_entitlement::EntitlementConfig;
use souk_entitlement::domain::check::{CheckReason, CustomerView};
use souk_entitlement::domain::model::{Feature, SubscriptionState};
use souk_entitlement::snapshot::{Snapshot, Source, Staleness};
use souk_proto::entitlement as pb;

use crate::harness::{BUYER, PRODUCT, eventually};
use crate::rpc_harness::Rpc;

const FRESH_WITHIN: Duration = Duration::from_millis(100);
const MAX_STALENESS: Duration = Duration::from_millis(400);

fn seats_view(organization_id: &Id, customer_id: &Id) -> CustomerView {
    let seats = Feature {
        name: "seats".into(),
        allowed: true,
        limit: Some(10),
        unlimited: false,
        expires_at: None,
        plans: vec!["basic".into()],
    };
    CustomerView {
        customer_id: customer_id.clone(),
        organization_id: organization_id.clone(),
        aws_account_id: Some(BUYER.into()),
        external_id: Some("acct-42".into()),
        state: Some(SubscriptionState::Active),
        features: HashMap::from([("seats".to_owned(), seats)]),
        has_plans: true,
        subscription: None,
    }
}

/// Sleeps until `at + after`.
async fn sleep_until(at: Instant, after: Duration) {
    tokio::time::sleep((at + after).saturating_duration_since(Instant::now())).await;
}

#[tokio::test]
async fn a_snapshot_answers_live_then_stale_then_from_the_defaults() {
    let org = Id::generate("org");
    let customer = Id::generate("cus");
    let snapshot = Snapshot::new(
        Staleness {
            fresh_within: FRESH_WITHIN,
            max_staleness: MAX_STALENESS,
            fail_open_features: vec!["search".into()],
        },
        Arc::new(SystemClock),
    );

    // Never loaded: the defaults answer, whoever is asked about.
    let never = snapshot.check(&org, customer.as_str(), "seats", None);
    assert_eq!(never.source, Source::Default);
    assert!(!never.outcome.allowed);
    assert_eq!(never.outcome.reason, CheckReason::StaleDefault);

    // Just read: LIVE, by customer id, AWS account and linked id alike.
    let read_at = Instant::now();
    snapshot.apply(vec![seats_view(&org, &customer)], read_at);
    for by in [customer.as_str(), BUYER, "acct-42"] {
        let live = snapshot.check(&org, by, "seats", Some(10));
        assert_eq!(live.source, Source::Live, "{by}");
        assert!(live.outcome.allowed);
        assert_eq!(live.outcome.reason, CheckReason::Entitled);
        assert_eq!(live.outcome.limit, Some(10));
        assert_eq!(live.outcome.customer_id.as_ref(), Some(&customer));
    }
    let live = snapshot.check(&org, customer.as_str(), "seats", Some(10));

    // Older than fresh_within: the same answer from the last known state, marked STALE.
    sleep_until(read_at, FRESH_WITHIN + Duration::from_millis(100)).await;
    let stale = snapshot.check(&org, customer.as_str(), "seats", Some(10));
    assert_eq!(stale.source, Source::Stale);
    assert_eq!(stale.outcome, live.outcome);
    let over = snapshot.check(&org, customer.as_str(), "seats", Some(11));
    assert_eq!(
        (over.source, over.outcome.reason),
        (Source::Stale, CheckReason::LimitExceeded)
    );

    // Older than max_staleness: fail closed, except for the features listed to fail open.
    sleep_until(read_at, MAX_STALENESS + Duration::from_millis(100)).await;
    let closed = snapshot.check(&org, customer.as_str(), "seats", Some(10));
    assert_eq!(closed.source, Source::Default);
    assert!(!closed.outcome.allowed);
    assert_eq!(closed.outcome.reason, CheckReason::StaleDefault);
    assert_eq!(closed.outcome.limit, None);
    assert_eq!(closed.outcome.customer_id, None);
    let open = snapshot.check(&org, customer.as_str(), "search", None);
    assert_eq!(open.source, Source::Default);
    assert!(open.outcome.allowed);
    assert_eq!(open.outcome.reason, CheckReason::StaleDefault);

    // A new read (even one that changed nothing) makes it LIVE again, views kept.
    snapshot.apply(Vec::new(), Instant::now());
    let again = snapshot.check(&org, customer.as_str(), "seats", Some(10));
    assert_eq!(again.source, Source::Live);
    assert_eq!(again.outcome, live.outcome);
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_go_stale_when_the_store_goes_away_and_then_fail_closed() {
    let h = Rpc::start_with(EntitlementConfig {
        check_fresh_within: Duration::from_millis(300),
        check_max_staleness: Duration::from_millis(1500),
        check_fail_open_features: vec!["search".into()],
        snapshot_poll_interval: Duration::from_millis(50),
        ..EntitlementConfig::default()
    })
    .await;
    h.list_product(PRODUCT, &[("users", "metered"), ("seats", "entitled")])
        .await;
    let customer = h.active_customer(BUYER).await;
    h.set_contract(PRODUCT, BUYER, json!({"seats": 10}), None)
        .await;
    h.sync(&customer.id).await;
    let background = h.app.start();

    let live = eventually("a LIVE answer", || async {
        let answer = h.check(&h.b_full, &customer.id, "seats", Some(10)).await;
        (answer.source == pb::CheckSource::Live as i32).then_some(answer)
    })
    .await;
    assert!(live.allowed);
    assert_eq!(live.reason, pb::CheckReason::Entitled as i32);
    assert_eq!(live.limit, Some(10));

    // The store goes away: the follower cannot confirm the snapshot any more.
    h.app
        .parts()
        .store
        .expect("the service has a store")
        .close()
        .await;
    let stale = eventually("a STALE answer", || async {
        let answer = h.check(&h.b_full, &customer.id, "seats", Some(10)).await;
        (answer.source != pb::CheckSource::Live as i32).then_some(answer)
    })
    .await;
    assert_eq!(
        stale,
        pb::CheckEntitlementResponse {
            source: pb::CheckSource::Stale as i32,
            ..live.clone()
        },
        "the last known state, marked STALE"
    );

    let default = eventually("a DEFAULT answer", || async {
        let answer = h.check(&h.b_full, &customer.id, "seats", Some(10)).await;
        (answer.source != pb::CheckSource::Stale as i32).then_some(answer)
    })
    .await;
    assert_eq!(
        default,
        pb::CheckEntitlementResponse {
            allowed: false,
            source: pb::CheckSource::Default as i32,
            reason: pb::CheckReason::StaleDefault as i32,
            feature: "seats".into(),
            ..Default::default()
        }
    );
    let open = h.check(&h.b_full, &customer.id, "search", None).await;
    assert!(open.allowed);
    assert_eq!(open.source, pb::CheckSource::Default as i32);
    assert_eq!(open.reason, pb::CheckReason::StaleDefault as i32);

    tokio::time::timeout(Duration::from_secs(10), background.shutdown())
        .await
        .expect("the background work stops");
}
