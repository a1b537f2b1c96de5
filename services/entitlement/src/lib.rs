//! The entitlement service of Souk: fulfilment page, customers, subscriptions, agreements, entitlements and entitlement checks.
//!
//! Layers as docs/ARCHITECTURE.md describes: `api/` (gRPC) and `inbound/` (HTTP: fulfilment
//! page, SNS and EventBridge endpoints; SQS pollers) convert and call `domain/`, which holds the
//! rules and knows no tonic, sqlx, NATS or AWS SDK; `store/`, `events/` and `aws/` implement its
//! ports; `snapshot/` answers entitlement checks from memory; `app.rs` wires it by hand. Must
//! not depend on other services' crates: the integrations come through the `Directory` port.

pub mod api;
pub mod app;
pub mod aws;
pub mod config;
pub mod domain;
pub mod events;
pub mod inbound;
pub mod notifications;
pub mod proto;
pub mod snapshot;
pub mod store;

pub use app::{AppOptions, Background, EntitlementApp, STORE_NAME};
pub use config::EntitlementConfig;
pub use snapshot::Snapshot;
pub use snapshot::follower::Follower;
pub use snapshot::reader::SnapshotReader;
