//! Meters end to end: each aggregation makes the hour's quantity, feature names stand for
//! their dimensions, zero_fill ships zeros for idle hours; everything reaches the emulator.

use std::collections::HashMap;

use souk_metering::domain::model::SubscriberState;
use souk_proto::metering as pb;

use crate::harness::{LEGACY, LICENSED, allocation, both, event, instant, second};

/// `(tag set, quantity)` of a record's allocations.
fn allocations(record: &pb::HourlyRecord) -> Vec<(Vec<(String, String)>, i64)> {
    record
        .allocations
        .iter()
        .map(|a| {
            (
                a.tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
                a.quantity,
            )
        })
        .collect()
}

fn with_user(mut e: pb::UsageEvent, user: &str) -> pb::UsageEvent {
    e.attributes = HashMap::from([("user".to_owned(), user.to_owned())]);
    e
}

both!(
    each_aggregation_makes_the_hourly_quantity_and_ships_it,
    |h| {
        for product in [LEGACY, LICENSED] {
            let buyer = h.buyer(product).await;
            // By the buyer's AWS account id, as a seller's backend may know it.
            let cus = buyer.aws_account_id.clone();
            let k = |n: &str| format!("{product}-{n}");
            let now = second(h.now());
            let t = |minutes: i64| now - time::Duration::minutes(minutes);
            let mut tagged = event(&k("s2"), &cus, "requests", 7, t(8));
            tagged.allocations = vec![allocation(4, &[("team", "a")]), allocation(3, &[])];
            h.recorded(vec![
                event(&k("s1"), &cus, "requests", 5, t(9)),
                tagged,
                event(&k("s3"), &cus, "api-requests", 1, t(7)),
                event(&k("c1"), &cus, "calls", 100, t(9)),
                event(&k("c2"), &cus, "calls", 0, t(8)),
                event(&k("m1"), &cus, "peak", 4, t(9)),
                event(&k("m2"), &cus, "peak", 9, t(8)),
                event(&k("l1"), &cus, "level", 10, t(9)),
                // The same instant: the greater key wins.
                event(&k("l3b"), &cus, "level", 30, t(2)),
                event(&k("l3a"), &cus, "level", 31, t(2)),
                event(&k("l2"), &cus, "level", 20, t(5)),
                with_user(event(&k("u1"), &cus, "users", 1, t(9)), "alice"),
                with_user(event(&k("u2"), &cus, "users", 1, t(8)), "bob"),
                with_user(event(&k("u3"), &cus, "users", 1, t(7)), "alice"),
            ])
            .await;
            // A second call: more events of the same hours.
            h.recorded(vec![
                event(&k("c3"), &cus, "calls", 5, t(1)),
                event(&k("m3"), &cus, "peak", 2, t(1)),
                with_user(event(&k("u4"), &cus, "users", 1, t(1)), "bob"),
                with_user(event(&k("u5"), &cus, "users", 1, t(1)), "carol"),
            ])
            .await;

            let records = h.records_of(&buyer.customer_id).await;
            let quantities: HashMap<&str, i64> = records
                .iter()
                .map(|r| (r.dimension.as_str(), r.quantity))
                .collect();
            assert_eq!(
                quantities,
                HashMap::from([
                    ("requests", 13),
                    ("calls", 3),
                    ("peak", 9),
                    ("level", 30),
                    ("users", 3),
                ]),
                "{product}"
            );
            let requests = records
                .iter()
                .find(|r| r.dimension == "requests")
                .expect("requests");
            assert_eq!(
                allocations(requests),
                vec![(vec![], 9), (vec![("team".to_owned(), "a".to_owned())], 4)]
            );
            for record in &records {
                assert_eq!(record.status, pb::HourlyRecordStatus::Open as i32);
                assert_eq!(instant(record.hour_start.as_ref()), h.hour());
                assert_eq!(record.product_code, product);
                assert_eq!(record.integration_id, h.integration_id.to_string());
                assert!(record.id.starts_with("hrec_"), "{record:?}");
            }
            if product == LICENSED {
                assert!(records.iter().all(|r| r.license_arn == buyer.license_arn));
            }

            // The feature name filters as its dimension does.
            let by_feature = h
                .list_as(
                    &h.key,
                    pb::ListUsageRecordsRequest {
                        customer: cus.clone(),
                        dimension: "api-requests".into(),
                        ..Default::default()
                    },
                )
                .await
                .expect("list by feature");
            assert_eq!(by_feature, vec![requests.clone()]);
        }

        // The hour closes: sealed five minutes after its end and shipped on the next pass.
        h.advance(3600).await;
        let report = h.ship().await;
        assert_eq!(
            (report.sent, report.failed, report.held),
            (10, 0, 0),
            "{report:?}"
        );
        h.assert_ledger_matches(LEGACY).await;
        h.assert_ledger_matches(LICENSED).await;
        let ledger = h.ledger(LEGACY).await;
        let requests = ledger
            .iter()
            .find(|e| e["dimension"] == "requests")
            .expect("requests billed");
        assert_eq!(requests["quantity"], 13);
    }
);

both!(
    zero_fill_ships_a_zero_for_every_idle_hour_of_active_subscribers,
    |h| {
        h.put(pb::Meter {
            product_code: LEGACY.into(),
            dimension: "seats".into(),
            aggregation: pb::Aggregation::Max as i32,
            zero_fill: true,
            ..Default::default()
        })
        .await;
        let busy = h.buyer(LEGACY).await;
        let idle = h.buyer(LEGACY).await;
        let pending = h.buyer(LEGACY).await;
        h.subscribers
            .set_state(&pending.customer_id, SubscriberState::Pending);
        let first_hour = h.hour();
        h.recorded(vec![
            event("s1", busy.customer_id.as_str(), "seats", 3, h.now()),
            event("r1", busy.customer_id.as_str(), "requests", 2, h.now()),
        ])
        .await;

        h.advance(3600).await;
        h.ship().await;
        h.advance(3600).await;
        h.ship().await;

        let second_hour = first_hour + time::Duration::HOUR;
        let seats = |records: &[pb::HourlyRecord]| {
            let mut found: Vec<(time::OffsetDateTime, i64)> = records
                .iter()
                .filter(|r| r.dimension == "seats")
                .map(|r| (instant(r.hour_start.as_ref()), r.quantity))
                .collect();
            found.sort();
            found
        };
        assert_eq!(
            seats(&h.records_of(&busy.customer_id).await),
            vec![(first_hour, 3), (second_hour, 0)]
        );
        assert_eq!(
            seats(&h.records_of(&idle.customer_id).await),
            vec![(first_hour, 0), (second_hour, 0)]
        );
        assert!(h.records_of(&pending.customer_id).await.is_empty());
        // No zeros for a meter without zero_fill.
        let requests: Vec<_> = h
            .records_of(&idle.customer_id)
            .await
            .into_iter()
            .filter(|r| r.dimension == "requests")
            .collect();
        assert!(requests.is_empty(), "{requests:?}");
        h.assert_ledger_matches(LEGACY).await;
    }
);
