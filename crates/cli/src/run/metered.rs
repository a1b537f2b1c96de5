//! The reporting service's view of the metering records: the binary reads the metering
//! service's store (its schema, or its SQLite file) for the usage report and the
//! reconciliation, so the two services share no code and no tables.

use async_trait::async_trait;
use souk_core::Id;
use souk_metering::domain::model::RecordStatus;
use souk_metering::store::{UsageQuery, UsageTotals};
use souk_reporting::domain::Error;
use souk_reporting::domain::ports::{
    MeteredCustomer, MeteredQuery, MeteredState, MeteredTotal, MeteredUsage,
};

/// [`MeteredUsage`] over the metering store.
#[derive(Debug, Clone)]
pub struct MeteringRecords(pub UsageTotals);

#[async_trait]
impl MeteredUsage for MeteringRecords {
    async fn totals(
        &self,
        organization_id: &Id,
        query: &MeteredQuery,
    ) -> Result<Vec<MeteredTotal>, Error> {
        let query = UsageQuery {
            organization_id: organization_id.to_string(),
            integration_id: query.integration_id.as_ref().map(Id::to_string),
            customer_id: query.customer_id.clone(),
            product_codes: query.product_codes.clone(),
            dimension: query.dimension.clone(),
            periods: query.periods.clone(),
        };
        let totals = self.0.totals(&query).await.map_err(|error| {
            tracing::warn!(%error, "reading the metering records failed");
            Error::Unavailable("the metering records could not be read, try again".to_owned())
        })?;
        Ok(totals
            .into_iter()
            .filter_map(|total| {
                let state = match total.status {
                    RecordStatus::Sent => MeteredState::Shipped,
                    RecordStatus::Held | RecordStatus::Failed => MeteredState::Rejected,
                    RecordStatus::Open | RecordStatus::Pending => MeteredState::Pending,
                    RecordStatus::Carried => return None,
                };
                let aws_customer = match (total.aws_account_id, total.customer_identifier) {
                    (Some(account), _) => MeteredCustomer::Account(account),
                    (None, Some(identifier)) => MeteredCustomer::Identifier(identifier),
                    (None, None) => MeteredCustomer::Unknown,
                };
                Some(MeteredTotal {
                    period: total.period,
                    customer_id: total.customer_id,
                    aws_customer,
                    product_code: total.product_code,
                    dimension: total.dimension,
                    state,
                    quantity: total.quantity,
                    last_sent_at: total.last_sent_at,
                })
            })
            .collect())
    }
}
