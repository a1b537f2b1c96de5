//! Change-set lifecycle through the official Catalog SDK: PREPARING -> APPLYING -> SUCCEEDED as
//! the emulator clock advances, asynchronous failures, VALIDATE, cancel, locking, idempotency.

use aws_sdk_marketplacecatalog::types::{ChangeStatus, FailureCode, Intent};
use serde_json::json;

use crate::support::BUYER;
use crate::support::catalog::*;

#[tokio::test]
async fn private_offer_change_set_goes_preparing_applying_succeeded() {
    let cat = setup().await;
    let expiry = cat.date(30);
    let (first, second) = (cat.date(10), cat.date(60));
    let id = start(
        &cat,
        fps_offer(
            &cat.saas,
            &expiry,
            &[(&first, "200.00"), (&second, "170.00")],
        ),
    )
    .await;

    let out = describe(&cat, &id).await;
    assert_eq!(out.status(), Some(&ChangeStatus::Preparing));
    assert_eq!(out.intent(), Some(&Intent::Apply));
    assert!(out.end_time().is_none());
    assert_eq!(out.change_set().len(), 9);

    cat.advance(3);
    assert_eq!(
        describe(&cat, &id).await.status(),
        Some(&ChangeStatus::Applying)
    );

    cat.advance(3);
    let out = describe(&cat, &id).await;
    assert_eq!(
        out.status(),
        Some(&ChangeStatus::Succeeded),
        "{:?}",
        error_codes(&out)
    );
    assert!(
        out.end_time()
            .is_some_and(|t| t.len() == 20 && t.ends_with('Z'))
    );
    assert!(out.failure_code().is_none());
    let offer_id = created_id(&out);
    assert!(offer_id.starts_with("offer-"), "{offer_id}");
    // `$CreateOfferChange.Entity.Identifier` resolved to the new id on every change.
    assert!(
        out.change_set()
            .iter()
            .all(|c| c.entity().and_then(|e| e.identifier()) == Some(offer_id.as_str()))
    );
    assert!(
        out.change_set_arn()
            .is_some_and(|a| a.ends_with(&format!("AWSMarketplace/ChangeSet/{id}")))
    );

    let described = describe_entity(&cat, &offer_id).await;
    let described = described.unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(described.entity_type(), Some("Offer@1.0"));
    assert_eq!(
        described.entity_identifier(),
        Some(format!("{offer_id}@1").as_str())
    );
    assert!(
        described
            .entity_arn()
            .is_some_and(|a| a.ends_with(&format!("AWSMarketplace/Offer/{offer_id}")))
    );
    let doc = described
        .details_document()
        .map(from_doc)
        .unwrap_or_default();
    assert_eq!(doc["State"], "Released");
    assert_eq!(doc["ProductId"], cat.saas.as_str());
    assert_eq!(doc["Name"], "Test private offer with FPS");
    let schedule = doc["Terms"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["Type"] == "PaymentScheduleTerm"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        schedule["Schedule"][0]["ChargeDate"],
        format!("{first}T00:00:00.000Z")
    );
    assert_eq!(schedule["Schedule"][1]["ChargeAmount"], "170.00");
    let rules = doc["Rules"].as_array().cloned().unwrap_or_default();
    let targeting = rules
        .iter()
        .find(|r| r["Type"] == "TargetingRule")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        targeting["PositiveTargeting"]["BuyerAccounts"],
        json!([BUYER, "222222222222"])
    );
    let availability = rules
        .iter()
        .find(|r| r["Type"] == "AvailabilityRule")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        availability["AvailabilityEndDate"],
        format!("{expiry}T23:59:59.999Z")
    );

    assert_events(&cat, &["Change Set Succeeded", "Offer Released"]).await;
}

#[tokio::test]
async fn reference_example_with_past_dates_fails_asynchronously() {
    let cat = setup().await;
    let list = fps_offer(
        &cat.saas,
        "2023-12-31",
        &[("2024-01-01", "200.00"), ("2024-02-01", "170.00")],
    );
    let id = start(&cat, list).await;
    assert_eq!(
        describe(&cat, &id).await.status(),
        Some(&ChangeStatus::Preparing)
    );
    let out = finish(&cat, &id).await;
    assert_eq!(out.status(), Some(&ChangeStatus::Failed));
    assert_eq!(out.failure_code(), Some(&FailureCode::ClientError));
    let codes = error_codes(&out);
    assert!(
        codes.contains(&(
            "UpdatePaymentScheduleTerms".into(),
            "INVALID_CHARGE_DATES".into()
        )),
        "{codes:?}"
    );
    assert!(
        codes.contains(&(
            "UpdateAvailability".into(),
            "INVALID_AVAILABILITY_END_DATE".into()
        )),
        "{codes:?}"
    );
    let message = out
        .change_set()
        .iter()
        .flat_map(|c| c.error_detail_list())
        .find(|e| e.error_code() == Some("INVALID_CHARGE_DATES"))
        .and_then(|e| e.error_message())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        message,
        "Provide a first charge date that isn't in the past."
    );
    // Nothing was applied: no offer exists and the create change has no identifier.
    assert_nothing_applied(&cat, &out).await;
    assert_events(&cat, &["Change Set Failed"]).await;
}

