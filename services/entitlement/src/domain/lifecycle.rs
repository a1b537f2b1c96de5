//! The subscription state machine: pending -> active -> cancel_pending -> cancelled, and failed.
//!
//! Notices may arrive duplicated and in any order (SQS and SNS both redeliver, EventBridge and SNS
//! may both report one change), so every notice carries AWS's send time and a notice older than
//! the one that set the current state cannot undo it. Re-subscribing is a newer subscribe after a
//! cancellation. Whatever order the same notices arrive in, the final state is the same.

use time::{Duration, OffsetDateTime};

use super::model::{Subscription, SubscriptionState};
use super::notice::{Notice, NoticeKind};

/// How long AWS accepts usage after announcing a cancellation.
pub const FINAL_METERING_WINDOW: Duration = Duration::hours(1);

/// What a notice did to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Nothing changed (a duplicate, or older than the current state).
    Unchanged,
    /// The state moved to the given one.
    Moved(SubscriptionState),
}

/// Applies `notice` to `subscription` (whose `updated_at` the caller sets) and reports the
/// transition. Contract notices (`EntitlementUpdated`) never move the state; their ids fill in.
pub fn apply(subscription: &mut Subscription, notice: &Notice) -> Transition {
    fill_ids(subscription, notice);
    let at = notice.sent_at;
    let newer = subscription.state_notice_at.is_none_or(|last| at > last);
    let not_older = subscription.state_notice_at.is_none_or(|last| at >= last);
    let next = match (&notice.kind, subscription.state) {
        (NoticeKind::EntitlementUpdated, _) => None,
        (NoticeKind::SubscribeSuccess, SubscriptionState::Active) => None,
        (NoticeKind::SubscribeSuccess, SubscriptionState::Pending) => {
            Some(SubscriptionState::Active)
        }
        (NoticeKind::SubscribeSuccess, _) if newer => Some(SubscriptionState::Active),
        (NoticeKind::SubscribeFail, SubscriptionState::Pending) => Some(SubscriptionState::Failed),
        (NoticeKind::SubscribeFail, SubscriptionState::Active) if newer => {
            Some(SubscriptionState::Failed)
        }
        (
            NoticeKind::UnsubscribePending,
            SubscriptionState::Pending | SubscriptionState::Active,
        ) if not_older => Some(SubscriptionState::CancelPending),
        (NoticeKind::UnsubscribeSuccess, SubscriptionState::Cancelled) => None,
        (NoticeKind::UnsubscribeSuccess, _) if not_older => Some(SubscriptionState::Cancelled),
        _ => None,
    };
    record_times(subscription, notice);
    let Some(next) = next else {
        return Transition::Unchanged;
    };
    match next {
        SubscriptionState::Active => {
            // A re-subscription starts a new cycle: the old cancellation no longer applies.
            subscription.cancel_pending_at = None;
            subscription.final_metering_deadline = None;
            subscription.cancelled_at = None;
            subscription.activated_at = Some(at);
            subscription.free_trial = notice.free_trial;
        }
        SubscriptionState::CancelPending => {
            subscription.cancel_pending_at = Some(at);
            subscription.final_metering_deadline = Some(at + FINAL_METERING_WINDOW);
        }
        SubscriptionState::Cancelled => subscription.cancelled_at = Some(at),
        SubscriptionState::Pending | SubscriptionState::Failed => {}
    }
    subscription.state = next;
    subscription.state_notice_at = Some(at);
    Transition::Moved(next)
}

/// Times a late notice still tells: a subscribe that came after the cancellation already
/// applied still dates the activation, an unsubscribe-pending that came after the
/// unsubscribe-success still dates the final metering deadline.
fn record_times(subscription: &mut Subscription, notice: &Notice) {
    let at = notice.sent_at;
    match notice.kind {
        NoticeKind::SubscribeSuccess if subscription.activated_at.is_none() => {
            subscription.activated_at = Some(at);
        }
        NoticeKind::UnsubscribePending
            if subscription.state == SubscriptionState::Cancelled
                && subscription.cancel_pending_at.is_none()
                && subscription.cancelled_at.is_some_and(|end| at <= end) =>
        {
            subscription.cancel_pending_at = Some(at);
            subscription.final_metering_deadline = Some(at + FINAL_METERING_WINDOW);
        }
        _ => {}
    }
}

fn fill_ids(subscription: &mut Subscription, notice: &Notice) {
    if subscription.license_arn.is_none() {
        subscription.license_arn.clone_from(&notice.license_arn);
    }
    if notice.agreement_id.is_some() {
        subscription.agreement_id.clone_from(&notice.agreement_id);
    }
    if notice.offer_id.is_some() {
        subscription.offer_id.clone_from(&notice.offer_id);
    }
}

/// A fresh subscription's state before any notice: pending.
pub fn initial_state() -> SubscriptionState {
    SubscriptionState::Pending
}

