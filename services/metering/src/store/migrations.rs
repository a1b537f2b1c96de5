//! Schema of the metering service (versions 300 and up; the store's shared tables come first,
//! the integration service uses 100-199 and the entitlement service 200-299).
//!
//! Portable SQL only: `TEXT` and `BIGINT` columns (instants as unix milliseconds, flags as 0/1,
//! allocations as JSON text), so the same statements run on PostgreSQL and SQLite.

use souk_store::Migration;

/// The service's own migrations.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        300,
        "meters",
        // A feature name is unique per product when set (NULLs are distinct on both backends).
        "CREATE TABLE meters (
            organization_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            dimension TEXT NOT NULL,
            feature TEXT,
            aggregation TEXT NOT NULL,
            attribute TEXT,
            zero_fill BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (organization_id, product_code, dimension)
        );
        CREATE UNIQUE INDEX meters_feature ON meters (organization_id, product_code, feature);",
    ),
    Migration::portable(
        301,
        "usage_events",
        // The primary key is the only index: ingestion speed matters more than anything else
        // here. `natural_hour` is the hour of `occurred_at`; it differs from `hour_start` when
        // the event was carried into a later hour (its own was sealed).
        "CREATE TABLE usage_events (
            organization_id TEXT NOT NULL,
            idempotency_key TEXT NOT NULL,
            usage_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            dimension TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            occurred_at BIGINT NOT NULL,
            hour_start BIGINT NOT NULL,
            natural_hour BIGINT NOT NULL,
            allocations TEXT,
            unique_value TEXT,
            recorded_at BIGINT NOT NULL,
            PRIMARY KEY (organization_id, idempotency_key)
        );",
    ),
    Migration::portable(
        302,
        "hourly_records",
        // One record per customer, dimension and hour. The AWS customer is either
        // `customer_identifier` (legacy) or `aws_account_id` + `license_arn`. `latest_at` and
        // `latest_key` order LATEST meters' events; `next_attempt_at`, `lease_owner` and
        // `lease_until` drive the shipper.
        "CREATE TABLE hourly_records (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            dimension TEXT NOT NULL,
            hour_start BIGINT NOT NULL,
            integration_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            customer_identifier TEXT,
            aws_account_id TEXT,
            license_arn TEXT,
            aggregation TEXT NOT NULL,
            quantity BIGINT NOT NULL,
            allocations TEXT,
            latest_at BIGINT,
            latest_key TEXT,
            status TEXT NOT NULL,
            metering_record_id TEXT,
            aws_status TEXT,
            attempts BIGINT NOT NULL,
            last_error TEXT,
            sealed_at BIGINT,
            sent_at BIGINT,
            carried_to TEXT,
            next_attempt_at BIGINT NOT NULL,
            lease_owner TEXT,
            lease_until BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CONSTRAINT hourly_records_key UNIQUE (organization_id, customer_id, dimension, hour_start)
        );
        CREATE INDEX hourly_records_due ON hourly_records (status, next_attempt_at);
        CREATE INDEX hourly_records_listing ON hourly_records (organization_id, hour_start DESC, id);
        CREATE TABLE unique_values (
            organization_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            dimension TEXT NOT NULL,
            hour_start BIGINT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (organization_id, customer_id, dimension, hour_start, value)
        );
        CREATE TABLE seal_horizons (
            scope TEXT PRIMARY KEY,
            sealed_before BIGINT NOT NULL
        );",
    ),
];

/// Every migration this service needs besides the shared ones (pass to `Store::migrate`).
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
