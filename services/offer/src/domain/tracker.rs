//! Follows every offer that is not final: starts a draft's change set (idempotent through its
//! `ClientRequestToken`, so a restart between the call and the commit starts nothing twice),
//! polls the change set with a growing interval until it finishes, then watches the released
//! offer for an agreement or its expiry. Everything it needs is in the store (each offer's
//! next check time), so a restarted process resumes where the last one stopped; each offer is
//! claimed before it is worked on, so several replicas never work on the same one.

use std::sync::Arc;
use std::time::Duration;

use souk_core::SharedClock;
use time::OffsetDateTime;

use super::change_set::create_offer;
use super::error::Error;
use super::event::OfferEvent;
use super::failure;
use super::model::{Offer, OfferState};
use super::ports::{Acting, Begun, CallError, Catalog, ChangeSetRequest, ChangeSetStatus, Store};
use super::resale::{ResaleAuthorization, ResaleEvent, create_resale_authorization};

/// How the tracker paces itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackOptions {
    /// First wait before asking about a change set again; doubled each time, up to
    /// `max_poll` (AWS takes minutes; the emulator seconds).
    pub first_poll: Duration,
    /// Longest wait between two looks at a running change set, or after a failed call.
    pub max_poll: Duration,
    /// How often a released offer is checked for an agreement.
    pub acceptance_poll: Duration,
    /// How long a claimed offer is left to the replica that claimed it.
    pub lease: Duration,
    /// Offers handled per pass.
    pub batch: u32,
    /// Days before the expiry at which a released, unaccepted offer earns an
    /// `offer.expiring` reminder, largest first (each sent once).
    pub reminder_days: Vec<u32>,
}

impl Default for TrackOptions {
    fn default() -> Self {
        Self {
            first_poll: Duration::from_secs(2),
            max_poll: Duration::from_secs(60),
            acceptance_poll: Duration::from_secs(60),
            lease: Duration::from_secs(60),
            batch: 50,
            reminder_days: vec![7, 1],
        }
    }
}

/// What a pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackReport {
    /// Offers looked at.
    pub checked: u32,
    /// Transitions committed.
    pub transitions: u32,
    /// AWS calls that failed and are retried later.
    pub retried: u32,
}

/// The offer tracker.
#[derive(Clone)]
pub struct Tracker {
    store: Arc<dyn Store>,
    catalog: Arc<dyn Catalog>,
    clock: SharedClock,
    options: TrackOptions,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// `base` doubled `failures` times, at most `max`.
fn backoff(base: Duration, max: Duration, failures: u32) -> Duration {
    base.saturating_mul(1_u32 << failures.min(16)).min(max)
}

fn later(now: OffsetDateTime, by: Duration) -> OffsetDateTime {
    now + time::Duration::try_from(by).unwrap_or(time::Duration::MINUTE)
}

/// A new state of an offer and the event reporting it.
struct Transition {
    next: Offer,
    event: Option<OfferEvent>,
}

/// What to write after one look at an offer.
enum Step {
    /// A transition (with its event, if any).
    Transition(Box<Transition>),
    /// Nothing changed: look again at this instant (`failed`: the look failed).
    Again(OffsetDateTime, bool),
}

impl Step {
    fn transition(next: Offer, event: Option<OfferEvent>) -> Self {
        Self::Transition(Box::new(Transition { next, event }))
    }
}

impl Tracker {
    /// The tracker over `store` and `catalog`.
    pub fn new(
        store: Arc<dyn Store>,
        catalog: Arc<dyn Catalog>,
        clock: SharedClock,
        options: TrackOptions,
    ) -> Self {
        Self {
            store,
            catalog,
            clock,
            options,
        }
    }

    /// One pass over the offers due now.
    pub async fn track_once(&self) -> Result<TrackReport, Error> {
        let now = self.clock.now();
        let mut report = TrackReport::default();
        for offer in self.store.due_offers(now, self.options.batch).await? {
            if !self
                .store
                .claim(&offer, later(now, self.options.lease))
                .await?
            {
                continue;
            }
            report.checked += 1;
            match self.look(&offer, now).await {
                Step::Transition(t) => {
                    if self.write(&offer, t.next, t.event).await? {
                        report.transitions += 1;
                    }
                }
                Step::Again(at, failed) => {
                    report.retried += u32::from(failed);
                    let mut next = offer.clone();
                    next.next_check_at = Some(at);
                    next.check_failures = if failed {
                        offer.check_failures.saturating_add(1)
                    } else {
                        0
                    };
                    self.write(&offer, next, None).await?;
                }
            }
        }
        self.track_resale(now, &mut report).await?;
        Ok(report)
    }

