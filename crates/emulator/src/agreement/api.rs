//! The Agreement API operations (awsJson1_0, `AWSMPCommerceService_v20200301`):
//! DescribeAgreement, GetAgreementTerms and SearchAgreements, as the seller (proposer) sees them.

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::model::{Agreement, AgreementStatus};
use super::terms_view::accepted_terms;
use crate::World;
use crate::at::At;
use crate::support::format::format_micros;
use crate::wire::ApiError;

fn not_found(id: &str) -> ApiError {
    ApiError::with_status(
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        format!("Agreement {id} not found."),
    )
    .with_member("resourceId", id)
    .with_member("resourceType", "Agreement")
}

/// A `ValidationException` with the modelled `reason` and the offending member in `fields`.
pub(crate) fn invalid(reason: &str, field: &str, message: impl Into<String>) -> ApiError {
    let message = message.into();
    ApiError::validation(message.clone())
        .with_member("reason", reason)
        .with_member("fields", json!([{ "name": field, "message": message }]))
}

fn required_id(body: &Value) -> Result<&str, ApiError> {
    match body.get("agreementId") {
        None | Some(Value::Null) => Err(invalid(
            "MISSING_AGREEMENT_ID",
            "agreementId",
            "agreementId is required.",
        )),
        Some(Value::String(id)) if !id.is_empty() && id.len() <= 64 => Ok(id),
        Some(Value::String(_)) => Err(invalid(
            "INVALID_AGREEMENT_ID",
            "agreementId",
            "agreementId must be between 1 and 64 characters long.",
        )),
        Some(_) => Err(ApiError::serialization("agreementId must be a string.")),
    }
}

fn visible<'a>(world: &'a World, seller: &str, id: &str) -> Result<&'a Agreement, ApiError> {
    let agreement = world
        .agreements
        .agreements
        .get(id)
        .ok_or_else(|| not_found(id))?;
    if agreement.proposer_account_id != seller && agreement.manufacturer_account_id != seller {
        return Err(ApiError::with_status(
            StatusCode::FORBIDDEN,
            "AccessDeniedException",
            format!("You are not authorized to access agreement {id}."),
        ));
    }
    Ok(agreement)
}

/// Whole epoch seconds (awsJson numbers, CBOR tag-1 timestamps).
fn epoch(at: At) -> Value {
    json!(at.seconds())
}

fn resource_type(world: &World, seller: &str, product_id: &str) -> String {
    crate::catalog::products::directory(world, seller)
        .get(product_id)
        .map(|p| {
            p.entity_type
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned()
        })
        .unwrap_or_else(|| "SaaSProduct".to_owned())
}

fn proposal_summary(world: &World, seller: &str, a: &Agreement) -> Value {
    let mut out = json!({
        "resources": [{ "id": a.product_id, "type": resource_type(world, seller, &a.product_id) }],
        "offerId": a.offer_id,
    });
    if let Some(set) = &a.offer_set_id {
        out["offerSetId"] = json!(set);
    }
    out
}

fn summary(world: &World, seller: &str, a: &Agreement) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("agreementId".into(), json!(a.id));
    out.insert("acceptanceTime".into(), epoch(a.acceptance_time));
    out.insert("startTime".into(), epoch(a.start_time));
    if let Some(end) = a.end_time {
        out.insert("endTime".into(), epoch(end));
    }
    out.insert("agreementType".into(), json!("PurchaseAgreement"));
    out.insert(
        "acceptor".into(),
        json!({ "accountId": a.acceptor_account_id }),
    );
    out.insert(
        "proposer".into(),
        json!({ "accountId": a.proposer_account_id }),
    );
    out.insert("proposalSummary".into(), proposal_summary(world, seller, a));
    out.insert("status".into(), json!(a.status.as_str()));
    out
}

/// DescribeAgreement.
pub fn describe(world: &World, seller: &str, body: &Value) -> Result<Value, ApiError> {
    let id = required_id(body)?;
    let a = visible(world, seller, id)?;
    let mut out = summary(world, seller, a);
    out.insert(
        "estimatedCharges".into(),
        json!({ "currencyCode": a.currency_code, "agreementValue": format_micros(a.agreement_value_micros) }),
    );
    Ok(Value::Object(out))
}

