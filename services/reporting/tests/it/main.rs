//! The reporting service against the in-process emulator's data feeds through the official S3
//! SDK client, on SQLite and PostgreSQL.

mod bucket;
mod disbursements;
mod harness;
mod revenue;
mod support;