/// Whether usage at `at` may still be shipped for `subscription`.
pub fn accepts_usage(subscription: &Subscription, at: OffsetDateTime) -> bool {
    match subscription.state {
        SubscriptionState::Active => true,
        SubscriptionState::CancelPending => subscription
            .final_metering_deadline
            .is_none_or(|deadline| at <= deadline),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notice::NoticeSource;
    use souk_core::Id;
    use time::macros::datetime;

    fn subscription() -> Subscription {
        let at = datetime!(2026-01-01 00:00 UTC);
        Subscription {
            id: Id::generate("sub"),
            organization_id: Id::generate("org"),
            integration_id: Id::generate("int"),
            customer_id: Id::generate("cus"),
            product_code: "prod".into(),
            license_arn: None,
            agreement_id: None,
            offer_id: None,
            state: initial_state(),
            free_trial: false,
            activated_at: None,
            cancel_pending_at: None,
            final_metering_deadline: None,
            cancelled_at: None,
            state_notice_at: None,
            created_at: at,
            updated_at: at,
        }
    }

    fn notice(kind: NoticeKind, minute: i64) -> Notice {
        Notice {
            kind,
            source: NoticeSource::Sns,
            message_id: format!("m{minute}"),
            sent_at: datetime!(2026-01-01 00:00 UTC) + Duration::minutes(minute),
            product_code: Some("prod".into()),
            customer_identifier: Some("c1".into()),
            aws_account_id: None,
            license_arn: None,
            agreement_id: None,
            offer_id: None,
            free_trial: false,
        }
    }

    fn journey() -> Vec<Notice> {
        vec![
            notice(NoticeKind::SubscribeSuccess, 1),
            notice(NoticeKind::EntitlementUpdated, 2),
            notice(NoticeKind::UnsubscribePending, 10),
            notice(NoticeKind::UnsubscribeSuccess, 70),
        ]
    }

    fn run(order: &[Notice]) -> Subscription {
        let mut sub = subscription();
        for n in order {
            apply(&mut sub, n);
        }
        sub
    }

    /// Every permutation of the journey, each notice delivered twice, ends cancelled with the
    /// same deadline.
    #[test]
    fn any_order_with_duplicates_ends_in_the_same_state() {
        let notices = journey();
        let expected = run(&notices);
        assert_eq!(expected.state, SubscriptionState::Cancelled);
        let mut indexes: Vec<usize> = (0..notices.len()).collect();
        permutations(&mut indexes, 0, &mut |order| {
            let shuffled: Vec<Notice> = order
                .iter()
                .flat_map(|&i| [notices[i].clone(), notices[i].clone()])
                .collect();
            let sub = run(&shuffled);
            assert_eq!(sub.state, expected.state, "order {order:?}");
            assert_eq!(
                sub.final_metering_deadline, expected.final_metering_deadline,
                "order {order:?}"
            );
            assert_eq!(sub.cancelled_at, expected.cancelled_at, "order {order:?}");
            assert_eq!(sub.activated_at, expected.activated_at, "order {order:?}");
        });
    }

    fn permutations(items: &mut Vec<usize>, k: usize, f: &mut impl FnMut(&[usize])) {
        if k == items.len() {
            f(items);
            return;
        }
        for i in k..items.len() {
            items.swap(k, i);
            permutations(items, k + 1, f);
            items.swap(k, i);
        }
    }

    #[test]
    fn unsubscribe_pending_sets_the_final_metering_deadline_an_hour_later() {
        let sub = run(&journey()[..3]);
        assert_eq!(sub.state, SubscriptionState::CancelPending);
        assert_eq!(
            sub.final_metering_deadline,
            Some(datetime!(2026-01-01 01:10 UTC))
        );
        assert!(accepts_usage(&sub, datetime!(2026-01-01 01:10 UTC)));
        assert!(!accepts_usage(&sub, datetime!(2026-01-01 01:11 UTC)));
    }

    #[test]
    fn a_newer_subscribe_after_cancellation_reactivates() {
        let mut all = journey();
        all.push(notice(NoticeKind::SubscribeSuccess, 100));
        let sub = run(&all);
        assert_eq!(sub.state, SubscriptionState::Active);
        assert_eq!(sub.final_metering_deadline, None);
        assert_eq!(sub.cancelled_at, None);
    }

    #[test]
    fn subscribe_fail_fails_a_pending_subscription_only() {
        let sub = run(&[notice(NoticeKind::SubscribeFail, 1)]);
        assert_eq!(sub.state, SubscriptionState::Failed);
        let sub = run(&[
            notice(NoticeKind::SubscribeSuccess, 2),
            notice(NoticeKind::SubscribeFail, 1),
        ]);
        assert_eq!(sub.state, SubscriptionState::Active);
    }

    #[test]
    fn duplicates_report_unchanged() {
        let mut sub = subscription();
        let n = notice(NoticeKind::SubscribeSuccess, 1);
        assert_eq!(
            apply(&mut sub, &n),
            Transition::Moved(SubscriptionState::Active)
        );
        assert_eq!(apply(&mut sub, &n), Transition::Unchanged);
    }
}
