//! Reconciliation: per month, buyer, product and dimension, the usage Souk shipped to AWS
//! against the usage AWS billed in the `billing_event` feed, with the likely cause of every
//! difference, and the accepted offers' installments against their invoices
//! (installments.rs; docs/reporting.md, reconciliation). Usage differences worth a seller's
//! attention are announced once as `report.discrepancy`, again when they change.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use time::OffsetDateTime;

use super::error::Error;
use super::filter::{Filter, accepts};
use super::installments::{self, InstallmentCheck, InstallmentStatus};
use super::ports::{
    Acting, BilledUsage, MeteredCustomer, MeteredQuery, MeteredState, MeteredTotal, OfferSchedules,
};
use super::revenue::Names;
use super::usage::{Month, UsageReports, months};

/// Identifies a reconciliation row: month, buyer, product and dimension.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DiscrepancyKey {
    /// `YYYY-MM`.
    pub month: String,
    /// The buyer's AWS account id (or its `CustomerIdentifier` when the feeds do not map it).
    pub customer: String,
    /// Product code.
    pub product_code: String,
    /// Dimension.
    pub dimension: String,
}

/// What was announced about a discrepancy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    /// Its cause then.
    pub cause: Cause,
    /// Shipped minus billed then, in millionths.
    pub difference_micros: i64,
}

/// The likely cause of a difference between shipped and billed usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// Shipped and billed match, nothing pending or rejected.
    Matched,
    /// The month is not invoiced yet.
    NotYetInvoiced,
    /// Shipped after AWS invoiced the month.
    ShippedAfterInvoicing,
    /// AWS refused records.
    Rejected,
    /// Shipped, accepted, the month invoiced, not billed.
    MissingFromFeed,
    /// AWS billed more than Souk shipped.
    NotShippedBySouk,
    /// Recorded, not shipped yet.
    Pending,
}

impl Cause {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Matched => "matched",
            Self::NotYetInvoiced => "not_yet_invoiced",
            Self::ShippedAfterInvoicing => "shipped_after_invoicing",
            Self::Rejected => "rejected",
            Self::MissingFromFeed => "missing_from_feed",
            Self::NotShippedBySouk => "not_shipped_by_souk",
            Self::Pending => "pending",
        }
    }

    /// From the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::Matched,
            Self::NotYetInvoiced,
            Self::ShippedAfterInvoicing,
            Self::Rejected,
            Self::MissingFromFeed,
            Self::NotShippedBySouk,
            Self::Pending,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }
}

/// Shipped against billed usage of one month, buyer, product and dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconciledUsage {
    /// Month, buyer, product, dimension.
    pub key: DiscrepancyKey,
    /// The buyer's AWS account id, when known.
    pub customer_aws_account_id: String,
    /// The Souk customer, when Souk metered for it.
    pub customer_id: String,
    /// Accepted by AWS, in units.
    pub shipped: i64,
    /// Billed in the feed, in millionths of a unit.
    pub billed_micros: i64,
    /// Refused by AWS, in units.
    pub rejected: i64,
    /// Not shipped yet, in units.
    pub pending: i64,
    /// The likely cause.
    pub cause: Cause,
}

impl ReconciledUsage {
    /// Shipped minus billed, in millionths of a unit.
    pub fn difference_micros(&self) -> i64 {
        self.shipped
            .saturating_mul(MICROS_PER_UNIT)
            .saturating_sub(self.billed_micros)
    }
}

/// Millionths in a unit of quantity.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// A reconciliation report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconciliationReport {
    /// The rows, ordered by month, customer, product and dimension (matched ones only when
    /// asked for).
    pub rows: Vec<ReconciledUsage>,
    /// The installments charged in the months, by charge day (invoiced and not yet due ones
    /// only when matched rows are asked for).
    pub installments: Vec<InstallmentCheck>,
    /// Rows that match.
    pub matched: u64,
    /// Rows with a difference.
    pub discrepancies: u64,
    /// When the newest billing event was written, if any.
    pub freshness: Option<OffsetDateTime>,
    /// The months covered (`YYYY-MM`), oldest first.
    pub months: Vec<String>,
}

