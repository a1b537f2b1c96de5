//! Entities: DescribeEntity, ListEntities (legacy FilterList, OfferFilters and
//! ResaleAuthorizationFilters, sorting, MaxResults/NextToken) and BatchDescribeEntities.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::change_set::{Account, entity_id};
use super::error::{CatalogError, CatalogResult};
use super::members::{object, opt_array, opt_int, opt_str, req_str, str_at, string_list};
use super::model::{CatalogProduct, OfferState};
use super::{offer, resale};
use crate::World;
use crate::at::At;
use crate::support::format::{end_of, iso_seconds, parse_datetime};

/// One entity, flattened for description and listing.
#[derive(Debug, Clone)]
pub struct EntityView {
    /// `Offer@1.0`, `SaaSProduct@1.0`...
    pub entity_type: String,
    /// The id.
    pub id: String,
    /// The revision.
    pub revision: u32,
    /// `Name` / product title.
    pub name: String,
    /// `LastModifiedDate`.
    pub last_modified: At,
    /// `Visibility`.
    pub visibility: String,
    /// `DetailsDocument`.
    pub details: Value,
    /// The `*Summary` member name and value for ListEntities.
    pub summary: (String, Value),
    /// Sort/filter attributes (`ProductId`, `State`, ...), as strings.
    pub attributes: BTreeMap<String, String>,
}

fn kind(entity_type: &str) -> &str {
    entity_type.split('@').next().unwrap_or(entity_type)
}

/// Every entity of the catalog.
pub fn all(world: &World, products: &BTreeMap<String, CatalogProduct>) -> Vec<EntityView> {
    let mut out = Vec::new();
    for p in products.values() {
        out.push(product_view(p));
    }
    for o in world.catalog.offers.values() {
        let details = offer::details_document(o);
        let state = if o.state == OfferState::Released {
            "Released"
        } else {
            "Draft"
        };
        let mut targeting = Vec::new();
        if !o.targeting.buyer_accounts.is_empty() {
            targeting.push("BuyerAccounts");
        }
        if !o.targeting.country_codes.is_empty() || !o.targeting.negative_country_codes.is_empty() {
            targeting.push("CountryCodes");
        }
        if targeting.is_empty() {
            targeting.push("None");
        }
        let summary = json!({
            "Name": o.name,
            "ProductId": o.product_id,
            "ResaleAuthorizationId": o.resale_authorization_id,
            "ReleaseDate": o.release_date.map(iso_seconds),
            "AvailabilityEndDate": o.availability_end_date.map(|d| iso_seconds(end_of(d))),
            "BuyerAccounts": o.targeting.buyer_accounts,
            "State": state,
            "Targeting": targeting,
            "OfferSetId": o.offer_set_id,
        });
        let mut attributes = BTreeMap::new();
        attributes.insert("EntityId".to_owned(), o.id.clone());
        attributes.insert("Name".to_owned(), o.name.clone().unwrap_or_default());
        attributes.insert("ProductId".to_owned(), o.product_id.clone());
        attributes.insert(
            "ResaleAuthorizationId".to_owned(),
            o.resale_authorization_id.clone().unwrap_or_default(),
        );
        attributes.insert(
            "ReleaseDate".to_owned(),
            o.release_date.map(iso_seconds).unwrap_or_default(),
        );
        attributes.insert(
            "AvailabilityEndDate".to_owned(),
            o.availability_end_date
                .map(|d| iso_seconds(end_of(d)))
                .unwrap_or_default(),
        );
        attributes.insert(
            "BuyerAccounts".to_owned(),
            o.targeting.buyer_accounts.join(","),
        );
        attributes.insert("State".to_owned(), state.to_owned());
        attributes.insert("Targeting".to_owned(), targeting.join(","));
        attributes.insert(
            "OfferSetId".to_owned(),
            o.offer_set_id.clone().unwrap_or_default(),
        );
        attributes.insert("LastModifiedDate".to_owned(), iso_seconds(o.last_modified));
        out.push(EntityView {
            entity_type: "Offer@1.0".to_owned(),
            id: o.id.clone(),
            revision: o.revision,
            name: o.name.clone().unwrap_or_default(),
            last_modified: o.last_modified,
            visibility: if o.state == OfferState::Released {
                "Public".to_owned()
            } else {
                "Draft".to_owned()
            },
            details,
            summary: ("OfferSummary".to_owned(), summary),
            attributes,
        });
    }
    for ra in world.catalog.resale_authorizations.values() {
        let product_name = products
            .get(&ra.product_id)
            .map(|p| p.title.clone())
            .unwrap_or_default();
        let status = resale::status_str(ra.status);
        let summary = json!({
            "Name": ra.name,
            "ProductId": ra.product_id,
            "ProductName": product_name,
            "ManufacturerAccountId": ra.manufacturer_account_id,
            "ManufacturerLegalName": "Souk Emulated Seller",
            "ResellerAccountID": ra.reseller_account_id,
            "ResellerLegalName": "Souk Emulated Reseller",
            "Status": status,
            "OfferExtendedStatus": status,
            "CreatedDate": iso_seconds(ra.created),
            "AvailabilityEndDate": ra.availability_end_date.map(|d| iso_seconds(end_of(d))),
        });
        let mut attributes = BTreeMap::new();
        attributes.insert("EntityId".to_owned(), ra.id.clone());
        attributes.insert("Name".to_owned(), ra.name.clone());
        attributes.insert("ProductId".to_owned(), ra.product_id.clone());
        attributes.insert("ProductName".to_owned(), product_name);
        attributes.insert(
            "ManufacturerAccountId".to_owned(),
            ra.manufacturer_account_id.clone(),
        );
        attributes.insert(
            "ResellerAccountID".to_owned(),
            ra.reseller_account_id.clone(),
        );
        attributes.insert("Status".to_owned(), status.to_owned());
        attributes.insert("CreatedDate".to_owned(), iso_seconds(ra.created));
        attributes.insert("LastModifiedDate".to_owned(), iso_seconds(ra.last_modified));
        out.push(EntityView {
            entity_type: "ResaleAuthorization@1.0".to_owned(),
            id: ra.id.clone(),
            revision: ra.revision,
            name: ra.name.clone(),
            last_modified: ra.last_modified,
            visibility: status.to_owned(),
            details: resale::details_document(ra),
            summary: ("ResaleAuthorizationSummary".to_owned(), summary),
            attributes,
        });
    }
    out
}

