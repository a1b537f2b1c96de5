//! Offer change types and their asynchronous business rules: contract, contract + consumption,
//! flexible payment schedules, free trials, public offers, AMI/container/professional-services
//! products, and the documented `ErrorDetailList` codes.

use aws_sdk_marketplacecatalog::types::ChangeStatus;
use serde_json::{Value, json};

use crate::support::BUYER;
use crate::support::catalog::*;

/// Runs `list` and returns its (change type, error code) pairs, asserting it failed.
async fn failure(cat: &Cat, list: Value) -> Vec<(String, String)> {
    let out = finish(cat, &start(cat, list).await).await;
    assert_eq!(out.status(), Some(&ChangeStatus::Failed));
    error_codes(&out)
}

fn has(codes: &[(String, String)], change_type: &str, code: &str) -> bool {
    codes.iter().any(|(t, c)| t == change_type && c == code)
}

fn pricing(model: &str, terms: Value) -> Value {
    offer_change(
        "UpdatePricingTerms",
        json!({ "PricingModel": model, "Terms": terms }),
    )
}

#[tokio::test]
async fn contract_offer_with_and_without_consumption() {
    let cat = setup().await;
    for with_usage in [false, true] {
        let offer =
            released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), with_usage)).await;
        let doc = entity(&cat, &offer).await;
        let types: Vec<&str> = doc["Terms"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t["Type"].as_str())
            .collect();
        assert!(types.contains(&"ConfigurableUpfrontPricingTerm"));
        assert_eq!(types.contains(&"UsageBasedPricingTerm"), with_usage);
        assert!(
            types.contains(&"SupportTerm")
                && types.contains(&"RenewalTerm")
                && types.contains(&"LegalTerm")
        );
        assert_eq!(doc["PricingModel"], "Contract");
    }
}

