//! The reporting service of Souk: Seller Data Feed ingestion and revenue reports.
//!
//! Each integration's data feed bucket is read (new and changed files only) into the
//! service's store, row versions kept by the feeds' history rules; reports are made from the
//! stored billing events (docs/reporting.md). Must not depend on other services' crates: the
//! binary supplies the integrations' roles and buckets.

pub mod aws;
pub mod domain;

pub mod api;
pub mod app;
pub mod config;
pub mod events;
pub mod proto;
pub mod store;
pub mod web;

pub use app::{AppOptions, Background, PassReport, ReportingApp, STORE_NAME};
pub use config::ReportingConfig;
