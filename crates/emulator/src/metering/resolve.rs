//! ResolveCustomer: registration token → customer, product and licence.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::Emulator;
use crate::market::{TokenError, resolve_token};
use crate::wire::ApiError;
use crate::wire::json::parse_body;

#[derive(Deserialize)]
struct Request {
    #[serde(rename = "RegistrationToken")]
    registration_token: Option<String>,
}

pub(super) fn resolve_customer(emulator: &Emulator, body: &[u8]) -> Result<Value, ApiError> {
    let request: Request = parse_body(body)?;
    let token = super::required(request.registration_token, "registrationToken")?;
    if token.is_empty() {
        return Err(ApiError::validation(
            "1 validation error detected: Value '' at 'registrationToken' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\s\\S]+",
        ));
    }
    let now = emulator.clock().now_at();
    // Whole seconds of the configured lifetime, as tokens have always been aged.
    let ttl_seconds = emulator.config().registration_token_ttl.as_secs();
    let ttl = time::Duration::seconds(i64::try_from(ttl_seconds).unwrap_or(i64::MAX));
    let world = emulator.world();
    let resolved = resolve_token(&world.market, &token, now, ttl).map_err(|err| match err {
        TokenError::Invalid => {
            ApiError::client("InvalidTokenException", "Registration token is invalid")
        }
        TokenError::Expired => {
            ApiError::client("ExpiredTokenException", "Registration token has expired")
        }
    })?;
    let product = world.market.product(&resolved.product_code);
    let subscription = world
        .market
        .subscription(&resolved.product_code, &resolved.aws_account_id);
    let concurrent = product.is_some_and(|p| p.concurrent_agreements);
    let mut out = json!({
        "ProductCode": resolved.product_code,
        "CustomerAWSAccountId": resolved.aws_account_id,
    });
    if let Some(s) = subscription {
        if concurrent {
            out["LicenseArn"] = json!(s.license_arn);
        } else {
            out["CustomerIdentifier"] = json!(s.customer_identifier);
        }
        // `Metadata.AgreementId`: the agreement the buyer accepted (newer service models).
        if !s.agreement_id.is_empty() {
            out["Metadata"] = json!({ "AgreementId": s.agreement_id });
        }
    }
    Ok(out)
}