fn product_view(p: &CatalogProduct) -> EntityView {
    let kind_name = kind(&p.entity_type).to_owned();
    let details = json!({
        "ProductId": p.id,
        "ProductCode": p.product_code,
        "Description": { "ProductTitle": p.title, "Visibility": p.visibility },
        "Dimensions": p.dimensions,
    });
    let summary = json!({ "ProductTitle": p.title, "Visibility": p.visibility });
    let mut attributes = BTreeMap::new();
    attributes.insert("EntityId".to_owned(), p.id.clone());
    attributes.insert("ProductTitle".to_owned(), p.title.clone());
    attributes.insert("Visibility".to_owned(), p.visibility.clone());
    attributes.insert("LastModifiedDate".to_owned(), iso_seconds(p.last_modified));
    let summary_key = match kind_name.as_str() {
        "SaaSProduct"
        | "AmiProduct"
        | "ContainerProduct"
        | "DataProduct"
        | "MachineLearningProduct" => format!("{kind_name}Summary"),
        _ => String::new(),
    };
    EntityView {
        entity_type: p.entity_type.clone(),
        id: p.id.clone(),
        revision: 1,
        name: p.title.clone(),
        last_modified: p.last_modified,
        visibility: p.visibility.clone(),
        details,
        summary: (summary_key, summary),
        attributes,
    }
}

/// DescribeEntity.
pub fn describe(world: &World, account: &Account, entity_id_raw: &str) -> CatalogResult<Value> {
    let products = super::products::directory(world, &account.seller_account_id);
    let id = entity_id(entity_id_raw);
    if world.catalog.change_sets.contains_key(id) {
        return Err(CatalogError::NotSupported(format!(
            "{id} is a change set, not an entity; use DescribeChangeSet."
        )));
    }
    let Some(view) = all(world, &products).into_iter().find(|v| v.id == id) else {
        return Err(CatalogError::NotFound(format!("Entity {id} not found.")));
    };
    Ok(describe_view(&view, account))
}

fn describe_view(view: &EntityView, account: &Account) -> Value {
    json!({
        "EntityType": view.entity_type,
        "EntityIdentifier": format!("{}@{}", view.id, view.revision),
        "EntityArn": account.arn(kind(&view.entity_type), &view.id),
        "LastModifiedDate": iso_seconds(view.last_modified),
        "Details": view.details.to_string(),
        "DetailsDocument": view.details,
    })
}

