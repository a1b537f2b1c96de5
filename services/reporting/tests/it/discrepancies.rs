//! Reconciliation after ingestion: usage the emulator bills is compared with the metering
//! records (here a fixed answer of the metering port, as the binary's adapter gives it), and
//! each difference worth a seller's attention is announced once as `report.discrepancy`, again
//! when it changes, and not once it is resolved.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{Value, json};
use souk_core::Id;
use souk_emulator::metering::{LedgerEntry, MeteringState};
use souk_proto::events::event::Payload;
use souk_reporting::domain::Error;
use souk_reporting::domain::ports::{
    MeteredCustomer, MeteredQuery, MeteredState, MeteredTotal, MeteredUsage,
};
use time::OffsetDateTime;

use crate::harness::{BUYER, Harness, PRODUCT_CODE};

/// Shipped quantity of the buyer's `users` in every month asked for, as set by the test.
struct Shipped(Mutex<i64>);

#[async_trait]
impl MeteredUsage for Shipped {
    async fn totals(
        &self,
        _organization_id: &Id,
        query: &MeteredQuery,
    ) -> Result<Vec<MeteredTotal>, Error> {
        let quantity = *self.0.lock().unwrap_or_else(|e| e.into_inner());
        // The current month is the last one asked for.
        Ok(vec![MeteredTotal {
            period: query.periods.len() - 1,
            customer_id: "cus_01reconciled".to_owned(),
            aws_customer: MeteredCustomer::Account(BUYER.to_owned()),
            product_code: PRODUCT_CODE.to_owned(),
            dimension: "users".to_owned(),
            state: MeteredState::Shipped,
            quantity,
            last_sent_at: Some(OffsetDateTime::UNIX_EPOCH),
        }])
    }
}

/// AWS bills `quantity` users of the buyer in the hour `hours_ago` hours back.
fn billed(h: &Harness, hours_ago: i64, quantity: i64) {
    let hour = (h.now() - time::Duration::hours(hours_ago)).unix_timestamp() / 3600 * 3600;
    let mut world = h.emu.emulator.emulator.world();
    let key = MeteringState::key(
        PRODUCT_CODE,
        None,
        BUYER,
        "users",
        souk_emulator::at::At::from_seconds(hour),
    );
    world.metering.ledger.insert(
        key,
        LedgerEntry {
            metering_record_id: format!("rec-{hour}"),
            source: "BatchMeterUsage".to_owned(),
            product_code: PRODUCT_CODE.to_owned(),
            license_arn: None,
            customer_aws_account_id: BUYER.to_owned(),
            customer_identifier: "ident-buyer".to_owned(),
            dimension: "users".to_owned(),
            hour,
            timestamp: hour,
            quantity,
            quantity_micros: None,
            allocations: Vec::new(),
            recorded_at: hour,
        },
    );
}

/// The `report.discrepancy` rows in the outbox, oldest first.
async fn announced(h: &Harness) -> Vec<Value> {
    h.outbox("report.discrepancy")
        .await
        .into_iter()
        .map(|payload| {
            let Payload::ReportDiscrepancy(d) = payload else {
                panic!("not a discrepancy: {payload:?}");
            };
            let row = d.row.expect("a row");
            json!({
                "customer": row.customer_aws_account_id,
                "shipped": row.shipped_quantity,
                "billed": row.billed_quantity,
                "difference": row.difference,
                "cause": row.cause().as_str_name(),
            })
        })
        .collect()
}

/// Generates the feeds (usage invoiced hourly at 0.10) and reads them.
async fn feeds_read(h: &Harness) {
    let read = h.generate_and_ingest().await;
    assert!(read.rows > 0, "{read:?}");
}

souk_testkit::both_backends!(
    discrepancies_are_announced_once_again_when_changed_and_not_once_resolved,
    |db: TestDb| async move {
        let shipped = Arc::new(Shipped(Mutex::new(10)));
        let h = Harness::start_with_metering(db, Some(shipped.clone())).await;
        let mut settings = h
            .emu
            .control("GET", "/_souk/feeds/settings", Value::Null)
            .await;
        settings["usage_invoicing"] = json!("hourly");
        settings["usage_prices"] = json!({ format!("{PRODUCT_CODE}/users"): "0.10" });
        h.emu
            .control("PUT", "/_souk/feeds/settings", settings)
            .await;
        // Every hour billed in the current month.
        if h.now().hour() < 4 {
            h.advance(json!({"seconds": 4 * 3600})).await;
        }

        // 10 shipped, 7 billed: missing from the feed, announced once.
        billed(&h, 2, 7);
        feeds_read(&h).await;
        let missing = json!({"customer": BUYER, "shipped": 10, "billed": 7, "difference": 3,
                             "cause": "RECONCILIATION_CAUSE_MISSING_FROM_FEED"});
        assert_eq!(announced(&h).await, std::slice::from_ref(&missing));

        // More billed, the same difference: nothing new is announced.
        *shipped.0.lock().unwrap_or_else(|e| e.into_inner()) = 11;
        billed(&h, 3, 1);
        feeds_read(&h).await;
        assert_eq!(announced(&h).await, std::slice::from_ref(&missing));

        // Resolved (shipped equals billed): nothing announced, and the record is forgotten, so
        // a later difference is announced again.
        *shipped.0.lock().unwrap_or_else(|e| e.into_inner()) = 10;
        billed(&h, 4, 2);
        feeds_read(&h).await;
        assert_eq!(announced(&h).await, std::slice::from_ref(&missing));
        *shipped.0.lock().unwrap_or_else(|e| e.into_inner()) = 9;
        billed(&h, 1, 1);
        feeds_read(&h).await;
        let over = json!({"customer": BUYER, "shipped": 9, "billed": 11, "difference": -2,
                          "cause": "RECONCILIATION_CAUSE_NOT_SHIPPED_BY_SOUK"});
        assert_eq!(announced(&h).await, [missing, over]);
    }
);
