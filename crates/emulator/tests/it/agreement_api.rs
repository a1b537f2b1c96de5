//! The Agreement API through the official SDK, over agreements created by buyers accepting
//! offers through the control API: DescribeAgreement, GetAgreementTerms, SearchAgreements and
//! their errors; the invoice ledger and the market side effects.

use aws_sdk_marketplaceagreement::types::{AcceptedTerm, AgreementStatus, Filter, Sort, SortOrder};
use serde_json::{Value, json};

use crate::support::catalog::*;
use crate::support::{BUYER, OTHER_BUYER, aws_json, control_ok, raw};

fn filter(name: &str, value: &str) -> Filter {
    Filter::builder().name(name).values(value).build()
}

async fn contract_agreement(cat: &Cat, with_usage: bool) -> (String, Value) {
    let offer = released_offer(cat, contract_offer(&cat.saas, &cat.date(30), with_usage)).await;
    let agreement = accept(
        cat,
        &offer,
        json!({ "buyer_account_id": BUYER, "quantities": [
        { "dimension_key": "seats", "quantity": 3 }, { "dimension_key": "tier", "quantity": 1 }] }),
    )
    .await;
    (offer, agreement)
}

#[tokio::test]
async fn accepted_contract_offer_is_an_agreement() {
    let cat = setup().await;
    let (offer, agreement) = contract_agreement(&cat, true).await;
    let id = agreement["id"].as_str().unwrap_or_default().to_owned();
    assert!(id.starts_with("agmt-") && id.len() == 30, "{id}");
    assert_eq!(agreement["intent"], "NEW");

    let out = cat
        .agreement
        .describe_agreement()
        .agreement_id(&id)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(out.agreement_id(), Some(id.as_str()));
    assert_eq!(out.status(), Some(&AgreementStatus::Active));
    assert_eq!(out.agreement_type(), Some("PurchaseAgreement"));
    assert_eq!(out.acceptor().and_then(|a| a.account_id()), Some(BUYER));
    assert_eq!(
        out.proposer().and_then(|a| a.account_id()),
        Some("111122223333")
    );
    let charges = out
        .estimated_charges()
        .cloned()
        .unwrap_or_else(|| panic!("charges"));
    assert_eq!(charges.currency_code(), Some("USD"));
    assert_eq!(charges.agreement_value(), Some("550.00"));
    let proposal = out
        .proposal_summary()
        .cloned()
        .unwrap_or_else(|| panic!("proposal"));
    assert_eq!(proposal.offer_id(), Some(offer.as_str()));
    assert_eq!(proposal.resources()[0].id(), Some(cat.saas.as_str()));
    assert_eq!(proposal.resources()[0].r#type(), Some("SaaSProduct"));
    let (start, end) = (
        out.start_time().map(|t| t.secs()).unwrap_or(0),
        out.end_time().map(|t| t.secs()).unwrap_or(0),
    );
    assert!(
        (365 * 86_400..=366 * 86_400).contains(&(end - start)),
        "P12M agreement: {start} .. {end}"
    );

    let terms = cat
        .agreement
        .get_agreement_terms()
        .agreement_id(&id)
        .send()
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    let terms = terms.accepted_terms();
    let cu = terms.iter().find_map(|t| match t {
        AcceptedTerm::ConfigurableUpfrontPricingTerm(c) => Some(c.clone()),
        _ => None,
    });
    let cu = cu.unwrap_or_else(|| panic!("no configurable upfront term in {terms:?}"));
    let configuration = cu
        .configuration()
        .cloned()
        .unwrap_or_else(|| panic!("configuration"));
    assert_eq!(configuration.selector_value(), "P12M");
    assert!(
        configuration
            .dimensions()
            .iter()
            .any(|d| d.dimension_key() == "seats" && d.dimension_value() == 3)
    );
    assert!(
        terms
            .iter()
            .any(|t| matches!(t, AcceptedTerm::UsageBasedPricingTerm(_)))
    );
    assert!(
        terms
            .iter()
            .any(|t| matches!(t, AcceptedTerm::LegalTerm(_)))
    );
    assert!(terms.iter().any(|t| matches!(t, AcceptedTerm::SupportTerm(s) if s.refund_policy() == Some("Full refund within 30 days."))));
    assert!(terms.iter().any(|t| matches!(t, AcceptedTerm::RenewalTerm(r) if r.configuration().is_some_and(|c| c.enable_auto_renew()))));

    // Market side effects: subscription and contract entitlements.
    {
        let world = cat.env.emu.emulator.world();
        let subscription = world
            .market
            .subscription(crate::support::PRODUCT, BUYER)
            .cloned();
        assert!(
            subscription.is_some_and(
                |s| s.agreement_id == id && s.offer_id.as_deref() == Some(offer.as_str())
            )
        );
        let seats = world
            .market
            .entitlements
            .values()
            .find(|e| e.aws_account_id == BUYER && e.dimension == "seats")
            .cloned();
        assert!(
            seats.is_some_and(|e| e.value == souk_emulator::market::EntitlementValue::Integer(3))
        );
    }
    let invoices = control_ok(cat.url(), "GET", "/_souk/invoices", Value::Null).await;
    let amounts: Vec<i64> = invoices
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["amount_micros"].as_i64())
        .collect();
    assert_eq!(amounts, vec![300_000_000, 250_000_000]);
    assert_eq!(invoices[0]["kind"], "UPFRONT");
    assert_eq!(invoices[0]["currency_code"], "USD");
    assert_events(
        &cat,
        &[
            "Purchase Agreement Created - Proposer",
            "License Updated - Manufacturer",
        ],
    )
    .await;
}

