//! Every synchronous Catalog API error with its HTTP status and `x-amzn-ErrorType`, through the
//! SDK where it can send the request, and malformed requests on the wire.

use aws_sdk_marketplacecatalog::types::EntityRequest;
use serde_json::{Value, json};

use crate::support::catalog::*;
use crate::support::{control_ok, raw};

async fn start_raw(
    cat: &Cat,
    list: Value,
) -> Result<
    (),
    aws_sdk_marketplacecatalog::error::SdkError<
        aws_sdk_marketplacecatalog::operation::start_change_set::StartChangeSetError,
    >,
> {
    cat.catalog
        .start_change_set()
        .catalog(CATALOG)
        .set_change_set(Some(changes(&list)))
        .send()
        .await
        .map(|_| ())
}

#[tokio::test]
async fn validation_exception_is_422() {
    let cat = setup().await;
    let cases = [
        // ProductId missing.
        json!([{ "ChangeType": "CreateOffer", "Entity": { "Type": "Offer@1.0" }, "DetailsDocument": {} }]),
        // Name too long.
        json!([{ "ChangeType": "CreateOffer", "Entity": { "Type": "Offer@1.0" }, "DetailsDocument": { "ProductId": cat.saas, "Name": "x".repeat(151) } }]),
        // Unknown change type.
        json!([{ "ChangeType": "UpdateEverything", "Entity": { "Type": "Offer@1.0", "Identifier": "offer-1" }, "DetailsDocument": {} }]),
        // Reference to no earlier change.
        json!([offer_change("UpdateInformation", json!({ "Name": "x" }))]),
        // Same change type twice on one entity.
        json!([create_offer(&cat.saas), info("a"), info("b")]),
        // UpdateInformation without any property.
        json!([
            create_offer(&cat.saas),
            offer_change("UpdateInformation", json!({}))
        ]),
        // Invalid date.
        json!([create_offer(&cat.saas), availability("2026-02-30")]),
        // ReleaseOffer with a non-empty document.
        json!([
            create_offer(&cat.saas),
            offer_change("ReleaseOffer", json!({ "Now": true }))
        ]),
        // Price with too many decimals.
        json!([
            create_offer(&cat.saas),
            offer_change(
                "UpdatePricingTerms",
                json!({ "PricingModel": "Contract", "Terms": [
            { "Type": "FixedUpfrontPricingTerm", "CurrencyCode": "USD", "Price": "1.23456", "Grants": [{ "DimensionKey": "seats" }] }] })
            )
        ]),
        // Details that are not JSON.
        json!([{ "ChangeType": "CreateOffer", "Entity": { "Type": "Offer@1.0" }, "Details": "{not json" }]),
        // Wrong type inside the document.
        json!([{ "ChangeType": "CreateOffer", "Entity": { "Type": "Offer@1.0" }, "DetailsDocument": { "ProductId": 42 } }]),
        // Markup pattern.
        json!([
            create_offer(&cat.saas),
            offer_change("UpdateMarkup", json!({ "Percentage": "five" }))
        ]),
    ];
    for (i, case) in cases.into_iter().enumerate() {
        let err = crate::service_error!(start_raw(&cat, case).await, 422);
        assert!(err.is_validation_exception(), "case {i}: {err:?}");
    }
}

#[tokio::test]
async fn resource_not_found_is_404() {
    let cat = setup().await;
    let err = crate::service_error!(
        start_raw(&cat, json!([create_offer("prod-doesnotexist1")])).await,
        404
    );
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let update = json!([{ "ChangeType": "UpdateInformation", "Entity": { "Type": "Offer@1.0", "Identifier": "offer-nope" }, "DetailsDocument": { "Name": "x" } }]);
    assert!(
        crate::service_error!(start_raw(&cat, update).await, 404).is_resource_not_found_exception()
    );
    let replacement = json!([{ "ChangeType": "CreateReplacementOffer", "Entity": { "Type": "Offer@1.0" }, "DetailsDocument": { "AgreementId": "agmt-missing" } }]);
    assert!(
        crate::service_error!(start_raw(&cat, replacement).await, 404)
            .is_resource_not_found_exception()
    );

    let describe = cat
        .catalog
        .describe_change_set()
        .catalog(CATALOG)
        .change_set_id("missing")
        .send()
        .await;
    assert!(crate::service_error!(describe, 404).is_resource_not_found_exception());
    let entity = describe_entity(&cat, "offer-missing").await;
    assert!(crate::service_error!(entity, 404).is_resource_not_found_exception());
}

