//! Channel-partner private offers (CPPO): resale authorizations, offers created from them,
//! UpdateMarkup, restriction, and acceptance by a buyer.

use aws_sdk_marketplacecatalog::types::ChangeStatus;
use serde_json::{Value, json};

use crate::support::catalog::*;
use crate::support::{BUYER, control_ok};

const RA_REF: &str = "$CreateRA.Entity.Identifier";

fn ra_change(change_type: &str, details: Value) -> Value {
    json!({ "ChangeType": change_type, "Entity": { "Type": "ResaleAuthorization@1.0", "Identifier": RA_REF }, "DetailsDocument": details })
}

fn authorization(cat: &Cat) -> Value {
    json!([
        { "ChangeType": "CreateResaleAuthorization", "Entity": { "Type": "ResaleAuthorization@1.0" }, "ChangeName": "CreateRA",
          "DetailsDocument": { "ProductId": cat.saas, "Name": "Partner deal", "Description": "CPPO", "ResellerAccountId": RESELLER } },
        ra_change("UpdatePricingTerms", json!({ "PricingModel": "Contract", "Terms": [{ "Type": "ResaleConfigurableUpfrontPricingTerm", "CurrencyCode": "USD",
            "RateCards": [{ "Selector": { "Type": "Duration", "Value": "P12M" },
                "Constraints": { "MultipleDimensionSelection": "Allowed", "QuantityConfiguration": "Allowed" },
                "RateCard": [{ "DimensionKey": "seats", "Price": "100.00" }] }] }] })),
        ra_change("UpdateLegalTerms", json!({ "Terms": [{ "Type": "BuyerLegalTerm", "Documents": [{ "Type": "StandardEula", "Url": "https://example.com/eula" }] }] })),
        ra_change("UpdateBuyerTargetingTerms", json!({ "Terms": [{ "Type": "BuyerTargetingTerm", "PositiveTargeting": { "BuyerAccounts": [BUYER] } }] })),
        ra_change("UpdateAvailability", json!({ "AvailabilityEndDate": cat.date(90) })),
        ra_change("UpdateInformation", json!({ "Description": "Channel partner private offer" })),
        ra_change("ReleaseResaleAuthorization", json!({})),
    ])
}

fn cppo_offer(ra: &str, cat: &Cat, markup: &str) -> Value {
    json!([
        { "ChangeType": "CreateOfferUsingResaleAuthorization", "Entity": { "Type": "Offer@1.0" }, "ChangeName": "CreateOfferChange",
          "DetailsDocument": { "ResaleAuthorizationId": ra, "Name": "Partner offer" } },
        offer_change("UpdateMarkup", json!({ "Percentage": markup })),
        targeting(&[BUYER]),
        availability(&cat.date(30)),
        release(),
    ])
}

