//! One organisation's keys never see or change another's records: every RPC naming organisation
//! B's customer, subscription, agreement, plan or integration answers NOT_FOUND to organisation
//! A (the same answer as for an id that does not exist), lists show A none of B's records,
//! checks do not know B's customers, and B's records are exactly as they were.

use serde_json::json;
use souk_proto::entitlement as pb;
use tonic::Code;

use crate::harness::{BUYER, PRODUCT};
use crate::rpc_harness::{OTHER_BUYER, Rpc, authed, expect_code, feature};

/// Everything organisation B can read of its records.
#[derive(Debug, PartialEq)]
struct Records {
    customer: pb::GetCustomerResponse,
    customers: pb::ListCustomersResponse,
    subscription: pb::GetSubscriptionResponse,
    subscriptions: pb::ListSubscriptionsResponse,
    agreement: pb::GetAgreementResponse,
    agreements: pb::ListAgreementsResponse,
    entitlements: pb::ListEntitlementsResponse,
    features: pb::ListFeaturesResponse,
    plan: pb::GetPlanResponse,
    plans: pb::ListPlansResponse,
    settings: pb::GetFulfilmentSettingsResponse,
}

/// The ids of B's records.
struct Ids {
    customer: String,
    subscription: String,
    agreement: String,
    plan: String,
    integration: String,
}

async fn records(h: &Rpc, key: &str, ids: &Ids) -> Records {
    let mut c = h.client();
    Records {
        customer: c
            .get_customer(authed(
                key,
                pb::GetCustomerRequest {
                    customer_id: ids.customer.clone(),
                },
            ))
            .await
            .expect("get customer")
            .into_inner(),
        customers: c
            .list_customers(authed(key, pb::ListCustomersRequest::default()))
            .await
            .expect("list customers")
            .into_inner(),
        subscription: c
            .get_subscription(authed(
                key,
                pb::GetSubscriptionRequest {
                    subscription_id: ids.subscription.clone(),
                },
            ))
            .await
            .expect("get subscription")
            .into_inner(),
        subscriptions: c
            .list_subscriptions(authed(key, pb::ListSubscriptionsRequest::default()))
            .await
            .expect("list subscriptions")
            .into_inner(),
        agreement: c
            .get_agreement(authed(
                key,
                pb::GetAgreementRequest {
                    agreement_id: ids.agreement.clone(),
                },
            ))
            .await
            .expect("get agreement")
            .into_inner(),
        agreements: c
            .list_agreements(authed(key, pb::ListAgreementsRequest::default()))
            .await
            .expect("list agreements")
            .into_inner(),
        entitlements: c
            .list_entitlements(authed(
                key,
                pb::ListEntitlementsRequest {
                    customer_id: ids.customer.clone(),
                    ..Default::default()
                },
            ))
            .await
            .expect("list entitlements")
            .into_inner(),
        features: c
            .list_features(authed(
                key,
                pb::ListFeaturesRequest {
                    customer_id: ids.customer.clone(),
                },
            ))
            .await
            .expect("list features")
            .into_inner(),
        plan: c
            .get_plan(authed(
                key,
                pb::GetPlanRequest {
                    plan_id: ids.plan.clone(),
                },
            ))
            .await
            .expect("get plan")
            .into_inner(),
        plans: c
            .list_plans(authed(key, pb::ListPlansRequest::default()))
            .await
            .expect("list plans")
            .into_inner(),
        settings: c
            .get_fulfilment_settings(authed(
                key,
                pb::GetFulfilmentSettingsRequest {
                    integration_id: ids.integration.clone(),
                },
            ))
            .await
            .expect("get settings")
            .into_inner(),
    }
}

