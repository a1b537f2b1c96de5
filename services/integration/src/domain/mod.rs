//! Rules of the integration service: organisations, integrations and their verification, API
//! keys and the onboarding template. No tonic, sqlx or AWS SDK in here.

pub mod error;
pub mod model;
pub mod template;
pub mod validate;
pub mod verify;

pub use error::Error;
pub use model::*;
