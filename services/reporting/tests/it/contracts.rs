//! The contract report against the emulator: a 12-month contract in USD and a 36-month one in
//! EUR, their total contract value, ARR and MRR to the micro from the emulator's own agreements,
//! which are active at which instant, and what changes when one is cancelled.

use serde_json::{Value, json};
use souk_proto::reporting as pb;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tonic::Code;

use super::channel_partner::PARTNER;
use super::harness::{
    BUYER, Harness, PRODUCT, PRODUCT_CODE, authed, both, expect_code, violations,
};

/// An emulator instant as the feeds write it: to the second.
fn instant(value: &Value) -> OffsetDateTime {
    OffsetDateTime::parse(value.as_str().expect("an instant"), &Rfc3339)
        .expect("RFC 3339")
        .replace_nanosecond(0)
        .expect("whole seconds")
}

fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    souk_service::convert::timestamp(at)
}

/// `n / d` rounded half away from zero.
fn round(n: i128, d: i128) -> i128 {
    if n >= 0 {
        (n + d / 2) / d
    } else {
        (n - d / 2) / d
    }
}

/// TCV, ARR and MRR of an emulator agreement: its value spread over its days, times 365.
fn expected(agreement: &Value) -> (i64, i64, i64) {
    let tcv = agreement["agreement_value_micros"].as_i64().expect("value");
    let seconds =
        (instant(&agreement["end_time"]) - instant(&agreement["start_time"])).whole_seconds();
    let arr = round(i128::from(tcv) * 365 * 86_400, i128::from(seconds));
    let mrr = round(arr, 12);
    (
        tcv,
        i64::try_from(arr).expect("arr"),
        i64::try_from(mrr).expect("mrr"),
    )
}

async fn report(
    h: &Harness,
    key: &str,
    request: pb::GetContractReportRequest,
) -> Result<pb::GetContractReportResponse, tonic::Status> {
    Ok(h.client()
        .get_contract_report(authed(key, request))
        .await?
        .into_inner())
}

fn request(
    h: &Harness,
    at: OffsetDateTime,
    include_inactive: bool,
) -> pb::GetContractReportRequest {
    pb::GetContractReportRequest {
        integration_id: h.emu.integration_id.to_string(),
        at_time: Some(timestamp(at)),
        include_inactive,
        filter: None,
    }
}

/// The contract report at `at` (with the inactive contracts or not), read with the READ key.
async fn contracts_at(
    h: &Harness,
    at: OffsetDateTime,
    include_inactive: bool,
) -> pb::GetContractReportResponse {
    report(h, &h.reader, request(h, at, include_inactive))
        .await
        .expect("report")
}

fn ids(report: &pb::GetContractReportResponse) -> Vec<String> {
    report
        .contracts
        .iter()
        .map(|c| c.agreement_id.clone())
        .collect()
}

