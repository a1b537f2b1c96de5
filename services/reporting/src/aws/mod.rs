//! The [`FeedBucket`](crate::domain::ports::FeedBucket) port on the official S3 SDK
//! (`aws-sdk-s3`), acting as each integration's AWS role (STS AssumeRole with its ExternalId,
//! through `souk_auth::RoleAssumer`, whose clients are cached per role). The S3 client is
//! path-style and follows the assumer's endpoint override, so every call goes to the emulator
//! when one is configured.
//!
//! Which role and bucket an integration uses is the integration service's knowledge: the binary
//! answers [`IntegrationFeeds`] from it (the role ARN and ExternalId, and the integration's
//! `data_feed_bucket`).

mod bucket;
mod seller;

use async_trait::async_trait;
use souk_auth::IntegrationRole;
use souk_core::Id;

pub use bucket::{AwsFeedBucket, BODY_TIMEOUT, MAX_PAGES, PAGE_SIZE};
pub use seller::{RoleSellerAccounts, role_account};

/// Where an integration's Seller Data Feeds are delivered, and as whom to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSource {
    /// The integration's AWS role (the S3 client runs in its `region`).
    pub role: IntegrationRole,
    /// The S3 bucket AWS Marketplace delivers the data feeds to (the integration's
    /// `data_feed_bucket`); empty when none is configured.
    pub bucket: String,
}

/// The integrations' feed sources, as the integration service knows them.
#[async_trait]
pub trait IntegrationFeeds: Send + Sync + 'static {
    /// The feed source of integration `integration_id` of `organization_id`; `None` when the
    /// integration does not exist or has no data feed bucket. An error is a failure to find out
    /// (worth another try).
    async fn feed_source(
        &self,
        organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<FeedSource>, String>;

    /// Every integration of every organisation with a data feed bucket, as
    /// `(organisation, integration)`: what scheduled ingestion reads. None by default.
    async fn integrations_with_feeds(&self) -> Result<Vec<(Id, Id)>, String> {
        Ok(Vec::new())
    }
}