fn max_results(body: &Value, default: usize) -> Result<usize, ApiError> {
    match body.get("maxResults") {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_i64() {
            Some(n) if (1..=50).contains(&n) => Ok(usize::try_from(n).unwrap_or(default)),
            Some(_) => Err(invalid(
                "INVALID_MAX_RESULTS",
                "maxResults",
                "maxResults must be between 1 and 50.",
            )),
            None => Err(ApiError::serialization("maxResults must be an integer.")),
        },
    }
}

fn next_token(body: &Value) -> Result<usize, ApiError> {
    match body.get("nextToken") {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(t)) => crate::support::paging::decode(t)
            .ok_or_else(|| invalid("INVALID_NEXT_TOKEN", "nextToken", "nextToken is invalid.")),
        Some(_) => Err(ApiError::serialization("nextToken must be a string.")),
    }
}

/// GetAgreementTerms.
pub fn terms(world: &World, seller: &str, body: &Value) -> Result<Value, ApiError> {
    let id = required_id(body)?;
    let a = visible(world, seller, id)?;
    let max = max_results(body, 50)?;
    let start = next_token(body)?;
    let all = accepted_terms(a);
    let page: Vec<Value> = all.iter().skip(start).take(max).cloned().collect();
    let mut out = json!({ "acceptedTerms": page });
    if start.saturating_add(max) < all.len() {
        out["nextToken"] = json!(crate::support::paging::token(start.saturating_add(max)));
    }
    Ok(out)
}

const FILTERS: &[&str] = &[
    "PartyType",
    "AgreementType",
    "ResourceIdentifier",
    "ResourceId",
    "ResourceType",
    "AcceptorAccountId",
    "OfferId",
    "OfferSetId",
    "Status",
    "BeforeEndTime",
    "AfterEndTime",
];

fn parse_filters(body: &Value) -> Result<Vec<(String, Vec<String>)>, ApiError> {
    let raw = match body.get("filters") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ApiError::serialization("filters must be a list.")),
    };
    if raw.len() > 10 {
        return Err(invalid(
            "UNSUPPORTED_FILTERS",
            "filters",
            "filters must contain at most 10 filters.",
        ));
    }
    let mut out = Vec::new();
    for f in raw {
        let name = f
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("INVALID_FILTER_NAME", "filters", "filter name is required."))?;
        if !FILTERS.contains(&name) {
            return Err(invalid(
                "INVALID_FILTER_NAME",
                "filters",
                format!("Filter name {name} is not supported."),
            ));
        }
        let values: Vec<String> = match f.get("values") {
            Some(Value::Array(v)) => v
                .iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        if values.is_empty() {
            return Err(invalid(
                "INVALID_FILTER_VALUES",
                "filters",
                format!("Filter {name} needs at least one value."),
            ));
        }
        out.push((name.to_owned(), values));
    }
    Ok(out)
}

