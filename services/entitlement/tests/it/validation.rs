//! Bad input to every RPC gets INVALID_ARGUMENT naming each bad field and why (the
//! `google.rpc.BadRequest` detail, in the order the service checks), and changes nothing; a key
//! without the scope an RPC needs gets PERMISSION_DENIED naming the scope.

use serde_json::json;
use souk_auth::Scope;
use souk_proto::entitlement as pb;
use tonic::Code;

use crate::harness::{BUYER, PRODUCT};
use crate::rpc_harness::{OTHER_BUYER, Rpc, authed, expect_code, feature, pairs, violations};

const KEY: &str = "must contain only printable ASCII characters without spaces";
const FEATURE: &str = "must be 1 to 128 letters, digits, '_', '-', '.' or ':'";
const DIMENSION: &str = "must be an AWS dimension key (1 to 100 letters, digits, '_', '.', '-')";
const PAGE_TOKEN: &str = "is not a token of this list: send the next_page_token of the previous \
                          page, with the same filters";
const NOT_INT: &str = "must start with \"int_\"";
const NOT_CUS: &str = "must start with \"cus_\"";
const NOT_PLAN: &str = "must start with \"plan_\"";

/// What the organisation can read back, to show bad requests changed nothing.
#[derive(Debug, PartialEq)]
struct State {
    customers: pb::ListCustomersResponse,
    subscriptions: pb::ListSubscriptionsResponse,
    entitlements: pb::ListEntitlementsResponse,
    features: pb::ListFeaturesResponse,
    plans: pb::ListPlansResponse,
    settings: pb::GetFulfilmentSettingsResponse,
    events: usize,
}

