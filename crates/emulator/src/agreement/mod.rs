//! Marketplace Agreement API (awsJson1_0, target prefix `AWSMPCommerceService_v20200301`):
//! DescribeAgreement, GetAgreementTerms and SearchAgreements over the agreements the emulator
//! created when buyers accepted offers (see [`lifecycle`]), plus the invoice ledger those
//! acceptances produced ([`Invoice`]) for the seller data feeds.

pub mod api;
pub mod billing;
pub mod control;
pub mod events;
pub mod lifecycle;
pub mod market_subscription;
pub mod model;
pub mod terms_view;

use axum::body::Bytes;
use axum::response::Response;
use serde_json::Value;

pub use model::{
    Agreement, AgreementState, AgreementStatus, DimensionQuantity, Invoice, InvoiceKind,
};

use crate::wire::{ApiError, Protocol, cbor, json};

/// Timestamp members of the Agreement API's outputs (CBOR tag 1 on the rpcv2Cbor path).
const TIMESTAMP_MEMBERS: &[&str] = &[
    "acceptanceTime",
    "startTime",
    "endTime",
    "chargeDate",
    "agreementStartDate",
    "agreementEndDate",
    "createdAt",
    "updatedAt",
];

/// Handles one Agreement API operation in awsJson1_0 (the core's dispatcher routes
/// `X-Amz-Target: AWSMPCommerceService_v20200301.<operation>` here and applies faults).
pub fn handle(emu: &crate::Emulator, operation: &str, body: Bytes) -> Response {
    match json::parse_body::<Value>(&body).and_then(|value| run(emu, operation, &value)) {
        Ok(value) => json::ok_response(&value, json::CONTENT_TYPE_1_0),
        Err(error) => modelled(error).into_response(Protocol::AwsJson1_0),
    }
}

/// Completes an error with the members the Agreement model gives every error (`requestId`) and
/// validation errors (`reason`, `OTHER` unless a more specific one was set).
pub(crate) fn modelled(error: ApiError) -> ApiError {
    let error = if error.code == "ValidationException" && error.member("reason").is_none() {
        error.with_member("reason", "OTHER")
    } else {
        error
    };
    if error.member("requestId").is_some() {
        return error;
    }
    error.with_member("requestId", crate::wire::request_id())
}

/// Handles one Agreement API operation in Smithy RPC v2 CBOR, which the Rust SDK sends
/// (`POST /service/AWSMPCommerceService_v20200301/operation/<operation>`).
pub fn handle_cbor(emu: &crate::Emulator, operation: &str, body: &[u8]) -> Response {
    match cbor::decode_request(body).and_then(|value| run(emu, operation, &value)) {
        Ok(value) => cbor::ok_response(&value, TIMESTAMP_MEMBERS),
        Err(error) => modelled(error).into_response(Protocol::RpcV2Cbor),
    }
}

fn run(emu: &crate::Emulator, operation: &str, body: &Value) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::serialization(
            "the request body must be a JSON object",
        ));
    }
    let config = emu.config();
    let world = emu.world();
    let seller = config.seller_account_id.as_str();
    match operation {
        "DescribeAgreement" => api::describe(&world, seller, body),
        "GetAgreementTerms" => api::terms(&world, seller, body),
        "SearchAgreements" => api::search(&world, seller, body),
        other => Err(ApiError::unknown_operation(other)),
    }
}