/// BatchDescribeEntities.
pub fn batch_describe(world: &World, account: &Account, body: &Value) -> CatalogResult<Value> {
    let map = object(body, "request")?;
    let requests =
        super::members::req_array(map, "EntityRequestList", "BatchDescribeEntitiesRequest")?;
    if requests.is_empty() || requests.len() > 20 {
        return Err(CatalogError::validation(
            "EntityRequestList must contain between 1 and 20 entries.",
        ));
    }
    let products = super::products::directory(world, &account.seller_account_id);
    let views = all(world, &products);
    let mut details = Map::new();
    let mut errors = Map::new();
    for request in requests {
        let request = object(request, "EntityRequestList")?;
        let catalog = req_str(request, "Catalog", "EntityRequestList")?;
        let id = req_str(request, "EntityId", "EntityRequestList")?;
        if catalog != "AWSMarketplace" {
            errors.insert(id.to_owned(), json!({ "ErrorCode": "ValidationException", "ErrorMessage": "Catalog must be AWSMarketplace." }));
            continue;
        }
        match views.iter().find(|v| v.id == entity_id(id)) {
            Some(view) => {
                let mut d = describe_view(view, account);
                if let Some(obj) = d.as_object_mut() {
                    obj.remove("Details");
                }
                details.insert(id.to_owned(), d);
            }
            None => {
                errors.insert(
                    id.to_owned(),
                    json!({ "ErrorCode": "ResourceNotFoundException", "ErrorMessage": format!("Entity {id} not found.") }),
                );
            }
        }
    }
    Ok(json!({ "EntityDetails": details, "Errors": errors }))
}

/// A filter predicate over one attribute.
#[derive(Debug)]
enum Predicate {
    OneOf(Vec<String>),
    Wildcard(String),
    Range {
        after: Option<At>,
        before: Option<At>,
    },
}

impl Predicate {
    fn matches(&self, value: &str) -> bool {
        match self {
            Self::OneOf(values) => {
                let parts: Vec<&str> = value.split(',').collect();
                values
                    .iter()
                    .any(|v| parts.contains(&v.as_str()) || v == value)
            }
            Self::Wildcard(w) => value
                .to_lowercase()
                .contains(&w.trim_matches('*').to_lowercase()),
            Self::Range { after, before } => {
                let Some(at) = parse_datetime(value) else {
                    return false;
                };
                after.is_none_or(|a| at >= a) && before.is_none_or(|b| at <= b)
            }
        }
    }
}

fn typed_filters(
    filters: &Map<String, Value>,
    field: &str,
) -> CatalogResult<Vec<(String, Predicate)>> {
    let mut out = Vec::new();
    for (name, spec) in filters {
        let spec_map = object(spec, &format!("{field}.{name}"))?;
        if let Some(values) = opt_array(spec_map, "ValueList", field)? {
            out.push((
                name.clone(),
                Predicate::OneOf(string_list(values, &format!("{field}.{name}.ValueList"))?),
            ));
        } else if let Some(w) = opt_str(spec_map, "WildCardValue", field)? {
            out.push((name.clone(), Predicate::Wildcard(w.to_owned())));
        } else if let Some(range) = spec_map.get("DateRange") {
            let range = object(range, &format!("{field}.{name}.DateRange"))?;
            let parse = |k: &str| -> CatalogResult<Option<At>> {
                match opt_str(range, k, field)? {
                    None => Ok(None),
                    Some(v) => parse_datetime(v).map(Some).ok_or_else(|| {
                        CatalogError::validation(format!(
                            "{field}.{name}.DateRange.{k} must be YYYY-MM-DDTHH:MM:SSZ."
                        ))
                    }),
                }
            };
            out.push((
                name.clone(),
                Predicate::Range {
                    after: parse("AfterValue")?,
                    before: parse("BeforeValue")?,
                },
            ));
        } else {
            return Err(CatalogError::validation(format!(
                "{field}.{name} needs a ValueList, WildCardValue or DateRange."
            )));
        }
    }
    Ok(out)
}

