//! Integration tests of the emulator through the official AWS SDK clients (and raw HTTP where
//! a protocol detail must be seen on the wire).

mod agreement_api;
mod agreement_lifecycle;
mod boto3;
mod catalog_entities;
mod catalog_errors;
mod catalog_lifecycle;
mod catalog_offers;
mod catalog_resale;
mod clock;
mod control;
mod control_errors;
mod decimal_usage;
mod entitlement;
mod feeds;
mod fidelity;
mod malformed;
mod meter_usage;
mod metering;
mod notify;
mod persistence;
mod regions;
mod s3_malformed;
mod sqs;
mod sqs_malformed;
mod sts;
mod support;
