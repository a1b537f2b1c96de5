//! Contract entitlements read from AWS GetEntitlements (on contract notices, on demand, and by a
//! background retry), and the `entitlement.expiring` notices before they run out.

use std::collections::HashMap;

use souk_core::Id;
use time::Duration;
use tracing::instrument;

use super::error::Error;
use super::event::EntitlementEvent;
use super::fulfilment::begin_plain;
use super::model::{Customer, FulfilmentSettings};
use super::ports::{EntitlementQuery, Licensing, MarketError};
use super::service::{Entitlements, refresh_features};

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Customers read from AWS.
    pub synced: u32,
    /// Customers whose entitlements or features changed.
    pub changed: u32,
}

/// The furthest ahead an expiry notice can be configured (`validate` caps days at 365).
const MAX_NOTICE_AHEAD: Duration = Duration::days(366);

impl Entitlements {
    /// Reads one customer's entitlements from AWS, stores them, derives its features again and
    /// emits `entitlement.changed` if anything differs. Returns whether it did.
    #[instrument(skip(self), fields(organization_id = %organization_id, customer_id = %customer_id))]
    pub async fn sync_customer(
        &self,
        organization_id: &Id,
        customer_id: &Id,
    ) -> Result<bool, Error> {
        let customer = self
            .store
            .get_customer(organization_id, customer_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("customer {customer_id}")))?;
        let integration = self
            .integration(Some(organization_id), &customer.integration_id)
            .await?;
        let licensing = integration
            .product(&customer.product_code)
            .map_or(Licensing::ProductCode, |p| p.licensing);
        let query = query_for(&customer, licensing);
        let now = self.now();
        let mut read = self
            .marketplace
            .get_entitlements(&integration, &query)
            .await
            .map_err(market_error)?;
        for entitlement in &mut read {
            entitlement.customer_id = customer.id.clone();
            entitlement.updated_at = now;
        }
        let mut tx = begin_plain(self, organization_id).await?;
        let record = tx
            .lock_customer(organization_id, customer_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("customer {customer_id}")))?;
        let previous = tx.entitlements_of(customer_id).await?;
        tx.replace_entitlements(&record.customer, &read).await?;
        let changed = refresh_features(tx.as_mut(), &record, Some(previous), "aws", now).await?;
        tx.mark_sync(customer_id, false).await?;
        tx.commit(Vec::new()).await?;
        Ok(changed)
    }

    /// Reads the entitlements of one customer, or of every live customer of the integration.
    /// Repeating it is harmless, so it needs no idempotency record.
    pub async fn sync_entitlements(
        &self,
        organization_id: &Id,
        integration_id: &Id,
        customer_id: Option<&Id>,
    ) -> Result<SyncReport, Error> {
        self.integration(Some(organization_id), integration_id)
            .await?;
        let customers: Vec<Id> = match customer_id {
            Some(id) => {
                let customer = self
                    .store
                    .get_customer(organization_id, id)
                    .await?
                    .filter(|c| &c.integration_id == integration_id)
                    .ok_or_else(|| Error::NotFound(format!("customer {id}")))?;
                vec![customer.id]
            }
            None => self
                .store
                .live_customers(organization_id, integration_id)
                .await?
                .into_iter()
                .map(|r| r.customer.id)
                .collect(),
        };
        let mut report = SyncReport::default();
        for id in customers {
            let changed = self.sync_customer(organization_id, &id).await?;
            report.synced += 1;
            report.changed += u32::from(changed);
        }
        Ok(report)
    }

    /// Retries the entitlement reads a notice asked for and AWS did not answer; returns how
    /// many succeeded.
    pub async fn sync_pending(&self, limit: i64) -> Result<usize, Error> {
        let mut done = 0;
        for record in self.store.customers_to_sync(limit).await? {
            let customer = record.customer;
            match self
                .sync_customer(&customer.organization_id, &customer.id)
                .await
            {
                Ok(_) => done += 1,
                Err(error) => {
                    tracing::warn!(customer_id = %customer.id, %error, "entitlement sync failed; retrying later");
                }
            }
        }
        Ok(done)
    }

    /// Emits `entitlement.expiring` for every threshold (days before expiry, per integration)
    /// that has been reached and not announced yet; returns how many were emitted.
    pub async fn send_expiry_notices(&self) -> Result<usize, Error> {
        let now = self.now();
        let due = self
            .store
            .entitlements_expiring_between(now, now + MAX_NOTICE_AHEAD)
            .await?;
        let mut settings: HashMap<Id, FulfilmentSettings> = HashMap::new();
        let mut sent = 0;
        for (record, entitlement) in due {
            let Some(expires_at) = entitlement.expires_at else {
                continue;
            };
            let customer = &record.customer;
            if !settings.contains_key(&customer.integration_id) {
                let stored = self
                    .store
                    .settings(&customer.organization_id, &customer.integration_id)
                    .await?
                    .unwrap_or_else(|| {
                        FulfilmentSettings::defaults(
                            customer.organization_id.clone(),
                            customer.integration_id.clone(),
                        )
                    });
                settings.insert(customer.integration_id.clone(), stored);
            }
            let days = &settings[&customer.integration_id].expiry_notice_days;
            // Only the nearest threshold reached is announced: a contract first seen 3 days
            // before its end gets the 7-day notice, not also the 30-day one.
            let Some(threshold) = days
                .iter()
                .copied()
                .filter(|d| expires_at - Duration::days(i64::from(*d)) <= now)
                .min()
            else {
                continue;
            };
            let mut tx = begin_plain(self, &customer.organization_id).await?;
            if tx
                .first_expiry_notice(&customer.id, &entitlement.dimension, expires_at, threshold)
                .await?
            {
                tx.emit(EntitlementEvent::EntitlementExpiring {
                    organization_id: customer.organization_id.clone(),
                    integration_id: customer.integration_id.clone(),
                    entitlement,
                    days: threshold,
                })?;
                tx.commit(Vec::new()).await?;
                sent += 1;
            }
        }
        Ok(sent)
    }
}

/// GetEntitlements filters for a customer: the legacy identifier for legacy products, the AWS
/// account (and licence) for concurrent-agreement products.
fn query_for(customer: &Customer, licensing: Licensing) -> EntitlementQuery {
    let legacy = licensing == Licensing::ProductCode && customer.customer_identifier.is_some();
    EntitlementQuery {
        product_code: customer.product_code.clone(),
        customer_identifier: if legacy {
            customer.customer_identifier.clone()
        } else {
            None
        },
        aws_account_id: if legacy {
            None
        } else {
            customer.aws_account_id.clone()
        },
        license_arn: if legacy {
            None
        } else {
            customer.license_arn.clone()
        },
    }
}

fn market_error(error: MarketError) -> Error {
    match error {
        MarketError::Unavailable(detail) => Error::Unavailable(detail),
        other => Error::FailedPrecondition(other.to_string()),
    }
}
