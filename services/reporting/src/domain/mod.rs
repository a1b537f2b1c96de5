//! The reporting domain: data feed files read into rows with their history, billing events,
//! and the reports made from them. Knows no tonic, sqlx or AWS SDK.

pub mod billing_event;
pub mod billing_events;
pub mod channel_partner;
pub mod contracts;
pub mod disbursement;
pub mod error;
pub mod feed;
pub mod filter;
pub mod ingest;
pub mod installments;
pub mod parse;
pub mod ports;
pub mod reconciliation;
pub mod revenue;
pub mod row;
pub mod selection;
pub mod usage;

pub use error::Error;