#[tokio::test]
async fn access_denied_is_403() {
    let cat = setup().await;
    let foreign = catalog_product(
        &cat,
        json!({ "title": "Someone else's", "seller_account_id": "999988887777" }),
    )
    .await;
    let err = crate::service_error!(start_raw(&cat, json!([create_offer(&foreign)])).await, 403);
    assert!(err.is_access_denied_exception(), "{err:?}");

    // A replacement offer for an agreement another seller proposed.
    let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
    let agreement = accept(
        &cat,
        &offer,
        json!({ "buyer_account_id": crate::support::BUYER }),
    )
    .await;
    let id = agreement["id"].as_str().unwrap_or_default().to_owned();
    if let Some(a) = cat
        .env
        .emu
        .emulator
        .world()
        .agreements
        .agreements
        .get_mut(&id)
    {
        a.proposer_account_id = "999988887777".to_owned();
    }
    let replacement = json!([{ "ChangeType": "CreateReplacementOffer", "Entity": { "Type": "Offer@1.0" }, "DetailsDocument": { "AgreementId": id } }]);
    let err = crate::service_error!(start_raw(&cat, replacement).await, 403);
    assert!(err.is_access_denied_exception(), "{err:?}");
}

#[tokio::test]
async fn service_quota_exceeded_is_402() {
    let cat = setup().await;
    control_ok(
        cat.url(),
        "POST",
        "/_souk/catalog/settings",
        json!({ "max_open_change_sets": 1 }),
    )
    .await;
    start(&cat, json!([create_offer(&cat.saas)])).await;
    let err = crate::service_error!(start_raw(&cat, json!([create_offer(&cat.saas)])).await, 402);
    assert!(err.is_service_quota_exceeded_exception(), "{err:?}");
    cat.advance(10);
    start(&cat, json!([create_offer(&cat.saas)])).await;
}

#[tokio::test]
async fn throttling_and_internal_errors_are_injected_per_operation() {
    let cat = setup().await;
    crate::support::fault_once_in(cat.url(), "catalog", "StartChangeSet", "throttle").await;
    let err = crate::service_error!(start_raw(&cat, json!([create_offer(&cat.saas)])).await, 429);
    assert!(err.is_throttling_exception(), "{err:?}");
    start(&cat, json!([create_offer(&cat.saas)])).await;

    crate::support::fault_once_in(cat.url(), "catalog", "ListEntities", "server_error").await;
    let out = list_offers(&cat).send().await;
    assert!(crate::service_error!(out, 500).is_internal_service_exception());
}

#[tokio::test]
async fn describe_entity_of_a_change_set_is_not_supported() {
    let cat = setup().await;
    let id = start(&cat, json!([create_offer(&cat.saas)])).await;
    let out = describe_entity(&cat, &id).await;
    assert!(crate::service_error!(out, 415).is_resource_not_supported_exception());
}

