//! Notifications from AWS (SQS, the SNS endpoint, the EventBridge endpoint) driving each
//! subscription's state machine, once per message, in any order.

use souk_core::Id;
use tracing::instrument;

use super::error::Error;
use super::event::{EntitlementEvent, Origin};
use super::fulfilment::{begin_plain, new_customer};
use super::lifecycle::{self, Transition};
use super::model::{Agreement, BuyerKeys, SubscriptionState};
use super::notice::{Notice, NoticeKind};
use super::ports::{CustomerRecord, IntegrationInfo, ResolvedBuyer, Transaction};
use super::service::{Entitlements, refresh_features};

/// What a notice did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// The message was processed before.
    Duplicate,
    /// Applied to customer `customer_id`; `moved_to` is the new state if it changed.
    Applied {
        /// The customer.
        customer_id: Id,
        /// The new state, if the notice moved it.
        moved_to: Option<SubscriptionState>,
        /// Whether the customer's entitlements must be read from AWS.
        sync_needed: bool,
    },
}

impl Entitlements {
    /// Applies one authenticated notice of `integration`. Each AWS message takes effect once;
    /// its state transition and event commit together. After the commit, a contract change reads
    /// the customer's entitlements from AWS at once (and a background task retries it if AWS is
    /// unavailable). An error means the notice cannot be applied (the caller parks it).
    #[instrument(skip_all, fields(integration_id = %integration.id, message_id = %notice.message_id, action = notice.kind.action()))]
    pub async fn receive_notice(
        &self,
        integration: &IntegrationInfo,
        notice: &Notice,
    ) -> Result<NoticeOutcome, Error> {
        let org = &integration.organization_id;
        let product_code = product_of(integration, notice)?;
        let mut tx = begin_plain(self, org).await?;
        let now = self.now();
        if !tx
            .first_sight(&integration.id, &notice.message_id, now)
            .await?
        {
            return Ok(NoticeOutcome::Duplicate);
        }
        let keys = BuyerKeys {
            product_code: product_code.clone(),
            customer_identifier: notice.customer_identifier.clone(),
            aws_account_id: notice.aws_account_id.clone(),
            license_arn: notice.license_arn.clone(),
        };
        if keys.customer_identifier.is_none()
            && keys.aws_account_id.is_none()
            && keys.license_arn.is_none()
        {
            return Err(Error::invalid(
                "notice",
                "names no customer (no customer identifier, AWS account or licence)",
            ));
        }
        let found = tx.find_customers(org, &integration.id, &keys).await?;
        let mut record = match found.into_iter().next() {
            Some(record) => record,
            None => {
                let Some(product_code) = product_code else {
                    return Err(Error::FailedPrecondition(
                        "the notice names no product and matches no known customer".into(),
                    ));
                };
                let buyer = ResolvedBuyer {
                    product_code,
                    customer_identifier: notice.customer_identifier.clone(),
                    aws_account_id: notice.aws_account_id.clone(),
                    license_arn: notice.license_arn.clone(),
                    agreement_id: notice.agreement_id.clone(),
                };
                let record = new_customer(org, &integration.id, &buyer, None, now);
                tx.insert_customer(&record).await?;
                tx.emit(EntitlementEvent::SubscriptionCreated(
                    record.subscription.clone(),
                    Origin::Notice(notice.source),
                ))?;
                record
            }
        };
        let before = record.subscription.clone();
        let transition = lifecycle::apply(&mut record.subscription, notice);
        if record.subscription != before {
            record.subscription.updated_at = now;
            tx.update_subscription(&record.subscription).await?;
        }
        let moved_to = match transition {
            Transition::Moved(state) => {
                emit_transition(tx.as_mut(), &record, notice)?;
                refresh_features(tx.as_mut(), &record, None, "subscription", now).await?;
                Some(state)
            }
            Transition::Unchanged => None,
        };
        record_agreement(tx.as_mut(), integration, &record, notice, now).await?;
        let sync_needed = matches!(
            notice.kind,
            NoticeKind::SubscribeSuccess
                | NoticeKind::EntitlementUpdated
                | NoticeKind::UnsubscribeSuccess
        );
        if sync_needed {
            tx.mark_sync(&record.customer.id, true).await?;
        }
        let customer_id = record.customer.id.clone();
        tx.commit(Vec::new()).await?;
        if sync_needed && let Err(error) = self.sync_customer(org, &customer_id).await {
            // The background sync retries it; the notice itself is applied.
            tracing::warn!(%customer_id, %error, "reading entitlements after a notice failed");
        }
        Ok(NoticeOutcome::Applied {
            customer_id,
            moved_to,
            sync_needed,
        })
    }
}

