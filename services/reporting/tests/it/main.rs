//! The reporting service against the in-process emulator's data feeds through the official S3
//! SDK client, on SQLite and PostgreSQL.

mod billing_events;
mod bucket;
mod channel_partner;
mod contracts;
mod disbursements;
mod discrepancies;
mod filters;
mod harness;
mod page;
mod revenue;
mod support;
mod usage;