#[tokio::test]
async fn search_agreements_as_proposer() {
    let cat = setup().await;
    let (offer, first) = contract_agreement(&cat, false).await;
    let public = released_offer(&cat, json!([
        create_offer(&cat.concurrent), info("Public usage"),
        offer_change("UpdatePricingTerms", json!({ "PricingModel": "Usage", "Terms": [{ "Type": "UsageBasedPricingTerm", "CurrencyCode": "USD", "RateCards": [{ "RateCard": [{ "DimensionKey": "users", "Price": "0.01" }] }] }] })),
        legal(), release(),
    ]))
    .await;
    let second = accept(&cat, &public, json!({ "buyer_account_id": OTHER_BUYER })).await;
    assert!(
        second["end_time"].is_null(),
        "pay-as-you-go agreements are open-ended"
    );
    let search = |filters: Vec<Filter>| {
        cat.agreement
            .search_agreements()
            .catalog(CATALOG)
            .set_filters(Some(filters))
            .send()
    };
    let base = || {
        vec![
            filter("PartyType", "Proposer"),
            filter("AgreementType", "PurchaseAgreement"),
        ]
    };
    let all = search(base()).await.unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(all.agreement_view_summaries().len(), 2);
    let mut by_buyer = base();
    by_buyer.push(filter("AcceptorAccountId", OTHER_BUYER));
    let out = search(by_buyer)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(out.agreement_view_summaries().len(), 1);
    assert_eq!(
        out.agreement_view_summaries()[0].agreement_id(),
        second["id"].as_str()
    );
    let mut by_offer = base();
    by_offer.push(filter("OfferId", &offer));
    by_offer.push(filter("Status", "ACTIVE"));
    let out = search(by_offer)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(
        out.agreement_view_summaries()[0].agreement_id(),
        first["id"].as_str()
    );
    let mut by_product = base();
    by_product.push(filter("ResourceIdentifier", &cat.concurrent));
    assert_eq!(
        search(by_product)
            .await
            .unwrap_or_else(|err| panic!("{err:?}"))
            .agreement_view_summaries()
            .len(),
        1
    );

    // One agreement a page, earliest end first.
    let page_by_end = |next_token: Option<String>| {
        cat.agreement
            .search_agreements()
            .set_filters(Some(base()))
            .sort(
                Sort::builder()
                    .sort_by("EndTime")
                    .sort_order(SortOrder::Ascending)
                    .build(),
            )
            .max_results(1)
            .set_next_token(next_token)
            .send()
    };
    let page = page_by_end(None)
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(
        page.agreement_view_summaries()[0].agreement_id(),
        first["id"].as_str(),
        "open-ended sorts last"
    );
    let next = page_by_end(page.next_token().map(str::to_owned))
        .await
        .unwrap_or_else(|err| panic!("{err:?}"));
    assert_eq!(
        next.agreement_view_summaries()[0].agreement_id(),
        second["id"].as_str()
    );

    for bad in [
        vec![filter("AgreementType", "PurchaseAgreement")],
        vec![filter("PartyType", "Acceptor")],
        vec![filter("PartyType", "Proposer"), filter("Color", "red")],
    ] {
        let err = crate::service_error!(search(bad).await, 400);
        assert!(err.is_validation_exception(), "{err:?}");
    }
}

