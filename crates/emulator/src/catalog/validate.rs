//! Synchronous schema validation of `StartChangeSet` (HTTP 422 `ValidationException`): the
//! request envelope, change types per entity type, `$ChangeName.Entity.Identifier` references
//! and duplicate change types; each DetailsDocument's shape is checked in [`super::details`].
//! Business rules are checked later, asynchronously.

use serde_json::Value;

use super::error::{CatalogError, CatalogResult};
use super::members::{object, opt_array, opt_len, opt_str, req_array, req_len};
use super::model::Change;

/// `Offer@1.0`.
pub const OFFER: &str = "Offer@1.0";
/// `ResaleAuthorization@1.0`.
pub const RESALE: &str = "ResaleAuthorization@1.0";

/// Offer change types that create an entity.
pub const OFFER_CREATE_TYPES: &[&str] = &[
    "CreateOffer",
    "CreateReplacementOffer",
    "CreateOfferUsingResaleAuthorization",
    "CreateReplacementOfferUsingResaleAuthorization",
];

const OFFER_UPDATE_TYPES: &[&str] = &[
    "UpdateInformation",
    "UpdateTargeting",
    "UpdateSupportTerms",
    "UpdateLegalTerms",
    "UpdatePricingTerms",
    "UpdateValidityTerms",
    "UpdatePaymentScheduleTerms",
    "UpdateAvailability",
    "UpdateRenewalTerms",
    "UpdateNetPaymentTerms",
    "UpdateMarkup",
    "ReleaseOffer",
];

const RESALE_UPDATE_TYPES: &[&str] = &[
    "UpdateInformation",
    "UpdatePricingTerms",
    "UpdatePaymentScheduleTerms",
    "UpdateLegalTerms",
    "UpdateBuyerTargetingTerms",
    "UpdateBuyerValidityTerms",
    "UpdateAvailability",
    "ReleaseResaleAuthorization",
    "RestrictResaleAuthorization",
];

/// Pricing term types an offer's UpdatePricingTerms accepts.
pub const OFFER_PRICING_TERMS: &[&str] = &[
    "ConfigurableUpfrontPricingTerm",
    "ByolPricingTerm",
    "FreeTrialPricingTerm",
    "UsageBasedPricingTerm",
    "RecurringPaymentTerm",
    "FixedUpfrontPricingTerm",
];

/// Pricing term types a resale authorization's UpdatePricingTerms accepts.
pub const RESALE_PRICING_TERMS: &[&str] = &[
    "ResaleUsageBasedPricingTerm",
    "ResaleConfigurableUpfrontPricingTerm",
    "ResaleFixedUpfrontPricingTerm",
];

/// A validated StartChangeSet request.
#[derive(Debug)]
pub struct StartRequest {
    /// `ChangeSetName`.
    pub name: Option<String>,
    /// `ClientRequestToken`.
    pub client_request_token: Option<String>,
    /// `APPLY` or `VALIDATE`.
    pub intent: String,
    /// `ChangeSetTags`.
    pub tags: Vec<Value>,
    /// The changes, identifiers unresolved.
    pub changes: Vec<Change>,
}

/// Whether `change_type` creates an entity of `entity_type`.
pub fn is_create(entity_type: &str, change_type: &str) -> bool {
    (entity_type == OFFER && OFFER_CREATE_TYPES.contains(&change_type))
        || (entity_type == RESALE && change_type == "CreateResaleAuthorization")
}

/// Validates the catalog name (`AWSMarketplace`).
pub fn catalog(value: Option<&str>) -> CatalogResult<()> {
    match value {
        None => Err(CatalogError::validation("Catalog is required.")),
        Some("AWSMarketplace") => Ok(()),
        Some(other) => Err(CatalogError::validation(format!(
            "Catalog {other} is not supported. Use AWSMarketplace."
        ))),
    }
}

