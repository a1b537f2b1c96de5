//! Rules of the integration service: organisations, integrations and their verification, API
//! keys and the onboarding template; the use cases ([`Integrations`]) over their ports. No tonic,
//! sqlx, NATS or AWS SDK in here.

pub mod error;
pub mod event;
pub mod model;
pub mod ports;
pub mod service;
pub mod template;
pub mod validate;
pub mod verify;

pub use error::Error;
pub use event::IntegrationEvent;
pub use model::*;
pub use service::{DemoIntegration, Integrations};
