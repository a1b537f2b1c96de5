//! The channel-partner (CPPO) report against the emulator: the ISV authorises a partner to
//! resell its product, the partner makes an offer from the authorisation with a 10 % markup, a
//! buyer accepts it, and the report's buyer price and reseller, ISV and AWS shares equal the
//! emulator's own billing events to the micro; a direct sale is left out.

use serde_json::{Value, json};
use souk_proto::reporting as pb;
use tonic::Code;

use super::harness::{
    BUYER, Harness, PRODUCT, PRODUCT_CODE, authed, both, epoch_seconds, expect_code, offer_change,
    violations,
};

/// The channel partner (reseller).
pub(crate) const PARTNER: &str = "777788889999";
/// The emulator's seller account (the role's): the ISV.
const ISV: &str = "111122223333";

/// The ISV authorises [`PARTNER`] to resell [`PRODUCT`] to [`BUYER`] at `price` a seat a year
/// in `currency`; the partner offers it with `markup` percent; the buyer accepts `seats`:
/// the agreement.
pub(crate) async fn resold(
    h: &Harness,
    currency: &str,
    price: &str,
    markup: &str,
    seats: i64,
) -> Value {
    const RA: &str = "$CreateRA.Entity.Identifier";
    let ra = |change_type: &str, details: Value| {
        json!({"ChangeType": change_type,
               "Entity": {"Type": "ResaleAuthorization@1.0", "Identifier": RA},
               "DetailsDocument": details})
    };
    let made = h
        .apply(json!([
            {"ChangeType": "CreateResaleAuthorization",
             "Entity": {"Type": "ResaleAuthorization@1.0"}, "ChangeName": "CreateRA",
             "DetailsDocument": {"ProductId": PRODUCT, "Name": "Partner deal",
                                 "Description": "CPPO", "ResellerAccountId": PARTNER}},
            ra("UpdatePricingTerms", json!({"PricingModel": "Contract", "Terms": [{
                "Type": "ResaleConfigurableUpfrontPricingTerm", "CurrencyCode": currency,
                "RateCards": [{"Selector": {"Type": "Duration", "Value": "P12M"},
                    "Constraints": {"MultipleDimensionSelection": "Allowed",
                                    "QuantityConfiguration": "Allowed"},
                    "RateCard": [{"DimensionKey": "seats", "Price": price}]}]}]})),
            ra("UpdateLegalTerms", json!({"Terms": [{"Type": "BuyerLegalTerm", "Documents": [
                {"Type": "StandardEula", "Url": "https://example.com/eula"}]}]})),
            ra("UpdateBuyerTargetingTerms", json!({"Terms": [{"Type": "BuyerTargetingTerm",
                "PositiveTargeting": {"BuyerAccounts": [BUYER]}}]})),
            ra("UpdateAvailability", json!({"AvailabilityEndDate": h.date(90)})),
            ra("ReleaseResaleAuthorization", json!({})),
        ]))
        .await;
    let authorization = made
        .iter()
        .find(|id| id.starts_with("resaleauthz-"))
        .expect("a resale authorisation")
        .clone();
    let made = h
        .apply(json!([
            {"ChangeType": "CreateOfferUsingResaleAuthorization",
             "Entity": {"Type": "Offer@1.0"}, "ChangeName": "CreateOfferChange",
             "DetailsDocument": {"ResaleAuthorizationId": authorization, "Name": "Partner offer"}},
            offer_change("UpdateMarkup", json!({"Percentage": markup})),
            offer_change("UpdateTargeting", json!({"PositiveTargeting": {"BuyerAccounts": [BUYER]}})),
            offer_change("UpdateAvailability", json!({"AvailabilityEndDate": h.date(30)})),
            offer_change("ReleaseOffer", json!({})),
        ]))
        .await;
    h.accept(&made, BUYER, seats).await
}

async fn report(
    h: &Harness,
    key: &str,
    request: pb::GetChannelPartnerReportRequest,
) -> Result<Vec<pb::ChannelPartnerShare>, tonic::Status> {
    Ok(h.client()
        .get_channel_partner_report(authed(key, request))
        .await?
        .into_inner()
        .rows)
}

fn request(h: &Harness) -> pb::GetChannelPartnerReportRequest {
    pb::GetChannelPartnerReportRequest {
        integration_id: h.emu.integration_id.to_string(),
        ..Default::default()
    }
}

/// Buyer price, reseller, ISV and AWS shares of `agreement` per the emulator's billing events
/// (accounts as AWS account ids there), the ISV's integration reading them.
fn ledger(events: &[Value], agreement: &str) -> [i64; 4] {
    let (mut buyer, mut wholesale, mut isv_fees, mut fees) = (0, 0, 0, 0);
    for e in events {
        if e["agreement_id"] != agreement || e["action"] != "INVOICED" {
            continue;
        }
        let amount = e["amount_micros"].as_i64().expect("amount");
        let kind = e["transaction_type"].as_str().unwrap_or_default();
        let parties = [e["from_account"].as_str(), e["to_account"].as_str()];
        if kind.starts_with("SELLER_REV_SHARE") {
            if parties.contains(&Some(BUYER)) {
                buyer += amount;
            } else {
                wholesale += amount;
            }
        } else if kind.starts_with("AWS_REV_SHARE") {
            fees -= amount;
            if parties.contains(&Some(ISV)) {
                isv_fees -= amount;
            }
        }
    }
    let isv = wholesale - isv_fees;
    [buyer, buyer - isv - fees, isv, fees]
}