#[tokio::test]
async fn public_free_trial_and_public_offer_limits() {
    let cat = setup().await;
    let free_trial = json!([
        create_offer(&cat.saas),
        info("Free trial"),
        pricing(
            "Free",
            json!([{ "Type": "FreeTrialPricingTerm", "Duration": "P20D", "Grants": [{ "DimensionKey": "seats" }] }])
        ),
        legal(),
        release(),
    ]);
    let offer = released_offer(&cat, free_trial.clone()).await;
    let doc = entity(&cat, &offer).await;
    assert!(
        doc["Rules"].as_array().is_some_and(Vec::is_empty),
        "public offer has no targeting: {doc}"
    );
    // One public free-trial offer per product.
    assert!(has(
        &failure(&cat, free_trial).await,
        "ReleaseOffer",
        "TOO_MANY_OFFERS"
    ));
    // Support terms aren't allowed on free-trial offers.
    let codes = failure(&cat, json!([
        create_offer(&cat.saas),
        pricing("Free", json!([{ "Type": "FreeTrialPricingTerm", "Duration": "P20D", "Grants": [{ "DimensionKey": "seats" }] }])),
        offer_change("UpdateSupportTerms", json!({ "Terms": [{ "Type": "SupportTerm", "RefundPolicy": "None." }] })),
    ]))
    .await;
    assert!(
        has(&codes, "UpdateSupportTerms", "INCOMPATIBLE_TERMS"),
        "{codes:?}"
    );
    // Public offers can't have an expiry or validity terms.
    let codes = failure(&cat, json!([
        create_offer(&cat.saas), info("Public usage"),
        pricing("Usage", json!([{ "Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{ "RateCard": [{ "DimensionKey": "users", "Price": "0.01" }] }] }])),
        offer_change("UpdateValidityTerms", json!({ "Terms": [{ "Type": "ValidityTerm", "AgreementDuration": "P12M" }] })),
        legal(), availability(&cat.date(30)), release(),
    ]))
    .await;
    assert!(
        has(&codes, "ReleaseOffer", "INVALID_AVAILABILITY_END_DATE"),
        "{codes:?}"
    );
    assert!(
        has(&codes, "ReleaseOffer", "INCOMPATIBLE_TERMS"),
        "{codes:?}"
    );
}

#[tokio::test]
async fn release_requires_mandatory_information() {
    let cat = setup().await;
    let codes = failure(
        &cat,
        json!([create_offer(&cat.saas), targeting(&[BUYER]), release()]),
    )
    .await;
    for code in [
        "MISSING_NAME",
        "MISSING_DESCRIPTION",
        "MISSING_MANDATORY_TERMS",
        "MISSING_AVAILABILITY_END_DATE",
    ] {
        assert!(has(&codes, "ReleaseOffer", code), "{code}: {codes:?}");
    }
    let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
    let again = json!([{ "ChangeType": "ReleaseOffer", "Entity": { "Type": "Offer@1.0", "Identifier": offer }, "DetailsDocument": {} }]);
    assert!(has(
        &failure(&cat, again).await,
        "ReleaseOffer",
        "INVALID_UPDATE_REQUEST"
    ));
}

#[tokio::test]
async fn payment_schedule_rules() {
    let cat = setup().await;
    let expiry = cat.date(30);
    let (d10, d20, d60) = (cat.date(10), cat.date(20), cat.date(60));
    let codes = failure(
        &cat,
        fps_offer(&cat.saas, &expiry, &[(&d60, "1.00"), (&d60, "2.00")]),
    )
    .await;
    assert!(
        has(
            &codes,
            "UpdatePaymentScheduleTerms",
            "DUPLICATE_CHARGE_DATES"
        ),
        "{codes:?}"
    );
    let codes = failure(
        &cat,
        fps_offer(&cat.saas, &expiry, &[(&d10, "1.00"), (&d20, "2.00")]),
    )
    .await;
    assert!(
        codes.iter().any(|(_, c)| c == "TOO_MANY_BACKDATED_CHARGES"),
        "{codes:?}"
    );
    // A payment schedule needs a $0 FixedUpfrontPricingTerm.
    let mut list = fps_offer(&cat.saas, &expiry, &[(&d60, "1.00")]);
    list[3] = pricing(
        "Contract",
        json!([{ "Type": "FixedUpfrontPricingTerm", "CurrencyCode": "USD", "Price": "10.00", "Grants": [{ "DimensionKey": "seats" }] }]),
    );
    assert!(
        failure(&cat, list)
            .await
            .iter()
            .any(|(_, c)| c == "INCOMPATIBLE_TERMS")
    );
    // ...and it is required at release.
    let mut list = fps_offer(&cat.saas, &expiry, &[(&d60, "1.00")]);
    list[3] = pricing(
        "Contract",
        json!([{ "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": [
            { "Selector": { "Type": "Duration", "Value": "P12M" },
              "Constraints": { "MultipleDimensionSelection": "Allowed", "QuantityConfiguration": "Allowed" },
              "RateCard": [{ "DimensionKey": "seats", "Price": "1.00" }] }] }]),
    );
    let codes = failure(&cat, list).await;
    assert!(
        has(&codes, "ReleaseOffer", "MISSING_MANDATORY_TERMS"),
        "{codes:?}"
    );
    // Currencies must match across pricing and payment terms.
    let mut list = fps_offer(&cat.saas, &expiry, &[(&d60, "1.00")]);
    list[5] = offer_change(
        "UpdatePaymentScheduleTerms",
        json!({ "Terms": [{ "Type": "PaymentScheduleTerm", "CurrencyCode": "EUR", "Schedule": [{ "ChargeDate": d60, "ChargeAmount": "1.00" }] }] }),
    );
    assert!(
        failure(&cat, list)
            .await
            .iter()
            .any(|(_, c)| c == "INVALID_CURRENCY_CODE")
    );
    // Not allowed once released.
    let offer = released_offer(&cat, fps_offer(&cat.saas, &expiry, &[(&d60, "1.00")])).await;
    let late = json!([{ "ChangeType": "UpdatePaymentScheduleTerms", "Entity": { "Type": "Offer@1.0", "Identifier": offer },
        "DetailsDocument": { "Terms": [{ "Type": "PaymentScheduleTerm", "CurrencyCode": "USD", "Schedule": [{ "ChargeDate": d60, "ChargeAmount": "5.00" }] }] } }]);
    assert!(has(
        &failure(&cat, late).await,
        "UpdatePaymentScheduleTerms",
        "INCOMPATIBLE_TERMS"
    ));
}

#[tokio::test]
async fn pricing_rules() {
    let cat = setup().await;
    let usage = json!({ "Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{ "RateCard": [{ "DimensionKey": "users", "Price": "0.01" }] }] });
    let codes = failure(
        &cat,
        json!([
            create_offer(&cat.saas),
            pricing("Usage", json!([usage, usage]))
        ]),
    )
    .await;
    assert!(
        has(&codes, "UpdatePricingTerms", "DUPLICATE_TERM_TYPES"),
        "{codes:?}"
    );
    let gbp_usage = json!({ "Type": "UsageBasedPricingTerm", "CurrencyCode": "GBP", "RateCards": [{ "RateCard": [{ "DimensionKey": "users", "Price": "0.01" }] }] });
    assert!(has(
        &failure(
            &cat,
            json!([
                create_offer(&cat.saas),
                pricing("Usage", json!([gbp_usage]))
            ])
        )
        .await,
        "UpdatePricingTerms",
        "INVALID_CURRENCY_CODE"
    ));
    let unknown = json!({ "Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{ "RateCard": [{ "DimensionKey": "nope", "Price": "0.01" }] }] });
    assert!(has(
        &failure(
            &cat,
            json!([create_offer(&cat.saas), pricing("Usage", json!([unknown]))])
        )
        .await,
        "UpdatePricingTerms",
        "INCOMPATIBLE_PRODUCT"
    ));
    assert!(has(
        &failure(
            &cat,
            json!([create_offer(&cat.saas), pricing("Byol", json!([usage]))])
        )
        .await,
        "UpdatePricingTerms",
        "MISSING_MANDATORY_TERMS"
    ));
    let paid_free = json!({ "Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{ "RateCard": [{ "DimensionKey": "users", "Price": "1.00" }] }] });
    assert!(has(
        &failure(
            &cat,
            json!([create_offer(&cat.saas), pricing("Free", json!([paid_free]))])
        )
        .await,
        "UpdatePricingTerms",
        "INCOMPATIBLE_RATES"
    ));
    // The pricing model can't change after release.
    let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
    let switch = json!([{ "ChangeType": "UpdatePricingTerms", "Entity": { "Type": "Offer@1.0", "Identifier": offer }, "DetailsDocument": { "PricingModel": "Usage", "Terms": [usage] } }]);
    assert!(has(
        &failure(&cat, switch).await,
        "UpdatePricingTerms",
        "INCOMPATIBLE_PRICING_MODEL"
    ));
}

#[tokio::test]
async fn targeting_and_terms_after_release() {
    let cat = setup().await;
    let codes = failure(
        &cat,
        json!([create_offer(&cat.saas), targeting(&["12345"])]),
    )
    .await;
    assert!(
        has(&codes, "UpdateTargeting", "INVALID_BUYER_ACCOUNTS"),
        "{codes:?}"
    );
    let offer = released_offer(&cat, contract_offer(&cat.saas, &cat.date(30), false)).await;
    let on = |change_type: &str, details: Value| json!([{ "ChangeType": change_type, "Entity": { "Type": "Offer@1.0", "Identifier": offer }, "DetailsDocument": details }]);
    assert!(has(&failure(&cat, on("UpdateLegalTerms", json!({ "Terms": [{ "Type": "LegalTerm", "Documents": [{ "Type": "StandardEula", "Version": "2022-07-14" }] }] }))).await, "UpdateLegalTerms", "INCOMPATIBLE_TERMS"));
    assert!(has(
        &failure(
            &cat,
            on(
                "UpdateTargeting",
                json!({ "PositiveTargeting": { "BuyerAccounts": ["999999999999"] } })
            )
        )
        .await,
        "UpdateTargeting",
        "INCOMPATIBLE_TARGETING"
    ));
    assert!(has(
        &failure(
            &cat,
            on(
                "UpdateNetPaymentTerms",
                json!({ "Terms": [{ "Type": "NetPaymentTerm", "PaymentDuePeriod": "P30D" }] })
            )
        )
        .await,
        "UpdateNetPaymentTerms",
        "INCOMPATIBLE_TERMS"
    ));
    // Expiring a released offer with a past AvailabilityEndDate is allowed.
    let expire = on(
        "UpdateAvailability",
        json!({ "AvailabilityEndDate": cat.date(-1) }),
    );
    apply_ok(&cat, expire).await;
    // ...and then nothing else can change.
    assert!(has(
        &failure(&cat, on("UpdateInformation", json!({ "Name": "late" }))).await,
        "UpdateInformation",
        "INCOMPATIBLE_TERMS"
    ));
}

#[tokio::test]
async fn validity_renewal_and_net_payment_rules() {
    let cat = setup().await;
    let validity = |terms: Value| {
        json!([
            create_offer(&cat.saas),
            offer_change("UpdateValidityTerms", json!({ "Terms": [terms] }))
        ])
    };
    let codes = failure(&cat, validity(json!({ "Type": "ValidityTerm", "AgreementDuration": "P12M", "AgreementEndDate": cat.date(400) }))).await;
    assert!(
        has(
            &codes,
            "UpdateValidityTerms",
            "INVALID_AGREEMENT_TIME_INTERVAL"
        ),
        "{codes:?}"
    );
    let codes = failure(&cat, validity(json!({ "Type": "ValidityTerm", "AgreementStartDate": cat.date(40), "AgreementEndDate": cat.date(-5) }))).await;
    assert!(
        has(&codes, "UpdateValidityTerms", "INVALID_AGREEMENT_END_DATE"),
        "{codes:?}"
    );
    let renewal = json!([
        create_offer(&cat.saas),
        targeting(&[BUYER]),
        offer_change(
            "UpdateRenewalTerms",
            json!({ "Terms": [{ "Type": "RenewalTerm",
        "PriceIncrease": { "Type": "PercentageRange", "Range": { "MinValue": "10.00", "MaxValue": "5.00", "DefaultValue": "7.00" } } }] })
        )
    ]);
    let codes = failure(&cat, renewal).await;
    assert!(
        has(&codes, "UpdateRenewalTerms", "INVALID_PERCENTAGE_RANGE"),
        "{codes:?}"
    );
    assert!(
        has(&codes, "UpdateRenewalTerms", "MISSING_ADJUSTMENT_DEADLINE"),
        "{codes:?}"
    );
    let net = json!([
        create_offer(&cat.saas),
        offer_change(
            "UpdateNetPaymentTerms",
            json!({ "Terms": [{ "Type": "NetPaymentTerm", "PaymentDuePeriod": "P7D" }] })
        )
    ]);
    assert!(has(
        &failure(&cat, net).await,
        "UpdateNetPaymentTerms",
        "INVALID_PAYMENT_DUE_PERIOD"
    ));
    // Rich renewal terms and net payment terms on a private offer are accepted.
    let mut list = contract_offer(&cat.saas, &cat.date(30), false);
    list[5] = offer_change(
        "UpdateRenewalTerms",
        json!({ "Terms": [{ "Type": "RenewalTerm", "LockoutPeriod": "P30D", "MaxRenewals": 2,
        "PriceIncrease": { "Type": "FixedPercentage", "Value": "5.00" },
        "TermTemplates": [{ "Type": "PaymentScheduleTermTemplate", "Schedule": [{ "ChargeDateOffset": "P0M", "ChargePercentage": "50.00" }, { "ChargeDateOffset": "P6M", "ChargePercentage": "50.00", "DayOfMonth": 15 }] }] }] }),
    );
    if let Some(items) = list.as_array_mut() {
        items.insert(
            8,
            offer_change(
                "UpdateNetPaymentTerms",
                json!({ "Terms": [{ "Type": "NetPaymentTerm", "PaymentDuePeriod": "P30D" }] }),
            ),
        );
    }
    released_offer(&cat, list).await;
}

#[tokio::test]
async fn restricted_product_and_other_product_kinds() {
    let cat = setup().await;
    let restricted =
        catalog_product(&cat, json!({ "title": "Old", "visibility": "Restricted" })).await;
    assert!(has(
        &failure(&cat, json!([create_offer(&restricted)])).await,
        "CreateOffer",
        "INCOMPATIBLE_PRODUCT"
    ));

    let ami = catalog_product(
        &cat,
        json!({ "title": "AMI", "kind": "ami", "dimensions": ["m5.large"] }),
    )
    .await;
    let hourly_annual = json!([
        create_offer(&ami),
        info("AMI hourly with annual"),
        targeting(&[BUYER]),
        pricing(
            "Usage",
            json!([
            { "Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{ "RateCard": [{ "DimensionKey": "m5.large", "Price": "0.12" }] }] },
            { "Type": "FixedUpfrontPricingTerm", "CurrencyCode": "USD", "Price": "500.00", "Duration": "P365D", "Grants": [{ "DimensionKey": "m5.large", "MaxQuantity": 1 }] }])
        ),
        legal(),
        availability(&cat.date(30)),
        release(),
    ]);
    released_offer(&cat, hourly_annual).await;
    for kind in ["container", "professional_services"] {
        let product = catalog_product(
            &cat,
            json!({ "title": kind, "kind": kind, "dimensions": ["units"] }),
        )
        .await;
        let list = json!([
            create_offer(&product),
            info(kind),
            targeting(&[BUYER]),
            pricing(
                "Contract",
                json!([{ "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD", "RateCards": [
                { "Selector": { "Type": "Duration", "Value": "P1M" }, "Constraints": { "MultipleDimensionSelection": "Disallowed", "QuantityConfiguration": "Disallowed" },
                  "RateCard": [{ "DimensionKey": "units", "Price": "1000" }] }] }])
            ),
            legal(),
            availability(&cat.date(30)),
            release(),
        ]);
        let offer = released_offer(&cat, list).await;
        assert_eq!(entity(&cat, &offer).await["ProductId"], product.as_str());
    }
}
