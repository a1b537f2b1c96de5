//! Linking a customer to the seller's own account id.

use souk_core::{Id, Idempotency, Outcome};
use tracing::instrument;

use super::error::Error;
use super::model::Customer;
use super::service::{Entitlements, begin, commit};
use super::validate;

impl Entitlements {
    /// Attaches `external_id` (the seller's own account id) to a customer, or removes it with
    /// `None`; `Conflict` if another customer of the organisation has it.
    #[instrument(skip(self, idempotency, encode), fields(organization_id = %organization_id, customer_id = %customer_id))]
    pub async fn link_customer(
        &self,
        organization_id: &Id,
        customer_id: &Id,
        external_id: Option<String>,
        idempotency: Option<Idempotency>,
        encode: impl FnOnce(&Customer) -> Vec<u8>,
    ) -> Result<Outcome<Customer>, Error> {
        if let Some(id) = &external_id {
            validate::external_id(id).map_err(|reason| Error::invalid("external_id", reason))?;
        }
        let mut tx = begin!(self, organization_id, idempotency);
        let mut record = tx
            .lock_customer(organization_id, customer_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("customer {customer_id}")))?;
        if record.customer.external_id != external_id {
            record.customer.external_id = external_id;
            record.customer.updated_at = self.now();
            tx.update_customer(&record.customer).await?;
        }
        commit(tx, record.customer, encode).await
    }
}