fn figures(row: &pb::ChannelPartnerShare) -> [i64; 4] {
    [
        row.buyer_price_micros,
        row.reseller_share_micros,
        row.isv_share_micros,
        row.aws_share_micros,
    ]
}

both!(
    a_partners_sale_is_shared_as_the_emulators_ledger_says_and_a_direct_sale_is_left_out,
    |h| {
        h.sell("USD", "100.00", 3).await;
        let agreement = resold(&h, "EUR", "100.00", "10", 20).await;
        assert_eq!(agreement["proposer_account_id"], PARTNER, "{agreement}");
        let agreement_id = agreement["id"].as_str().expect("agreement id").to_owned();
        h.generate_and_ingest().await;

        let rows = report(&h, &h.reader, request(&h)).await.expect("report");
        assert_eq!(rows.len(), 1, "only the partner's sale: {rows:?}");
        let row = &rows[0];
        assert_eq!(row.agreement_id, agreement_id);
        assert_eq!(row.offer_id, agreement["offer_id"].as_str().unwrap_or(""));
        assert_eq!(row.product_id, PRODUCT);
        assert_eq!(row.product_code, PRODUCT_CODE);
        assert_eq!(row.reseller_aws_account_id, PARTNER);
        assert_eq!(row.customer_aws_account_id, BUYER);
        assert_eq!(row.currency_code, "EUR");
        let events = h.billing_events().await;
        assert_eq!(figures(row), ledger(&events, &agreement_id));
        // 20 seats at 100.00 EUR plus 10 %: the reseller pays a 3 % listing fee on the
        // 2,200.00 and owes the ISV the 2,000.00 wholesale (the partner leg), on which the ISV
        // pays its own 3 % fee.
        assert_eq!(
            figures(row),
            [2_200_000_000, 134_000_000, 1_940_000_000, 126_000_000]
        );

        // Filters and the invoice range.
        let with = |filter: pb::ReportFilter| pb::GetChannelPartnerReportRequest {
            filter: Some(filter),
            ..request(&h)
        };
        let kept = report(
            &h,
            &h.reader,
            with(pb::ReportFilter {
                reseller_aws_account_ids: vec![PARTNER.into()],
                agreement_ids: vec![agreement_id.clone()],
                product_codes: vec![PRODUCT_CODE.into()],
                customer_aws_account_ids: vec![BUYER.into()],
                ..Default::default()
            }),
        )
        .await
        .expect("report");
        assert_eq!(kept, rows);
        let none = report(
            &h,
            &h.reader,
            with(pb::ReportFilter {
                reseller_aws_account_ids: vec!["999988887777".into()],
                ..Default::default()
            }),
        )
        .await
        .expect("report");
        assert!(none.is_empty(), "{none:?}");
        let later = report(
            &h,
            &h.reader,
            pb::GetChannelPartnerReportRequest {
                start_time: Some(souk_service::convert::timestamp(
                    h.now() + time::Duration::days(1),
                )),
                ..request(&h)
            },
        )
        .await
        .expect("report");
        assert!(later.is_empty(), "invoiced before the range: {later:?}");

        // The contract report names the reseller of the partner's agreement, not of the
        // direct one, and values it at what the buyer pays.
        let contracts = h
            .client()
            .get_contract_report(authed(
                &h.reader,
                pb::GetContractReportRequest {
                    integration_id: h.emu.integration_id.to_string(),
                    filter: Some(pb::ReportFilter {
                        reseller_aws_account_ids: vec![PARTNER.into()],
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            ))
            .await
            .expect("contract report")
            .into_inner();
        assert_eq!(contracts.contracts.len(), 1, "{contracts:?}");
        let contract = &contracts.contracts[0];
        assert_eq!(contract.agreement_id, agreement_id);
        assert_eq!(contract.reseller_aws_account_id, PARTNER);
        assert_eq!(contract.customer_aws_account_id, BUYER);
        assert_eq!(contract.currency_code, "EUR");
        assert_eq!(contract.total_contract_value_micros, 2_200_000_000);
    }
);

both!(bad_requests_and_other_organisations_are_refused, |h| {
    let bad = report(
        &h,
        &h.reader,
        pb::GetChannelPartnerReportRequest {
            integration_id: "nope".into(),
            start_time: Some(epoch_seconds(200)),
            end_time: Some(epoch_seconds(100)),
            filter: Some(pb::ReportFilter {
                reseller_aws_account_ids: vec!["12345".into()],
                product_ids: vec![" ".into()],
                ..Default::default()
            }),
        },
    )
    .await;
    assert_eq!(
        violations(bad),
        vec![
            (
                "integration_id".to_owned(),
                "must start with \"int_\"".to_owned()
            ),
            ("end_time".to_owned(), "must be after start_time".to_owned()),
            (
                "filter.product_ids[0]".to_owned(),
                "must not be empty".to_owned()
            ),
            (
                "filter.reseller_aws_account_ids[0]".to_owned(),
                "must be a 12-digit AWS account id".to_owned()
            ),
        ]
    );
    expect_code(report(&h, &h.other_key, request(&h)).await, Code::NotFound);
    // A reader may read; an organisation's own integration with no rows answers empty.
    assert!(
        report(&h, &h.reader, request(&h))
            .await
            .expect("report")
            .is_empty()
    );
});
