//! Schema of the reporting service (versions 500 and up; the store's shared tables come first,
//! the integration service uses 100-199, entitlement 200-299, metering 300-399 and offer
//! 400-499).
//!
//! Portable SQL only: `TEXT` and `BIGINT` columns (instants as unix milliseconds; an absent
//! `update_date` as 0 so versions compare with `>`), so the same statements run on PostgreSQL
//! and SQLite. Each table holds the current version of each feed row: a version replaces the
//! stored one only when it is newer (docs/reporting.md, storage).

use souk_store::Migration;

/// The service's own migrations.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        500,
        "feed_files",
        // Every file read, with the ETag it had: a file is read again only when it changes.
        "CREATE TABLE feed_files (
        organization_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        object_key TEXT NOT NULL,
        etag TEXT NOT NULL,
        size_bytes BIGINT NOT NULL,
        rows_read BIGINT NOT NULL,
        rows_rejected BIGINT NOT NULL,
        read_at BIGINT NOT NULL,
        PRIMARY KEY (integration_id, object_key)
    );",
    ),
    Migration::portable(
        501,
        "billing_events",
        // The current version of each billing event, typed; `at` is when it counts (the
        // invoice date, or the payment's for a disbursement) and `month` its `YYYY-MM`.
        "CREATE TABLE billing_events (
        organization_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        billing_event_id TEXT NOT NULL,
        valid_from BIGINT NOT NULL,
        update_date BIGINT NOT NULL,
        delete_date BIGINT,
        at BIGINT NOT NULL,
        month TEXT NOT NULL,
        action TEXT NOT NULL,
        transaction_type TEXT NOT NULL,
        amount_micros BIGINT NOT NULL,
        currency TEXT NOT NULL,
        balance_impacting BIGINT NOT NULL,
        from_account_id TEXT NOT NULL,
        to_account_id TEXT NOT NULL,
        end_user_account_id TEXT NOT NULL,
        product_id TEXT NOT NULL,
        invoice_id TEXT NOT NULL,
        invoice_at BIGINT,
        payment_due_at BIGINT,
        usage_start TEXT,
        usage_end TEXT,
        parent_billing_event_id TEXT,
        disbursement_billing_event_id TEXT,
        transaction_reference_id TEXT NOT NULL,
        bank_trace_id TEXT NOT NULL,
        broker_id TEXT NOT NULL,
        agreement_id TEXT,
        offer_id TEXT,
        PRIMARY KEY (integration_id, billing_event_id)
    );
    CREATE INDEX billing_events_at ON billing_events (integration_id, at);",
    ),
    Migration::portable(
        502,
        "feed_rows",
        // The current version of each row of the other feeds, its columns as JSON.
        "CREATE TABLE feed_rows (
        organization_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        feed TEXT NOT NULL,
        row_key TEXT NOT NULL,
        valid_from BIGINT NOT NULL,
        update_date BIGINT NOT NULL,
        delete_date BIGINT,
        columns TEXT NOT NULL,
        PRIMARY KEY (integration_id, feed, row_key)
    );",
    ),
    Migration::portable(
        503,
        "rejected_rows",
        // Malformed rows, parked with why; the latest reading of a file replaces its entries.
        "CREATE TABLE rejected_rows (
        organization_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        object_key TEXT NOT NULL,
        line BIGINT NOT NULL,
        reason TEXT NOT NULL,
        read_at BIGINT NOT NULL,
        PRIMARY KEY (integration_id, object_key, line)
    );",
    ),
    Migration::portable(
        504,
        "billing_events_settlement",
        // Which DISBURSED rows settle a row (the outstanding balance) and which a payout made.
        "CREATE INDEX billing_events_parent ON billing_events (integration_id, parent_billing_event_id);
    CREATE INDEX billing_events_disbursement ON billing_events (integration_id, disbursement_billing_event_id);",
    ),
    Migration::portable(
        510,
        "billing_events_usage",
        // The metered quantity and dimension a usage charge bills, when the feed names them:
        // reconciliation compares them with the records the metering service shipped.
        "ALTER TABLE billing_events ADD COLUMN usage_quantity_micros BIGINT;
    ALTER TABLE billing_events ADD COLUMN usage_dimension TEXT;",
    ),
    Migration::portable(
        511,
        "discrepancies",
        // The reconciliation differences announced (`report.discrepancy`), to announce each
        // once and again only when it changes.
        "CREATE TABLE discrepancies (
        organization_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        month TEXT NOT NULL,
        customer TEXT NOT NULL,
        product_code TEXT NOT NULL,
        dimension TEXT NOT NULL,
        cause TEXT NOT NULL,
        difference_micros BIGINT NOT NULL,
        announced_at BIGINT NOT NULL,
        PRIMARY KEY (integration_id, month, customer, product_code, dimension)
    );",
    ),
];

/// The service's migrations (the store adds its shared ones).
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
