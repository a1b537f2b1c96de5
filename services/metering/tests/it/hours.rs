//! Hours close: late usage goes to the current open hour and a sealed record never changes;
//! usage older than AWS's window goes to the current hour; a cancelling customer's final hour
//! ships at once, and usage before its deadline ships as soon as the next hour starts.

use serde_json::json;
use souk_metering::domain::model::SubscriberState;
use souk_proto::metering as pb;
use tonic::Code;

use crate::harness::{LEGACY, both, event, expect_code, instant, second, statuses};

both!(
    late_usage_goes_to_the_open_hour_and_sealed_records_never_change,
    |h| {
        let buyer = h.buyer(LEGACY).await;
        let cus = buyer.customer_id.to_string();
        let first_hour = h.hour();
        let acks = h
            .recorded(vec![event("e1", &cus, "requests", 5, h.now())])
            .await;
        assert_eq!(instant(acks[0].hour_start.as_ref()), first_hour);

        // The hour is sealed five minutes after its end and shipped on the next pass.
        h.advance(3600).await;
        let report = h.ship().await;
        assert_eq!(report.sent, 1, "{report:?}");
        let sealed = h
            .record_at(&buyer.customer_id, "requests", first_hour)
            .await;
        assert_eq!(sealed.status, pb::HourlyRecordStatus::Sent as i32);
        assert_eq!(sealed.quantity, 5);
        assert!(!sealed.metering_record_id.is_empty());

        // Usage of the sealed hour counts towards the open one; the ack names it.
        let second_hour = h.hour();
        let late_at = second(first_hour + time::Duration::minutes(30));
        let acks = h
            .recorded(vec![event("e2", &cus, "requests", 3, late_at)])
            .await;
        assert_eq!(statuses(&acks), vec![pb::UsageEventStatus::Recorded]);
        assert_eq!(instant(acks[0].hour_start.as_ref()), second_hour);
        // Resent, it is a duplicate acknowledged with the same hour.
        let again = h
            .recorded(vec![event("e2", &cus, "requests", 3, late_at)])
            .await;
        assert_eq!(again[0].hour_start, acks[0].hour_start);
        assert_eq!(
            h.record_at(&buyer.customer_id, "requests", first_hour)
                .await,
            sealed
        );
        let open = h
            .record_at(&buyer.customer_id, "requests", second_hour)
            .await;
        assert_eq!(
            (open.quantity, open.status),
            (3, pb::HourlyRecordStatus::Open as i32)
        );
        h.advance(3600).await;
        h.ship().await;

        // Six hours on, usage older than AWS's window counts towards the current hour.
        h.advance(6 * 3600).await;
        h.ship().await;
        let current = h.hour();
        let old_at = second(h.now() - time::Duration::minutes(5 * 60 + 50));
        let acks = h
            .recorded(vec![event("e3", &cus, "requests", 4, old_at)])
            .await;
        assert_eq!(instant(acks[0].hour_start.as_ref()), current);
        h.advance(3600).await;
        let report = h.ship().await;
        assert_eq!(report.sent, 1, "{report:?}");

        // Three records, each billed once as recorded.
        let records = h.records_of(&buyer.customer_id).await;
        let hours: Vec<_> = records
            .iter()
            .map(|r| (instant(r.hour_start.as_ref()), r.quantity))
            .collect();
        assert_eq!(hours, vec![(current, 4), (second_hour, 3), (first_hour, 5)]);
        assert_eq!(
            h.record_at(&buyer.customer_id, "requests", first_hour)
                .await,
            sealed
        );
        h.assert_ledger_matches(LEGACY).await;
    }
);

both!(
    a_cancelling_customers_final_hour_ships_at_once_and_then_usage_is_refused,
    |h| {
        let buyer = h.buyer(LEGACY).await;
        let cus = buyer.customer_id.to_string();
        let final_hour = h.hour();
        h.recorded(vec![event("e1", &cus, "requests", 5, h.now())])
            .await;

        // AWS announces the cancellation: the final metering deadline is an hour away.
        let unsubscribed_at = h.now();
        h.control(
            "POST",
            "/_souk/unsubscribe",
            json!({"product_code": LEGACY, "customer_aws_account_id": buyer.aws_account_id}),
        )
        .await;
        let deadline = second(unsubscribed_at + time::Duration::minutes(59));
        h.subscribers.set_state(
            &buyer.customer_id,
            SubscriberState::CancelPending { deadline },
        );

        // The open hour is sealed and shipped on the next pass, before it ends.
        let report = h.ship().await;
        assert_eq!(report.sent, 1, "{report:?}");
        assert!(h.now() < final_hour + time::Duration::HOUR);
        let record = h
            .record_at(&buyer.customer_id, "requests", final_hour)
            .await;
        assert_eq!(record.status, pb::HourlyRecordStatus::Sent as i32);
        assert_eq!(record.quantity, 5);

        // Usage before the deadline goes to the next hour, which waits for its start.
        let next_hour = final_hour + time::Duration::HOUR;
        let acks = h
            .recorded(vec![event("e2", &cus, "requests", 2, h.now())])
            .await;
        assert_eq!(instant(acks[0].hour_start.as_ref()), next_hour);
        let report = h.ship().await;
        assert_eq!(report.leased, 0, "{report:?}");
        assert_eq!(
            h.record_at(&buyer.customer_id, "requests", next_hour)
                .await
                .status,
            pb::HourlyRecordStatus::Open as i32
        );
        // It ships as soon as that hour starts (before the deadline).
        let to_next = (next_hour - h.now()).whole_seconds() + 30;
        h.advance(to_next).await;
        assert!(h.now() < deadline);
        let report = h.ship().await;
        assert_eq!(report.sent, 1, "{report:?}");
        let record = h.record_at(&buyer.customer_id, "requests", next_hour).await;
        assert_eq!(
            (record.status, record.quantity),
            (pb::HourlyRecordStatus::Sent as i32, 2)
        );
        h.assert_ledger_matches(LEGACY).await;

        // Once cancelled, usage is refused naming the subscription and when it ended.
        h.subscribers.set_state(
            &buyer.customer_id,
            SubscriberState::Cancelled { at: Some(deadline) },
        );
        let status = expect_code(
            h.record(vec![event("e3", &cus, "requests", 1, h.now())])
                .await,
            Code::FailedPrecondition,
        );
        assert_eq!(
            status.message(),
            format!(
                "events[0]: subscription {} of customer {} ended at {deadline}; usage after that \
             cannot be billed",
                buyer.subscription_id, buyer.customer_id
            )
        );
    }
);
