//! A read model for other services (the reporting service's usage report and reconciliation):
//! the hourly records of an organisation summed per period, customer, product, dimension and
//! status. Carried records are left out: their quantity counts in the hour they were carried
//! into.

use souk_core::clock::{from_unix_millis, to_unix_millis};
use souk_store::row::{int, opt_int, opt_text, text};
use souk_store::{Args, Store};
use time::OffsetDateTime;

use crate::domain::Error;
use crate::domain::model::RecordStatus;

/// Which records to sum. `None` and empty lists keep everything.
#[derive(Debug, Clone, Default)]
pub struct UsageQuery {
    /// The organisation.
    pub organization_id: String,
    /// Only records shipping through this integration.
    pub integration_id: Option<String>,
    /// Only this customer (`cus_...`).
    pub customer_id: Option<String>,
    /// Only these product codes.
    pub product_codes: Vec<String>,
    /// Only this dimension.
    pub dimension: Option<String>,
    /// The periods `[start, end)` of the hours to sum, each summed apart.
    pub periods: Vec<(OffsetDateTime, OffsetDateTime)>,
}

/// The records of one period, customer, product, dimension and status, summed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageTotal {
    /// Index of the period in [`UsageQuery::periods`].
    pub period: usize,
    /// The customer (`cus_...`).
    pub customer_id: String,
    /// Product code.
    pub product_code: String,
    /// AWS dimension key.
    pub dimension: String,
    /// The buyer's AWS account, when the records name it (concurrent-agreement products).
    pub aws_account_id: Option<String>,
    /// The buyer's `CustomerIdentifier`, when the records name it (legacy products).
    pub customer_identifier: Option<String>,
    /// Status of the records.
    pub status: RecordStatus,
    /// Their summed quantity.
    pub quantity: i64,
    /// When AWS last answered for one of them.
    pub last_sent_at: Option<OffsetDateTime>,
}

/// Reads the metering store's hourly records for other services.
#[derive(Debug, Clone)]
pub struct UsageTotals {
    store: Store,
}

impl UsageTotals {
    /// Over the metering service's own store (migrated by its opener).
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The records `query` selects, summed per period (one query per period).
    pub async fn totals(&self, query: &UsageQuery) -> Result<Vec<UsageTotal>, Error> {
        let mut totals = Vec::new();
        for (period, (start, end)) in query.periods.iter().enumerate() {
            let mut args = Args::default();
            let mut sql = format!(
                "SELECT customer_id, product_code, dimension, aws_account_id, \
                 customer_identifier, status, CAST(SUM(quantity) AS BIGINT) AS quantity, \
                 MAX(sent_at) AS last_sent_at FROM hourly_records \
                 WHERE organization_id = {} AND hour_start >= {} AND hour_start < {} \
                 AND status <> {}",
                args.text(query.organization_id.as_str()),
                args.int(to_unix_millis(*start)),
                args.int(to_unix_millis(*end)),
                args.text(RecordStatus::Carried.as_str()),
            );
            if let Some(integration_id) = &query.integration_id {
                sql.push_str(&format!(
                    " AND integration_id = {}",
                    args.text(integration_id.as_str())
                ));
            }
            if let Some(customer_id) = &query.customer_id {
                sql.push_str(&format!(
                    " AND customer_id = {}",
                    args.text(customer_id.as_str())
                ));
            }
            if !query.product_codes.is_empty() {
                let any_of = args.texts(query.product_codes.iter().map(String::as_str));
                sql.push_str(&format!(" AND product_code IN ({any_of})"));
            }
            if let Some(dimension) = &query.dimension {
                sql.push_str(&format!(
                    " AND dimension = {}",
                    args.text(dimension.as_str())
                ));
            }
            sql.push_str(
                " GROUP BY customer_id, product_code, dimension, aws_account_id, \
                 customer_identifier, status",
            );
            let found = args
                .query(sql)
                .fetch_all(self.store.pool())
                .await
                .map_err(|e| Error::from(souk_store::map_sqlx_error(e)))?;
            for row in &found {
                let status = text(row, "status")?;
                totals.push(UsageTotal {
                    period,
                    customer_id: text(row, "customer_id")?,
                    product_code: text(row, "product_code")?,
                    dimension: text(row, "dimension")?,
                    aws_account_id: opt_text(row, "aws_account_id")?,
                    customer_identifier: opt_text(row, "customer_identifier")?,
                    status: RecordStatus::parse(&status).ok_or_else(|| {
                        Error::Internal(format!("hourly record status {status:?} is unknown"))
                    })?,
                    quantity: int(row, "quantity")?,
                    last_sent_at: opt_int(row, "last_sent_at")?.map(from_unix_millis),
                });
            }
        }
        Ok(totals)
    }
}
