//! Domain values as the contract's messages.

use std::collections::BTreeMap;

use souk_proto::reporting as pb;
use souk_service::convert::timestamp;

use crate::domain::billing_event::{BillingAction, BillingEvent};
use crate::domain::disbursement::DisbursementReport;
use crate::domain::feed::Feed;
use crate::domain::ingest::IngestReport;
use crate::domain::installments::{InstallmentCheck, InstallmentStatus};
use crate::domain::reconciliation::{Cause, MICROS_PER_UNIT, ReconciledUsage};
use crate::domain::revenue::RevenueRow;
use crate::domain::usage::UsageRow;

fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The contract's name of `feed`.
pub fn feed(feed: Feed) -> pb::DataFeed {
    match feed {
        Feed::BillingEvent => pb::DataFeed::BillingEvent,
        Feed::Agreement => pb::DataFeed::Agreement,
        Feed::Offer | Feed::OfferProduct | Feed::OfferTarget => pb::DataFeed::Offer,
        Feed::Account => pb::DataFeed::Account,
        Feed::Address => pb::DataFeed::Address,
        Feed::Product => pb::DataFeed::Product,
        Feed::TaxItem => pb::DataFeed::TaxItem,
        Feed::LegacyIdMapping => pb::DataFeed::LegacyIdMapping,
    }
}

/// What an ingestion read.
pub fn ingest_response(report: &IngestReport) -> pb::IngestDataFeedsResponse {
    pb::IngestDataFeedsResponse {
        files: count(report.files),
        rows: count(report.rows),
        bytes: count(report.bytes),
        rejected_rows: count(report.rejected_rows),
        unchanged_files: count(report.unchanged_files),
        feeds: feed_counts(report),
        rejected: report
            .rejected
            .iter()
            .map(|(key, r)| pb::RejectedRow {
                key: key.clone(),
                line: count(r.line),
                reason: r.reason.clone(),
            })
            .collect(),
    }
}

/// The per-feed counts, one entry per contract feed (`offer`, `offer_product` and
/// `offer_target` are the contract's one `DATA_FEED_OFFER`).
fn feed_counts(report: &IngestReport) -> Vec<pb::FeedIngestion> {
    let mut merged: BTreeMap<i32, pb::FeedIngestion> = BTreeMap::new();
    for (f, c) in &report.feeds {
        let code = feed(*f) as i32;
        let entry = merged.entry(code).or_insert_with(|| pb::FeedIngestion {
            feed: code,
            ..pb::FeedIngestion::default()
        });
        entry.files += count(c.files);
        entry.rows += count(c.rows);
        entry.rejected_rows += count(c.rejected_rows);
    }
    merged.into_values().collect()
}

/// One revenue row.
pub fn revenue_row(row: &RevenueRow) -> pb::RevenueRow {
    pb::RevenueRow {
        period: row.period.clone(),
        product_code: row.product_code.clone(),
        customer_aws_account_id: row.customer_aws_account_id.clone(),
        currency_code: row.currency.clone(),
        gross_amount_micros: row.gross_micros,
        listing_fee_micros: row.listing_fee_micros,
        refund_amount_micros: row.refund_micros,
        net_amount_micros: row.net_micros,
        disbursed_amount_micros: row.disbursed_micros,
        product_id: row.product_id.clone(),
        offer_id: row.offer_id.clone(),
        tax_amount_micros: row.tax_micros,
    }
}

