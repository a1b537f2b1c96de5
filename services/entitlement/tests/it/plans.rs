//! Plans in the seller's vocabulary: without plans each contract dimension is a feature and an
//! active subscriber may use anything; plans replace that for every customer of the product at
//! once (versioned, published as `entitlement.changed` with cause `plan`, reaching the check path
//! of a running replica); ImportListing proposes plans from the AWS listing; mutations replay.

use serde_json::json;
use souk_proto::entitlement as pb;
use souk_proto::events::event::Payload;
use tonic::Code;

use crate::harness::{BUYER, PRODUCT, eventually};
use crate::rpc_harness::{Rpc, authed, expect_code, feature};

/// `(feature, allowed, limit, plans)` of each of B's customer's features.
async fn features(h: &Rpc, customer_id: &str) -> Vec<(String, bool, Option<i64>, Vec<String>)> {
    h.features(customer_id)
        .await
        .into_iter()
        .map(|f| (f.feature, f.allowed, f.limit, f.plans))
        .collect()
}

fn grant(
    name: &str,
    limit: Option<i64>,
    plans: &[&str],
) -> (String, bool, Option<i64>, Vec<String>) {
    (
        name.to_owned(),
        true,
        limit,
        plans.iter().map(|p| (*p).to_owned()).collect(),
    )
}

