//! The entitlement service's rules and use cases. Knows no tonic, sqlx, NATS or AWS SDK: the
//! adapters implement [`ports`].

pub mod check;
pub mod customers;
pub mod error;
pub mod event;
pub mod fulfilment;
pub mod handoff;
pub mod lifecycle;
pub mod model;
pub mod notice;
pub mod notices;
pub mod plan;
pub mod plans;
pub mod ports;
pub mod queries;
pub mod secret;
pub mod service;
pub mod sync;
pub mod validate;

pub use error::Error;
pub use service::Entitlements;
