//! Bad usage is refused whole, with an error naming the event and the field, and nothing of the
//! batch is counted.

use souk_metering::domain::model::SubscriberState;
use souk_proto::metering as pb;
use tonic::Code;

use crate::harness::{
    Harness, allocation, both, event, expect_code, pairs, second, statuses, violations,
};

/// A batch of a valid event (index 0, key `ok-<n>`) and `bad` (index 1).
fn with_valid(h: &Harness, customer: &str, n: usize, bad: pb::UsageEvent) -> Vec<pb::UsageEvent> {
    vec![
        event(&format!("ok-{n}"), customer, "requests", 1, h.now()),
        bad,
    ]
}

both!(
    bad_events_are_refused_naming_the_event_and_nothing_is_counted,
    |h| {
        let buyer = h.customer(SubscriberState::Active);
        let other = h.customer(SubscriberState::Active);
        let cus = buyer.customer_id.to_string();
        let now = second(h.now());
        h.recorded(vec![event("base", &cus, "requests", 5, now)])
            .await;
        let mut before = h.records().await;
        assert_eq!(before.len(), 1);

        let mut tagged = event("bad", &cus, "requests", 5, now);
        tagged.allocations = vec![allocation(3, &[("team", "a")])];
        let mut bad_tag = event("bad", &cus, "requests", 5, now);
        bad_tag.allocations = vec![allocation(5, &[("team!", "a")])];
        let mut max_tagged = event("bad", &cus, "peak", 5, now);
        max_tagged.allocations = vec![allocation(5, &[("team", "a")])];
        let future = now + time::Duration::minutes(10);
        let old = now - time::Duration::days(8);
        let cases: Vec<(pb::UsageEvent, &str, String)> = vec![
        (
            event("bad", "cus_nobody", "requests", 1, now),
            "events[1].customer",
            "is not a known customer (a cus_ id, your linked account id, or the buyer's AWS account id)".into(),
        ),
        (
            event("bad", &cus, "nope", 1, now),
            "events[1].dimension",
            "\"nope\" is not a metered dimension of the customer's product (meters: \
             soukmeteringtest0001: [api-requests, calls, level, peak, requests, users]); \
             add one with PutMeter"
                .into(),
        ),
        (
            event("bad", &cus, "requests", -1, now),
            "events[1].quantity",
            "must not be negative (got -1)".into(),
        ),
        (
            event("bad", &cus, "requests", 2_147_483_648, now),
            "events[1].quantity",
            "must be at most 2147483647 (got 2147483648)".into(),
        ),
        (
            event("bad", &cus, "requests", 1, old),
            "events[1].timestamp",
            format!("{old} is older than 7 days; such usage can no longer be billed"),
        ),
        (
            event("", &cus, "requests", 1, now),
            "events[1].idempotency_key",
            "is required".into(),
        ),
        (
            event(&"k".repeat(129), &cus, "requests", 1, now),
            "events[1].idempotency_key",
            "must be at most 128 characters".into(),
        ),
        (
            event("ok-7", &cus, "requests", 1, now),
            "events[1].idempotency_key",
            "\"ok-7\" appears twice in this batch".into(),
        ),
        (
            tagged,
            "events[1].allocations",
            "quantities add up to 3, not to the event's quantity 5".into(),
        ),
        (
            bad_tag,
            "events[1].allocations[0].tags[0].key",
            "must be 1 to 100 letters, digits, spaces or _ . : / = + - @".into(),
        ),
        (
            max_tagged,
            "events[1].allocations",
            "are only accepted by SUM meters; dimension \"peak\" is MAX".into(),
        ),
        (
            event("bad", &cus, "users", 1, now),
            "events[1].attributes",
            "must hold \"user\": the meter of \"users\" counts its distinct values".into(),
        ),
    ];
        for (n, (bad, field, reason)) in cases.into_iter().enumerate() {
            let refused = h.record(with_valid(&h, &cus, n, bad)).await;
            assert_eq!(
                violations(refused),
                pairs(&[(field, &reason)]),
                "case {n} ({field})"
            );
            assert_eq!(h.records().await, before, "case {n} counted something");
        }

        // A timestamp in the future (a minute of skew is tolerated).
        let refused = violations(
            h.record(with_valid(
                &h,
                &cus,
                100,
                event("bad", &cus, "requests", 1, future),
            ))
            .await,
        );
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, "events[1].timestamp");
        assert!(
            refused[0]
                .1
                .starts_with(&format!("{future} is in the future (now is ")),
            "{refused:?}"
        );

        // No events, and too many.
        assert_eq!(
            violations(h.record(Vec::new()).await),
            pairs(&[("events", "must hold at least one event")])
        );
        let many: Vec<pb::UsageEvent> = (0..1001)
            .map(|i| event(&format!("many-{i}"), &cus, "requests", 1, now))
            .collect();
        assert_eq!(
            violations(h.record(many).await),
            pairs(&[("events", "holds 1001 events; at most 1000 per call")])
        );
        assert_eq!(h.records().await, before);

        // An hour's total beyond what one AWS record carries, over two calls.
        let ocus = other.customer_id.to_string();
        let first = h
            .recorded(vec![event("big", &ocus, "requests", 2_147_483_647, now)])
            .await;
        let hour = crate::harness::instant(first[0].hour_start.as_ref());
        before = h.records().await;
        let refused = h
            .record(with_valid(
                &h,
                &cus,
                200,
                event("over", &ocus, "requests", 1, now),
            ))
            .await;
        assert_eq!(
            violations(refused),
            pairs(&[(
                "events[1].quantity",
                &format!(
                    "the hour's total would exceed 2147483647: customer {ocus} already has \
                 2147483647 on \"requests\" in the hour starting {hour}"
                )
            )])
        );
        assert_eq!(h.records().await, before);

        // The valid events of the refused batches were not stored either: their keys are new.
        let results = h
            .recorded(vec![event("ok-0", &cus, "requests", 1, now)])
            .await;
        assert_eq!(statuses(&results), vec![pb::UsageEventStatus::Recorded]);
    }
);

