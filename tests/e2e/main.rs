//! End-to-end tests of the `souk` binary: the README quick start (`souk dev --emulate-aws`) and
//! the distributed mode (`souk serve integration` on PostgreSQL and NATS).

#![allow(clippy::unwrap_used)] // tests fail loudly by design

mod browser;
mod common;
mod deploy;
mod dev;
mod emulator;
mod events_tail;
mod fulfilment;
mod hardening;
mod journey;
mod metering_crash;
mod offers;
mod reconciliation;
mod report_page;
mod reporting;
mod serve;
mod tls;
