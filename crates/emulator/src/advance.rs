//! The one function through which time moves the world.
//!
//! Every transition that happens because the emulator clock passed a deadline runs here, in a
//! fixed order, so that a deadline has the same effect whichever protocol (or the control API's
//! clock advance) observes it first. The server calls [`advance`] under the world lock before
//! every request; `/_souk/clock/advance` calls it after moving the clock. Handlers never move
//! time themselves: they read the world as `advance` left it.
//!
//! Deadlines evaluated lazily against the same clock (registration-token and STS-session
//! expiry, SQS visibility timeouts and delays, invoice dates that the data feeds compare with
//! `now`) need no transition: they are predicates on `now`, and `now` only comes from
//! [`crate::clock::EmulatorClock::now_at`]. One [`At`] decides every step, so deadlines kept in
//! seconds (the market's final hour) and in milliseconds (SQS retention) fall due together.

use crate::World;
use crate::at::At;
use crate::config::EmulatorConfig;

/// Applies every transition due at or before `now`, in causal order:
///
/// 1. catalog change sets move `PREPARING` → `APPLYING` → `SUCCEEDED`/`FAILED` (a release may
///    start or expire offers);
/// 2. active agreements whose end time has passed become `EXPIRED` *as of their end time*, which
///    unsubscribes the buyer in the market with the final metering hour starting at that end;
/// 3. the market turns pending unsubscriptions whose final hour is over into
///    `unsubscribe-success` and drops their entitlements (so an agreement that ended more than an
///    hour ago is fully gone after one call);
/// 4. SQS drops messages past their queue's retention period.
///
/// Notifications emitted by these steps are queued in `world.notify` and delivered by the
/// delivery task.
pub fn advance(world: &mut World, config: &EmulatorConfig, now: At) {
    crate::agreement::lifecycle::progress(world, config, now);
    crate::market::tick(world, config, now);
    // Look before borrowing mutably: the journal rewrites what is borrowed mutably.
    let due: Vec<String> = world
        .sqs
        .queues
        .iter()
        .filter(|(_, queue)| queue.has_expired(now))
        .map(|(key, _)| key.clone())
        .collect();
    for key in due {
        if let Some(queue) = world.sqs.queues.get_mut(&key) {
            queue.expire(now);
        }
    }
}

impl crate::Emulator {
    /// Applies every transition due at the emulator clock's "now" ([`crate::advance::advance`]).
    pub fn advance_world(&self) {
        let now = self.clock().now_at();
        let mut world = self.world();
        advance(&mut world, self.config(), now);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::Duration;

    use super::advance;
    use crate::World;
    use crate::at::At;
    use crate::config::EmulatorConfig;
    use crate::market::{self, NewProduct, SubscribeRequest, SubscriptionStatus};
    use crate::sqs::queue::Queue;

    /// The market's final hour is kept in whole seconds and SQS retention in milliseconds (they
    /// were once handed `now` in those two units); one `At` decides both, to the millisecond.
    #[test]
    fn deadlines_kept_in_seconds_and_in_milliseconds_fall_due_at_the_same_instant() {
        let config = EmulatorConfig::default();
        let mut world = World::default();
        let product = NewProduct {
            product_code: Some("prod1".into()),
            ..NewProduct::default()
        };
        market::create_product(&mut world, product).expect("product");
        let start = At::from_seconds(1_700_000_000);
        let request = SubscribeRequest {
            product_code: "prod1".into(),
            customer_aws_account_id: "123456789012".into(),
            ..SubscribeRequest::default()
        };
        market::subscribe(&mut world, &config, request, start).expect("subscribe");
        // 250 ms into a second: the market keeps the whole second, SQS the millisecond.
        let unsubscribed = start + Duration::milliseconds(250);
        market::unsubscribe(&mut world, &config, "prod1", "123456789012", unsubscribed)
            .expect("unsubscribe");
        let retention = BTreeMap::from([("MessageRetentionPeriod".to_owned(), "3600".to_owned())]);
        let mut queue = Queue::new("111122223333", "q", retention, start).expect("queue");
        queue
            .send("m".into(), BTreeMap::new(), None, start)
            .expect("send");
        world.sqs.queues.insert("111122223333/q".into(), queue);

        let deadline = start + Duration::HOUR;
        let status = |world: &World| {
            world
                .market
                .subscription("prod1", "123456789012")
                .map(|s| s.status)
        };
        let messages = |world: &World| world.sqs.queues["111122223333/q"].messages.len();

        advance(&mut world, &config, deadline - Duration::milliseconds(1));
        assert_eq!(
            status(&world),
            Some(SubscriptionStatus::UnsubscribePending { ends_at: deadline })
        );
        assert_eq!(messages(&world), 1);

        advance(&mut world, &config, deadline);
        assert_eq!(
            status(&world),
            Some(SubscriptionStatus::Unsubscribed { at: deadline })
        );
        assert_eq!(messages(&world), 0);
    }
}