/// How many months a reconciliation covers when the caller names no start.
pub const DEFAULT_MONTHS: u32 = 12;

impl Cause {
    /// Whether a seller should hear of it: the transient causes (not invoiced yet, pending)
    /// settle on their own.
    pub fn worth_announcing(self) -> bool {
        matches!(
            self,
            Self::ShippedAfterInvoicing
                | Self::Rejected
                | Self::MissingFromFeed
                | Self::NotShippedBySouk
        )
    }

    /// The cause in a sentence, with what to do.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::Matched => "shipped and billed usage match",
            Self::NotYetInvoiced => {
                "AWS has not invoiced this month's usage yet; it bills usage after the month ends"
            }
            Self::ShippedAfterInvoicing => {
                "some usage was shipped after AWS invoiced the month; it is billed on a later invoice"
            }
            Self::Rejected => {
                "AWS refused records of this usage; see ListUsageRecords for the reason and RetryRecords for held ones"
            }
            Self::MissingFromFeed => {
                "AWS accepted this usage and invoiced the month, but no billing event bills it; raise it with AWS Marketplace seller support with the MeteringRecordIds"
            }
            Self::NotShippedBySouk => {
                "AWS billed more usage than Souk shipped; another metering client may be sending usage for this product"
            }
            Self::Pending => {
                "usage recorded by Souk is not shipped yet (open hour, waiting or retrying)"
            }
        }
    }
}

/// Per key, what was shipped, refused, pending and billed.
#[derive(Debug, Default)]
struct Tally {
    customer_aws_account_id: String,
    customer_id: String,
    shipped: i64,
    rejected: i64,
    pending: i64,
    billed_micros: i64,
    last_sent_at: Option<OffsetDateTime>,
}

/// Reconciles `metered` (summed per month of `months`) against `billed`, as read from the
/// billing feed at `read_at`, naming buyers and products with `names`, keeping the products
/// and buyers `filter` accepts.
pub fn reconcile(
    months: &[Month],
    metered: &[MeteredTotal],
    billed: &[BilledUsage],
    read_at: Option<OffsetDateTime>,
    names: &Names,
    filter: &Filter,
) -> Vec<ReconciledUsage> {
    // A customer whose early records were not yet named to AWS takes the name its other
    // records have.
    let mut aws_of_customer: HashMap<&str, String> = HashMap::new();
    for total in metered {
        if let Some(aws) = aws_name(&total.aws_customer, names) {
            aws_of_customer.insert(total.customer_id.as_str(), aws);
        }
    }
    let mut tallies: BTreeMap<DiscrepancyKey, Tally> = BTreeMap::new();
    for total in metered {
        let Some(month) = months.get(total.period) else {
            continue;
        };
        let aws = aws_name(&total.aws_customer, names)
            .or_else(|| aws_of_customer.get(total.customer_id.as_str()).cloned());
        let customer = aws.clone().unwrap_or_else(|| total.customer_id.clone());
        let key = DiscrepancyKey {
            month: month.label.clone(),
            customer,
            product_code: total.product_code.clone(),
            dimension: total.dimension.clone(),
        };
        let tally = tallies.entry(key).or_default();
        tally.customer_id.clone_from(&total.customer_id);
        if let Some(aws) = aws.filter(|a| is_account_id(a)) {
            tally.customer_aws_account_id = aws;
        }
        match total.state {
            MeteredState::Shipped => {
                tally.shipped = tally.shipped.saturating_add(total.quantity);
                tally.last_sent_at = tally.last_sent_at.max(total.last_sent_at);
            }
            MeteredState::Rejected => {
                tally.rejected = tally.rejected.saturating_add(total.quantity)
            }
            MeteredState::Pending => tally.pending = tally.pending.saturating_add(total.quantity),
        }
    }
    let labels: HashSet<&str> = months.iter().map(|m| m.label.as_str()).collect();
    for line in billed {
        if !names.seller.contains(&line.to_account_id) || !labels.contains(line.month.as_str()) {
            continue;
        }
        let customer = names
            .aws_accounts
            .get(&line.end_user_account_id)
            .cloned()
            .unwrap_or_else(|| line.end_user_account_id.clone());
        let product_code = names
            .product_codes
            .get(&line.product_id)
            .cloned()
            .unwrap_or_else(|| line.product_id.clone());
        let key = DiscrepancyKey {
            month: line.month.clone(),
            customer: customer.clone(),
            product_code,
            dimension: line.dimension.clone(),
        };
        let tally = tallies.entry(key).or_default();
        if is_account_id(&customer) {
            tally.customer_aws_account_id = customer;
        }
        tally.billed_micros = tally.billed_micros.saturating_add(line.quantity_micros);
    }
    let invoiced: HashSet<&str> = billed
        .iter()
        .filter(|line| names.seller.contains(&line.to_account_id))
        .map(|line| line.month.as_str())
        .collect();
    tallies
        .into_iter()
        .filter(|(key, tally)| {
            accepts(&filter.product_codes, &key.product_code)
                && accepts(
                    &filter.customer_aws_account_ids,
                    &tally.customer_aws_account_id,
                )
        })
        .map(|(key, tally)| {
            let shipped_micros = tally.shipped.saturating_mul(MICROS_PER_UNIT);
            let cause = if tally.billed_micros > shipped_micros {
                Cause::NotShippedBySouk
            } else if tally.billed_micros < shipped_micros {
                if !invoiced.contains(key.month.as_str()) {
                    Cause::NotYetInvoiced
                } else if tally.last_sent_at > read_at {
                    // Accepted after Souk last read the billing feed: a later feed bills it.
                    Cause::ShippedAfterInvoicing
                } else {
                    Cause::MissingFromFeed
                }
            } else if tally.rejected > 0 {
                Cause::Rejected
            } else if tally.pending > 0 {
                Cause::Pending
            } else {
                Cause::Matched
            };
            ReconciledUsage {
                key,
                customer_aws_account_id: tally.customer_aws_account_id,
                customer_id: tally.customer_id,
                shipped: tally.shipped,
                billed_micros: tally.billed_micros,
                rejected: tally.rejected,
                pending: tally.pending,
                cause,
            }
        })
        .collect()
}