/// A disbursement report.
pub fn disbursement_report(report: &DisbursementReport) -> pb::GetDisbursementReportResponse {
    pb::GetDisbursementReportResponse {
        disbursements: report
            .payouts
            .iter()
            .map(|p| pb::Disbursement {
                billing_event_id: p.billing_event_id.clone(),
                paid_time: Some(timestamp(p.paid_at)),
                currency_code: p.currency.clone(),
                amount_micros: p.amount_micros,
                bank_trace_id: p.bank_trace_id.clone(),
                invoice_ids: p.invoice_ids.clone(),
            })
            .collect(),
        outstanding: report
            .outstanding
            .iter()
            .map(|o| pb::OutstandingInvoice {
                invoice_id: o.invoice_id.clone(),
                currency_code: o.currency.clone(),
                amount_micros: o.amount_micros,
                invoice_time: o.invoice_at.map(timestamp),
                age_days: o.age_days,
            })
            .collect(),
        totals: report
            .totals
            .iter()
            .map(
                |(currency, (disbursed, outstanding))| pb::DisbursementTotal {
                    currency_code: currency.clone(),
                    disbursed_micros: *disbursed,
                    outstanding_micros: *outstanding,
                },
            )
            .collect(),
    }
}

fn date(day: time::Date) -> souk_proto::common::Date {
    souk_proto::common::Date {
        year: day.year(),
        month: i32::from(u8::from(day.month())),
        day: i32::from(day.day()),
    }
}

/// A billing event of `integration_id`; its usage period's end made exclusive, as the
/// contract's date ranges are.
pub fn billing_event(integration_id: &str, e: &BillingEvent) -> pb::BillingEvent {
    pb::BillingEvent {
        billing_event_id: e.billing_event_id.clone(),
        integration_id: integration_id.to_owned(),
        action: match e.action {
            BillingAction::Invoiced => pb::BillingAction::Invoiced,
            BillingAction::Forgiven => pb::BillingAction::Forgiven,
            BillingAction::Disbursed => pb::BillingAction::Disbursed,
        } as i32,
        transaction_type: e.transaction_type.clone(),
        amount: Some(souk_proto::common::Money {
            amount_micros: e.amount_micros,
            currency_code: e.currency.clone(),
        }),
        balance_impacting: e.balance_impacting,
        from_account_id: e.from_account_id.clone(),
        to_account_id: e.to_account_id.clone(),
        end_user_account_id: e.end_user_account_id.clone(),
        customer_id: String::new(),
        product_id: e.product_id.clone(),
        invoice_id: e.invoice_id.clone(),
        invoice_time: e.invoice_date.map(timestamp),
        payment_due_time: e.payment_due_date.map(timestamp),
        usage_period: e
            .usage_period_start
            .zip(e.usage_period_end)
            .map(|(start, end)| souk_proto::common::DateRange {
                start_date: Some(date(start)),
                end_date: Some(date(end.next_day().unwrap_or(end))),
            }),
        parent_billing_event_id: e.parent_billing_event_id.clone().unwrap_or_default(),
        disbursement_billing_event_id: e.disbursement_billing_event_id.clone().unwrap_or_default(),
        bank_trace_id: e.bank_trace_id.clone(),
        broker_id: e.broker_id.clone(),
        transaction_reference_id: e.transaction_reference_id.clone(),
    }
}

/// A reconciliation row; quantities billed in fractions are cut to whole units.
pub fn reconciliation_row(usage: &ReconciledUsage) -> pb::ReconciliationRow {
    pb::ReconciliationRow {
        period: usage.key.month.clone(),
        customer_aws_account_id: usage.customer_aws_account_id.clone(),
        customer_id: usage.customer_id.clone(),
        product_code: usage.key.product_code.clone(),
        dimension: usage.key.dimension.clone(),
        shipped_quantity: usage.shipped,
        billed_quantity: usage.billed_micros / MICROS_PER_UNIT,
        rejected_quantity: usage.rejected,
        pending_quantity: usage.pending,
        difference: usage.difference_micros() / MICROS_PER_UNIT,
        cause: match usage.cause {
            Cause::Matched => pb::ReconciliationCause::Matched,
            Cause::NotYetInvoiced => pb::ReconciliationCause::NotYetInvoiced,
            Cause::ShippedAfterInvoicing => pb::ReconciliationCause::ShippedAfterInvoicing,
            Cause::Rejected => pb::ReconciliationCause::Rejected,
            Cause::MissingFromFeed => pb::ReconciliationCause::MissingFromFeed,
            Cause::NotShippedBySouk => pb::ReconciliationCause::NotShippedBySouk,
            Cause::Pending => pb::ReconciliationCause::Pending,
        } as i32,
        explanation: usage.cause.explanation().to_owned(),
    }
}

