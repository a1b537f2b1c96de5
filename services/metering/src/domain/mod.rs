//! The metering rules: resolving and validating usage, aggregating it per hour, sealing hours,
//! and shipping records to AWS exactly once. No tonic, sqlx, NATS or AWS SDK here.

pub mod error;
#[cfg(test)]
pub(crate) mod fakes;
mod group;
pub mod hours;
pub mod ingest;
pub mod meters;
pub mod model;
pub mod ports;
pub mod sealing;
pub mod service;
pub mod shipping;
pub mod tally;
pub mod validate;

pub use error::Error;
pub use service::{IngestLimits, MeterSpec, Metering};
