//! SQL storage for Souk services: one sqlx `AnyPool` per service on SQLite
//! (standalone) or PostgreSQL (distributed), a small migrations runner, the single mapping from
//! `sqlx::Error` to [`souk_core::Error`], and the tables every service shares: the transactional
//! [`outbox`], the [`dead_letter`] queue and the [`idempotency`] keys.
//!
//! A service writes through a [`UnitOfWork`]: the state change, its outbox events and the
//! idempotency record of the request commit together, and a retried request gets the first
//! response back. Reads are confined to one organisation with the helpers of [`tenant`].
//!
//! This crate knows nothing about gRPC, NATS or any service's domain: it depends only on
//! `souk-core` and sqlx. Services keep their SQL in their own `store/` module.
//!
//! # Writing SQL that runs on both backends
//!
//! * `$1, $2, …` placeholders; `RETURNING`, `ON CONFLICT (…) DO UPDATE SET n = t.n + excluded.n`
//!   work on both.
//! * Column types: `TEXT`, `BIGINT` (ids, instants as unix milliseconds via
//!   [`souk_core::clock::to_unix_millis`], money in micros, quantities, flags as 0/1), `BYTEA`
//!   on PostgreSQL / `BLOB` on SQLite (a per-backend [`Migration`]). Avoid `BOOLEAN`, `NUMERIC`,
//!   `TIMESTAMP`, `UUID` and PostgreSQL's `name` type (cast to `::text`): the `Any` driver does
//!   not decode them on both backends.
//! * PostgreSQL-only clauses (`FOR UPDATE SKIP LOCKED`, advisory locks) go behind
//!   [`Store::backend`].
//! * Assemble a statement from optional parts with [`Args`] (each bound value returns its
//!   placeholder); read columns with the getters of [`row`].
//! * Start a transaction that writes with [`Store::begin_write`]; run it under
//!   [`retry::with_retries`] where concurrent writers may collide.

mod args;
mod config;
pub mod dead_letter;
mod error;
pub mod idempotency;
pub mod migrate;
pub mod outbox;
pub mod retry;
pub mod row;
mod store;
pub mod tenant;
mod unit_of_work;
mod waker;

pub use args::Args;
pub use config::{Backend, StoreConfig, redact_url};
pub use error::{constraint_name, is_retryable, map_sqlx_error};
pub use migrate::{Migration, MigrationReport};
pub use retry::{RetryPolicy, with_retries};
pub use store::Store;
pub use unit_of_work::{Begun, UnitOfWork};
pub use waker::OutboxWaker;

/// Results of store operations, failing with the shared error vocabulary.
pub type Result<T, E = souk_core::Error> = std::result::Result<T, E>;

/// The sqlx types callers need, re-exported so services use the same sqlx version.
pub use sqlx::{Any, AnyConnection, AnyPool, Transaction};

/// A transaction on a service's store, as returned by [`Store::begin`].
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;