#[tokio::test]
async fn resale_authorization_then_cppo_offer_with_markup() {
    let cat = setup().await;
    let ra = created_id(&apply_ok(&cat, authorization(&cat)).await);
    assert!(ra.starts_with("resaleauthz-"), "{ra}");
    let doc = entity(&cat, &ra).await;
    assert_eq!(doc["Status"], "Active");
    assert_eq!(doc["ResellerAccountId"], RESELLER);
    assert_eq!(doc["Description"], "Channel partner private offer");

    let listed = cat
        .catalog
        .list_entities()
        .catalog(CATALOG)
        .entity_type("ResaleAuthorization")
        .send()
        .await;
    let listed = listed.unwrap_or_else(|err| panic!("{err:?}"));
    let summary = listed.entity_summary_list()[0]
        .resale_authorization_summary()
        .cloned()
        .unwrap_or_else(|| panic!("summary"));
    assert_eq!(summary.reseller_account_id(), Some(RESELLER));

    let offer = released_offer(&cat, cppo_offer(&ra, &cat, "10.0")).await;
    let doc = entity(&cat, &offer).await;
    assert_eq!(doc["MarkupPercentage"], "10.0");
    assert_eq!(doc["ResaleAuthorizationId"], ra.as_str());
    assert!(doc["Terms"].as_array().is_some_and(|t| {
        t.iter()
            .any(|t| t["Type"] == "ConfigurableUpfrontPricingTerm")
    }));

    let agreement = accept(&cat, &offer, json!({ "buyer_account_id": BUYER, "quantities": [{ "dimension_key": "seats", "quantity": 2 }] })).await;
    assert_eq!(agreement["proposer_account_id"], RESELLER);
    assert_eq!(agreement["resale_authorization_id"], ra.as_str());
    let invoices = control_ok(cat.url(), "GET", "/_souk/invoices", Value::Null).await;
    let line = invoices
        .as_array()
        .and_then(|l| l.first())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        line["amount_micros"], 220_000_000,
        "2 seats x $100 + 10% markup: {line}"
    );
    assert_eq!(line["seller_account_id"], RESELLER);
    assert_eq!(
        line["wholesale_micros"], 200_000_000,
        "before the markup: {line}"
    );

    // The billing feed (the ISV's, the emulator's seller account) has the buyer leg, the
    // reseller's fee, the partner leg paying the ISV the wholesale, and the ISV's fee on it.
    const ISV: &str = "111122223333";
    const AWS: &str = "287250355862";
    let events = control_ok(cat.url(), "GET", "/_souk/feeds/billing-events", Value::Null).await;
    let rows: Vec<(String, String, String, i64)> = events["billing_events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["invoice_id"] == line["invoice_id"])
        .map(|e| {
            (
                e["transaction_type"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                e["from_account"].as_str().unwrap_or_default().to_owned(),
                e["to_account"].as_str().unwrap_or_default().to_owned(),
                e["amount_micros"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    let row = |kind: &str, from: &str, to: &str, amount: i64| {
        (kind.to_owned(), from.to_owned(), to.to_owned(), amount)
    };
    assert_eq!(
        rows,
        vec![
            row("SELLER_REV_SHARE", BUYER, RESELLER, 220_000_000),
            row("AWS_REV_SHARE", RESELLER, AWS, -6_600_000),
            row("SELLER_REV_SHARE", RESELLER, ISV, 200_000_000),
            row("AWS_REV_SHARE", ISV, AWS, -6_000_000),
        ]
    );
    // Each seller is paid its own rows.
    let disbursed = control_ok(cat.url(), "POST", "/_souk/feeds/disbursements", Value::Null).await;
    let mut amounts: Vec<String> = disbursed["disbursements"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| d["amount"].as_str().unwrap_or_default().to_owned())
        .collect();
    amounts.sort();
    assert_eq!(amounts, vec!["194.00", "213.40"], "{disbursed}");
    let events = control_ok(cat.url(), "GET", "/_souk/feeds/billing-events", Value::Null).await;
    let events = events["billing_events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut payouts: Vec<(String, i64)> = events
        .iter()
        .filter(|e| e["transaction_type"] == "DISBURSEMENT")
        .map(|e| {
            (
                e["to_account"].as_str().unwrap_or_default().to_owned(),
                e["amount_micros"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    payouts.sort();
    assert_eq!(
        payouts,
        vec![
            (ISV.to_owned(), 194_000_000),
            (RESELLER.to_owned(), 213_400_000)
        ]
    );
    let balance: i64 = events
        .iter()
        .filter(|e| e["balance_impacting"] == true)
        .map(|e| e["amount_micros"].as_i64().unwrap_or_default())
        .sum();
    assert_eq!(balance, 0);
    assert_events(
        &cat,
        &[
            "Purchase Agreement Created - Proposer",
            "Purchase Agreement Created - Manufacturer",
        ],
    )
    .await;
}

#[tokio::test]
async fn resale_rules() {
    let cat = setup().await;
    let ra = created_id(&apply_ok(&cat, authorization(&cat)).await);
    // Buyers outside the authorization's targeting.
    let mut list = cppo_offer(&ra, &cat, "5.0");
    list[2] = targeting(&["999999999999"]);
    let out = finish(&cat, &start(&cat, list).await).await;
    assert_eq!(out.status(), Some(&ChangeStatus::Failed));
    assert!(
        error_codes(&out)
            .iter()
            .any(|(_, c)| c == "INCOMPATIBLE_RESALE_AUTHORIZATION"),
        "{:?}",
        error_codes(&out)
    );
    // UpdateMarkup only on resale offers.
    let direct = json!([
        create_offer(&cat.saas),
        offer_change("UpdateMarkup", json!({ "Percentage": "1.0" }))
    ]);
    let out = finish(&cat, &start(&cat, direct).await).await;
    assert!(
        error_codes(&out)
            .iter()
            .any(|(t, c)| t == "UpdateMarkup" && c == "INCOMPATIBLE_RESALE_AUTHORIZATION")
    );
    // Terms can't change after release; a restricted authorization can't be used.
    let on = |t: &str, d: Value| json!([{ "ChangeType": t, "Entity": { "Type": "ResaleAuthorization@1.0", "Identifier": ra }, "DetailsDocument": d }]);
    let out = finish(&cat, &start(&cat, on("UpdateBuyerTargetingTerms", json!({ "Terms": [{ "Type": "BuyerTargetingTerm", "PositiveTargeting": { "BuyerAccounts": [BUYER] } }] }))).await).await;
    assert!(
        error_codes(&out)
            .iter()
            .any(|(_, c)| c == "INCOMPATIBLE_TERMS")
    );
    apply_ok(&cat, on("RestrictResaleAuthorization", json!({}))).await;
    assert_eq!(entity(&cat, &ra).await["Status"], "Restricted");
    let out = finish(&cat, &start(&cat, cppo_offer(&ra, &cat, "5.0")).await).await;
    assert!(
        error_codes(&out)
            .iter()
            .any(|(t, c)| t == "CreateOfferUsingResaleAuthorization"
                && c == "INCOMPATIBLE_RESALE_AUTHORIZATION")
    );
    // Release twice.
    let out = finish(
        &cat,
        &start(&cat, on("ReleaseResaleAuthorization", json!({}))).await,
    )
    .await;
    assert!(
        error_codes(&out)
            .iter()
            .any(|(_, c)| c == "INVALID_UPDATE_REQUEST")
    );
    // Synchronous: reseller account id must be 12 digits.
    let bad = json!([{ "ChangeType": "CreateResaleAuthorization", "Entity": { "Type": "ResaleAuthorization@1.0" },
        "DetailsDocument": { "ProductId": cat.saas, "Name": "x", "ResellerAccountId": "123" } }]);
    let err = cat
        .catalog
        .start_change_set()
        .catalog(CATALOG)
        .set_change_set(Some(changes(&bad)))
        .send()
        .await;
    assert!(crate::service_error!(err, 422).is_validation_exception());
}

#[tokio::test]
async fn the_partner_replaces_its_agreement_through_a_resale_authorization() {
    let cat = setup().await;
    let ra = created_id(&apply_ok(&cat, authorization(&cat)).await);
    let offer = released_offer(&cat, cppo_offer(&ra, &cat, "0")).await;
    let agreement = accept(&cat, &offer, json!({ "buyer_account_id": BUYER, "quantities": [{ "dimension_key": "seats", "quantity": 1 }] })).await;
    let agreement_id = agreement["id"].as_str().unwrap_or_default().to_owned();
    let replace = |ra: &str| {
        json!([{ "ChangeType": "CreateReplacementOfferUsingResaleAuthorization", "Entity": { "Type": "Offer@1.0" },
            "DetailsDocument": { "ResaleAuthorizationId": ra, "AgreementId": agreement_id } }])
    };
    // The authorisation's reseller proposed the agreement: the replacement starts.
    let started = cat
        .catalog
        .start_change_set()
        .catalog(CATALOG)
        .set_change_set(Some(changes(&replace(&ra))))
        .send()
        .await;
    assert!(started.is_ok(), "{started:?}");
    // An authorisation granted to another partner cannot replace it.
    let mut other = authorization(&cat);
    other[0]["DetailsDocument"]["ResellerAccountId"] = json!("999988887777");
    let other_ra = created_id(&apply_ok(&cat, other).await);
    let err = cat
        .catalog
        .start_change_set()
        .catalog(CATALOG)
        .set_change_set(Some(changes(&replace(&other_ra))))
        .send()
        .await;
    assert!(crate::service_error!(err, 403).is_access_denied_exception());
}