#[tokio::test]
async fn batch_describe_reports_per_entity_errors() {
    let cat = setup().await;
    let req = |id: &str| {
        EntityRequest::builder()
            .catalog(CATALOG)
            .entity_id(id)
            .build()
            .unwrap_or_else(|err| panic!("{err}"))
    };
    let out = cat
        .catalog
        .batch_describe_entities()
        .entity_request_list(req(&cat.saas))
        .entity_request_list(req("offer-missing"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let details = out.entity_details().cloned().unwrap_or_default();
    assert_eq!(
        details.get(&cat.saas).and_then(|d| d.entity_type()),
        Some("SaaSProduct@1.0")
    );
    let errors = out.errors().cloned().unwrap_or_default();
    assert_eq!(
        errors.get("offer-missing").and_then(|e| e.error_code()),
        Some("ResourceNotFoundException")
    );
}

#[tokio::test]
async fn malformed_requests_get_errors_not_panics() {
    let cat = setup().await;
    let json_ct = [("content-type", "application/json")];
    let cases: [(&str, &str, &[u8], u16, &str); 9] = [
        (
            "POST",
            "/StartChangeSet",
            b"{not json",
            400,
            "SerializationException",
        ),
        ("POST", "/StartChangeSet", b"[]", 422, "ValidationException"),
        (
            "POST",
            "/StartChangeSet",
            br#"{"Catalog":"AWSMarketplace"}"#,
            422,
            "ValidationException",
        ),
        (
            "POST",
            "/StartChangeSet",
            br#"{"Catalog":"AWSMarketplace","ChangeSet":"x"}"#,
            422,
            "ValidationException",
        ),
        (
            "POST",
            "/StartChangeSet",
            br#"{"Catalog":"Other","ChangeSet":[]}"#,
            422,
            "ValidationException",
        ),
        (
            "POST",
            "/StartChangeSet",
            br#"{"Catalog":"AWSMarketplace","ChangeSet":[{"ChangeType":"CreateOffer"}]}"#,
            422,
            "ValidationException",
        ),
        (
            "POST",
            "/ListEntities",
            br#"{"Catalog":"AWSMarketplace","EntityType":"Offer","MaxResults":0}"#,
            422,
            "ValidationException",
        ),
        (
            "POST",
            "/ListChangeSets",
            br#"{"Catalog":"AWSMarketplace","NextToken":"garbage"}"#,
            422,
            "ValidationException",
        ),
        (
            "POST",
            "/BatchDescribeEntities",
            br#"{"EntityRequestList":[]}"#,
            422,
            "ValidationException",
        ),
    ];
    for (method, path, body, status, kind) in cases {
        let response = raw(cat.url(), method, path, &json_ct, body).await;
        assert_eq!(
            response.status,
            status,
            "{path} {}: {}",
            String::from_utf8_lossy(body),
            response.text()
        );
        assert_eq!(response.header("x-amzn-ErrorType"), Some(kind));
        assert!(
            response.json()["Message"].is_string(),
            "{}",
            response.text()
        );
    }
    let missing = raw(
        cat.url(),
        "GET",
        "/DescribeChangeSet?catalog=AWSMarketplace",
        &[],
        b"",
    )
    .await;
    assert_eq!(missing.status, 422);
    let cancel = raw(
        cat.url(),
        "PATCH",
        "/CancelChangeSet?catalog=Nope&changeSetId=x",
        &[],
        b"",
    )
    .await;
    assert_eq!(cancel.status, 422);
}

#[tokio::test]
async fn iam_denials_through_an_assumed_role_are_access_denied() {
    let cat = setup().await;
    let role = "arn:aws:iam::111122223333:role/SoukCatalog";
    control_ok(
        cat.url(),
        "POST",
        "/_souk/sts/roles",
        json!({ "role_arn": role, "trusted_account": "123456789012", "external_id": "ext-1" }),
    )
    .await;
    control_ok(
        cat.url(),
        "POST",
        "/_souk/sts/roles/deny",
        json!({ "role_arn": role, "actions": ["aws-marketplace:StartChangeSet", "aws-marketplace:SearchAgreements"] }),
    )
    .await;
    let out = cat
        .env
        .sts
        .assume_role()
        .role_arn(role)
        .role_session_name("catalog")
        .external_id("ext-1")
        .send()
        .await;
    let out = out.unwrap_or_else(|err| panic!("{err:?}"));
    let c = out
        .credentials()
        .cloned()
        .unwrap_or_else(|| panic!("no credentials"));
    let session = aws_credential_types::Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        "sts",
    );
    let catalog = catalog_client_with(cat.url(), session.clone());
    let denied = catalog
        .start_change_set()
        .catalog(CATALOG)
        .set_change_set(Some(changes(&json!([create_offer(&cat.saas)]))))
        .send()
        .await;
    assert!(crate::service_error!(denied, 403).is_access_denied_exception());
    // Other operations stay allowed.
    catalog
        .list_change_sets()
        .catalog(CATALOG)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let agreement = agreement_client_with(cat.url(), session);
    let denied = agreement.search_agreements().send().await;
    let err = match denied {
        Ok(out) => panic!("expected a denial, got {out:?}"),
        Err(err) => err.into_service_error(),
    };
    assert!(err.is_access_denied_exception(), "{err:?}");
}

#[tokio::test]
async fn odd_documents_never_crash_the_asynchronous_evaluation() {
    let cat = setup().await;
    let far = "9999-12-31";
    let odd = [
        (
            "UpdatePricingTerms",
            json!({ "PricingModel": "Contract", "Terms": [
            { "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "XXX", "RateCards": [{ "Selector": { "Type": "Duration", "Value": "P999999999Y" },
              "Constraints": {}, "RateCard": [{ "DimensionKey": "seats", "Price": "100000000" }] }] },
            { "Type": "FixedUpfrontPricingTerm", "CurrencyCode": "USD", "Price": "100000000", "Duration": "P4294967295D", "Grants": [{ "DimensionKey": "seats", "MaxQuantity": 2147483646 }] }] }),
        ),
        (
            "UpdateValidityTerms",
            json!({ "Terms": [{ "Type": "ValidityTerm", "AgreementDuration": "P999999999Y4294967295D" }] }),
        ),
        (
            "UpdatePaymentScheduleTerms",
            json!({ "Terms": [{ "Type": "PaymentScheduleTerm", "CurrencyCode": "USD",
            "Schedule": [{ "ChargeDate": far, "ChargeAmount": "99999999.99" }, { "ChargeDate": "0001-01-01", "ChargeAmount": "0" }] }] }),
        ),
        ("UpdateAvailability", json!({ "AvailabilityEndDate": far })),
        (
            "UpdateRenewalTerms",
            json!({ "Terms": [{ "Type": "RenewalTerm", "LockoutPeriod": "P999999999Y", "AdjustmentDeadline": "P1D", "MaxRenewals": 9_223_372_036_854_775_807_i64,
            "PriceIncrease": { "Type": "PercentageRange", "Range": { "MinValue": "x", "MaxValue": [], "DefaultValue": {} } },
            "TermTemplates": [{ "Schedule": [{ "ChargeDateOffset": 5, "ChargePercentage": "99999999.99", "DayOfMonth": -1 }] }, "junk"] }] }),
        ),
        (
            "UpdateTargeting",
            json!({ "PositiveTargeting": { "BuyerAccounts": [], "CountryCodes": ["usa", ""] }, "NegativeTargeting": {} }),
        ),
        (
            "UpdateLegalTerms",
            json!({ "Terms": [{ "Type": "LegalTerm", "Documents": [{ "Type": "StandardEula" }, { "Type": "CustomEula", "Url": "ftp://x" }] }] }),
        ),
        (
            "UpdateInformation",
            json!({ "PreExistingAgreement": null, "Description": "d" }),
        ),
        (
            "UpdateMarkup",
            json!({ "Percentage": "99999999.123456789" }),
        ),
        ("ReleaseOffer", json!({})),
    ];
    let mut list = vec![create_offer(&cat.saas)];
    for (change_type, details) in odd {
        list.push(offer_change(change_type, details));
    }
    let id = start(&cat, json!(list)).await;
    let out = finish(&cat, &id).await;
    assert_eq!(
        out.status(),
        Some(&aws_sdk_marketplacecatalog::types::ChangeStatus::Failed)
    );
    assert!(!error_codes(&out).is_empty());
    // The emulator still answers.
    cat.catalog
        .list_change_sets()
        .catalog(CATALOG)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
}