/// Waits until the running replica answers `feature` (with `quantity`) for `customer` with
/// `reason`; returns the answer.
async fn answer(
    h: &Rpc,
    customer: &str,
    feature: &str,
    quantity: Option<i64>,
    reason: pb::CheckReason,
) -> pb::CheckEntitlementResponse {
    eventually(&format!("{feature} answered {reason:?}"), || async {
        let answer = h.check(&h.b_full, customer, feature, quantity).await;
        (answer.reason == reason as i32).then_some(answer)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn plans_replace_the_contract_dimensions_for_every_customer_and_reach_the_check_path() {
    let h = Rpc::start().await;
    let mut c = h.client();
    let background = h.app.start();
    h.list_product(PRODUCT, &[("users", "metered"), ("seats", "entitled")])
        .await;
    let customer = h.active_customer(BUYER).await;
    let id = customer.id.as_str();
    h.set_contract(PRODUCT, BUYER, json!({"seats": 10}), None)
        .await;
    let synced = h.sync(id).await;
    assert_eq!((synced.customers_synced, synced.customers_changed), (1, 1));

    // No plan: the contract dimension is a feature with its quantity as the limit, and an
    // active subscriber may use anything else.
    assert_eq!(features(&h, id).await, [grant("seats", Some(10), &[])]);
    let seats = answer(&h, id, "seats", Some(10), pb::CheckReason::Entitled).await;
    assert!(seats.allowed);
    assert_eq!(seats.limit, Some(10));
    assert_eq!(seats.source, pb::CheckSource::Live as i32);
    assert_eq!(seats.customer_id, customer.id);
    let over = h.check(&h.b_full, id, "seats", Some(11)).await;
    assert!(!over.allowed);
    assert_eq!(over.reason, pb::CheckReason::LimitExceeded as i32);
    let anything = h.check(&h.b_full, id, "reports", None).await;
    assert!(anything.allowed);
    assert_eq!(anything.reason, pb::CheckReason::Subscribed as i32);
    assert_eq!(anything.limit, None);
    let plan_events = || async {
        h.events_of(&h.b.organization_id, "entitlement.changed")
            .await
            .into_iter()
            .filter_map(|e| match e.payload {
                Some(Payload::EntitlementChanged(change)) if change.cause == "plan" => Some(change),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    assert!(plan_events().await.is_empty());

    // A plan: only what it grants, the contract quantity as the limit of `users`.
    let plan = c
        .create_plan(authed(
            &h.b_full,
            pb::CreatePlanRequest {
                integration_id: h.b.id.to_string(),
                product_code: PRODUCT.into(),
                key: "basic".into(),
                name: "Basic".into(),
                dimensions: vec!["seats".into()],
                features: vec![
                    feature("users", pb::FeatureKind::DimensionQuantity, 0, "seats"),
                    feature("reports", pb::FeatureKind::Boolean, 0, ""),
                ],
                ..Default::default()
            },
        ))
        .await
        .expect("create plan")
        .into_inner()
        .plan
        .expect("plan");
    assert_eq!(plan.version, 1);
    assert_eq!(
        features(&h, id).await,
        [
            grant("reports", None, &["basic"]),
            grant("users", Some(10), &["basic"]),
        ]
    );
    answer(&h, id, "sso", None, pb::CheckReason::NoEntitlement).await;
    let seats = h.check(&h.b_full, id, "seats", None).await;
    assert!(!seats.allowed, "a dimension is no feature once plans exist");
    assert_eq!(seats.reason, pb::CheckReason::NoEntitlement as i32);
    let users = h.check(&h.b_full, id, "users", Some(10)).await;
    assert!(users.allowed);
    assert_eq!(users.limit, Some(10));
    assert_eq!(users.reason, pb::CheckReason::Entitled as i32);
    assert_eq!(plan_events().await.len(), 1);

    // A new version: the customer's features change at once, and the change is published.
    let updated = c
        .update_plan(authed(
            &h.b_full,
            pb::UpdatePlanRequest {
                plan_id: plan.id.clone(),
                features: vec![
                    feature("users", pb::FeatureKind::Limit, 5, ""),
                    feature("sso", pb::FeatureKind::Boolean, 0, ""),
                ],
                replace_features: true,
                expected_version: 1,
                ..Default::default()
            },
        ))
        .await
        .expect("update plan")
        .into_inner();
    assert_eq!(updated.customers_changed, 1);
    let updated_plan = updated.plan.expect("plan");
    assert_eq!(updated_plan.version, 2);
    assert_eq!(updated_plan.create_time, plan.create_time);
    assert_eq!(
        features(&h, id).await,
        [
            grant("sso", None, &["basic"]),
            grant("users", Some(5), &["basic"]),
        ]
    );
    let changes = plan_events().await;
    assert_eq!(changes.len(), 2);
    let change = &changes[1];
    assert_eq!(change.customer_id, customer.id);
    assert_eq!(change.product_code, PRODUCT);
    let names = |features: &[pb::CustomerFeature]| {
        features
            .iter()
            .map(|f| (f.feature.clone(), f.limit))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&change.previous_features),
        [("reports".to_owned(), None), ("users".to_owned(), Some(10))]
    );
    assert_eq!(
        names(&change.features),
        [("sso".to_owned(), None), ("users".to_owned(), Some(5))]
    );
    assert_eq!(change.entitlements, change.previous_entitlements);
    let over = answer(&h, id, "users", Some(6), pb::CheckReason::LimitExceeded).await;
    assert_eq!(over.limit, Some(5));
    assert_eq!(
        h.check(&h.b_full, id, "reports", None).await.reason,
        pb::CheckReason::NoEntitlement as i32
    );
    assert!(h.check(&h.b_full, id, "sso", None).await.allowed);

    // Written against version 1: refused, nothing changes.
    let stale = expect_code(
        c.update_plan(authed(
            &h.b_full,
            pb::UpdatePlanRequest {
                plan_id: plan.id.clone(),
                name: "Renamed".into(),
                expected_version: 1,
                ..Default::default()
            },
        ))
        .await,
        Code::Aborted,
    );
    assert_eq!(
        stale.message(),
        format!("plan {} is at version 2, not 1", plan.id)
    );
    let now = c
        .get_plan(authed(
            &h.b_full,
            pb::GetPlanRequest {
                plan_id: plan.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(now, updated_plan);
    assert_eq!(plan_events().await.len(), 2);

    // Without its only plan the product is back to its contract dimensions.
    let deleted = c
        .delete_plan(authed(
            &h.b_full,
            pb::DeletePlanRequest {
                plan_id: plan.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("delete plan")
        .into_inner();
    assert_eq!(deleted.customers_changed, 1);
    assert_eq!(features(&h, id).await, [grant("seats", Some(10), &[])]);
    answer(&h, id, "reports", None, pb::CheckReason::Subscribed).await;
    assert_eq!(plan_events().await.len(), 3);

    background.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn import_listing_proposes_one_plan_per_dimension_and_only_new_ones_later() {
    let h = Rpc::start().await;
    let mut c = h.client();
    let listed = h
        .list_product(PRODUCT, &[("seats", "entitled"), ("users", "metered")])
        .await;
    let customer = h.active_customer(BUYER).await;
    h.set_contract(PRODUCT, BUYER, json!({"seats": 10}), None)
        .await;
    h.sync(&customer.id).await;
    let import = |key: &str| {
        authed(
            &h.b_full,
            pb::ImportListingRequest {
                integration_id: h.b.id.to_string(),
                idempotency_key: key.into(),
            },
        )
    };

    // The integration knows no Catalog id for its product: found among the seller's products
    // (the emulator lists three; the integration manages one).
    let first = c
        .import_listing(import("import-1"))
        .await
        .expect("import listing")
        .into_inner();
    assert_eq!(
        first.products,
        [pb::ListingProduct {
            product_code: PRODUCT.into(),
            product_id: listed["product_id"].as_str().unwrap().into(),
            title: PRODUCT.into(),
            dimensions: vec![
                pb::ListingDimension {
                    key: "seats".into(),
                    name: "seats".into(),
                    types: vec!["Entitled".into()],
                },
                pb::ListingDimension {
                    key: "users".into(),
                    name: "users".into(),
                    types: vec!["ExternallyMetered".into()],
                },
            ],
        }]
    );
    let proposed = |plans: &[pb::Plan]| {
        plans
            .iter()
            .map(|p| {
                (
                    p.key.clone(),
                    p.product_code.clone(),
                    p.dimensions.clone(),
                    p.features.clone(),
                    p.version,
                )
            })
            .collect::<Vec<_>>()
    };
    let one = |key: &str, grant: pb::PlanFeature| {
        (
            key.to_owned(),
            PRODUCT.to_owned(),
            vec![key.to_owned()],
            vec![grant],
            1,
        )
    };
    assert_eq!(
        proposed(&first.plans_created),
        [
            // An entitled dimension grants its contract quantity, a metered one a boolean.
            one(
                "seats",
                feature("seats", pb::FeatureKind::DimensionQuantity, 0, "seats")
            ),
            one("users", feature("users", pb::FeatureKind::Boolean, 0, "")),
        ]
    );
    // The customer holds seats, not users: on the seats plan only.
    assert_eq!(
        features(&h, &customer.id).await,
        [grant("seats", Some(10), &["seats"])]
    );

    // The same request again replays; a new run with nothing new proposes nothing.
    let replayed = c
        .import_listing(import("import-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replayed, first);
    let again = c
        .import_listing(import("import-2"))
        .await
        .unwrap()
        .into_inner();
    assert!(again.plans_created.is_empty(), "{again:?}");

    // AWS adds a dimension: only its plan is created.
    h.list_product(
        PRODUCT,
        &[
            ("seats", "entitled"),
            ("users", "metered"),
            ("sso", "entitled"),
        ],
    )
    .await;
    let later = c.import_listing(import("")).await.unwrap().into_inner();
    assert_eq!(
        proposed(&later.plans_created),
        [one(
            "sso",
            feature("sso", pb::FeatureKind::DimensionQuantity, 0, "sso")
        )]
    );
    let plans = c
        .list_plans(authed(&h.b_full, pb::ListPlansRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .plans;
    let mut keys: Vec<&str> = plans.iter().map(|p| p.key.as_str()).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["seats", "sso", "users"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_listing_reads_a_product_by_the_catalog_id_the_integration_knows() {
    let h = Rpc::start().await;
    let mut c = h.client();
    let listed = h.list_product(PRODUCT, &[("seats", "entitled")]).await;
    let product_id = listed["product_id"].as_str().unwrap().to_owned();
    // The role may describe products but not list them: only a known id works.
    h.control_post(
        "/_souk/sts/roles/deny",
        json!({"role_arn": h.b.role_arn, "actions": ["aws-marketplace:ListEntities"]}),
    )
    .await;
    let import = || {
        authed(
            &h.b_full,
            pb::ImportListingRequest {
                integration_id: h.b.id.to_string(),
                ..Default::default()
            },
        )
    };
    let refused = expect_code(c.import_listing(import()).await, Code::FailedPrecondition);
    assert!(
        refused
            .message()
            .starts_with("AWS refused access: AccessDeniedException"),
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains("ListEntities"),
        "{}",
        refused.message()
    );

    h.directory.set_product_id(&h.b.id, PRODUCT, &product_id);
    let imported = c
        .import_listing(import())
        .await
        .expect("import by the known id")
        .into_inner();
    assert_eq!(imported.products.len(), 1);
    assert_eq!(imported.products[0].product_code, PRODUCT);
    assert_eq!(imported.products[0].product_id, product_id);
    let created: Vec<(&str, &[String])> = imported
        .plans_created
        .iter()
        .map(|p| (p.key.as_str(), p.dimensions.as_slice()))
        .collect();
    assert_eq!(created, [("seats", &["seats".to_owned()][..])]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_create_plan_returns_the_first_plan_and_creates_no_other() {
    let h = Rpc::start().await;
    let mut c = h.client();
    let request = pb::CreatePlanRequest {
        integration_id: h.b.id.to_string(),
        product_code: PRODUCT.into(),
        key: "pro".into(),
        features: vec![feature("reports", pb::FeatureKind::Unlimited, 0, "")],
        idempotency_key: "create-pro".into(),
        ..Default::default()
    };
    let first = c
        .create_plan(authed(&h.b_full, request.clone()))
        .await
        .expect("create plan")
        .into_inner();
    let plan = first.plan.clone().expect("plan");

    // The plan changes; a retry still gets the first answer, and no second plan.
    c.update_plan(authed(
        &h.b_full,
        pb::UpdatePlanRequest {
            plan_id: plan.id.clone(),
            name: "Pro".into(),
            ..Default::default()
        },
    ))
    .await
    .expect("update plan");
    let retried = c
        .create_plan(authed(&h.b_full, request.clone()))
        .await
        .expect("a retry succeeds")
        .into_inner();
    assert_eq!(retried, first);
    let plans = c
        .list_plans(authed(&h.b_full, pb::ListPlansRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .plans;
    assert_eq!(plans.len(), 1);
    assert_eq!(plans[0].id, plan.id);
    assert_eq!(plans[0].version, 2);

    // The same key for another request is refused.
    let reused = expect_code(
        c.create_plan(authed(
            &h.b_full,
            pb::CreatePlanRequest {
                key: "enterprise".into(),
                ..request.clone()
            },
        ))
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(
        reused.message(),
        "idempotency key reused with a different request"
    );
    // Without a key, the same plan key is taken.
    let taken = expect_code(
        c.create_plan(authed(
            &h.b_full,
            pb::CreatePlanRequest {
                idempotency_key: String::new(),
                ..request
            },
        ))
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(
        taken.message(),
        format!("a plan with key \"pro\" already exists for product {PRODUCT}")
    );
}