#[tokio::test]
async fn validate_intent_applies_nothing() {
    let cat = setup().await;
    let list = two_charge_offer(&cat);
    let id = start_with(&cat, list, Intent::Validate).await;
    let out = finish(&cat, &id).await;
    assert_eq!(out.status(), Some(&ChangeStatus::Succeeded));
    assert_eq!(out.intent(), Some(&Intent::Validate));
    assert_nothing_applied(&cat, &out).await;

    // A VALIDATE of bad data reports the same asynchronous errors as APPLY.
    let bad = fps_offer(
        &cat.saas,
        &cat.date(30),
        &[(&cat.date(10), "1.00"), (&cat.date(10), "2.00")],
    );
    let out = finish(&cat, &start_with(&cat, bad, Intent::Validate).await).await;
    assert_eq!(out.status(), Some(&ChangeStatus::Failed));
    assert!(
        error_codes(&out)
            .iter()
            .any(|(_, c)| c == "DUPLICATE_CHARGE_DATES"),
        "{:?}",
        error_codes(&out)
    );
}

#[tokio::test]
async fn cancel_only_while_preparing() {
    let cat = setup().await;
    let id = start(&cat, json!([create_offer(&cat.saas)])).await;
    let out = cat
        .catalog
        .cancel_change_set()
        .catalog(CATALOG)
        .change_set_id(&id)
        .send()
        .await;
    let out = out.unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(out.change_set_id(), Some(id.as_str()));
    let described = describe(&cat, &id).await;
    assert_eq!(described.status(), Some(&ChangeStatus::Cancelled));
    assert!(described.end_time().is_some());
    cat.advance(10);
    assert_eq!(
        describe(&cat, &id).await.status(),
        Some(&ChangeStatus::Cancelled)
    );
    assert_events(&cat, &["Change Set Cancelled"]).await;

    let again = cat
        .catalog
        .cancel_change_set()
        .catalog(CATALOG)
        .change_set_id(&id)
        .send()
        .await;
    let err = crate::service_error!(again, 423);
    assert!(err.is_resource_in_use_exception(), "{err:?}");

    let applying = start(&cat, json!([create_offer(&cat.saas)])).await;
    cat.advance(3);
    assert_eq!(
        describe(&cat, &applying).await.status(),
        Some(&ChangeStatus::Applying)
    );
    let late = cat
        .catalog
        .cancel_change_set()
        .catalog(CATALOG)
        .change_set_id(&applying)
        .send()
        .await;
    assert!(crate::service_error!(late, 423).is_resource_in_use_exception());

    let missing = cat
        .catalog
        .cancel_change_set()
        .catalog(CATALOG)
        .change_set_id("nochangeset")
        .send()
        .await;
    assert!(crate::service_error!(missing, 404).is_resource_not_found_exception());
}

#[tokio::test]
async fn running_change_sets_lock_their_entities() {
    let cat = setup().await;
    let offer = created_id(&apply_ok(&cat, json!([create_offer(&cat.saas)])).await);
    let update = |name: &str| json!([{ "ChangeType": "UpdateInformation", "Entity": { "Type": "Offer@1.0", "Identifier": offer }, "DetailsDocument": { "Name": name } }]);
    let first = start(&cat, update("one")).await;
    let second = cat
        .catalog
        .start_change_set()
        .catalog(CATALOG)
        .set_change_set(Some(changes(&update("two"))))
        .send()
        .await;
    let err = crate::service_error!(second, 423);
    assert!(err.is_resource_in_use_exception(), "{err:?}");
    assert!(err.meta().message().is_some_and(|m| m.contains(&first)));

    assert_eq!(
        finish(&cat, &first).await.status(),
        Some(&ChangeStatus::Succeeded)
    );
    let third = start(&cat, update("three")).await;
    assert_eq!(
        finish(&cat, &third).await.status(),
        Some(&ChangeStatus::Succeeded)
    );
    let doc = entity(&cat, &offer).await;
    assert_eq!(doc["Name"], "three");
    let described = describe_entity(&cat, &offer).await;
    assert_eq!(
        described
            .unwrap_or_else(|err| panic!("{err:?}"))
            .entity_identifier(),
        Some(format!("{offer}@3").as_str())
    );
}