#[tokio::test]
async fn agreement_errors() {
    let cat = setup().await;
    let describe = |id: &str| cat.agreement.describe_agreement().agreement_id(id).send();
    let terms = |id: &str| cat.agreement.get_agreement_terms().agreement_id(id).send();
    let out = describe("agmt-missing").await;
    assert!(crate::service_error!(out, 404).is_resource_not_found_exception());
    let out = terms("agmt-missing").await;
    assert!(crate::service_error!(out, 404).is_resource_not_found_exception());

    // An agreement neither proposed nor manufactured by the seller.
    let (_, agreement) = contract_agreement(&cat, false).await;
    let id = agreement["id"].as_str().unwrap_or_default().to_owned();
    {
        let mut world = cat.env.emu.emulator.world();
        if let Some(mut foreign) = world.agreements.agreements.get(&id).cloned() {
            foreign.id = "agmt-foreign".to_owned();
            foreign.proposer_account_id = "999988887777".to_owned();
            foreign.manufacturer_account_id = "999988887777".to_owned();
            world
                .agreements
                .agreements
                .insert(foreign.id.clone(), foreign);
        }
    }
    let out = describe("agmt-foreign").await;
    assert!(crate::service_error!(out, 403).is_access_denied_exception());

    crate::support::fault_once_in(cat.url(), "agreement", "DescribeAgreement", "throttle").await;
    let out = describe(&id).await;
    let err = crate::service_error!(out, 429);
    assert!(err.is_throttling_exception(), "{err:?}");
    crate::support::fault_once_in(cat.url(), "agreement", "GetAgreementTerms", "server_error")
        .await;
    let out = terms(&id).await;
    assert!(crate::service_error!(out, 500).is_internal_server_exception());

    let target = "AWSMPCommerceService_v20200301.DescribeAgreement";
    let headers = [
        ("content-type", "application/x-amz-json-1.0"),
        ("x-amz-target", target),
    ];
    let cases: [(&[u8], u16, &str); 4] = [
        (b"{oops", 400, "SerializationException"),
        (b"{}", 400, "ValidationException"),
        (br#"{"agreementId": 7}"#, 400, "SerializationException"),
        (b"[1]", 400, "SerializationException"),
    ];
    for (body, status, kind) in cases {
        let response = raw(cat.url(), "POST", "/", &headers, body).await;
        assert_eq!(
            response.status,
            status,
            "{}: {}",
            String::from_utf8_lossy(body),
            response.text()
        );
        assert_eq!(response.json()["__type"], kind, "{}", response.text());
    }
    let unknown = aws_json(cat.url(), "AWSMPCommerceService_v20200301.Nope", b"{}").await;
    assert_eq!(unknown.status, 400);
    let search = raw(
        cat.url(),
        "POST",
        "/",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            (
                "x-amz-target",
                "AWSMPCommerceService_v20200301.SearchAgreements",
            ),
        ],
        br#"{"filters":[{"name":"PartyType","values":["Proposer"]}],"maxResults":500}"#,
    )
    .await;
    assert_eq!(search.json()["__type"], "ValidationException");
}