both!(
    twelve_and_thirty_six_month_contracts_give_their_value_arr_and_mrr_and_are_active_in_their_term,
    |h| {
        let yearly = h.sell_for(BUYER, PRODUCT, "USD", "100.00", "P12M", 3).await;
        let triennial = h.sell_for(BUYER, PRODUCT, "EUR", "80.50", "P36M", 2).await;
        let (yearly_id, triennial_id) = (
            yearly["id"].as_str().expect("id").to_owned(),
            triennial["id"].as_str().expect("id").to_owned(),
        );
        h.generate_and_ingest().await;
        let now = h.now();

        let active = contracts_at(&h, now, false).await;
        assert_eq!(
            ids(&active),
            [yearly_id.as_str(), triennial_id.as_str()],
            "by end"
        );
        for (contract, agreement) in active.contracts.iter().zip([&yearly, &triennial]) {
            assert_eq!(
                (
                    contract.total_contract_value_micros,
                    contract.arr_micros,
                    contract.mrr_micros
                ),
                expected(agreement),
                "{contract:?}"
            );
            assert_eq!(contract.status, "ACTIVE");
            assert_eq!(contract.product_id, PRODUCT);
            assert_eq!(contract.product_code, PRODUCT_CODE);
            assert_eq!(contract.customer_aws_account_id, BUYER);
            assert_eq!(contract.reseller_aws_account_id, "", "a direct sale");
            assert_eq!(
                contract.offer_id,
                agreement["offer_id"].as_str().unwrap_or("")
            );
            assert_eq!(
                contract.start_time,
                Some(timestamp(instant(&agreement["start_time"])))
            );
            assert_eq!(
                contract.end_time, contract.renewal_time,
                "renews at its end"
            );
        }
        let (usd, eur) = (&active.contracts[0], &active.contracts[1]);
        assert_eq!(usd.currency_code, "USD");
        assert_eq!(usd.total_contract_value_micros, 300_000_000);
        assert_eq!(eur.currency_code, "EUR");
        assert_eq!(eur.total_contract_value_micros, 161_000_000);
        // Twelve months of 365 days have an ARR of the whole value; three years are 1095 or
        // 1096 days (a leap day), so the ARR is a third of the value or a little less.
        let days = |a: &Value| (instant(&a["end_time"]) - instant(&a["start_time"])).whole_days();
        if days(&yearly) == 365 {
            assert_eq!((usd.arr_micros, usd.mrr_micros), (300_000_000, 25_000_000));
        }
        match days(&triennial) {
            1095 => assert_eq!(eur.arr_micros, 53_666_667),
            1096 => assert_eq!(eur.arr_micros, 53_617_701),
            other => panic!("a 36-month contract of {other} days"),
        }
        let totals: Vec<(String, i64, i64)> = active
            .totals
            .iter()
            .map(|t| (t.currency_code.clone(), t.contracts, t.arr_micros))
            .collect();
        assert_eq!(
            totals,
            [
                ("EUR".to_owned(), 1, eur.arr_micros),
                ("USD".to_owned(), 1, usd.arr_micros)
            ]
        );

        // After the first year only the 36-month contract is active; with the inactive ones
        // both are listed, the ended one without a renewal date. Before they start, none.
        let later = now + time::Duration::days(400);
        let after = contracts_at(&h, later, false).await;
        assert_eq!(ids(&after), [triennial_id.as_str()]);
        let all = contracts_at(&h, later, true).await;
        assert_eq!(ids(&all), [yearly_id.as_str(), triennial_id.as_str()]);
        assert_eq!(all.contracts[0].renewal_time, None);
        assert!(all.contracts[1].renewal_time.is_some());
        let before = contracts_at(&h, now - time::Duration::days(1), false).await;
        assert!(
            before.contracts.is_empty() && before.totals.is_empty(),
            "{before:?}"
        );

        // Filters.
        let filtered = |filter: pb::ReportFilter| pb::GetContractReportRequest {
            filter: Some(filter),
            ..request(&h, now, false)
        };
        let euros = report(
            &h,
            &h.reader,
            filtered(pb::ReportFilter {
                agreement_ids: vec![triennial_id.clone()],
                customer_aws_account_ids: vec![BUYER.into()],
                ..Default::default()
            }),
        )
        .await
        .expect("report");
        assert_eq!(ids(&euros), [triennial_id.as_str()]);
        let resold = report(
            &h,
            &h.reader,
            filtered(pb::ReportFilter {
                reseller_aws_account_ids: vec![PARTNER.into()],
                ..Default::default()
            }),
        )
        .await
        .expect("report");
        assert!(resold.contracts.is_empty(), "no partner sold these");

        // Cancelled now: it ended now, so it is no longer active and its status says why.
        h.emu
            .control(
                "POST",
                &format!("/_souk/agreements/{yearly_id}/cancel"),
                json!({}),
            )
            .await;
        h.advance(json!({"seconds": 60})).await;
        h.generate_and_ingest().await;
        let now = h.now();
        let active = contracts_at(&h, now, false).await;
        assert_eq!(ids(&active), [triennial_id.as_str()]);
        let all = contracts_at(&h, now, true).await;
        let cancelled = all
            .contracts
            .iter()
            .find(|c| c.agreement_id == yearly_id)
            .expect("listed with the inactive ones");
        assert_eq!(cancelled.status, "CANCELLED");
        assert_eq!(cancelled.renewal_time, None);
    }
);

both!(
    bad_contract_requests_and_other_organisations_are_refused,
    |h| {
        let bad = report(
            &h,
            &h.reader,
            pb::GetContractReportRequest {
                integration_id: "int_".into(),
                at_time: Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1,
                }),
                include_inactive: false,
                filter: Some(pb::ReportFilter {
                    customer_aws_account_ids: vec!["4444-5555-6666".into()],
                    ..Default::default()
                }),
            },
        )
        .await;
        let found = violations(bad);
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found[0].0, "integration_id");
        assert_eq!(
            found[1..],
            [
                (
                    "at_time".to_owned(),
                    "is not a valid timestamp: nanos must be within 0..=999999999".to_owned()
                ),
                (
                    "filter.customer_aws_account_ids[0]".to_owned(),
                    "must be a 12-digit AWS account id".to_owned()
                ),
            ]
        );
        let now = h.now();
        expect_code(
            report(&h, &h.other_key, request(&h, now, true)).await,
            Code::NotFound,
        );
        let none = report(
            &h,
            &h.reader,
            pb::GetContractReportRequest {
                at_time: None,
                ..request(&h, now, true)
            },
        )
        .await
        .expect("report");
        assert!(none.contracts.is_empty() && none.totals.is_empty());
    }
);