/// Asserts `result` is NOT_FOUND with `message`.
#[track_caller]
fn not_found<T: std::fmt::Debug>(result: Result<T, tonic::Status>, message: &str) {
    let status = expect_code(result, Code::NotFound);
    assert_eq!(status.message(), message);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_of_one_organisation_cannot_see_or_change_anothers_entitlement_records() {
    let h = Rpc::start().await;
    let mut c = h.client();

    // Organisation B: a customer with a contract and an agreement, a plan, fulfilment settings.
    h.list_product(PRODUCT, &[("users", "metered"), ("seats", "entitled")])
        .await;
    let customer = h.active_customer(BUYER).await;
    h.set_contract(PRODUCT, BUYER, json!({"seats": 10}), None)
        .await;
    assert_eq!(h.sync(&customer.id).await.customers_synced, 1);
    let plan = c
        .create_plan(authed(
            &h.b_full,
            pb::CreatePlanRequest {
                integration_id: h.b.id.to_string(),
                product_code: PRODUCT.into(),
                key: "basic".into(),
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
    c.update_fulfilment_settings(authed(
        &h.b_admin,
        pb::UpdateFulfilmentSettingsRequest {
            integration_id: h.b.id.to_string(),
            signup_url: "https://app.example.com/welcome".into(),
            expiry_notice_days: vec![14],
            ..Default::default()
        },
    ))
    .await
    .expect("update settings");
    let subscription = c
        .list_subscriptions(authed(&h.b_full, pb::ListSubscriptionsRequest::default()))
        .await
        .expect("list subscriptions")
        .into_inner()
        .subscriptions
        .remove(0);
    let agreement = c
        .list_agreements(authed(&h.b_full, pb::ListAgreementsRequest::default()))
        .await
        .expect("list agreements")
        .into_inner()
        .agreements
        .remove(0);
    let ids = Ids {
        customer: customer.id.clone(),
        subscription: subscription.id.clone(),
        agreement: agreement.id.clone(),
        plan: plan.id.clone(),
        integration: h.b.id.to_string(),
    };
    let before = records(&h, &h.b_full, &ids).await;
    assert_eq!(before.customers.customers.len(), 1);
    assert_eq!(before.entitlements.entitlements.len(), 1);
    assert_eq!(
        before
            .features
            .features
            .iter()
            .map(|f| (f.feature.as_str(), f.limit))
            .collect::<Vec<_>>(),
        [("reports", None), ("users", Some(10))]
    );
    assert_eq!(
        before
            .settings
            .settings
            .as_ref()
            .unwrap()
            .expiry_notice_days,
        [14]
    );
    let b_events = h.events(&h.b.organization_id).await.len();
    // A token of a buyer that has not arrived yet, which A's keys must not be able to use.
    let bought = h.buy(PRODUCT, OTHER_BUYER).await;
    let token = bought["registration_token"].as_str().unwrap().to_owned();

    let b_integration = h.b.id.to_string();
    let a_integration = h.a.id.to_string();
    let customer_missing = format!("customer {} not found", customer.id);
    let plan_missing = format!("plan {} not found", plan.id);
    let integration_missing = format!("integration {b_integration} not found");
    for a in [&h.a_full, &h.a_admin] {
        // Reads naming B's records.
        not_found(
            c.get_customer(authed(
                a,
                pb::GetCustomerRequest {
                    customer_id: customer.id.clone(),
                },
            ))
            .await,
            &customer_missing,
        );
        not_found(
            c.get_subscription(authed(
                a,
                pb::GetSubscriptionRequest {
                    subscription_id: subscription.id.clone(),
                },
            ))
            .await,
            &format!("subscription {} not found", subscription.id),
        );
        not_found(
            c.get_agreement(authed(
                a,
                pb::GetAgreementRequest {
                    agreement_id: agreement.id.clone(),
                },
            ))
            .await,
            &format!("agreement {} not found", agreement.id),
        );
        not_found(
            c.list_entitlements(authed(
                a,
                pb::ListEntitlementsRequest {
                    customer_id: customer.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
            &customer_missing,
        );
        not_found(
            c.list_features(authed(
                a,
                pb::ListFeaturesRequest {
                    customer_id: customer.id.clone(),
                },
            ))
            .await,
            &customer_missing,
        );
        not_found(
            c.get_plan(authed(
                a,
                pb::GetPlanRequest {
                    plan_id: plan.id.clone(),
                },
            ))
            .await,
            &plan_missing,
        );
        not_found(
            c.get_fulfilment_settings(authed(
                a,
                pb::GetFulfilmentSettingsRequest {
                    integration_id: b_integration.clone(),
                },
            ))
            .await,
            &integration_missing,
        );

        // Changes naming B's records.
        not_found(
            c.link_customer(authed(
                a,
                pb::LinkCustomerRequest {
                    customer_id: customer.id.clone(),
                    external_id: "acct-42".into(),
                    ..Default::default()
                },
            ))
            .await,
            &customer_missing,
        );
        not_found(
            c.sync_entitlements(authed(
                a,
                pb::SyncEntitlementsRequest {
                    integration_id: b_integration.clone(),
                    ..Default::default()
                },
            ))
            .await,
            &integration_missing,
        );
        // A's own integration does not reach B's customer either.
        not_found(
            c.sync_entitlements(authed(
                a,
                pb::SyncEntitlementsRequest {
                    integration_id: a_integration.clone(),
                    customer_id: customer.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
            &customer_missing,
        );
        not_found(
            c.update_plan(authed(
                a,
                pb::UpdatePlanRequest {
                    plan_id: plan.id.clone(),
                    name: "taken over".into(),
                    ..Default::default()
                },
            ))
            .await,
            &plan_missing,
        );
        not_found(
            c.set_feature(authed(
                a,
                pb::SetFeatureRequest {
                    plan_id: plan.id.clone(),
                    feature: Some(feature("sso", pb::FeatureKind::Boolean, 0, "")),
                    ..Default::default()
                },
            ))
            .await,
            &plan_missing,
        );
        not_found(
            c.remove_feature(authed(
                a,
                pb::RemoveFeatureRequest {
                    plan_id: plan.id.clone(),
                    feature: "reports".into(),
                    ..Default::default()
                },
            ))
            .await,
            &plan_missing,
        );
        not_found(
            c.delete_plan(authed(
                a,
                pb::DeletePlanRequest {
                    plan_id: plan.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
            &plan_missing,
        );
        not_found(
            c.create_plan(authed(
                a,
                pb::CreatePlanRequest {
                    integration_id: b_integration.clone(),
                    product_code: PRODUCT.into(),
                    key: "intruder".into(),
                    features: vec![feature("reports", pb::FeatureKind::Boolean, 0, "")],
                    ..Default::default()
                },
            ))
            .await,
            &integration_missing,
        );
        not_found(
            c.import_listing(authed(
                a,
                pb::ImportListingRequest {
                    integration_id: b_integration.clone(),
                    ..Default::default()
                },
            ))
            .await,
            &integration_missing,
        );
        not_found(
            c.resolve_customer(authed(
                a,
                pb::ResolveCustomerRequest {
                    integration_id: b_integration.clone(),
                    registration_token: token.clone(),
                    ..Default::default()
                },
            ))
            .await,
            &integration_missing,
        );
    }
    // Fulfilment settings hand out secrets: only A's ADMIN key gets as far as looking B's
    // integration up; A's FULL key is refused before.
    let takeover = pb::UpdateFulfilmentSettingsRequest {
        integration_id: b_integration.clone(),
        signup_url: "https://evil.example.com/".into(),
        rotate_handoff_secret: true,
        ..Default::default()
    };
    not_found(
        c.update_fulfilment_settings(authed(&h.a_admin, takeover.clone()))
            .await,
        &integration_missing,
    );
    let denied = expect_code(
        c.update_fulfilment_settings(authed(&h.a_full, takeover))
            .await,
        Code::PermissionDenied,
    );
    assert_eq!(
        denied.message(),
        "this api key lacks admin access (scope admin)"
    );

    for a in [&h.a_full, &h.a_admin] {
        // Lists: none of B's records, unfiltered or filtered by B's integration.
        let customers = c
            .list_customers(authed(a, pb::ListCustomersRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(customers, pb::ListCustomersResponse::default());
        let customers = c
            .list_customers(authed(
                a,
                pb::ListCustomersRequest {
                    integration_id: b_integration.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(customers.customers.is_empty());
        let subscriptions = c
            .list_subscriptions(authed(
                a,
                pb::ListSubscriptionsRequest {
                    integration_id: b_integration.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(subscriptions.subscriptions.is_empty());
        let subscriptions = c
            .list_subscriptions(authed(a, pb::ListSubscriptionsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(subscriptions.subscriptions.is_empty());
        let agreements = c
            .list_agreements(authed(a, pb::ListAgreementsRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(agreements.agreements.is_empty());
        let plans = c
            .list_plans(authed(a, pb::ListPlansRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(plans.plans.is_empty());
        let plans = c
            .list_plans(authed(
                a,
                pb::ListPlansRequest {
                    integration_id: b_integration.clone(),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(plans.plans.is_empty());
    }

    // Checks: B's key finds its customer by id and by AWS account; A's key knows neither.
    h.load_snapshot().await;
    for by in [customer.id.as_str(), BUYER] {
        let own = h.check(&h.b_full, by, "users", Some(10)).await;
        assert!(own.allowed, "{own:?}");
        assert_eq!(own.reason, pb::CheckReason::Entitled as i32);
        assert_eq!(own.customer_id, customer.id);
        let foreign = h.check(&h.a_full, by, "users", Some(10)).await;
        assert_eq!(
            foreign,
            pb::CheckEntitlementResponse {
                allowed: false,
                source: pb::CheckSource::Live as i32,
                reason: pb::CheckReason::UnknownCustomer as i32,
                feature: "users".into(),
                ..Default::default()
            },
            "checking {by} as A"
        );
        let batch = c
            .batch_check_entitlements(authed(
                &h.a_full,
                pb::BatchCheckEntitlementsRequest {
                    customer: by.to_owned(),
                    features: vec!["users".into(), "reports".into()],
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(batch.results.len(), 2);
        for result in &batch.results {
            assert!(!result.allowed);
            assert_eq!(result.reason, pb::CheckReason::UnknownCustomer as i32);
            assert_eq!(result.customer_id, "");
        }
    }

    // B is exactly as it was, and nothing happened in B.
    assert_eq!(records(&h, &h.b_full, &ids).await, before);
    assert_eq!(h.events(&h.b.organization_id).await.len(), b_events);
    assert!(h.events(&h.a.organization_id).await.is_empty());

    // The buyer's browser posting the token to B's fulfilment URL creates the customer in B,
    // never in A; posted to A's URL (A does not sell the product), it creates nothing.
    let form = serde_urlencoded::to_string([("x-amzn-marketplace-token", &token)]).unwrap();
    let form_headers = [("content-type", "application/x-www-form-urlencoded")];
    let refused = h
        .post(
            &format!("/aws/fulfilment/{a_integration}"),
            &form_headers,
            form.clone(),
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let arrived = h
        .post(
            &format!("/aws/fulfilment/{b_integration}"),
            &form_headers,
            form,
        )
        .await;
    assert_eq!(arrived.status, 303, "{}", arrived.body);
    let b_customers = c
        .list_customers(authed(&h.b_full, pb::ListCustomersRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .customers;
    let mut accounts: Vec<&str> = b_customers
        .iter()
        .map(|c| c.aws_account_id.as_str())
        .collect();
    accounts.sort_unstable();
    assert_eq!(accounts, [BUYER, OTHER_BUYER]);
    for a in [&h.a_full, &h.a_admin] {
        let customers = c
            .list_customers(authed(a, pb::ListCustomersRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert!(customers.customers.is_empty(), "{customers:?}");
    }
    assert!(h.events(&h.a.organization_id).await.is_empty());
}