/// Parses and validates a StartChangeSet body.
pub fn start_request(body: &Value) -> CatalogResult<StartRequest> {
    let map = object(body, "request")?;
    catalog(opt_str(map, "Catalog", "StartChangeSetRequest")?)?;
    let name = opt_len(map, "ChangeSetName", "StartChangeSetRequest", 1, 100)?.map(str::to_owned);
    let client_request_token =
        opt_len(map, "ClientRequestToken", "StartChangeSetRequest", 1, 64)?.map(str::to_owned);
    let intent = opt_str(map, "Intent", "StartChangeSetRequest")?
        .unwrap_or("APPLY")
        .to_owned();
    if intent != "APPLY" && intent != "VALIDATE" {
        return Err(CatalogError::validation(
            "Intent must be APPLY or VALIDATE.",
        ));
    }
    let tags = opt_array(map, "ChangeSetTags", "StartChangeSetRequest")?
        .cloned()
        .unwrap_or_default();
    validate_tags(&tags, "ChangeSetTags")?;
    let raw = req_array(map, "ChangeSet", "StartChangeSetRequest")?;
    if raw.is_empty() || raw.len() > 20 {
        return Err(CatalogError::validation(
            "ChangeSet must contain between 1 and 20 changes.",
        ));
    }
    let mut changes = Vec::with_capacity(raw.len());
    for (index, item) in raw.iter().enumerate() {
        changes.push(change(item, index)?);
    }
    check_references(&changes)?;
    check_duplicates(&changes)?;
    Ok(StartRequest {
        name,
        client_request_token,
        intent,
        tags,
        changes,
    })
}

fn validate_tags(tags: &[Value], field: &str) -> CatalogResult<()> {
    if tags.len() > 200 {
        return Err(CatalogError::validation(format!(
            "{field} must contain at most 200 tags."
        )));
    }
    for tag in tags {
        let map = object(tag, field)?;
        req_len(map, "Key", field, 1, 128)?;
        opt_len(map, "Value", field, 0, 256)?;
    }
    Ok(())
}

fn change(item: &Value, index: usize) -> CatalogResult<Change> {
    let field = format!("ChangeSet[{index}]");
    let map = object(item, &field)?;
    let change_type = req_len(map, "ChangeType", &field, 1, 255)?.to_owned();
    let entity = map
        .get("Entity")
        .ok_or_else(|| CatalogError::validation(format!("{field}.Entity is required.")))?;
    let entity = object(entity, &format!("{field}.Entity"))?;
    let entity_type = req_len(entity, "Type", &format!("{field}.Entity"), 1, 255)?.to_owned();
    let identifier =
        opt_len(entity, "Identifier", &format!("{field}.Entity"), 1, 255)?.map(str::to_owned);
    let change_name = opt_len(map, "ChangeName", &field, 1, 72)?.map(str::to_owned);
    let entity_tags = opt_array(map, "EntityTags", &field)?
        .cloned()
        .unwrap_or_default();
    validate_tags(&entity_tags, &format!("{field}.EntityTags"))?;

    let details = opt_str(map, "Details", &field)?.map(str::to_owned);
    let details_document = map.get("DetailsDocument").filter(|v| !v.is_null()).cloned();
    let document = match (&details, &details_document) {
        (Some(_), Some(_)) => {
            return Err(CatalogError::validation(format!(
                "{field}: provide either Details or DetailsDocument, not both."
            )));
        }
        (None, None) => {
            return Err(CatalogError::validation(format!(
                "{field}: Details or DetailsDocument is required."
            )));
        }
        (Some(text), None) => {
            if text.len() < 2 || text.len() > 16_384 {
                return Err(CatalogError::validation(format!(
                    "{field}.Details must be between 2 and 16384 characters."
                )));
            }
            serde_json::from_str::<Value>(text).map_err(|_| {
                CatalogError::validation(format!("{field}.Details must be a valid JSON object."))
            })?
        }
        (None, Some(doc)) => doc.clone(),
    };
    if !document.is_object() {
        return Err(CatalogError::validation(format!(
            "{field}: the change details must be a JSON object."
        )));
    }

    let known = match entity_type.as_str() {
        OFFER => {
            OFFER_CREATE_TYPES.contains(&change_type.as_str())
                || OFFER_UPDATE_TYPES.contains(&change_type.as_str())
        }
        RESALE => {
            change_type == "CreateResaleAuthorization"
                || RESALE_UPDATE_TYPES.contains(&change_type.as_str())
        }
        _ => false,
    };
    if !known {
        return Err(CatalogError::validation(format!(
            "{field}: change type {change_type} is not supported for entity type {entity_type}."
        )));
    }
    let create = is_create(&entity_type, &change_type);
    if create && identifier.is_some() {
        return Err(CatalogError::validation(format!(
            "{field}: {change_type} must not have an Entity.Identifier."
        )));
    }
    if !create && identifier.is_none() {
        return Err(CatalogError::validation(format!(
            "{field}: Entity.Identifier is required for {change_type}."
        )));
    }
    if let Some(id) = &identifier
        && !id.starts_with('$')
        && !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '@')
    {
        return Err(CatalogError::validation(format!(
            "{field}.Entity.Identifier has an invalid format."
        )));
    }

    let doc = object(&document, &format!("{field}.DetailsDocument"))?;
    let doc_field = format!("{field}.DetailsDocument");
    match entity_type.as_str() {
        OFFER => super::details::offer_details(&change_type, doc, &doc_field)?,
        _ => super::details::resale_details(&change_type, doc, &doc_field)?,
    }

    Ok(Change {
        change_type,
        entity_type,
        resolved_identifier: identifier.clone(),
        identifier,
        change_name,
        details,
        details_document,
        document,
        entity_tags,
        errors: Vec::new(),
    })
}