both!(
    usage_of_a_subscription_that_cannot_be_billed_is_a_failed_precondition,
    |h| {
        let active = h.customer(SubscriberState::Active);
        let cus = active.customer_id.to_string();
        let now = second(h.now());
        h.recorded(vec![event("base", &cus, "requests", 5, now)])
            .await;
        let before = h.records().await;

        let ended_at = now - time::Duration::minutes(30);
        let cancelled = h.customer(SubscriberState::Cancelled { at: Some(ended_at) });
        let pending = h.customer(SubscriberState::Pending);
        let deadline = now - time::Duration::minutes(1);
        let past_deadline = h.customer(SubscriberState::CancelPending { deadline });
        let cases = [
            (
                &cancelled,
                format!("ended at {ended_at}; usage after that cannot be billed"),
            ),
            (
                &pending,
                "is not active yet (AWS has not confirmed it); retry once it is".to_owned(),
            ),
            (
                &past_deadline,
                format!(
                    "is ending: its final metering deadline {deadline} has passed; usage after it \
                 cannot be billed"
                ),
            ),
        ];
        for (n, (subscriber, problem)) in cases.iter().enumerate() {
            let bad = event("bad", subscriber.customer_id.as_str(), "requests", 1, now);
            let status = expect_code(
                h.record(with_valid(&h, &cus, n, bad)).await,
                Code::FailedPrecondition,
            );
            assert_eq!(
                status.message(),
                format!(
                    "events[1]: subscription {} of customer {} {problem}",
                    subscriber.subscription_id, subscriber.customer_id
                )
            );
            assert_eq!(h.records().await, before, "case {n} counted something");
        }
    }
);
