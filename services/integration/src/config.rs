//! Settings of the integration service: the `[integration]` section of the configuration file,
//! `SOUK_INTEGRATION__<KEY>` in the environment.

use std::time::Duration;

use serde::Deserialize;

use crate::domain::template::{DEFAULT_MARKETPLACE_TOPIC_ACCOUNT, TemplateSettings};

/// What the integration service needs besides its store and the role assumer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntegrationConfig {
    /// The AWS principal seller roles trust (the onboarding template's `SoukPrincipalArn`):
    /// Souk's IAM role or user ARN, an account root ARN, or a bare 12-digit account id. The
    /// principal whose base credentials the role assumer uses must be covered by it. Empty until
    /// configured: GetOnboardingTemplate then fails with FAILED_PRECONDITION. Set process-wide
    /// as `souk_principal_arn` / `SOUK_PRINCIPAL_ARN`, not in this section.
    #[serde(skip)]
    pub souk_principal_arn: String,
    /// Owner account of the AWS Marketplace SNS topics (default `287250355862`).
    pub marketplace_topic_account: String,
    /// Public HTTPS URL of Souk's SNS webhook, for integrations with `sns_https`.
    pub sns_webhook_url: Option<String>,
    /// Time limit of each VerifyIntegration probe (AssumeRole and each API call); default 15 s
    /// (`"15s"`, `"500ms"`, `"2m"`).
    #[serde(deserialize_with = "souk_service::config::duration")]
    pub probe_timeout: Duration,
}

impl Default for IntegrationConfig {
    fn default() -> Self {
        Self {
            souk_principal_arn: String::new(),
            marketplace_topic_account: DEFAULT_MARKETPLACE_TOPIC_ACCOUNT.to_owned(),
            sns_webhook_url: None,
            probe_timeout: Duration::from_secs(15),
        }
    }
}

impl IntegrationConfig {
    /// Checks the settings; the error names the bad setting.
    pub fn validate(&self) -> Result<(), souk_core::Error> {
        let mut v = souk_core::error::Violations::new();
        if !self.souk_principal_arn.is_empty() {
            v.check(
                "souk_principal_arn",
                principal(&self.souk_principal_arn).map(|_| ()),
            );
        }
        v.check(
            "marketplace_topic_account",
            souk_core::validate::aws_account_id(&self.marketplace_topic_account),
        );
        if let Some(url) = &self.sns_webhook_url
            && !url.starts_with("https://")
        {
            v.add(
                "sns_webhook_url",
                "must be an https:// URL (SNS only delivers to HTTPS endpoints from AWS)",
            );
        }
        if self.probe_timeout.is_zero() {
            v.add("probe_timeout", "must be positive");
        }
        v.finish()
    }

    /// The template settings, or `None` while no principal is configured.
    pub fn template_settings(&self) -> Option<TemplateSettings> {
        let souk_principal_arn = principal(&self.souk_principal_arn).ok()?;
        Some(TemplateSettings {
            souk_principal_arn,
            marketplace_topic_account: self.marketplace_topic_account.clone(),
            sns_webhook_url: self.sns_webhook_url.clone(),
        })
    }
}

/// Normalises a trusted principal: a 12-digit account becomes its root ARN; IAM role, user and
/// root ARNs pass.
fn principal(raw: &str) -> Result<String, String> {
    const REASON: &str = "must be a 12-digit account id or an IAM ARN like arn:aws:iam::123456789012:root, \
                          arn:aws:iam::123456789012:role/Souk or arn:aws:iam::123456789012:user/souk";
    if souk_core::validate::aws_account_id(raw).is_ok() {
        return Ok(format!("arn:aws:iam::{raw}:root"));
    }
    let arn = souk_core::validate::iam_arn(raw).ok_or(REASON)?;
    let resource_ok = arn.resource == "root"
        || arn
            .resource
            .strip_prefix("role/")
            .is_some_and(souk_core::validate::iam_path_name)
        || arn
            .resource
            .strip_prefix("user/")
            .is_some_and(souk_core::validate::iam_path_name);
    if resource_ok {
        Ok(raw.to_owned())
    } else {
        Err(REASON.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals() {
        assert_eq!(
            principal("111122223333").unwrap(),
            "arn:aws:iam::111122223333:root"
        );
        assert!(principal("arn:aws:iam::111122223333:role/Souk").is_ok());
        assert!(principal("arn:aws:iam::111122223333:user/souk").is_ok());
        assert!(principal("arn:aws:iam::111122223333:root").is_ok());
        assert!(principal("arn:aws:s3:::bucket").is_err());
        let config = IntegrationConfig {
            souk_principal_arn: "nope".into(),
            ..Default::default()
        };
        assert_eq!(
            config.validate().unwrap_err().violations[0].field,
            "souk_principal_arn"
        );
        assert!(IntegrationConfig::default().template_settings().is_none());
    }

    #[test]
    fn the_section_reads_from_toml_and_environment() {
        let file: toml::Table =
            toml::from_str("sns_webhook_url = \"https://souk.example.com/sns\"").unwrap();
        let vars = vec![(
            "SOUK_INTEGRATION__PROBE_TIMEOUT".to_owned(),
            "3s".to_owned(),
        )];
        let config: IntegrationConfig =
            souk_service::config::section("integration", Some(file), &vars).unwrap();
        assert_eq!(config.probe_timeout, Duration::from_secs(3));
        assert_eq!(
            config.sns_webhook_url.as_deref(),
            Some("https://souk.example.com/sns")
        );
        assert_eq!(
            config.marketplace_topic_account,
            DEFAULT_MARKETPLACE_TOPIC_ACCOUNT
        );
    }
}