    /// Writes `next` if the offer is still in the state it was looked at in (a concurrent
    /// cancel wins); `true` when written.
    async fn write(
        &self,
        seen: &Offer,
        mut next: Offer,
        event: Option<OfferEvent>,
    ) -> Result<bool, Error> {
        let mut tx = match self.store.begin(&seen.organization_id, None).await? {
            Begun::Fresh(tx) => tx,
            Begun::Replayed(_) => return Ok(false),
        };
        let Some(current) = tx.lock_offer(&seen.organization_id, &seen.id).await? else {
            return Ok(false);
        };
        if current.state != seen.state {
            return Ok(false);
        }
        // Keep what changed meanwhile outside the tracker's concern (an extension).
        next.draft = current.draft;
        tx.update_offer(&next).await?;
        if let Some(event) = event {
            tracing::info!(offer_id = %next.id, event = event.event_type(), "offer transition");
            tx.emit(event)?;
        }
        tx.commit(Vec::new()).await?;
        Ok(true)
    }

    fn retry_at(&self, offer: &Offer, now: OffsetDateTime) -> OffsetDateTime {
        later(
            now,
            backoff(
                self.options.first_poll,
                self.options.max_poll,
                offer.check_failures,
            ),
        )
    }

    async fn look(&self, offer: &Offer, now: OffsetDateTime) -> Step {
        let acting = Acting::of(offer);
        match offer.state {
            OfferState::Draft => self.submit(offer, &acting, now).await,
            OfferState::Submitted => self.poll(offer, &acting, now).await,
            OfferState::Released => self.watch(offer, &acting, now).await,
            // Final states are never due; clear the check if one is left.
            _ => {
                let mut next = offer.clone();
                next.next_check_at = None;
                Step::transition(next, None)
            }
        }
    }

    fn failed(&self, offer: &Offer, now: OffsetDateTime, code: String, message: String) -> Step {
        let mut next = offer.clone();
        next.state = OfferState::Failed;
        next.failure_code = Some(code);
        next.failure_message = Some(message);
        next.next_check_at = None;
        next.updated_at = now;
        let event = OfferEvent::Failed(next.clone());
        Step::transition(next, Some(event))
    }

    async fn submit(&self, offer: &Offer, acting: &Acting, now: OffsetDateTime) -> Step {
        let request = ChangeSetRequest {
            name: format!("souk offer {}", offer.id),
            client_request_token: offer.client_request_token.clone(),
            changes: create_offer(&offer.draft),
        };
        match self.catalog.start_change_set(acting, &request).await {
            Ok(change_set_id) => {
                let mut next = offer.clone();
                next.state = OfferState::Submitted;
                next.change_set_id = Some(change_set_id);
                next.check_failures = 0;
                next.next_check_at = Some(later(now, self.options.first_poll));
                next.updated_at = now;
                Step::transition(next, None)
            }
            Err(CallError::Retry(message)) => {
                tracing::warn!(offer_id = %offer.id, %message, "StartChangeSet failed; retrying");
                Step::Again(self.retry_at(offer, now), true)
            }
            Err(CallError::Refused { code, message }) => self.failed(
                offer,
                now,
                code.clone(),
                format!("AWS refused the change set: {code}: {message}"),
            ),
        }
    }

    async fn poll(&self, offer: &Offer, acting: &Acting, now: OffsetDateTime) -> Step {
        let Some(change_set_id) = offer.change_set_id.as_deref() else {
            // Submitted without a change set cannot happen; submit again (same token).
            return self.submit(offer, acting, now).await;
        };
        match self
            .catalog
            .describe_change_set(acting, change_set_id)
            .await
        {
            Ok(ChangeSetStatus::Running) => {
                // Each look while it runs waits longer; a failure counter doubles as the step.
                Step::Again(self.retry_at(offer, now), true)
            }
            Ok(ChangeSetStatus::Succeeded { entity_id }) => {
                let mut next = offer.clone();
                next.state = OfferState::Released;
                next.aws_offer_id = entity_id;
                next.check_failures = 0;
                next.next_check_at = Some(later(now, self.options.acceptance_poll));
                next.updated_at = now;
                let event = OfferEvent::Released(next.clone());
                Step::transition(next, Some(event))
            }
            Ok(ChangeSetStatus::Failed {
                failure_code,
                description,
                errors,
            }) => self.failed(
                offer,
                now,
                failure::codes(&errors, &failure_code),
                failure::readable(&description, &errors),
            ),
            Ok(ChangeSetStatus::Cancelled) => self.failed(
                offer,
                now,
                "CANCELLED".into(),
                "the change set was cancelled in AWS before it applied".into(),
            ),
            Err(CallError::Retry(message)) => {
                tracing::warn!(offer_id = %offer.id, %message, "DescribeChangeSet failed; retrying");
                Step::Again(self.retry_at(offer, now), true)
            }
            Err(CallError::Refused { code, message }) => {
                tracing::warn!(offer_id = %offer.id, %code, %message, "DescribeChangeSet refused; retrying");
                Step::Again(self.retry_at(offer, now), true)
            }
        }
    }

