//! The metering service of Souk: usage ingestion, hourly aggregation and exactly-once shipping to BatchMeterUsage.
//!
//! Usage events are written durably before they are acknowledged, folded into one record per
//! customer, dimension and UTC hour by the product's meters, sealed when the hour closes, and
//! sent to AWS BatchMeterUsage by a leased, paced, retried shipper (docs/metering.md). Must not
//! depend on other services' crates: the binary supplies the subscribers and the integrations'
//! roles.

pub mod aws;
pub mod domain;

pub mod api;
pub mod app;
pub mod config;
pub mod events;
pub mod proto;
pub mod store;

pub use app::{AppOptions, Background, MeteringApp, STORE_NAME, ShipTotals};
pub use config::MeteringConfig;
