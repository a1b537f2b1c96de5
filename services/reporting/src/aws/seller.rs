//! The [`SellerAccounts`](crate::domain::ports::SellerAccounts) port: an integration's seller
//! account is the AWS account of its role (`arn:aws:iam::<account>:role/<name>`).

use std::sync::Arc;

use async_trait::async_trait;

use super::IntegrationFeeds;
use crate::domain::ports::{Acting, CallError, SellerAccounts};

/// Seller accounts read from the integrations' role ARNs.
#[derive(Clone)]
pub struct RoleSellerAccounts {
    feeds: Arc<dyn IntegrationFeeds>,
}

impl std::fmt::Debug for RoleSellerAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleSellerAccounts").finish_non_exhaustive()
    }
}

impl RoleSellerAccounts {
    /// Over the integrations' feed sources.
    pub fn new(feeds: Arc<dyn IntegrationFeeds>) -> Self {
        Self { feeds }
    }
}

/// The account of an IAM role ARN.
pub fn role_account(role_arn: &str) -> Option<&str> {
    let account = role_arn.strip_prefix("arn:")?.split(':').nth(3)?;
    souk_core::validate::aws_account_id(account)
        .is_ok()
        .then_some(account)
}

#[async_trait]
impl SellerAccounts for RoleSellerAccounts {
    async fn seller_account_id(&self, acting: &Acting) -> Result<Option<String>, CallError> {
        let source = self
            .feeds
            .feed_source(&acting.organization_id, &acting.integration_id)
            .await
            .map_err(CallError::Retry)?;
        Ok(source.and_then(|s| role_account(&s.role.role_arn).map(str::to_owned)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_the_role_arns_fifth_field() {
        assert_eq!(
            role_account("arn:aws:iam::111122223333:role/SoukReports"),
            Some("111122223333")
        );
        assert_eq!(
            role_account("arn:aws-cn:iam::111122223333:role/x"),
            Some("111122223333")
        );
        assert_eq!(role_account("arn:aws:iam::1234:role/x"), None);
        assert_eq!(role_account("not an arn"), None);
    }
}