/// The AWS account a metered customer is, when it can be told.
fn aws_name(customer: &MeteredCustomer, names: &Names) -> Option<String> {
    match customer {
        MeteredCustomer::Account(account) => Some(account.clone()),
        MeteredCustomer::Identifier(identifier) => Some(
            names
                .aws_by_identifier
                .get(identifier)
                .cloned()
                .unwrap_or_else(|| identifier.clone()),
        ),
        MeteredCustomer::Unknown => None,
    }
}

fn is_account_id(value: &str) -> bool {
    souk_core::validate::aws_account_id(value).is_ok()
}

/// The reconciliation use cases: the metering records and the accepted offers' payment
/// schedules against the billing events.
#[derive(Clone)]
pub struct Reconciler {
    usage: UsageReports,
    schedules: Option<Arc<dyn OfferSchedules>>,
}

impl std::fmt::Debug for Reconciler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconciler")
            .field("usage", &self.usage)
            .field("reads_offers", &self.schedules.is_some())
            .finish()
    }
}

impl Reconciler {
    /// Over `usage` (the metering records and the billing events) and the accepted offers'
    /// payment schedules (`None` when this process cannot read them: no installments then).
    pub fn new(usage: UsageReports, schedules: Option<Arc<dyn OfferSchedules>>) -> Self {
        Self { usage, schedules }
    }

    fn reports(&self) -> &super::revenue::Reports {
        self.usage.reports()
    }

