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
//! [`crate::clock::EmulatorClock::now`].

use time::OffsetDateTime;

use crate::World;
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
pub fn advance(world: &mut World, config: &EmulatorConfig, now: OffsetDateTime) {
    crate::agreement::lifecycle::progress(world, config, now);
    crate::market::tick(world, config, now.unix_timestamp());
    let now_ms = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    // Look before borrowing mutably: the journal rewrites what is borrowed mutably.
    let due: Vec<String> = world
        .sqs
        .queues
        .iter()
        .filter(|(_, queue)| queue.has_expired(now_ms))
        .map(|(key, _)| key.clone())
        .collect();
    for key in due {
        if let Some(queue) = world.sqs.queues.get_mut(&key) {
            queue.expire(now_ms);
        }
    }
}

impl crate::Emulator {
    /// Applies every transition due at the emulator clock's "now" ([`crate::advance::advance`]).
    pub fn advance_world(&self) {
        let now = self.clock().now();
        let mut world = self.world();
        advance(&mut world, self.config(), now);
    }
}