/// ListEntities.
pub fn list(world: &World, account: &Account, body: &Value) -> CatalogResult<Value> {
    let map = object(body, "request")?;
    let catalog = opt_str(map, "Catalog", "ListEntitiesRequest")?;
    // A well-formed name of a catalog that does not exist is a missing resource (the model's
    // ResourceNotFoundException for ListEntities); a malformed one stays a validation error.
    if let Some(name) = catalog
        && name != "AWSMarketplace"
        && (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return Err(CatalogError::NotFound(format!(
            "Catalog {name} does not exist."
        )));
    }
    super::validate::catalog(catalog)?;
    let entity_kind = req_str(map, "EntityType", "ListEntitiesRequest")?;
    let max = opt_int(map, "MaxResults", "ListEntitiesRequest")?.unwrap_or(20);
    if !(1..=50).contains(&max) {
        return Err(CatalogError::validation(
            "MaxResults must be between 1 and 50.",
        ));
    }
    let ownership = opt_str(map, "OwnershipType", "ListEntitiesRequest")?.unwrap_or("SELF");
    if ownership != "SELF" && ownership != "SHARED" {
        return Err(CatalogError::validation(
            "OwnershipType must be SELF or SHARED.",
        ));
    }
    let mut predicates: Vec<(String, Predicate)> = Vec::new();
    if let Some(filters) = opt_array(map, "FilterList", "ListEntitiesRequest")? {
        for f in filters {
            let f = object(f, "FilterList")?;
            let name = req_str(f, "Name", "FilterList")?;
            let values = string_list(
                super::members::req_array(f, "ValueList", "FilterList")?,
                "FilterList.ValueList",
            )?;
            predicates.push((name.to_owned(), Predicate::OneOf(values)));
        }
    }
    if let Some(type_filters) = map.get("EntityTypeFilters") {
        let type_filters = object(type_filters, "EntityTypeFilters")?;
        if type_filters.len() != 1 {
            return Err(CatalogError::validation(
                "EntityTypeFilters must set exactly one member.",
            ));
        }
        for (member, filters) in type_filters {
            let expected = member.trim_end_matches("Filters");
            if expected != entity_kind {
                return Err(CatalogError::validation(format!(
                    "{member} can't be used with EntityType {entity_kind}."
                )));
            }
            predicates.extend(typed_filters(object(filters, member)?, member)?);
        }
    }
    let mut sort_by = "LastModifiedDate".to_owned();
    let mut descending = true;
    let mut sort_spec = map.get("Sort").cloned();
    if let Some(type_sort) = map.get("EntityTypeSort") {
        let type_sort = object(type_sort, "EntityTypeSort")?;
        sort_spec = type_sort.values().next().cloned();
    }
    if let Some(sort) = sort_spec {
        let sort = object(&sort, "Sort")?;
        if let Some(by) = opt_str(sort, "SortBy", "Sort")? {
            sort_by = by.to_owned();
        }
        match opt_str(sort, "SortOrder", "Sort")? {
            None | Some("DESCENDING") => {}
            Some("ASCENDING") => descending = false,
            Some(_) => {
                return Err(CatalogError::validation(
                    "SortOrder must be ASCENDING or DESCENDING.",
                ));
            }
        }
    }
    let products = super::products::directory(world, &account.seller_account_id);
    let mut views: Vec<EntityView> = all(world, &products)
        .into_iter()
        .filter(|v| kind(&v.entity_type) == entity_kind)
        .filter(|v| {
            predicates.iter().all(|(name, p)| {
                let value = v.attributes.get(name).cloned().unwrap_or_default();
                p.matches(&value)
            })
        })
        .collect();
    views.sort_by(|a, b| {
        let ka = a.attributes.get(&sort_by).cloned().unwrap_or_default();
        let kb = b.attributes.get(&sort_by).cloned().unwrap_or_default();
        ka.cmp(&kb).then_with(|| a.id.cmp(&b.id))
    });
    if descending {
        views.reverse();
    }
    let start = super::paging::start(map, "ListEntitiesRequest")?;
    let limit = usize::try_from(max).unwrap_or(20);
    let page: Vec<Value> = views.iter().skip(start).take(limit).map(summary).collect();
    let next = (start.saturating_add(limit) < views.len())
        .then(|| super::paging::token(start.saturating_add(limit)));
    Ok(json!({ "EntitySummaryList": page, "NextToken": next }))
}

fn summary(view: &EntityView) -> Value {
    let mut out = json!({
        "Name": view.name,
        "EntityType": kind(&view.entity_type),
        "EntityId": view.id,
        "EntityArn": Value::Null,
        "LastModifiedDate": iso_seconds(view.last_modified),
        "Visibility": view.visibility,
    });
    if !view.summary.0.is_empty() {
        out[view.summary.0.as_str()] = view.summary.1.clone();
    }
    out
}

/// Fills in `EntityArn` (needs the account).
pub fn with_arns(mut listing: Value, account: &Account) -> Value {
    if let Some(items) = listing
        .get_mut("EntitySummaryList")
        .and_then(Value::as_array_mut)
    {
        for item in items {
            let kind = str_at(item, "EntityType").unwrap_or_default().to_owned();
            let id = str_at(item, "EntityId").unwrap_or_default().to_owned();
            item["EntityArn"] = json!(account.arn(&kind, &id));
        }
    }
    listing
}