/// SearchAgreements (PartyType must be `Proposer`; AgreementType `PurchaseAgreement`).
pub fn search(world: &World, seller: &str, body: &Value) -> Result<Value, ApiError> {
    if !body.is_object() {
        return Err(ApiError::serialization(
            "the request must be a JSON object.",
        ));
    }
    match body.get("catalog") {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if c == "AWSMarketplace" => {}
        Some(_) => {
            return Err(invalid(
                "INVALID_CATALOG",
                "catalog",
                "catalog must be AWSMarketplace.",
            ));
        }
    }
    let filters = parse_filters(body)?;
    let get = |name: &str| {
        filters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    match get("PartyType") {
        Some(v) if v.iter().all(|x| x == "Proposer") => {}
        Some(_) => {
            return Err(invalid(
                "INVALID_PARTY_TYPE",
                "filters",
                "Only the Proposer PartyType is supported.",
            ));
        }
        None => {
            return Err(invalid(
                "MISSING_PARTY_TYPE",
                "filters",
                "The PartyType filter is required.",
            ));
        }
    }
    if let Some(v) = get("AgreementType")
        && v.iter().any(|x| x != "PurchaseAgreement")
    {
        return Err(invalid(
            "INVALID_FILTER_VALUES",
            "filters",
            "AgreementType must be PurchaseAgreement.",
        ));
    }
    if let Some(v) = get("Status")
        && v.iter().any(|s| AgreementStatus::parse(s).is_none())
    {
        return Err(invalid(
            "INVALID_FILTER_VALUES",
            "filters",
            "Status filter values must be agreement statuses.",
        ));
    }
    let time_filter = |name: &str| -> Result<Option<At>, ApiError> {
        match get(name) {
            None => Ok(None),
            Some(v) => {
                let raw = v.first().cloned().unwrap_or_default();
                let parsed = raw
                    .parse::<i64>()
                    .ok()
                    .and_then(At::checked_from_seconds)
                    .or_else(|| crate::support::format::parse_datetime(&raw));
                parsed.map(Some).ok_or_else(|| {
                    invalid(
                        "INVALID_FILTER_VALUES",
                        "filters",
                        format!("{name} must be a timestamp."),
                    )
                })
            }
        }
    };
    let before = time_filter("BeforeEndTime")?;
    let after = time_filter("AfterEndTime")?;
    let (sort_desc, sort_ok) = match body.get("sort") {
        None | Some(Value::Null) => (true, true),
        Some(sort) => {
            let by_ok = sort
                .get("sortBy")
                .and_then(Value::as_str)
                .is_none_or(|b| b == "EndTime");
            if !by_ok {
                return Err(invalid(
                    "INVALID_SORT_BY",
                    "sort.sortBy",
                    "Only EndTime is supported for sorting.",
                ));
            }
            match sort.get("sortOrder").and_then(Value::as_str) {
                None | Some("DESCENDING") => (true, true),
                Some("ASCENDING") => (false, true),
                Some(_) => (true, false),
            }
        }
    };
    if !sort_ok {
        return Err(invalid(
            "INVALID_SORT_ORDER",
            "sort.sortOrder",
            "sortOrder must be ASCENDING or DESCENDING.",
        ));
    }
    let max = max_results(body, 50)?;
    let start = next_token(body)?;
    let matches = |a: &&Agreement| -> bool {
        let one = |name: &str, value: &str| get(name).is_none_or(|v| v.iter().any(|x| x == value));
        (a.proposer_account_id == seller || a.manufacturer_account_id == seller)
            && one("ResourceIdentifier", &a.product_id)
            && one("ResourceId", &a.product_id)
            && one("ResourceType", &resource_type(world, seller, &a.product_id))
            && one("AcceptorAccountId", &a.acceptor_account_id)
            && one("OfferId", &a.offer_id)
            && get("OfferSetId")
                .is_none_or(|v| a.offer_set_id.as_ref().is_some_and(|s| v.contains(s)))
            && one("Status", a.status.as_str())
            && before.is_none_or(|b| a.end_time.is_some_and(|e| e < b))
            && after.is_none_or(|t| a.end_time.is_none_or(|e| e > t))
    };
    let mut found: Vec<&Agreement> = world
        .agreements
        .agreements
        .values()
        .filter(matches)
        .collect();
    found.sort_by_key(|a| {
        (
            // Whole seconds, as the wire shows them: ties fall back to the id.
            a.end_time.map_or(i64::MAX, At::seconds),
            a.id.clone(),
        )
    });
    if sort_desc {
        found.reverse();
    }
    let page: Vec<Value> = found
        .iter()
        .skip(start)
        .take(max)
        .map(|a| Value::Object(summary(world, seller, a)))
        .collect();
    let mut out = json!({ "agreementViewSummaries": page });
    if start.saturating_add(max) < found.len() {
        out["nextToken"] = json!(crate::support::paging::token(start.saturating_add(max)));
    }
    Ok(out)
}
