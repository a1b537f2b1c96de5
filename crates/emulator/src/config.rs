//! Emulator configuration.

use std::time::Duration;

/// How the emulator behaves; defaults follow AWS.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The account id that owns the emulated seller products.
    pub seller_account_id: String,
    /// Region reported in ARNs and events.
    pub region: String,
    /// How far in the past a usage record may be (AWS: 6 hours).
    pub metering_window: Duration,
    /// How long a registration token stays valid (AWS: 4 hours).
    pub registration_token_ttl: Duration,
    /// Lifetime of STS credentials when the caller does not ask for one (AWS: 1 hour). May be
    /// set below AWS's 15-minute minimum to exercise credential refresh; an explicit
    /// `DurationSeconds` is still held to AWS's 900..=43200 and the role's maximum.
    pub sts_default_duration: Duration,
    /// The account of callers whose access key is neither an emulator-issued session nor
    /// registered through the control API (the "base credentials" principal).
    pub caller_account_id: String,
    /// Reject calls signed with emulator-issued session credentials once they expire on the
    /// emulator clock (`ExpiredTokenException`, as AWS does). Off by default: advancing the
    /// emulator clock would otherwise expire credentials that SDK caches (on the wall clock)
    /// still consider fresh.
    pub enforce_session_expiry: bool,
    /// Where to persist the world between restarts; `None` keeps it in memory only.
    pub state_file: Option<std::path::PathBuf>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            seller_account_id: "111122223333".to_owned(),
            region: "us-east-1".to_owned(),
            metering_window: Duration::from_secs(6 * 3600),
            registration_token_ttl: Duration::from_secs(4 * 3600),
            sts_default_duration: Duration::from_secs(3600),
            caller_account_id: "123456789012".to_owned(),
            enforce_session_expiry: false,
            state_file: None,
        }
    }
}
