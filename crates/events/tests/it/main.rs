//! Integration tests of souk-events against the real NATS JetStream, PostgreSQL and SQLite of
//! the development machine. Each test has its own database and its own subject/stream prefix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broker_loss;
mod bus;
mod consumer;
mod outbox;
mod relay;
mod support;
mod watch;