#[tokio::test]
async fn client_request_token_is_idempotent() {
    let cat = setup().await;
    let send = || {
        cat.catalog
            .start_change_set()
            .catalog(CATALOG)
            .client_request_token("token-1")
            .change_set_name("named")
            .set_change_set(Some(changes(&json!([create_offer(&cat.saas)]))))
            .send()
    };
    let a = send().await.unwrap_or_else(|err| panic!("{err:?}"));
    let b = send().await.unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(a.change_set_id(), b.change_set_id());
    assert_eq!(
        describe(&cat, a.change_set_id().unwrap_or_default())
            .await
            .change_set_name(),
        Some("named")
    );
}

#[tokio::test]
async fn list_change_sets_filters_sorts_and_pages() {
    let cat = setup().await;
    let done = start(&cat, json!([create_offer(&cat.saas)])).await;
    cat.advance(10);
    let running = start(&cat, json!([create_offer(&cat.saas)])).await;
    let all = cat
        .catalog
        .list_change_sets()
        .catalog(CATALOG)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let ids: Vec<&str> = all
        .change_set_summary_list()
        .iter()
        .filter_map(|c| c.change_set_id())
        .collect();
    assert_eq!(
        ids,
        vec![running.as_str(), done.as_str()],
        "newest first by default"
    );

    use aws_sdk_marketplacecatalog::types::{Filter, Sort, SortOrder};
    let succeeded = cat
        .catalog
        .list_change_sets()
        .catalog(CATALOG)
        .filter_list(
            Filter::builder()
                .name("Status")
                .value_list("SUCCEEDED")
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let only = &succeeded.change_set_summary_list()[0];
    assert_eq!(succeeded.change_set_summary_list().len(), 1);
    assert_eq!(only.change_set_id(), Some(done.as_str()));
    assert!(
        only.entity_id_list()
            .iter()
            .any(|e| e.starts_with("offer-"))
    );

    // One change set a page, earliest start first.
    let page_by_start = |next_token: Option<String>| {
        cat.catalog
            .list_change_sets()
            .catalog(CATALOG)
            .sort(
                Sort::builder()
                    .sort_by("StartTime")
                    .sort_order(SortOrder::Ascending)
                    .build(),
            )
            .max_results(1)
            .set_next_token(next_token)
            .send()
    };
    let page = page_by_start(None)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(
        page.change_set_summary_list()[0].change_set_id(),
        Some(done.as_str())
    );
    let token = page.next_token().unwrap_or_default().to_owned();
    let next = page_by_start(Some(token))
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(
        next.change_set_summary_list()[0].change_set_id(),
        Some(running.as_str())
    );
    assert!(next.next_token().is_none());
}

#[tokio::test]
async fn details_string_form_is_accepted_and_echoed() {
    let cat = setup().await;
    let list = json!([{ "ChangeType": "CreateOffer", "Entity": { "Type": "Offer@1.0" }, "ChangeName": "CreateOfferChange",
        "Details": format!("{{\"ProductId\":\"{}\",\"Name\":\"from string\"}}", cat.saas) }]);
    let out = apply_ok(&cat, list).await;
    assert!(
        out.change_set()[0]
            .details()
            .is_some_and(|d| d.contains("from string"))
    );
    assert!(out.change_set()[0].details_document().is_none());
    assert_eq!(entity(&cat, &created_id(&out)).await["Name"], "from string");
}

#[tokio::test]
async fn preparing_and_applying_delays_are_configurable() {
    let cat = setup().await;
    crate::support::control_ok(
        cat.url(),
        "POST",
        "/_souk/catalog/settings",
        json!({ "preparing_millis": 0, "applying_millis": 0 }),
    )
    .await;
    let id = start(&cat, json!([create_offer(&cat.saas)])).await;
    assert_eq!(
        describe(&cat, &id).await.status(),
        Some(&ChangeStatus::Succeeded)
    );
}

#[tokio::test]
async fn advancing_the_clock_completes_due_change_sets_without_a_read() {
    let cat = setup().await;
    let list = two_charge_offer(&cat);
    let id = start(&cat, list).await;
    crate::support::advance(cat.url(), 60).await;
    let status = cat
        .env
        .emu
        .emulator
        .world()
        .catalog
        .change_sets
        .get(&id)
        .map(|cs| cs.status);
    assert_eq!(
        status,
        Some(souk_emulator::catalog::model::ChangeSetStatus::Succeeded)
    );
}