/// A usage report row.
pub fn usage_row(row: &UsageRow) -> pb::UsagePeriod {
    pb::UsagePeriod {
        period: Some(souk_proto::common::DateRange {
            start_date: row.start.map(date),
            end_date: row.end.map(date),
        }),
        customer_id: row.customer_id.clone(),
        product_code: row.product_code.clone(),
        dimension: row.dimension.clone(),
        recorded_quantity: row.recorded,
        shipped_quantity: row.shipped,
        rejected_quantity: row.rejected,
        pending_quantity: row.pending,
    }
}

/// One channel-partner share.
pub fn channel_partner_share(
    row: &crate::domain::channel_partner::PartnerShare,
) -> pb::ChannelPartnerShare {
    pb::ChannelPartnerShare {
        agreement_id: row.agreement_id.clone(),
        offer_id: row.offer_id.clone(),
        product_id: row.product_id.clone(),
        product_code: row.product_code.clone(),
        reseller_aws_account_id: row.reseller_aws_account_id.clone(),
        customer_aws_account_id: row.customer_aws_account_id.clone(),
        currency_code: row.currency.clone(),
        buyer_price_micros: row.buyer_price_micros,
        reseller_share_micros: row.reseller_share_micros,
        isv_share_micros: row.isv_share_micros,
        aws_share_micros: row.aws_share_micros,
    }
}

/// A contract report.
pub fn contract_report(
    report: &crate::domain::contracts::ContractReport,
) -> pb::GetContractReportResponse {
    pb::GetContractReportResponse {
        contracts: report
            .contracts
            .iter()
            .map(|c| pb::Contract {
                agreement_id: c.agreement_id.clone(),
                offer_id: c.offer_id.clone(),
                product_id: c.product_id.clone(),
                product_code: c.product_code.clone(),
                customer_aws_account_id: c.customer_aws_account_id.clone(),
                reseller_aws_account_id: c.reseller_aws_account_id.clone(),
                status: c.status.clone(),
                start_time: Some(timestamp(c.start)),
                end_time: Some(timestamp(c.end)),
                renewal_time: c.renewal().map(timestamp),
                currency_code: c.currency.clone(),
                total_contract_value_micros: c.tcv_micros,
                arr_micros: c.arr_micros,
                mrr_micros: c.mrr_micros,
            })
            .collect(),
        totals: report
            .totals
            .iter()
            .map(|t| pb::ContractTotal {
                currency_code: t.currency.clone(),
                contracts: t.contracts,
                total_contract_value_micros: t.tcv_micros,
                arr_micros: t.arr_micros,
                mrr_micros: t.mrr_micros,
            })
            .collect(),
    }
}

/// An installment against the invoices.
pub fn installment_check(check: &InstallmentCheck) -> pb::InstallmentCheck {
    pb::InstallmentCheck {
        agreement_id: check.agreement_id.clone(),
        offer_id: check.aws_offer_id.clone(),
        souk_offer_id: check.offer_id.clone(),
        charge_date: Some(date(check.charge_date)),
        currency_code: check.currency.clone(),
        expected_micros: check.expected_micros,
        invoiced_micros: check.invoiced_micros,
        invoice_id: check.invoice_id.clone(),
        status: match check.status {
            InstallmentStatus::Invoiced => pb::InstallmentStatus::Invoiced,
            InstallmentStatus::NotYetDue => pb::InstallmentStatus::NotYetDue,
            InstallmentStatus::NotYetInvoiced => pb::InstallmentStatus::NotYetInvoiced,
            InstallmentStatus::Missing => pb::InstallmentStatus::Missing,
        } as i32,
    }
}
