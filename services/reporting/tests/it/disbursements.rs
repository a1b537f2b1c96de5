//! The disbursement report against the emulator's ledgers: each payout with the invoices it
//! settles, and what is invoiced but not paid out yet, per currency.

use std::collections::BTreeMap;

use serde_json::Value;
use souk_proto::events::event::Payload;
use souk_proto::reporting as pb;

use super::harness::{Harness, SELLER, both, totals};

/// The disbursement report, read with the READ key.
async fn report(h: &Harness) -> pb::GetDisbursementReportResponse {
    h.disbursements(None).await.expect("report")
}

/// The `report.disbursement_received` events in the outbox: currency, amount, events settled.
async fn received(h: &Harness) -> Vec<(String, i64, i32)> {
    h.outbox("report.disbursement_received")
        .await
        .into_iter()
        .map(|payload| {
            let Payload::DisbursementReceived(d) = payload else {
                panic!("not a disbursement: {payload:?}");
            };
            let amount = d.amount.expect("amount");
            (
                amount.currency_code,
                amount.amount_micros,
                d.settled_event_count,
            )
        })
        .collect()
}

/// The invoice ids of the emulator's invoice ledger, by agreement.
async fn invoices_of(h: &Harness, agreement: &Value) -> Vec<String> {
    let invoices = h.emu.control("GET", "/_souk/invoices", Value::Null).await;
    invoices
        .as_array()
        .expect("invoices")
        .iter()
        .filter(|i| i["agreement_id"] == agreement["id"])
        .filter_map(|i| i["invoice_id"].as_str().map(str::to_owned))
        .collect()
}

both!(
    payouts_list_the_invoices_they_settle_and_the_rest_is_outstanding,
    |h| {
        let usd = h.sell("USD", "100.00", 3).await;
        let eur = h.sell("EUR", "80.50", 2).await;
        let paid = h.disburse().await;
        let later = h.sell("USD", "12.34", 1).await;
        h.generate_and_ingest().await;

        let got = report(&h).await;
        let by_currency: BTreeMap<String, &pb::Disbursement> = got
            .disbursements
            .iter()
            .map(|d| (d.currency_code.clone(), d))
            .collect();
        let made: BTreeMap<String, i64> = paid["disbursements"]
            .as_array()
            .expect("disbursements")
            .iter()
            .map(|d| {
                let amount = d["amount"].as_str().expect("amount");
                let (whole, fraction) = amount.split_once('.').unwrap_or((amount, ""));
                let micros = whole.parse::<i64>().expect("whole") * 1_000_000
                    + format!("{fraction:0<6}").parse::<i64>().expect("fraction");
                (d["currency"].as_str().expect("currency").to_owned(), micros)
            })
            .collect();
        assert_eq!(by_currency.len(), 2, "{got:?}");
        for (currency, amount) in &made {
            assert_eq!(by_currency[currency].amount_micros, *amount, "{currency}");
            assert!(by_currency[currency].bank_trace_id.starts_with("souk-"));
        }
        assert_eq!(by_currency["USD"].invoice_ids, invoices_of(&h, &usd).await);
        assert_eq!(by_currency["EUR"].invoice_ids, invoices_of(&h, &eur).await);

        // Only the later sale is outstanding: its price less the listing fee, as the
        // emulator's own pending balance says.
        assert_eq!(got.outstanding.len(), 1, "{got:?}");
        let open = &got.outstanding[0];
        assert_eq!(vec![open.invoice_id.clone()], invoices_of(&h, &later).await);
        assert_eq!(open.currency_code, "USD");
        assert_eq!(open.age_days, 0);
        let pending: i64 = h
            .billing_events()
            .await
            .iter()
            .filter(|e| e["balance_impacting"].as_bool() == Some(true))
            .filter(|e| e["currency"] == "USD")
            .filter(|e| e["from_account"] == SELLER || e["to_account"] == SELLER)
            .map(|e| e["amount_micros"].as_i64().expect("amount"))
            .sum();
        assert_eq!(open.amount_micros, pending);
        assert!(pending > 0 && pending < 12_340_000, "{pending}");
        let totals = totals(&got);
        assert_eq!(totals["USD"], (made["USD"], pending));
        assert_eq!(totals["EUR"], (made["EUR"], 0));

        // One report.disbursement_received per payout, with its amount and what it settles,
        // and none again when the same rows are read again.
        let announced = received(&h).await;
        assert_eq!(announced.len(), 2, "{announced:?}");
        for (currency, amount, settled) in &announced {
            assert_eq!(made.get(currency), Some(amount), "{currency}");
            assert!(*settled >= 2, "the invoice and its fee at least: {settled}");
        }
        h.ingest(&h.key, true).await.expect("ingest again");
        assert_eq!(received(&h).await.len(), 2);

        // Ten days later the same invoice is ten days old.
        h.advance(serde_json::json!({"hours": 240})).await;
        assert_eq!(report(&h).await.outstanding[0].age_days, 10);
    }
);
