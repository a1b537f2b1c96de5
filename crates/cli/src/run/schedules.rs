//! The reporting service's view of the accepted offers' payment schedules: the binary reads
//! the offer service's store for the installment reconciliation, so the two services share no
//! code and no tables.

use async_trait::async_trait;
use souk_offer::store::AcceptedSchedules;
use souk_reporting::domain::Error;
use souk_reporting::domain::ports::{Acting, ExpectedSchedule, OfferSchedules};

/// [`OfferSchedules`] over the offer store.
#[derive(Debug, Clone)]
pub struct OfferStoreSchedules(pub AcceptedSchedules);

#[async_trait]
impl OfferSchedules for OfferStoreSchedules {
    async fn accepted(&self, acting: &Acting) -> Result<Vec<ExpectedSchedule>, Error> {
        let schedules = self
            .0
            .of_integration(
                acting.organization_id.as_str(),
                acting.integration_id.as_str(),
            )
            .await
            .map_err(|error| {
                tracing::warn!(%error, "reading the accepted offers failed");
                Error::Unavailable("the accepted offers could not be read, try again".to_owned())
            })?;
        Ok(schedules
            .into_iter()
            .map(|s| ExpectedSchedule {
                offer_id: s.offer_id,
                aws_offer_id: s.aws_offer_id,
                agreement_id: s.agreement_id,
                currency: s.currency,
                installments: s.installments,
            })
            .collect())
    }
}
