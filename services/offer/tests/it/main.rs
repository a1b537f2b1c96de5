//! The offer service against the in-process emulator through the official Catalog and
//! Agreement SDK clients, on SQLite and PostgreSQL.

mod channel_partner;
mod emulator_agrees;
mod harness;
mod import;
mod kinds;
mod lifecycle;
mod requests;
mod resale;
mod robustness;
