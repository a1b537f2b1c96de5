//! Marketplace Entitlement Service: `GetEntitlements` over awsJson1_1 (boto3,
//! `X-Amz-Target: AWSMPEntitlementService.GetEntitlements`) and rpcv2Cbor (the Rust SDK,
//! `POST /service/AWSMPEntitlementService/operation/GetEntitlements`). Both decode to the same
//! JSON input and run the same code, so they return the same entitlements.
//!
//! Filters are unioned within a key and intersected across keys;
//! `CUSTOMER_IDENTIFIER` and `CUSTOMER_AWS_ACCOUNT_ID` are mutually exclusive; `MaxResults`
//! is 1..=25 (default 25); `NextToken` is opaque and bound to the request's filters. Every
//! invalid input is `InvalidParameterException` (the service's only client error besides
//! throttling); undecodable bodies are `SerializationException`.

use std::collections::BTreeMap;

use axum::response::Response;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Emulator;
use crate::market::Entitlement;
use crate::wire::json::{CONTENT_TYPE_1_1, parse_body};
use crate::wire::{ApiError, Protocol, cbor};

/// The awsJson target prefix and the rpcv2Cbor service name.
pub const SERVICE: &str = "AWSMPEntitlementService";

const FILTERS: [&str; 4] = [
    "CUSTOMER_IDENTIFIER",
    "DIMENSION",
    "CUSTOMER_AWS_ACCOUNT_ID",
    "LICENSE_ARN",
];

#[derive(Deserialize)]
struct Request {
    #[serde(rename = "ProductCode")]
    product_code: Option<String>,
    #[serde(rename = "Filter")]
    filter: Option<BTreeMap<String, Vec<String>>>,
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
    #[serde(rename = "MaxResults")]
    max_results: Option<i64>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidParameterException", message)
}

/// awsJson1_1 entry point.
pub fn handle_json(emulator: &Emulator, operation: &str, body: &[u8]) -> Response {
    let result = match operation {
        "GetEntitlements" => {
            parse_body::<Value>(body).and_then(|input| get_entitlements(emulator, input))
        }
        other => Err(ApiError::unknown_operation(other)),
    };
    match result {
        Ok(output) => crate::wire::json::ok_response(&output, CONTENT_TYPE_1_1),
        Err(err) => err.into_response(Protocol::AwsJson1_1),
    }
}

/// rpcv2Cbor entry point.
pub fn handle_cbor(emulator: &Emulator, operation: &str, body: &[u8]) -> Response {
    let result = match operation {
        "GetEntitlements" => {
            cbor::decode_request(body).and_then(|input| get_entitlements(emulator, input))
        }
        other => Err(ApiError::unknown_operation(other)),
    };
    match result {
        Ok(output) => cbor::ok_response(&output, &["ExpirationDate"]),
        Err(err) => err.into_response(Protocol::RpcV2Cbor),
    }
}

/// GetEntitlements on a decoded (JSON-shaped) input; returns the JSON-shaped output.
pub fn get_entitlements(emulator: &Emulator, input: Value) -> Result<Value, ApiError> {
    if !input.is_object() {
        return Err(ApiError::serialization(
            "the request body must be an object",
        ));
    }
    let request: Request = serde_json::from_value(input)
        .map_err(|err| ApiError::serialization(format!("could not parse request: {err}")))?;
    let product_code = request
        .product_code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| invalid("ProductCode is required"))?;
    let filter = request.filter.unwrap_or_default();
    for (key, values) in &filter {
        if !FILTERS.contains(&key.as_str()) {
            return Err(invalid(format!(
                "{key} is not a valid filter name; use one of {}",
                FILTERS.join(", ")
            )));
        }
        if values.is_empty() {
            return Err(invalid(format!("Filter {key} needs at least one value")));
        }
    }
    if filter.contains_key("CUSTOMER_IDENTIFIER") && filter.contains_key("CUSTOMER_AWS_ACCOUNT_ID")
    {
        return Err(invalid(
            "CUSTOMER_IDENTIFIER and CUSTOMER_AWS_ACCOUNT_ID filters are mutually exclusive",
        ));
    }
    let max_results = request.max_results.unwrap_or(25);
    if !(1..=25).contains(&max_results) {
        return Err(invalid(format!(
            "MaxResults must be between 1 and 25, got {max_results}"
        )));
    }
    let fingerprint = fingerprint(&product_code, &filter);
    let offset = match request.next_token.as_deref() {
        None => 0,
        Some(token) => decode_token(token, &fingerprint)
            .ok_or_else(|| invalid("The NextToken is not valid"))?,
    };

    let world = emulator.world();
    let product = world
        .market
        .product(&product_code)
        .cloned()
        .ok_or_else(|| invalid(format!("Product code {product_code} is not valid")))?;
    let matching: Vec<&Entitlement> = world
        .market
        .entitlements
        .values()
        .filter(|e| e.product_code == product_code && matches(e, &filter))
        .collect();
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(usize::try_from(max_results).unwrap_or(25))
        .map(|e| to_wire(e, product.concurrent_agreements))
        .collect();
    let next = offset + page.len();
    let mut output = json!({ "Entitlements": page });
    if next < matching.len() {
        output["NextToken"] = json!(encode_token(next, &fingerprint));
    }
    Ok(output)
}

fn matches(entitlement: &Entitlement, filter: &BTreeMap<String, Vec<String>>) -> bool {
    filter.iter().all(|(key, values)| {
        let field = match key.as_str() {
            "CUSTOMER_IDENTIFIER" => &entitlement.customer_identifier,
            "CUSTOMER_AWS_ACCOUNT_ID" => &entitlement.aws_account_id,
            "DIMENSION" => &entitlement.dimension,
            _ => {
                let id = crate::market::license_id(&entitlement.license_arn);
                return values.iter().any(|v| crate::market::license_id(v) == id);
            }
        };
        values.iter().any(|v| v == field)
    })
}

fn to_wire(e: &Entitlement, concurrent: bool) -> Value {
    let mut out = json!({
        "ProductCode": e.product_code,
        "Dimension": e.dimension,
        "CustomerAWSAccountId": e.aws_account_id,
        "Value": e.value.to_wire(),
        "LicenseArn": e.license_arn,
    });
    if !concurrent {
        out["CustomerIdentifier"] = json!(e.customer_identifier);
    }
    if let Some(expiration) = e.expiration {
        // Whole epoch seconds: awsJson writes them as a number, CBOR as a tag-1 timestamp.
        out["ExpirationDate"] = json!(expiration.seconds());
    }
    out
}

fn fingerprint(product_code: &str, filter: &BTreeMap<String, Vec<String>>) -> String {
    use sha2::Digest as _;
    let canonical = json!({ "p": product_code, "f": filter }).to_string();
    hex::encode(&sha2::Sha256::digest(canonical.as_bytes())[..8])
}

fn encode_token(offset: usize, fingerprint: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{offset}:{fingerprint}"))
}

fn decode_token(token: &str, fingerprint: &str) -> Option<usize> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.splitn(3, ':');
    if parts.next()? != "v1" {
        return None;
    }
    let offset = parts.next()?.parse().ok()?;
    (parts.next()? == fingerprint).then_some(offset)
}
