//! RetryRecords sends held records again; another organisation sees and touches none of this
//! one's usage.

use souk_metering::domain::model::SubscriberState;
use souk_proto::metering as pb;
use tonic::Code;

use crate::harness::{LEGACY, LICENSED, authed, both, event, expect_code, pairs, violations};

both!(
    a_held_record_is_sent_after_the_buyer_subscribes_and_a_retry,
    |h| {
        // A buyer Souk knows (AWS announced its cancellation) but whom the emulator does not know as
        // a subscriber of LEGACY yet: the account only bought LICENSED. Its final hour ships at
        // once, within the hour, so the buyer can still subscribe before that hour ends (AWS only
        // takes usage of hours from the subscription's on).
        let account = h.account();
        let mut buyer = h.subscribe(LICENSED, &account).await;
        buyer.product = LEGACY.into();
        let deadline = h.now() + time::Duration::minutes(50);
        h.enrol(&buyer, SubscriberState::CancelPending { deadline });
        let hour = h.hour();
        h.recorded(vec![event(
            "e1",
            buyer.customer_id.as_str(),
            "requests",
            5,
            h.now(),
        )])
        .await;
        let report = h.ship().await;
        assert_eq!(report.held, 1, "{report:?}");
        let held = h.record_at(&buyer.customer_id, "requests", hour).await;
        assert_eq!(held.status, pb::HourlyRecordStatus::Held as i32);
        assert_eq!(held.aws_status, "CustomerNotSubscribed");
        let summary = h
            .client()
            .get_metering_summary(authed(&h.key, pb::GetMeteringSummaryRequest {}))
            .await
            .expect("summary")
            .into_inner();
        assert_eq!((summary.held, summary.sent), (1, 0));
        // Held stays held: passes do not send it again.
        assert_eq!(h.ship().await.leased, 0);

        // The buyer subscribes (the same AWS customer identifier), then the seller retries.
        let subscribed = h.subscribe(LEGACY, &account).await;
        assert_eq!(subscribed.customer_identifier, buyer.customer_identifier);
        assert_eq!(
            violations(h.retry_as(&h.admin, vec!["use_1".into()], "").await).len(),
            1
        );
        let retried = h
            .retry_as(&h.admin, vec![held.id.clone()], "retry-1")
            .await
            .expect("retry");
        assert_eq!(retried.retried, 1);
        assert_eq!(
            h.record_at(&buyer.customer_id, "requests", hour)
                .await
                .status,
            pb::HourlyRecordStatus::Pending as i32
        );
        let report = h.ship().await;
        assert_eq!(report.sent, 1, "{report:?}");
        let sent = h.record_at(&buyer.customer_id, "requests", hour).await;
        assert_eq!(sent.status, pb::HourlyRecordStatus::Sent as i32);
        assert_eq!(sent.id, held.id);
        h.assert_ledger_matches(LEGACY).await;
        // The same retry again replays its first answer.
        let replayed = h
            .retry_as(&h.admin, vec![held.id.clone()], "retry-1")
            .await
            .expect("retry");
        assert_eq!(replayed.retried, 1);
    }
);

both!(
    another_organisation_sees_and_touches_none_of_the_usage,
    |h| {
        let buyer = h.buyer(LEGACY).await;
        let cus = buyer.customer_id.to_string();
        h.recorded(vec![event("e1", &cus, "requests", 5, h.now())])
            .await;
        h.advance(3600).await;
        h.ship().await;
        h.recorded(vec![event("e2", &cus, "requests", 2, h.now())])
            .await;
        let ours = h.records().await;
        assert_eq!(ours.len(), 2);

        let other = &h.other_key;
        assert!(
            h.list_as(other, pb::ListUsageRecordsRequest::default())
                .await
                .expect("list")
                .is_empty()
        );
        let status = expect_code(
            h.list_as(
                other,
                pb::ListUsageRecordsRequest {
                    customer: cus.clone(),
                    ..Default::default()
                },
            )
            .await,
            Code::NotFound,
        );
        assert!(status.message().contains(&cus), "{}", status.message());
        for customer in [cus.as_str(), buyer.aws_account_id.as_str()] {
            assert_eq!(
                violations(
                    h.record_as(other, vec![event("e3", customer, "requests", 1, h.now())])
                        .await
                ),
                pairs(&[(
                    "events[0].customer",
                    "is not a known customer (a cus_ id, your linked account id, or the buyer's AWS account id)"
                )])
            );
        }
        let mut client = h.client();
        let summary = client
            .get_metering_summary(authed(other, pb::GetMeteringSummaryRequest {}))
            .await
            .expect("summary")
            .into_inner();
        assert_eq!(summary, pb::GetMeteringSummaryResponse::default());
        let meters = client
            .list_meters(authed(other, pb::ListMetersRequest::default()))
            .await
            .expect("meters")
            .into_inner();
        assert!(meters.meters.is_empty());
        let sent = ours
            .iter()
            .find(|r| r.status == pb::HourlyRecordStatus::Sent as i32)
            .expect("a sent record");
        let retried = h
            .retry_as(other, vec![sent.id.clone()], "")
            .await
            .expect("retry");
        assert_eq!(retried.retried, 0);
        assert_eq!(h.records().await, ours);
    }
);
