//! A read model for other services (the reporting service's reconciliation): the payment
//! schedules of an integration's accepted offers, with the agreements they became.

use souk_store::{Args, Store};
use time::Date;

use super::rows::{OFFER_COLUMNS, offer};
use crate::domain::Error;
use crate::domain::model::{OfferKind, OfferState};

/// The payment schedule of one accepted offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedSchedule {
    /// Souk's offer id (`ofr_...`).
    pub offer_id: String,
    /// AWS offer id.
    pub aws_offer_id: String,
    /// The agreement the buyer's acceptance made.
    pub agreement_id: String,
    /// The buyers the offer was for.
    pub buyer_account_ids: Vec<String>,
    /// ISO 4217 currency of the amounts.
    pub currency: String,
    /// Charge day and amount (micros), in schedule order.
    pub installments: Vec<(Date, i64)>,
}

/// Reads the offer store for other services.
#[derive(Debug, Clone)]
pub struct AcceptedSchedules {
    store: Store,
}

impl AcceptedSchedules {
    /// Over the offer service's own store (migrated by its opener).
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The accepted offers of the integration with a payment schedule, sold by the
    /// integration itself (a channel partner's offers bill the partner's price).
    pub async fn of_integration(
        &self,
        organization_id: &str,
        integration_id: &str,
    ) -> Result<Vec<AcceptedSchedule>, Error> {
        let mut args = Args::default();
        let sql = format!(
            "SELECT {OFFER_COLUMNS} FROM offers WHERE organization_id = {} \
             AND integration_id = {} AND state = {} AND agreement_id IS NOT NULL ORDER BY id",
            args.text(organization_id),
            args.text(integration_id),
            args.text(OfferState::Accepted.as_str()),
        );
        let found = args
            .query(sql)
            .fetch_all(self.store.pool())
            .await
            .map_err(|e| Error::from(souk_store::map_sqlx_error(e)))?;
        let mut schedules = Vec::new();
        for r in &found {
            let offer = offer(r)?;
            if offer.draft.kind() == OfferKind::ChannelPartner
                || offer.draft.payment_schedule.is_empty()
            {
                continue;
            }
            schedules.push(AcceptedSchedule {
                offer_id: offer.id.to_string(),
                aws_offer_id: offer.aws_offer_id.unwrap_or_default(),
                agreement_id: offer.agreement_id.unwrap_or_default(),
                buyer_account_ids: offer.draft.buyer_account_ids.clone(),
                currency: offer.draft.currency.clone(),
                installments: offer
                    .draft
                    .payment_schedule
                    .iter()
                    .map(|i| (i.charge_date, i.amount_micros))
                    .collect(),
            });
        }
        Ok(schedules)
    }
}