    async fn watch(&self, offer: &Offer, acting: &Acting, now: OffsetDateTime) -> Step {
        let Some(aws_offer_id) = offer.aws_offer_id.as_deref() else {
            return Step::Again(later(now, self.options.acceptance_poll), false);
        };
        match self.catalog.agreement_of_offer(acting, aws_offer_id).await {
            Ok(Some(agreement_id)) => {
                let mut next = offer.clone();
                next.state = OfferState::Accepted;
                next.agreement_id = Some(agreement_id);
                next.next_check_at = None;
                next.updated_at = now;
                let event = OfferEvent::Accepted(next.clone());
                Step::transition(next, Some(event))
            }
            Ok(None) => match offer.draft.expiry_time() {
                Some(expiry) if expiry < now => {
                    let mut next = offer.clone();
                    next.state = OfferState::Expired;
                    next.next_check_at = None;
                    next.updated_at = now;
                    let event = OfferEvent::Expired(next.clone());
                    Step::transition(next, Some(event))
                }
                expiry => {
                    // Look again after the poll interval, or sooner: when the next reminder is
                    // due, or just after the expiry.
                    let mut at = later(now, self.options.acceptance_poll);
                    if let Some(expiry) = expiry {
                        if let Some(step) = self.reminder(offer, expiry, now, at) {
                            return step;
                        }
                        let next = usize::try_from(offer.reminders_sent)
                            .ok()
                            .and_then(|n| self.options.reminder_days.get(n));
                        if let Some(days) = next {
                            let due = expiry - time::Duration::days(i64::from(*days));
                            at = at.min(due.max(now + time::Duration::SECOND));
                        }
                        if expiry < at {
                            at = expiry + time::Duration::SECOND;
                        }
                    }
                    Step::Again(at, false)
                }
            },
            Err(error) => {
                tracing::warn!(offer_id = %offer.id, %error, "SearchAgreements failed; retrying");
                Step::Again(self.retry_at(offer, now), true)
            }
        }
    }
}

impl Tracker {
    /// The `offer.expiring` reminder due now, if one is: only the nearest of several due at
    /// once is sent (a process that was down does not send a stale "7 days left" one day
    /// before); the others count as sent.
    fn reminder(
        &self,
        offer: &Offer,
        expiry: OffsetDateTime,
        now: OffsetDateTime,
        next_check: OffsetDateTime,
    ) -> Option<Step> {
        let due = self
            .options
            .reminder_days
            .iter()
            .take_while(|days| now >= expiry - time::Duration::days(i64::from(**days)))
            .count();
        let sent = usize::try_from(offer.reminders_sent).unwrap_or(usize::MAX);
        if due <= sent {
            return None;
        }
        let days_before = self.options.reminder_days[due - 1];
        let mut next = offer.clone();
        next.reminders_sent = u32::try_from(due).unwrap_or(u32::MAX);
        next.next_check_at = Some(next_check.min(expiry + time::Duration::SECOND));
        next.check_failures = 0;
        let event = OfferEvent::Expiring {
            offer: next.clone(),
            days_before,
        };
        Some(Step::transition(next, Some(event)))
    }
}

/// Resale authorisations: submitted and polled like offers, final once released or failed (a
/// released one has nothing left to watch).
impl Tracker {
    async fn track_resale(
        &self,
        now: OffsetDateTime,
        report: &mut TrackReport,
    ) -> Result<(), Error> {
        let due = self
            .store
            .due_resale_authorizations(now, self.options.batch)
            .await?;
        for ra in due {
            if !self
                .store
                .claim_resale_authorization(&ra, later(now, self.options.lease))
                .await?
            {
                continue;
            }
            report.checked += 1;
            let (next, event, failed) = self.look_resale(&ra, now).await;
            report.retried += u32::from(failed);
            let transition = event.is_some();
            if self.write_resale(&ra, next, event).await? && transition {
                report.transitions += 1;
            }
        }
        Ok(())
    }

