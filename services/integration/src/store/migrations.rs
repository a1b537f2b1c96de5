//! Schema of the integration service (versions 100 and up; the store's shared tables come first).

use souk_store::Migration;

/// The service's own migrations.
pub const MIGRATIONS: &[Migration] = &[Migration::portable(
    100,
    "organizations_integrations_api_keys",
    "CREATE TABLE organizations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        created_at BIGINT NOT NULL
    );
    CREATE TABLE integrations (
        id TEXT PRIMARY KEY,
        organization_id TEXT NOT NULL REFERENCES organizations (id),
        name TEXT NOT NULL,
        role_arn TEXT NOT NULL,
        aws_account_id TEXT NOT NULL,
        external_id TEXT NOT NULL UNIQUE,
        region TEXT NOT NULL,
        products TEXT NOT NULL,
        notifications TEXT NOT NULL,
        data_feed_bucket TEXT NOT NULL,
        state TEXT NOT NULL,
        last_verification TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        CONSTRAINT integrations_organization_name UNIQUE (organization_id, name)
    );
    CREATE INDEX integrations_organization_id ON integrations (organization_id, id);
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        organization_id TEXT NOT NULL REFERENCES organizations (id),
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        secret_hash TEXT NOT NULL UNIQUE,
        scopes TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT,
        expires_at BIGINT
    );
    CREATE INDEX api_keys_organization_id ON api_keys (organization_id, id);",
)];

/// Every migration this service needs besides the shared ones (pass to `Store::migrate`).
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