/// `$ChangeName.Entity.Identifier` must name an earlier create change.
fn check_references(changes: &[Change]) -> CatalogResult<()> {
    for (index, change) in changes.iter().enumerate() {
        let Some(id) = change.identifier.as_deref() else {
            continue;
        };
        if !id.starts_with('$') {
            continue;
        }
        let Some(name) = id
            .strip_prefix('$')
            .and_then(|r| r.strip_suffix(".Entity.Identifier"))
        else {
            return Err(CatalogError::validation(format!(
                "ChangeSet[{index}].Entity.Identifier: references must have the form $ChangeName.Entity.Identifier."
            )));
        };
        let target = changes[..index]
            .iter()
            .find(|c| c.change_name.as_deref() == Some(name));
        match target {
            Some(t)
                if is_create(&t.entity_type, &t.change_type)
                    && t.entity_type == change.entity_type => {}
            Some(_) => {
                return Err(CatalogError::validation(format!(
                    "ChangeSet[{index}]: ${name} does not create an entity of type {}.",
                    change.entity_type
                )));
            }
            None => {
                return Err(CatalogError::validation(format!(
                    "ChangeSet[{index}]: no earlier change is named {name}."
                )));
            }
        }
    }
    let mut names: Vec<&str> = Vec::new();
    for change in changes {
        if let Some(n) = change.change_name.as_deref() {
            if names.contains(&n) {
                return Err(CatalogError::validation(format!(
                    "ChangeName {n} is used more than once."
                )));
            }
            names.push(n);
        }
    }
    Ok(())
}

/// The same ChangeType can't be applied to the same entity twice in one change set.
fn check_duplicates(changes: &[Change]) -> CatalogResult<()> {
    for (i, a) in changes.iter().enumerate() {
        let Some(id) = a.identifier.as_deref() else {
            continue;
        };
        if changes[..i]
            .iter()
            .any(|b| b.change_type == a.change_type && b.identifier.as_deref() == Some(id))
        {
            return Err(CatalogError::validation(format!(
                "Change type {} can't be applied more than once to entity {id} in the same change set.",
                a.change_type
            )));
        }
    }
    Ok(())
}
