//! Buyers changing their agreements through the control API: flexible payment schedules and
//! free trials, amendments, renewals, replacement offers, cancellation and expiry.

use aws_sdk_marketplaceagreement::types::{AcceptedTerm, AgreementStatus};
use aws_sdk_marketplacecatalog::types::ChangeStatus;
use serde_json::{Value, json};

use crate::support::catalog::*;
use crate::support::{BUYER, control, control_ok};

async fn status(cat: &Cat, id: &str) -> Option<AgreementStatus> {
    let out = cat
        .agreement
        .describe_agreement()
        .agreement_id(id)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    out.status().cloned()
}

fn id_of(agreement: &Value) -> String {
    agreement["id"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn fps_offer_bills_installments_and_free_trial_is_visible() {
    let cat = setup().await;
    let (d10, d60) = (cat.date(10), cat.date(60));
    let offer = released_offer(
        &cat,
        fps_offer(
            &cat.saas,
            &cat.date(30),
            &[(&d10, "200.00"), (&d60, "170.00")],
        ),
    )
    .await;
    let agreement = accept(&cat, &offer, json!({ "buyer_account_id": BUYER })).await;
    let invoices = control_ok(cat.url(), "GET", "/_souk/invoices", Value::Null).await;
    let lines: Vec<(String, i64, String)> = invoices
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| {
            (
                i["kind"].as_str().unwrap_or_default().to_owned(),
                i["amount_micros"].as_i64().unwrap_or(0),
                i["invoice_date"].to_string(),
            )
        })
        .collect();
    assert_eq!(lines.len(), 2, "{invoices}");
    assert!(lines.iter().all(|(k, _, _)| k == "INSTALLMENT"));
    assert_eq!(
        lines.iter().map(|(_, a, _)| *a).collect::<Vec<_>>(),
        vec![200_000_000, 170_000_000]
    );
    let terms = cat
        .agreement
        .get_agreement_terms()
        .agreement_id(id_of(&agreement))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let schedule = terms.accepted_terms().iter().find_map(|t| match t {
        AcceptedTerm::PaymentScheduleTerm(p) => Some(p.clone()),
        _ => None,
    });
    let schedule = schedule.unwrap_or_else(|| panic!("no payment schedule"));
    assert_eq!(schedule.schedule().len(), 2);
    assert_eq!(schedule.schedule()[1].charge_amount(), Some("170.00"));
    assert!(terms.accepted_terms().iter().any(
        |t| matches!(t, AcceptedTerm::ValidityTerm(v) if v.agreement_duration() == Some("P12M"))
    ));
    let described = cat
        .agreement
        .describe_agreement()
        .agreement_id(id_of(&agreement))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(
        described
            .estimated_charges()
            .and_then(|c| c.agreement_value()),
        Some("370.00")
    );

    let trial = released_offer(&cat, json!([
        create_offer(&cat.saas), info("Free trial"),
        offer_change("UpdatePricingTerms", json!({ "PricingModel": "Free", "Terms": [{ "Type": "FreeTrialPricingTerm", "Duration": "P20D", "Grants": [{ "DimensionKey": "seats" }] }] })),
        legal(), release(),
    ]))
    .await;
    let agreement = accept(&cat, &trial, json!({ "buyer_account_id": "555566667777" })).await;
    let terms = cat
        .agreement
        .get_agreement_terms()
        .agreement_id(id_of(&agreement))
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert!(terms.accepted_terms().iter().any(
        |t| matches!(t, AcceptedTerm::FreeTrialPricingTerm(f) if f.duration() == Some("P20D"))
    ));
    let subscription = cat
        .env
        .emu
        .emulator
        .world()
        .market
        .subscription(crate::support::PRODUCT, "555566667777")
        .cloned();
    assert!(subscription.is_some_and(|s| s.free_trial));
}

#[tokio::test]
async fn acceptance_rules() {
    let cat = setup().await;
    let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
    assert_eq!(
        accept_status(&cat, &offer, json!({ "buyer_account_id": "999999999999" })).await,
        403,
        "not targeted"
    );
    assert_eq!(
        accept_status(&cat, "offer-nope", json!({ "buyer_account_id": BUYER })).await,
        404
    );
    assert_eq!(accept_status(&cat, &offer, json!({ "buyer_account_id": BUYER, "quantities": [{ "dimension_key": "nope", "quantity": 1 }] })).await, 400);
    assert_eq!(
        accept_status(&cat, &offer, json!({ "buyer": 1 })).await,
        400
    );
    accept(&cat, &offer, json!({ "buyer_account_id": BUYER })).await;
    assert_eq!(
        accept_status(&cat, &offer, json!({ "buyer_account_id": BUYER })).await,
        409,
        "already accepted"
    );
    let draft = created_id(&apply_ok(&cat, json!([create_offer(&cat.saas)])).await);
    assert_eq!(
        accept_status(&cat, &draft, json!({ "buyer_account_id": BUYER })).await,
        409,
        "draft offers can't be accepted"
    );
    cat.advance(31 * 86_400);
    let late = released_offer(&cat, contract_offer(&cat.saas, &cat.date(1), false)).await;
    cat.advance(3 * 86_400);
    assert_eq!(
        accept_status(&cat, &late, json!({ "buyer_account_id": BUYER })).await,
        409,
        "expired offers can't be accepted"
    );
}

#[tokio::test]
async fn amend_renew_replace_and_cancel() {
    let cat = setup().await;
    let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
    let original = accept(&cat, &offer, json!({ "buyer_account_id": BUYER, "quantities": [{ "dimension_key": "seats", "quantity": 3 }] })).await;
    let id = id_of(&original);

    let amended = control_ok(
        cat.url(),
        "POST",
        &format!("/_souk/agreements/{id}/amend"),
        json!({ "quantities": [{ "dimension_key": "seats", "quantity": 5 }] }),
    )
    .await;
    assert_eq!(amended["intent"], "AMEND");
    assert_eq!(amended["id"], id.as_str());
    let invoices = control_ok(cat.url(), "GET", "/_souk/invoices", Value::Null).await;
    assert_eq!(
        invoices
            .as_array()
            .and_then(|l| l.last())
            .map(|l| l["amount_micros"].clone()),
        Some(json!(200_000_000)),
        "2 added seats"
    );
    let seats = cat
        .env
        .emu
        .emulator
        .world()
        .market
        .entitlements
        .values()
        .find(|e| e.dimension == "seats")
        .map(|e| e.value.clone());
    assert_eq!(
        seats,
        Some(souk_emulator::market::EntitlementValue::Integer(5))
    );
    assert_events(&cat, &["Purchase Agreement Amended - Proposer"]).await;

    let renewed = control_ok(
        cat.url(),
        "POST",
        &format!("/_souk/agreements/{id}/renew"),
        Value::Null,
    )
    .await;
    assert_eq!(renewed["intent"], "RENEW");
    assert_eq!(renewed["previous_agreement_id"], id.as_str());
    assert_eq!(
        renewed["start_time"], original["end_time"],
        "the renewal starts when the old term ends"
    );
    assert_eq!(status(&cat, &id).await, Some(AgreementStatus::Renewed));
    let renewed_id = id_of(&renewed);

    // A replacement offer on the renewed agreement.
    let replacement = json!([
        { "ChangeType": "CreateReplacementOffer", "Entity": { "Type": "Offer@1.0" }, "ChangeName": "CreateOfferChange",
          "DetailsDocument": { "AgreementId": renewed_id, "Name": "Upgrade" } },
        offer_change("UpdateInformation", json!({ "Description": "Upsell" })),
        offer_change("UpdatePricingTerms", json!({ "PricingModel": "Contract", "Terms": [{ "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": [
            { "Selector": { "Type": "Duration", "Value": "P12M" }, "Constraints": { "MultipleDimensionSelection": "Allowed", "QuantityConfiguration": "Allowed" },
              "RateCard": [{ "DimensionKey": "seats", "Price": "90.00" }] }] }] })),
        offer_change("UpdateValidityTerms", json!({ "Terms": [{ "Type": "ValidityTerm", "AgreementEndDate": cat.date(700) }] })),
        legal(),
        availability(&cat.date(20)),
        release(),
    ]);
    let mut missing_end = replacement.clone();
    if let Some(items) = missing_end.as_array_mut() {
        items.remove(3);
    }
    let out = finish(&cat, &start(&cat, missing_end).await).await;
    assert_eq!(out.status(), Some(&ChangeStatus::Failed));
    assert!(
        error_codes(&out)
            .iter()
            .any(|(_, c)| c == "MISSING_AGREEMENT_END_DATE"),
        "{:?}",
        error_codes(&out)
    );
    let replacement_offer = released_offer(&cat, replacement).await;
    assert_eq!(
        entity(&cat, &replacement_offer).await["AgreementId"],
        renewed_id.as_str()
    );
    let replaced = accept(&cat, &replacement_offer, json!({ "buyer_account_id": BUYER, "quantities": [{ "dimension_key": "seats", "quantity": 8 }] })).await;
    assert_eq!(replaced["intent"], "REPLACE");
    assert_eq!(replaced["previous_agreement_id"], renewed_id.as_str());
    assert_eq!(
        status(&cat, &renewed_id).await,
        Some(AgreementStatus::Replaced)
    );

    let current = id_of(&replaced);
    let ended = control_ok(
        cat.url(),
        "POST",
        &format!("/_souk/agreements/{current}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(ended["status"], "CANCELLED");
    assert_eq!(
        status(&cat, &current).await,
        Some(AgreementStatus::Cancelled)
    );
    assert_events(&cat, &["Purchase Agreement Ended - Proposer"]).await;
    let subscription = cat
        .env
        .emu
        .emulator
        .world()
        .market
        .subscription(crate::support::PRODUCT, BUYER)
        .cloned();
    assert!(subscription.is_some_and(|s| matches!(
        s.status,
        souk_emulator::market::SubscriptionStatus::UnsubscribePending { .. }
    )));
    let (code, _) = control(
        cat.url(),
        "POST",
        &format!("/_souk/agreements/{current}/cancel"),
        json!({}),
    )
    .await;
    assert_eq!(code, 409);
}

#[tokio::test]
async fn agreements_expire_with_the_clock() {
    let cat = setup().await;
    let offer = released_offer(&cat, contract_offer(&cat.concurrent, &cat.date(30), false)).await;
    let agreement = accept(&cat, &offer, json!({ "buyer_account_id": BUYER })).await;
    let id = id_of(&agreement);
    cat.advance(367 * 86_400);
    assert_eq!(status(&cat, &id).await, Some(AgreementStatus::Expired));
    let listed = control_ok(
        cat.url(),
        "GET",
        &format!("/_souk/agreements/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(listed["status"], "EXPIRED");
    assert_events(&cat, &["Purchase Agreement Ended - Proposer"]).await;
}

#[tokio::test]
async fn catalog_and_agreements_survive_a_state_round_trip() {
    let cat = setup().await;
    let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), true)).await;
    let agreement = accept(&cat, &offer, json!({ "buyer_account_id": BUYER })).await;
    start(&cat, json!([create_offer(&cat.saas)])).await;
    let text = serde_json::to_string(&*cat.env.emu.emulator.world())
        .unwrap_or_else(|err| panic!("serialize: {err}"));
    let restored: souk_emulator::World =
        serde_json::from_str(&text).unwrap_or_else(|err| panic!("deserialize: {err}"));
    assert!(restored.catalog.offers.contains_key(&offer));
    assert_eq!(restored.catalog.change_sets.len(), 2);
    let id = id_of(&agreement);
    let stored = restored
        .agreements
        .agreements
        .get(&id)
        .cloned()
        .unwrap_or_else(|| panic!("agreement lost"));
    assert_eq!(stored.offer_id, offer);
    assert_eq!(
        restored.agreements.invoices.len(),
        cat.env.emu.emulator.world().agreements.invoices.len()
    );
}