/// The product a notice is about: the one it names (which must be the integration's), or the
/// integration's only product, or `None` (then only an existing customer can match).
fn product_of(integration: &IntegrationInfo, notice: &Notice) -> Result<Option<String>, Error> {
    match &notice.product_code {
        Some(code) if integration.product(code).is_some() => Ok(Some(code.clone())),
        Some(code) => Err(Error::FailedPrecondition(format!(
            "product {code} is not a product of integration {}",
            integration.id
        ))),
        None if integration.products.len() == 1 => {
            Ok(Some(integration.products[0].product_code.clone()))
        }
        None => Ok(None),
    }
}

fn emit_transition(
    tx: &mut dyn Transaction,
    record: &CustomerRecord,
    notice: &Notice,
) -> Result<(), Error> {
    let subscription = record.subscription.clone();
    let origin = Origin::Notice(notice.source);
    tx.emit(match subscription.state {
        SubscriptionState::Active => EntitlementEvent::SubscriptionActivated(subscription, origin),
        SubscriptionState::Failed => EntitlementEvent::SubscriptionFailed(
            subscription,
            origin,
            notice.kind.action().to_owned(),
        ),
        SubscriptionState::CancelPending => {
            EntitlementEvent::SubscriptionCancelPending(subscription, origin)
        }
        SubscriptionState::Cancelled => {
            EntitlementEvent::SubscriptionCancelled(subscription, origin)
        }
        SubscriptionState::Pending => return Ok(()),
    })
}

/// Keeps the agreement a notice names: created on first sight, ended by a cancellation.
async fn record_agreement(
    tx: &mut dyn Transaction,
    integration: &IntegrationInfo,
    record: &CustomerRecord,
    notice: &Notice,
    now: time::OffsetDateTime,
) -> Result<(), Error> {
    let Some(agreement_id) = &notice.agreement_id else {
        return Ok(());
    };
    let existing = tx
        .lock_agreement(&integration.organization_id, agreement_id)
        .await?;
    let mut agreement = existing.clone().unwrap_or_else(|| Agreement {
        id: agreement_id.clone(),
        organization_id: integration.organization_id.clone(),
        integration_id: integration.id.clone(),
        customer_id: Some(record.customer.id.clone()),
        product_code: Some(record.customer.product_code.clone()),
        offer_id: notice.offer_id.clone(),
        acceptor_account_id: notice
            .aws_account_id
            .clone()
            .or_else(|| record.customer.aws_account_id.clone()),
        status: "ACTIVE".into(),
        start_at: Some(notice.sent_at),
        end_at: None,
        updated_at: now,
    });
    let ends = matches!(
        notice.kind,
        NoticeKind::UnsubscribePending | NoticeKind::UnsubscribeSuccess
    );
    let newly_ended = ends && agreement.end_at.is_none();
    if newly_ended {
        // A SaaS agreement ends when the buyer cancels; AWS's own status arrives with the
        // agreement data feed.
        agreement.status = "CANCELLED".into();
        agreement.end_at = Some(notice.sent_at);
    }
    if existing.as_ref() == Some(&agreement) {
        return Ok(());
    }
    agreement.updated_at = now;
    tx.put_agreement(&agreement).await?;
    if existing.is_none() {
        tx.emit(EntitlementEvent::AgreementCreated(agreement.clone()))?;
    }
    if newly_ended {
        tx.emit(EntitlementEvent::AgreementEnded(
            agreement,
            record.subscription.final_metering_deadline,
        ))?;
    }
    Ok(())
}
