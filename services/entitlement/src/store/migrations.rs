//! Schema of the entitlement service (versions 200 and up; the store's shared tables come first).
//!
//! Portable SQL only: `TEXT` and `BIGINT` columns (instants as unix milliseconds, flags as 0/1,
//! lists and structures as JSON text), so the same statements run on PostgreSQL and SQLite.

use souk_store::Migration;

/// The service's own migrations.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        200,
        "customers_subscriptions",
        // `changed_at`: the last change of anything a customer's check view shows (the customer,
        // its subscription, its features, whether its product has plans); `customer_views(since)`
        // reads it. `sync_requested_at`: set while the entitlements must be read from AWS again.
        // UNIQUE (organization_id, external_id): NULLs are distinct on both backends.
        "CREATE TABLE customers (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            integration_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            customer_identifier TEXT,
            aws_account_id TEXT,
            license_arn TEXT,
            external_id TEXT,
            signup TEXT,
            sync_requested_at BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            changed_at BIGINT NOT NULL,
            CONSTRAINT customers_organization_external_id UNIQUE (organization_id, external_id)
        );
        CREATE INDEX customers_organization_id ON customers (organization_id, id);
        CREATE INDEX customers_product ON customers (organization_id, integration_id, product_code, id);
        CREATE INDEX customers_aws_account ON customers (organization_id, aws_account_id);
        CREATE INDEX customers_identifier ON customers (integration_id, customer_identifier);
        CREATE INDEX customers_license ON customers (integration_id, license_arn);
        CREATE INDEX customers_changed_at ON customers (changed_at);
        CREATE INDEX customers_sync ON customers (sync_requested_at);
        CREATE TABLE subscriptions (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            integration_id TEXT NOT NULL,
            customer_id TEXT NOT NULL UNIQUE REFERENCES customers (id),
            product_code TEXT NOT NULL,
            license_arn TEXT,
            agreement_id TEXT,
            offer_id TEXT,
            state TEXT NOT NULL,
            free_trial BIGINT NOT NULL,
            activated_at BIGINT,
            cancel_pending_at BIGINT,
            final_metering_deadline BIGINT,
            cancelled_at BIGINT,
            state_notice_at BIGINT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        );
        CREATE INDEX subscriptions_organization_id ON subscriptions (organization_id, id);
        CREATE INDEX subscriptions_integration_state ON subscriptions (organization_id, integration_id, state);",
    ),
    Migration::portable(
        201,
        "agreements",
        "CREATE TABLE agreements (
            organization_id TEXT NOT NULL,
            id TEXT NOT NULL,
            integration_id TEXT NOT NULL,
            customer_id TEXT,
            product_code TEXT,
            offer_id TEXT,
            acceptor_account_id TEXT,
            status TEXT NOT NULL,
            start_at BIGINT,
            end_at BIGINT,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (organization_id, id)
        );
        CREATE INDEX agreements_customer ON agreements (organization_id, customer_id);",
    ),
    Migration::portable(
        202,
        "entitlements_features",
        "CREATE TABLE entitlements (
            customer_id TEXT NOT NULL REFERENCES customers (id),
            dimension TEXT NOT NULL,
            organization_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            value_kind TEXT NOT NULL,
            value_text TEXT NOT NULL,
            expires_at BIGINT,
            license_arn TEXT,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (customer_id, dimension)
        );
        CREATE INDEX entitlements_expires_at ON entitlements (expires_at);
        CREATE TABLE customer_features (
            customer_id TEXT NOT NULL REFERENCES customers (id),
            feature TEXT NOT NULL,
            organization_id TEXT NOT NULL,
            allowed BIGINT NOT NULL,
            limit_value BIGINT,
            unlimited BIGINT NOT NULL,
            expires_at BIGINT,
            plans TEXT NOT NULL,
            PRIMARY KEY (customer_id, feature)
        );",
    ),
    Migration::portable(
        203,
        "plans_fulfilment_settings",
        "CREATE TABLE plans (
            id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            integration_id TEXT NOT NULL,
            product_code TEXT NOT NULL,
            plan_key TEXT NOT NULL,
            name TEXT NOT NULL,
            dimensions TEXT NOT NULL,
            features TEXT NOT NULL,
            version BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL,
            CONSTRAINT plans_product_key UNIQUE (organization_id, integration_id, product_code, plan_key)
        );
        CREATE INDEX plans_organization_id ON plans (organization_id, id);
        CREATE TABLE fulfilment_settings (
            integration_id TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            signup_url TEXT,
            sns_topic_arns TEXT NOT NULL,
            expiry_notice_days TEXT NOT NULL,
            handoff_secret TEXT,
            eventbridge_secret TEXT,
            updated_at BIGINT
        );",
    ),
    Migration::portable(
        204,
        "processed_notices_tokens_expiry_notices",
        "CREATE TABLE processed_notices (
            integration_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            organization_id TEXT NOT NULL,
            processed_at BIGINT NOT NULL,
            PRIMARY KEY (integration_id, message_id)
        );
        CREATE INDEX processed_notices_processed_at ON processed_notices (processed_at);
        CREATE TABLE registration_tokens (
            token_hash TEXT PRIMARY KEY,
            organization_id TEXT NOT NULL,
            integration_id TEXT NOT NULL,
            customer_id TEXT NOT NULL,
            first_seen_at BIGINT NOT NULL
        );
        CREATE TABLE expiry_notices (
            customer_id TEXT NOT NULL,
            dimension TEXT NOT NULL,
            organization_id TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            days BIGINT NOT NULL,
            sent_at BIGINT NOT NULL,
            PRIMARY KEY (customer_id, dimension, expires_at, days)
        );",
    ),
];

/// Every migration this service needs besides the shared ones (pass to `Store::migrate`).
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
