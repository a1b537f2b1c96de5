//! Start-up hints for `souk serve`: what a new operator most likely has to do next.

use souk_store::{Store, StoreConfig};

/// The line printed when the deployment has no organisation yet.
pub const BOOTSTRAP_HINT: &str = "hint: this deployment has no organisation yet, so no API key can call it; run `souk bootstrap` with the same SOUK_DATABASE_URL to create the first organisation and its admin API key";

/// Prints [`BOOTSTRAP_HINT`] (and logs it) when the integration store of `database_url` holds
/// no organisation. Best effort: a failure to look is logged at debug level and ignored, since
/// the server itself is already up.
pub async fn bootstrap_if_empty(database_url: &str) {
    match has_organization(database_url).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("{BOOTSTRAP_HINT}");
            println!("{BOOTSTRAP_HINT}");
        }
        Err(error) => tracing::debug!(%error, "could not check for an organisation"),
    }
}

async fn has_organization(database_url: &str) -> anyhow::Result<bool> {
    // Organisations live in the integration service's store (schema "integration").
    let config = StoreConfig::new(database_url, "integration").with_max_connections(1);
    let store = Store::connect(&config).await?;
    let found: Result<Option<i64>, sqlx::Error> =
        sqlx::query_scalar("SELECT 1 FROM organizations LIMIT 1")
            .fetch_optional(store.pool())
            .await;
    store.close().await;
    Ok(found?.is_some())
}
