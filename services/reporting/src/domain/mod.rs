//! The reporting domain: data feed files read into rows with their history, billing events,
//! and the reports made from them. Knows no tonic, sqlx or AWS SDK.

pub mod billing_event;
pub mod disbursement;
pub mod error;
pub mod feed;
pub mod ingest;
pub mod parse;
pub mod ports;
pub mod revenue;
pub mod row;

pub use error::Error;