    /// The next state of `ra`, its event, and whether the call to AWS failed.
    async fn look_resale(
        &self,
        ra: &ResaleAuthorization,
        now: OffsetDateTime,
    ) -> (ResaleAuthorization, Option<ResaleEvent>, bool) {
        let acting = Acting {
            organization_id: ra.organization_id.clone(),
            integration_id: ra.integration_id.clone(),
        };
        let mut next = ra.clone();
        next.updated_at = now;
        let again = |mut next: ResaleAuthorization| {
            next.updated_at = ra.updated_at;
            next.check_failures = ra.check_failures.saturating_add(1);
            next.next_check_at = Some(later(
                now,
                backoff(
                    self.options.first_poll,
                    self.options.max_poll,
                    ra.check_failures,
                ),
            ));
            (next, None, true)
        };
        let failed = |mut next: ResaleAuthorization, code: String, message: String| {
            next.state = OfferState::Failed;
            next.failure_code = Some(code);
            next.failure_message = Some(message);
            next.next_check_at = None;
            let event = ResaleEvent::Failed(next.clone());
            (next, Some(event), false)
        };
        match (ra.state, ra.change_set_id.as_deref()) {
            (OfferState::Draft, _) | (OfferState::Submitted, None) => {
                let request = ChangeSetRequest {
                    name: format!("souk resale authorization {}", ra.id),
                    client_request_token: ra.client_request_token.clone(),
                    changes: create_resale_authorization(&ra.draft),
                };
                match self.catalog.start_change_set(&acting, &request).await {
                    Ok(change_set_id) => {
                        next.state = OfferState::Submitted;
                        next.change_set_id = Some(change_set_id);
                        next.check_failures = 0;
                        next.next_check_at = Some(later(now, self.options.first_poll));
                        (next, None, false)
                    }
                    Err(CallError::Retry(message)) => {
                        tracing::warn!(resale_authorization_id = %ra.id, %message, "StartChangeSet failed; retrying");
                        again(next)
                    }
                    Err(CallError::Refused { code, message }) => failed(
                        next,
                        code.clone(),
                        format!("AWS refused the change set: {code}: {message}"),
                    ),
                }
            }
            (OfferState::Submitted, Some(change_set_id)) => {
                match self
                    .catalog
                    .describe_change_set(&acting, change_set_id)
                    .await
                {
                    Ok(ChangeSetStatus::Running) => {
                        let (mut next, event, _) = again(next);
                        // Waiting on a running change set is not a failure to report.
                        next.updated_at = ra.updated_at;
                        (next, event, false)
                    }
                    Ok(ChangeSetStatus::Succeeded { entity_id }) => {
                        next.state = OfferState::Released;
                        next.aws_id = entity_id;
                        next.check_failures = 0;
                        next.next_check_at = None;
                        let event = ResaleEvent::Released(next.clone());
                        (next, Some(event), false)
                    }
                    Ok(ChangeSetStatus::Failed {
                        failure_code,
                        description,
                        errors,
                    }) => failed(
                        next,
                        failure::codes(&errors, &failure_code),
                        failure::readable(&description, &errors),
                    ),
                    Ok(ChangeSetStatus::Cancelled) => failed(
                        next,
                        "CANCELLED".into(),
                        "the change set was cancelled in AWS before it applied".into(),
                    ),
                    Err(CallError::Retry(message) | CallError::Refused { message, .. }) => {
                        tracing::warn!(resale_authorization_id = %ra.id, %message, "DescribeChangeSet failed; retrying");
                        again(next)
                    }
                }
            }
            // Final states are never due; clear the check if one is left.
            _ => {
                next.updated_at = ra.updated_at;
                next.next_check_at = None;
                (next, None, false)
            }
        }
    }

    /// Writes `next` if `seen` is still in the state it was looked at in; `true` when written.
    async fn write_resale(
        &self,
        seen: &ResaleAuthorization,
        next: ResaleAuthorization,
        event: Option<ResaleEvent>,
    ) -> Result<bool, Error> {
        let mut tx = match self.store.begin(&seen.organization_id, None).await? {
            Begun::Fresh(tx) => tx,
            Begun::Replayed(_) => return Ok(false),
        };
        let Some(current) = tx
            .lock_resale_authorization(&seen.organization_id, &seen.id)
            .await?
        else {
            return Ok(false);
        };
        if current.state != seen.state {
            return Ok(false);
        }
        tx.update_resale_authorization(&next).await?;
        if let Some(event) = event {
            tracing::info!(resale_authorization_id = %next.id, event = event.event_type(), "resale authorization transition");
            tx.emit_resale(event)?;
        }
        tx.commit(Vec::new()).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn polling_backs_off_to_the_maximum() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(60);
        assert_eq!(backoff(base, max, 0), Duration::from_secs(2));
        assert_eq!(backoff(base, max, 3), Duration::from_secs(16));
        assert_eq!(backoff(base, max, 10), max);
        assert_eq!(backoff(base, max, 40), max);
    }
}