    /// Reconciles the integration's usage and installments over the whole months of
    /// `[start, end)` (by default the last [`DEFAULT_MONTHS`] months up to now), keeping what
    /// `filter` accepts (products and customers for usage, offers and agreements for
    /// installments); what matches only when `include_matched`.
    pub async fn reconcile(
        &self,
        acting: &Acting,
        start: Option<OffsetDateTime>,
        end: Option<OffsetDateTime>,
        filter: &Filter,
        include_matched: bool,
    ) -> Result<ReconciliationReport, Error> {
        let metered = self.usage.metered()?;
        let names = self.reports().names(acting).await?;
        let end = end.unwrap_or_else(|| self.reports().now());
        let months = months(start, end, DEFAULT_MONTHS);
        let (Some(first), Some(last)) = (months.first(), months.last()) else {
            return Ok(ReconciliationReport::default());
        };
        let query = MeteredQuery {
            integration_id: Some(acting.integration_id.clone()),
            product_codes: filter.product_codes.clone(),
            periods: months.iter().map(|m| (m.start, m.end)).collect(),
            ..MeteredQuery::default()
        };
        let totals = metered.totals(&acting.organization_id, &query).await?;
        let billed = self
            .reports()
            .store()
            .billed_usage(acting, &first.label, &last.label)
            .await?;
        let read_at = self.reports().store().billing_read_at(acting).await?;
        let rows = reconcile(&months, &totals, &billed, read_at, &names, filter);
        let matched = rows.iter().filter(|r| r.cause == Cause::Matched).count() as u64;
        let discrepancies = rows.len() as u64 - matched;
        let installments = match &self.schedules {
            Some(schedules) => {
                let schedules: Vec<_> = schedules
                    .accepted(acting)
                    .await?
                    .into_iter()
                    .filter(|s| {
                        accepts(&filter.agreement_ids, &s.agreement_id)
                            && accepts(&filter.offer_ids, &s.aws_offer_id)
                    })
                    .collect();
                let agreements: Vec<String> =
                    schedules.iter().map(|s| s.agreement_id.clone()).collect();
                let invoices = self
                    .reports()
                    .store()
                    .agreement_invoices(acting, &agreements)
                    .await?;
                installments::check(
                    &schedules,
                    &invoices,
                    &names.seller,
                    (first.start.date(), last.end.date()),
                    self.reports().now().date(),
                    read_at,
                )
            }
            None => Vec::new(),
        };
        Ok(ReconciliationReport {
            rows: rows
                .into_iter()
                .filter(|r| include_matched || r.cause != Cause::Matched)
                .collect(),
            installments: installments
                .into_iter()
                .filter(|i| {
                    include_matched
                        || !matches!(
                            i.status,
                            InstallmentStatus::Invoiced | InstallmentStatus::NotYetDue
                        )
                })
                .collect(),
            matched,
            discrepancies,
            freshness: self.reports().store().freshness(acting).await?,
            months: months.into_iter().map(|m| m.label).collect(),
        })
    }

    /// Announces (`report.discrepancy`) the integration's discrepancies worth a seller's
    /// attention that are new or changed since last announced, over the default months, and
    /// forgets those resolved; how many it announced. Nothing when this process does not read
    /// the metering records.
    pub async fn announce(&self, acting: &Acting) -> Result<usize, Error> {
        if !self.usage.reads_metering() {
            return Ok(0);
        }
        let report = self
            .reconcile(acting, None, None, &Filter::default(), false)
            .await?;
        let store = self.reports().store();
        let known = store.announced_discrepancies(acting).await?;
        let months: HashSet<&str> = report.months.iter().map(String::as_str).collect();
        let worth: Vec<&ReconciledUsage> = report
            .rows
            .iter()
            .filter(|r| r.cause.worth_announcing())
            .collect();
        let announce: Vec<ReconciledUsage> = worth
            .iter()
            .filter(|r| {
                known.get(&r.key)
                    != Some(&Announced {
                        cause: r.cause,
                        difference_micros: r.difference_micros(),
                    })
            })
            .map(|r| (*r).clone())
            .collect();
        let still: HashSet<&DiscrepancyKey> = worth.iter().map(|r| &r.key).collect();
        let resolved: Vec<DiscrepancyKey> = known
            .into_keys()
            .filter(|key| months.contains(key.month.as_str()) && !still.contains(key))
            .collect();
        if announce.is_empty() && resolved.is_empty() {
            return Ok(0);
        }
        store
            .announce_discrepancies(acting, &announce, &resolved)
            .await?;
        Ok(announce.len())
    }
}

#[cfg(test)]
#[path = "reconciliation_tests.rs"]
mod tests;
