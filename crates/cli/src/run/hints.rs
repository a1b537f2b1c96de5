//! Start-up hints for `souk serve`: what a new operator most likely has to do next.

use souk_integration::domain::Integrations;

/// The line printed when the deployment has no organisation yet.
pub const BOOTSTRAP_HINT: &str = "hint: this deployment has no organisation yet, so no API key can call it; run `souk bootstrap` with the same SOUK_DATABASE_URL to create the first organisation and its admin API key";

/// Prints [`BOOTSTRAP_HINT`] (and logs it) when the deployment holds no organisation. Best
/// effort: a failure to look is logged at debug level and ignored, since the server itself is
/// already up.
pub async fn bootstrap_if_empty(integrations: &Integrations) {
    match integrations.has_organizations().await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("{BOOTSTRAP_HINT}");
            println!("{BOOTSTRAP_HINT}");
        }
        Err(error) => tracing::debug!(%error, "could not check for an organisation"),
    }
}
