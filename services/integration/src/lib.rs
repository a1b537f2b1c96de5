//! The integration service of Souk: organisations (tenants), seller integrations (one
//! cross-account IAM role per seller AWS account, assumed with a Souk-generated ExternalId), the
//! API keys that authenticate every call, the onboarding CloudFormation template and the
//! verification of a role's permissions against AWS.
//!
//! Layout, dependencies pointing inwards: `api/` (tonic adapter: convert, call one use case,
//! convert back; the one error mapping) -> `domain/` (use cases over ports, rules; no tonic,
//! sqlx, NATS or AWS SDK) <- `store/` (the store port on SQL), `events/` (domain events as
//! `souk.events.v1` outbox records), `aws.rs` (the verifier port on AWS). `proto.rs` builds the
//! contract's messages from domain values for both `api/` and `events/`. `app.rs` wires it.
//! It depends on the shared crates and the service kit, never on another service.

pub mod api;
pub mod app;
pub mod aws;
pub mod config;
pub mod domain;
pub mod events;
pub mod proto;
pub mod store;

pub use app::{AppOptions, IntegrationApp, STORE_NAME};
pub use config::IntegrationConfig;
pub use store::{SqlKeyStore, migrations};