async fn state(h: &Rpc, customer_id: &str) -> State {
    let mut c = h.client();
    let k = &h.b_full;
    State {
        customers: c
            .list_customers(authed(k, pb::ListCustomersRequest::default()))
            .await
            .expect("read back")
            .into_inner(),
        subscriptions: c
            .list_subscriptions(authed(k, pb::ListSubscriptionsRequest::default()))
            .await
            .expect("read back")
            .into_inner(),
        entitlements: c
            .list_entitlements(authed(
                k,
                pb::ListEntitlementsRequest {
                    customer_id: customer_id.to_owned(),
                    ..Default::default()
                },
            ))
            .await
            .expect("read back")
            .into_inner(),
        features: c
            .list_features(authed(
                k,
                pb::ListFeaturesRequest {
                    customer_id: customer_id.to_owned(),
                },
            ))
            .await
            .expect("read back")
            .into_inner(),
        plans: c
            .list_plans(authed(k, pb::ListPlansRequest::default()))
            .await
            .expect("read back")
            .into_inner(),
        settings: c
            .get_fulfilment_settings(authed(
                k,
                pb::GetFulfilmentSettingsRequest {
                    integration_id: h.b.id.to_string(),
                },
            ))
            .await
            .expect("read back")
            .into_inner(),
        events: h.events(&h.b.organization_id).await.len(),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_to_every_rpc_names_each_bad_field_and_changes_nothing() {
    let h = Rpc::start().await;
    let mut c = h.client();
    let k = h.b_full.clone();
    let admin = h.b_admin.clone();
    let int = h.b.id.to_string();

    h.list_product(PRODUCT, &[("users", "metered"), ("seats", "entitled")])
        .await;
    let customer = h.active_customer(BUYER).await;
    h.active_customer(OTHER_BUYER).await;
    h.set_contract(PRODUCT, BUYER, json!({"seats": 10}), None)
        .await;
    h.sync(&customer.id).await;
    let plan = c
        .create_plan(authed(
            &k,
            pb::CreatePlanRequest {
                integration_id: int.clone(),
                product_code: PRODUCT.into(),
                key: "basic".into(),
                features: vec![feature("reports", pb::FeatureKind::Boolean, 0, "")],
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    let before = state(&h, &customer.id).await;
    assert_eq!(before.customers.customers.len(), 2);
    assert_eq!(before.plans.plans, std::slice::from_ref(&plan));

    // ResolveCustomer: every field wrong at once; then a token with a space; then one AWS
    // does not know.
    let resolve = |integration_id: &str, token: &str, offer_type: &str, key: &str| {
        authed(
            &k,
            pb::ResolveCustomerRequest {
                integration_id: integration_id.into(),
                registration_token: token.into(),
                offer_type: offer_type.into(),
                idempotency_key: key.into(),
            },
        )
    };
    assert_eq!(
        violations(
            c.resolve_customer(resolve("nope", "", "trial", "has space"))
                .await
        ),
        pairs(&[
            ("integration_id", NOT_INT),
            ("registration_token", "is required"),
            ("offer_type", "must be empty or \"free-trial\""),
            ("idempotency_key", KEY),
        ])
    );
    assert_eq!(
        violations(c.resolve_customer(resolve(&int, "has space", "", "")).await),
        pairs(&[(
            "registration_token",
            "must be at most 4096 characters without spaces"
        )])
    );
    assert_eq!(
        violations(
            c.resolve_customer(resolve(&int, "unknown-token", "", ""))
                .await
        ),
        pairs(&[(
            "registration_token",
            "AWS does not recognise this registration token"
        )])
    );

    // GetCustomer: malformed ids, and the message naming the one bad field.
    let status = expect_code(
        c.get_customer(authed(
            &k,
            pb::GetCustomerRequest {
                customer_id: "nope".into(),
            },
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        status.message(),
        "invalid customer_id: must start with \"cus_\""
    );
    for (raw, reason) in [
        ("nope", NOT_CUS),
        ("", "must not be empty"),
        (
            "cus_x",
            "must be \"cus_\" followed by 32 lowercase hex digits",
        ),
    ] {
        assert_eq!(
            violations(
                c.get_customer(authed(
                    &k,
                    pb::GetCustomerRequest {
                        customer_id: raw.into(),
                    },
                ))
                .await
            ),
            pairs(&[("customer_id", reason)]),
            "customer_id {raw:?}"
        );
    }

    // ListCustomers: filters, page size, page token.
    assert_eq!(
        violations(
            c.list_customers(authed(
                &k,
                pb::ListCustomersRequest {
                    integration_id: "nope".into(),
                    aws_account_id: "123".into(),
                    state: 99,
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[
            ("integration_id", NOT_INT),
            ("state", "99 is not a SubscriptionState"),
            ("aws_account_id", "must be a 12-digit AWS account id"),
        ])
    );
    for (size, reason) in [
        (-1, "must not be negative"),
        (1001, "must be at most 1000 (0 means 50)"),
    ] {
        assert_eq!(
            violations(
                c.list_customers(authed(
                    &k,
                    pb::ListCustomersRequest {
                        page_size: size,
                        ..Default::default()
                    },
                ))
                .await
            ),
            pairs(&[("page_size", reason)])
        );
    }
    let first = c
        .list_customers(authed(
            &k,
            pb::ListCustomersRequest {
                page_size: 1,
                ..Default::default()
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.customers.len(), 1);
    assert!(!first.next_page_token.is_empty());
    let second = c
        .list_customers(authed(
            &k,
            pb::ListCustomersRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("the token works with the filters it was issued for")
        .into_inner();
    assert_eq!(second.customers.len(), 1);
    for (token, state) in [
        ("junk", 0),
        // A genuine token, with other filters than the ones it was issued for.
        (
            first.next_page_token.as_str(),
            pb::SubscriptionState::Active as i32,
        ),
    ] {
        assert_eq!(
            violations(
                c.list_customers(authed(
                    &k,
                    pb::ListCustomersRequest {
                        page_size: 1,
                        page_token: token.into(),
                        state,
                        ..Default::default()
                    },
                ))
                .await
            ),
            pairs(&[("page_token", PAGE_TOKEN)])
        );
    }

    // LinkCustomer: external ids that could pass for another kind of customer reference.
    let link = |customer_id: &str, external_id: &str, key: &str| {
        authed(
            &k,
            pb::LinkCustomerRequest {
                customer_id: customer_id.into(),
                external_id: external_id.into(),
                idempotency_key: key.into(),
            },
        )
    };
    assert_eq!(
        violations(c.link_customer(link(&customer.id, "cus_x", "")).await),
        pairs(&[(
            "external_id",
            "must not start with \"cus_\" (Souk's own customer ids)"
        )])
    );
    assert_eq!(
        violations(
            c.link_customer(link(&customer.id, "111122223333", ""))
                .await
        ),
        pairs(&[("external_id", "must not be 12 digits (an AWS account id)")])
    );
    assert_eq!(
        violations(
            c.link_customer(link("nope", "has space", "has space"))
                .await
        ),
        pairs(&[
            ("customer_id", NOT_CUS),
            ("external_id", "must be printable ASCII without spaces"),
            ("idempotency_key", KEY),
        ])
    );

    // GetSubscription, ListSubscriptions.
    assert_eq!(
        violations(
            c.get_subscription(authed(
                &k,
                pb::GetSubscriptionRequest {
                    subscription_id: "sub_x".into(),
                },
            ))
            .await
        ),
        pairs(&[(
            "subscription_id",
            "must be \"sub_\" followed by 32 lowercase hex digits"
        )])
    );
    assert_eq!(
        violations(
            c.list_subscriptions(authed(
                &k,
                pb::ListSubscriptionsRequest {
                    customer_id: "nope".into(),
                    state: 42,
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[
            ("customer_id", NOT_CUS),
            ("state", "42 is not a SubscriptionState"),
        ])
    );
    assert_eq!(
        violations(
            c.list_subscriptions(authed(
                &k,
                pb::ListSubscriptionsRequest {
                    page_token: "junk".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("page_token", PAGE_TOKEN)])
    );

    // ListAgreements, GetAgreement.
    assert_eq!(
        violations(
            c.list_agreements(authed(
                &k,
                pb::ListAgreementsRequest {
                    statuses: vec![pb::AgreementStatus::Active as i32, 0, 99],
                    integration_id: "nope".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[
            ("statuses[1]", "0 is not an agreement status"),
            ("statuses[2]", "99 is not an agreement status"),
            ("integration_id", NOT_INT),
        ])
    );
    assert_eq!(
        violations(
            c.list_agreements(authed(
                &k,
                pb::ListAgreementsRequest {
                    page_size: -1,
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("page_size", "must not be negative")])
    );
    for raw in ["agmt_x", "agmt-", "agmt-has space", ""] {
        assert_eq!(
            violations(
                c.get_agreement(authed(
                    &k,
                    pb::GetAgreementRequest {
                        agreement_id: raw.into(),
                    },
                ))
                .await
            ),
            pairs(&[("agreement_id", "must be an AWS agreement id, \"agmt-...\"")]),
            "agreement_id {raw:?}"
        );
    }

    // ListEntitlements, SyncEntitlements, ListFeatures.
    assert_eq!(
        violations(
            c.list_entitlements(authed(
                &k,
                pb::ListEntitlementsRequest {
                    customer_id: "nope".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("customer_id", NOT_CUS)])
    );
    assert_eq!(
        violations(
            c.list_entitlements(authed(
                &k,
                pb::ListEntitlementsRequest {
                    customer_id: customer.id.clone(),
                    page_token: "junk".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("page_token", PAGE_TOKEN)])
    );
    assert_eq!(
        violations(
            c.sync_entitlements(authed(
                &k,
                pb::SyncEntitlementsRequest {
                    integration_id: String::new(),
                    customer_id: "cus_x".into(),
                    idempotency_key: "has space".into(),
                },
            ))
            .await
        ),
        pairs(&[
            ("integration_id", "must not be empty"),
            (
                "customer_id",
                "must be \"cus_\" followed by 32 lowercase hex digits"
            ),
            ("idempotency_key", KEY),
        ])
    );
    assert_eq!(
        violations(
            c.list_features(authed(
                &k,
                pb::ListFeaturesRequest {
                    customer_id: "nope".into(),
                },
            ))
            .await
        ),
        pairs(&[("customer_id", NOT_CUS)])
    );

    // CheckEntitlement.
    let check = |customer: &str, feature: &str, quantity: Option<i64>| {
        authed(
            &k,
            pb::CheckEntitlementRequest {
                customer: customer.into(),
                feature: feature.into(),
                quantity,
            },
        )
    };
    assert_eq!(
        violations(c.check_entitlement(check("", "", None)).await),
        pairs(&[
            (
                "customer",
                "is required: a customer id (cus_...), an AWS account id or your linked account id"
            ),
            ("feature", FEATURE),
        ])
    );
    assert_eq!(
        violations(
            c.check_entitlement(check(&customer.id, "seats", Some(-1)))
                .await
        ),
        pairs(&[("quantity", "must be 0 or more")])
    );
    assert_eq!(
        violations(
            c.check_entitlement(check("cus_x", "bad feature", None))
                .await
        ),
        pairs(&[
            ("customer", "is not a valid customer id"),
            ("feature", FEATURE),
        ])
    );
    assert_eq!(
        violations(c.check_entitlement(check("has space", "seats", None)).await),
        pairs(&[("customer", "must be at most 128 printable ASCII characters")])
    );

    // BatchCheckEntitlements: 0 and 1001 features, a bad name among good ones.
    let batch = |customer: &str, features: Vec<String>| {
        authed(
            &k,
            pb::BatchCheckEntitlementsRequest {
                customer: customer.into(),
                features,
            },
        )
    };
    let too_many: Vec<String> = (0..1001).map(|i| format!("f{i}")).collect();
    for features in [Vec::new(), too_many] {
        assert_eq!(
            violations(
                c.batch_check_entitlements(batch(&customer.id, features))
                    .await
            ),
            pairs(&[("features", "must name 1 to 1000 features")])
        );
    }
    let thousand: Vec<String> = (0..1000).map(|i| format!("f{i}")).collect();
    let answered = c
        .batch_check_entitlements(batch(&customer.id, thousand))
        .await
        .expect("1000 features is the limit, not over it")
        .into_inner();
    assert_eq!(answered.results.len(), 1000);
    assert_eq!(
        violations(
            c.batch_check_entitlements(batch("", vec!["ok".into(), "bad name".into()]))
                .await
        ),
        pairs(&[
            (
                "customer",
                "is required: a customer id (cus_...), an AWS account id or your linked account id"
            ),
            ("features[1]", FEATURE),
        ])
    );

    // CreatePlan: the request's shape first, then the plan's rules, then the product.
    assert_eq!(
        violations(
            c.create_plan(authed(
                &k,
                pb::CreatePlanRequest {
                    integration_id: "nope".into(),
                    product_code: PRODUCT.into(),
                    key: "ok".into(),
                    features: vec![feature("x", pb::FeatureKind::Unspecified, 0, "")],
                    idempotency_key: "has space".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[
            ("integration_id", NOT_INT),
            (
                "features[0].kind",
                "must be BOOLEAN, LIMIT, UNLIMITED or DIMENSION_QUANTITY"
            ),
            ("idempotency_key", KEY),
        ])
    );
    assert_eq!(
        violations(
            c.create_plan(authed(
                &k,
                pb::CreatePlanRequest {
                    integration_id: int.clone(),
                    product_code: PRODUCT.into(),
                    key: "Bad Key".into(),
                    dimensions: vec!["seats".into(), "no spaces please".into()],
                    features: vec![
                        feature("users", pb::FeatureKind::Limit, -1, ""),
                        feature("users", pb::FeatureKind::Boolean, 0, ""),
                        feature("seats", pb::FeatureKind::DimensionQuantity, 0, ""),
                        feature("bad name", pb::FeatureKind::Unlimited, 0, ""),
                    ],
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[
            (
                "key",
                "must be 1 to 64 lowercase letters, digits, '_' or '-'"
            ),
            ("dimensions[1]", DIMENSION),
            ("features[0].limit", "must be 0 or more"),
            ("features[1].feature", "\"users\" appears twice"),
            ("features[2].dimension", DIMENSION),
            ("features[3].feature", FEATURE),
        ])
    );
    assert_eq!(
        violations(
            c.create_plan(authed(
                &k,
                pb::CreatePlanRequest {
                    integration_id: int.clone(),
                    product_code: String::new(),
                    key: String::new(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[
            ("product_code", "must not be empty"),
            (
                "key",
                "must be 1 to 64 lowercase letters, digits, '_' or '-'"
            ),
        ])
    );
    assert_eq!(
        violations(
            c.create_plan(authed(
                &k,
                pb::CreatePlanRequest {
                    integration_id: int.clone(),
                    product_code: "someoneelsesproduct".into(),
                    key: "pro".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[(
            "product_code",
            &format!("someoneelsesproduct is not a product of integration {int}")
        )])
    );

    // GetPlan, ListPlans.
    assert_eq!(
        violations(
            c.get_plan(authed(
                &k,
                pb::GetPlanRequest {
                    plan_id: "plan_x".into(),
                },
            ))
            .await
        ),
        pairs(&[(
            "plan_id",
            "must be \"plan_\" followed by 32 lowercase hex digits"
        )])
    );
    assert_eq!(
        violations(
            c.list_plans(authed(
                &k,
                pb::ListPlansRequest {
                    integration_id: "nope".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("integration_id", NOT_INT)])
    );
    assert_eq!(
        violations(
            c.list_plans(authed(
                &k,
                pb::ListPlansRequest {
                    page_size: 1001,
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("page_size", "must be at most 1000 (0 means 50)")])
    );

    // UpdatePlan: features or dimensions without their replace flag, a version below 1,
    // replaced features breaking the rules.
    assert_eq!(
        violations(
            c.update_plan(authed(
                &k,
                pb::UpdatePlanRequest {
                    plan_id: plan.id.clone(),
                    features: vec![feature("sso", pb::FeatureKind::Boolean, 0, "")],
                    dimensions: vec!["seats".into()],
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[
            (
                "features",
                "set replace_features to replace the plan's features"
            ),
            (
                "dimensions",
                "set replace_dimensions to replace the plan's dimensions"
            ),
        ])
    );
    assert_eq!(
        violations(
            c.update_plan(authed(
                &k,
                pb::UpdatePlanRequest {
                    plan_id: plan.id.clone(),
                    name: "renamed".into(),
                    expected_version: -1,
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("expected_version", "must be 1 or more")])
    );
    assert_eq!(
        violations(
            c.update_plan(authed(
                &k,
                pb::UpdatePlanRequest {
                    plan_id: plan.id.clone(),
                    replace_features: true,
                    features: vec![
                        feature("users", pb::FeatureKind::Limit, -3, ""),
                        feature("users", pb::FeatureKind::Unlimited, 0, ""),
                    ],
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[
            ("features[0].limit", "must be 0 or more"),
            ("features[1].feature", "\"users\" appears twice"),
        ])
    );
    assert_eq!(
        violations(
            c.update_plan(authed(
                &k,
                pb::UpdatePlanRequest {
                    plan_id: "nope".into(),
                    idempotency_key: "has space".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("plan_id", NOT_PLAN), ("idempotency_key", KEY)])
    );

    // DeletePlan.
    assert_eq!(
        violations(
            c.delete_plan(authed(
                &k,
                pb::DeletePlanRequest {
                    plan_id: "nope".into(),
                    idempotency_key: "has space".into(),
                },
            ))
            .await
        ),
        pairs(&[("plan_id", NOT_PLAN), ("idempotency_key", KEY)])
    );
    assert_eq!(
        violations(
            c.delete_plan(authed(
                &k,
                pb::DeletePlanRequest {
                    plan_id: plan.id.clone(),
                    idempotency_key: "k".repeat(129),
                },
            ))
            .await
        ),
        pairs(&[("idempotency_key", "must be at most 128 characters")])
    );

    // SetFeature.
    let set = |f: Option<pb::PlanFeature>| {
        authed(
            &k,
            pb::SetFeatureRequest {
                plan_id: plan.id.clone(),
                feature: f,
                ..Default::default()
            },
        )
    };
    assert_eq!(
        violations(c.set_feature(set(None)).await),
        pairs(&[("feature", "is required")])
    );
    assert_eq!(
        violations(
            c.set_feature(set(Some(feature("sso", pb::FeatureKind::Limit, -2, ""))))
                .await
        ),
        pairs(&[("feature.limit", "must be 0 or more")])
    );
    assert_eq!(
        violations(
            c.set_feature(set(Some(feature(
                "bad name",
                pb::FeatureKind::DimensionQuantity,
                0,
                "bad dimension"
            ))))
            .await
        ),
        pairs(&[
            ("feature.feature", FEATURE),
            ("feature.dimension", DIMENSION)
        ])
    );
    assert_eq!(
        violations(
            c.set_feature(set(Some(feature(
                "sso",
                pb::FeatureKind::Unspecified,
                0,
                ""
            ))))
            .await
        ),
        pairs(&[(
            "feature.kind",
            "must be BOOLEAN, LIMIT, UNLIMITED or DIMENSION_QUANTITY"
        )])
    );

    // RemoveFeature.
    assert_eq!(
        violations(
            c.remove_feature(authed(
                &k,
                pb::RemoveFeatureRequest {
                    plan_id: plan.id.clone(),
                    feature: "bad name".into(),
                    ..Default::default()
                },
            ))
            .await
        ),
        pairs(&[("feature", FEATURE)])
    );
    assert_eq!(
        violations(
            c.remove_feature(authed(
                &k,
                pb::RemoveFeatureRequest {
                    plan_id: "nope".into(),
                    feature: "reports".into(),
                    idempotency_key: "has space".into(),
                },
            ))
            .await
        ),
        pairs(&[("plan_id", NOT_PLAN), ("idempotency_key", KEY)])
    );

    // ImportListing.
    assert_eq!(
        violations(
            c.import_listing(authed(
                &k,
                pb::ImportListingRequest {
                    integration_id: "nope".into(),
                    idempotency_key: "k".repeat(129),
                },
            ))
            .await
        ),
        pairs(&[
            ("integration_id", NOT_INT),
            ("idempotency_key", "must be at most 128 characters"),
        ])
    );

    // GetFulfilmentSettings, UpdateFulfilmentSettings.
    assert_eq!(
        violations(
            c.get_fulfilment_settings(authed(
                &k,
                pb::GetFulfilmentSettingsRequest {
                    integration_id: "nope".into(),
                },
            ))
            .await
        ),
        pairs(&[("integration_id", NOT_INT)])
    );
    let settings = |req: pb::UpdateFulfilmentSettingsRequest| authed(&admin, req);
    assert_eq!(
        violations(
            c.update_fulfilment_settings(settings(pb::UpdateFulfilmentSettingsRequest {
                integration_id: int.clone(),
                signup_url: "http://example.com".into(),
                replace_sns_topic_arns: true,
                sns_topic_arns: vec![
                    "arn:aws:sns:us-east-1:287250355862:fine".into(),
                    "arn:aws:sqs:us-east-1:287250355862:not-a-topic".into(),
                ],
                expiry_notice_days: vec![0, 366],
                ..Default::default()
            }))
            .await
        ),
        pairs(&[
            (
                "signup_url",
                "must be an https:// URL (http:// only for localhost)"
            ),
            (
                "sns_topic_arns[1]",
                "must be an SNS topic ARN, arn:aws:sns:<region>:<account>:<name>"
            ),
            ("expiry_notice_days[0]", "must be 1 to 365 days"),
            ("expiry_notice_days[1]", "must be 1 to 365 days"),
        ])
    );
    assert_eq!(
        violations(
            c.update_fulfilment_settings(settings(pb::UpdateFulfilmentSettingsRequest {
                integration_id: "nope".into(),
                signup_url: "https://app.example.com/welcome".into(),
                clear_signup_url: true,
                sns_topic_arns: vec!["arn:aws:sns:us-east-1:287250355862:fine".into()],
                idempotency_key: "has space".into(),
                ..Default::default()
            }))
            .await
        ),
        pairs(&[
            ("integration_id", NOT_INT),
            ("signup_url", "must be empty when clear_signup_url is set"),
            (
                "sns_topic_arns",
                "set replace_sns_topic_arns to replace the accepted topics"
            ),
            ("idempotency_key", KEY),
        ])
    );
    assert_eq!(
        violations(
            c.update_fulfilment_settings(settings(pb::UpdateFulfilmentSettingsRequest {
                integration_id: int.clone(),
                signup_url: "https://user:pw@example.com/welcome".into(),
                expiry_notice_days: vec![7, 30, 7],
                ..Default::default()
            }))
            .await
        ),
        pairs(&[
            (
                "signup_url",
                "must name a host, without user name or password"
            ),
            ("expiry_notice_days", "must not repeat a threshold"),
        ])
    );

    // Nothing changed: no record, no event, no idempotency record (the same key now works).
    assert_eq!(state(&h, &customer.id).await, before);
    let plan_now = c
        .get_plan(authed(
            &k,
            pb::GetPlanRequest {
                plan_id: plan.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .plan
        .unwrap();
    assert_eq!(plan_now, plan);
    assert_eq!(plan_now.version, 1);
    let settings_now = before.settings.settings.as_ref().unwrap();
    assert_eq!(
        settings_now.update_time, None,
        "settings were never changed"
    );
    assert_eq!(settings_now.expiry_notice_days, [30, 7, 1]);
    assert!(!settings_now.handoff_secret_set);
    assert_eq!(before.customers.customers[0].external_id, "");
    assert_eq!(before.customers.customers[1].external_id, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_without_the_needed_scope_are_refused_before_anything_happens() {
    let h = Rpc::start().await;
    let mut c = h.client();
    let org = h.b.organization_id.clone();
    let read_only = h.key(&org, &[Scope::ReadOnly]);
    let metering = h.key(&org, &[Scope::Metering]);
    let int = h.b.id.to_string();
    let customer = h.active_customer(BUYER).await;
    let events = h.events(&org).await.len();

    // A read-only key reads and checks...
    c.get_customer(authed(
        &read_only,
        pb::GetCustomerRequest {
            customer_id: customer.id.clone(),
        },
    ))
    .await
    .expect("read-only keys read");
    c.check_entitlement(authed(
        &read_only,
        pb::CheckEntitlementRequest {
            customer: customer.id.clone(),
            feature: "users".into(),
            quantity: None,
        },
    ))
    .await
    .expect("read-only keys check");

    // ...but changes nothing, whatever the request's validity.
    let write = "this api key lacks write access (scope admin or full)";
    let plan = pb::CreatePlanRequest {
        integration_id: int.clone(),
        product_code: PRODUCT.into(),
        key: "basic".into(),
        features: vec![feature("reports", pb::FeatureKind::Boolean, 0, "")],
        ..Default::default()
    };
    let denied = expect_code(
        c.create_plan(authed(&read_only, plan.clone())).await,
        Code::PermissionDenied,
    );
    assert_eq!(denied.message(), write);
    let denied = expect_code(
        c.create_plan(authed(
            &read_only,
            pb::CreatePlanRequest {
                key: "Bad Key".into(),
                ..plan.clone()
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    assert_eq!(denied.message(), write);
    let denied = expect_code(
        c.link_customer(authed(
            &read_only,
            pb::LinkCustomerRequest {
                customer_id: customer.id.clone(),
                external_id: "acct-42".into(),
                ..Default::default()
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    assert_eq!(denied.message(), write);
    let denied = expect_code(
        c.sync_entitlements(authed(
            &read_only,
            pb::SyncEntitlementsRequest {
                integration_id: int.clone(),
                ..Default::default()
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    assert_eq!(denied.message(), write);

    // A metering key does not even read customers.
    let denied = expect_code(
        c.get_customer(authed(
            &metering,
            pb::GetCustomerRequest {
                customer_id: customer.id.clone(),
            },
        ))
        .await,
        Code::PermissionDenied,
    );
    assert_eq!(
        denied.message(),
        "this api key lacks read access (scope admin, full or read_only)"
    );

    // Fulfilment settings hand out secrets: a FULL key reads them but only ADMIN changes them.
    let change = pb::UpdateFulfilmentSettingsRequest {
        integration_id: int.clone(),
        signup_url: "https://app.example.com/welcome".into(),
        ..Default::default()
    };
    for key in [&h.b_full, &read_only] {
        let denied = expect_code(
            c.update_fulfilment_settings(authed(key, change.clone()))
                .await,
            Code::PermissionDenied,
        );
        assert_eq!(
            denied.message(),
            "this api key lacks admin access (scope admin)"
        );
    }
    let unchanged = c
        .get_fulfilment_settings(authed(
            &h.b_full,
            pb::GetFulfilmentSettingsRequest {
                integration_id: int.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .settings
        .unwrap();
    assert_eq!(unchanged.signup_url, "");
    assert_eq!(unchanged.update_time, None);
    let changed = c
        .update_fulfilment_settings(authed(&h.b_admin, change))
        .await
        .expect("an admin key changes settings")
        .into_inner();
    assert_eq!(
        changed.settings.unwrap().signup_url,
        "https://app.example.com/welcome"
    );
    assert!(changed.handoff_secret.starts_with("souk_hs_"));

    // No key at all.
    let status = expect_code(
        c.list_plans(tonic::Request::new(pb::ListPlansRequest::default()))
            .await,
        Code::Unauthenticated,
    );
    assert!(!status.message().is_empty());

    // Nothing the refused keys asked for happened.
    let plans = c
        .list_plans(authed(&h.b_full, pb::ListPlansRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(plans.plans.is_empty());
    let customer_now = c
        .get_customer(authed(
            &h.b_full,
            pb::GetCustomerRequest {
                customer_id: customer.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .customer
        .unwrap();
    assert_eq!(customer_now, customer);
    assert_eq!(h.events(&org).await.len(), events);
}
