//! Schema of the offer service (versions 400 and up: offers, then resale authorisations from
//! 403; the store's shared tables come first, the
//! integration service uses 100-199, the entitlement service 200-299 and metering 300-399).
//!
//! Portable SQL only: `TEXT` and `BIGINT` columns (instants as unix milliseconds, the asked
//! terms as JSON text), so the same statements run on PostgreSQL and SQLite.

use souk_store::Migration;

/// The service's own migrations.
pub const MIGRATIONS: &[Migration] = &[
    Migration::portable(
        400,
        "offers",
        // `draft` holds the terms as asked (JSON); the columns beside it are what lists filter on.
        // `buyer_account_ids` is a JSON array of strings, matched as `"<id>"`. `next_check_at`
        // drives the tracker (NULL: never again); ids are time-ordered, so `id DESC` is newest
        // first.
        "CREATE TABLE offers (
        id TEXT PRIMARY KEY,
        organization_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        product_id TEXT NOT NULL,
        buyer_account_ids TEXT NOT NULL,
        expiry_at BIGINT,
        draft TEXT NOT NULL,
        aws_offer_id TEXT,
        change_set_id TEXT,
        client_request_token TEXT NOT NULL,
        failure_code TEXT,
        failure_message TEXT,
        agreement_id TEXT,
        cloned_from TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        next_check_at BIGINT,
        check_failures BIGINT NOT NULL
    );
    CREATE INDEX offers_listing ON offers (organization_id, id);
    CREATE INDEX offers_due ON offers (next_check_at);",
    ),
    Migration::portable(
        401,
        "offer_reminders",
        // How many expiry reminders (offer.expiring) are behind each offer.
        "ALTER TABLE offers ADD COLUMN reminders_sent BIGINT NOT NULL DEFAULT 0;",
    ),
    Migration::portable(
        402,
        "offers_by_aws_id",
        // One Souk offer per AWS offer and organisation (an import never doubles an offer);
        // NULLs (not yet created in AWS) are distinct on both backends.
        "CREATE UNIQUE INDEX offers_aws_offer ON offers (organization_id, aws_offer_id);",
    ),
    Migration::portable(
        403,
        "resale_authorizations",
        // As `offers`: the asked terms as JSON in `draft`, the columns lists filter on beside
        // it, `next_check_at` driving the tracker; one Souk row per AWS resale authorisation
        // and organisation.
        "CREATE TABLE resale_authorizations (
        id TEXT PRIMARY KEY,
        organization_id TEXT NOT NULL,
        integration_id TEXT NOT NULL,
        state TEXT NOT NULL,
        product_id TEXT NOT NULL,
        reseller_account_id TEXT NOT NULL,
        draft TEXT NOT NULL,
        aws_id TEXT,
        change_set_id TEXT,
        client_request_token TEXT NOT NULL,
        failure_code TEXT,
        failure_message TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        next_check_at BIGINT,
        check_failures BIGINT NOT NULL
    );
    CREATE INDEX resale_authorizations_listing ON resale_authorizations (organization_id, id);
    CREATE INDEX resale_authorizations_due ON resale_authorizations (next_check_at);
    CREATE UNIQUE INDEX resale_authorizations_aws ON resale_authorizations (organization_id, aws_id);",
    ),
];

/// Every migration this service needs besides the shared ones (pass to `Store::migrate`).
pub fn migrations() -> &'static [Migration] {
    MIGRATIONS
}
