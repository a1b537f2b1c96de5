//! The integration service of Souk: organisations (tenants), seller integrations (one
//! cross-account IAM role per seller AWS account, assumed with a Souk-generated ExternalId), the
//! API keys that authenticate every call, the onboarding CloudFormation template and the
//! verification of a role's permissions against AWS.
//!
//! Layout: `api/` (tonic adapter and the one error mapping), `domain/` (rules; no tonic, sqlx or
//! AWS SDK), `store/` (sqlx, idempotency, outbox), `events/` (what it publishes), `aws.rs` (the
//! verifier's AWS adapter), `config.rs`, `app.rs` (wiring). It depends on `souk-core`,
//! `souk-proto`, `souk-store`, `souk-events` and `souk-auth`, never on another service.

pub mod api;
pub mod app;
pub mod aws;
pub mod config;
pub mod domain;
pub mod events;
pub mod store;

pub use app::{AppOptions, IntegrationApp, SERVICE_NAME};
pub use config::IntegrationConfig;
pub use store::{SqlKeyStore, migrations};
