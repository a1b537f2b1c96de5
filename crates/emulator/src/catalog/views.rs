//! DescribeChangeSet and ListChangeSets responses.

use serde_json::{Map, Value, json};

use super::change_set::Account;
use super::error::{CatalogError, CatalogResult};
use super::members::{object, opt_array, opt_int, opt_str, req_str, string_list};
use super::model::{Change, ChangeSet};
use crate::World;
use crate::support::format::{iso_seconds, parse_datetime};

fn change_summary(change: &Change) -> Value {
    let mut out = Map::new();
    out.insert("ChangeType".into(), json!(change.change_type));
    let mut entity = json!({ "Type": change.entity_type });
    if let Some(id) = change
        .resolved_identifier
        .as_ref()
        .or(change.identifier.as_ref())
    {
        entity["Identifier"] = json!(id);
    }
    out.insert("Entity".into(), entity);
    if let Some(d) = &change.details {
        out.insert("Details".into(), json!(d));
    }
    if let Some(d) = &change.details_document {
        out.insert("DetailsDocument".into(), d.clone());
    }
    if let Some(n) = &change.change_name {
        out.insert("ChangeName".into(), json!(n));
    }
    let errors: Vec<Value> = change
        .errors
        .iter()
        .map(|e| json!({ "ErrorCode": e.code, "ErrorMessage": e.message }))
        .collect();
    out.insert("ErrorDetailList".into(), json!(errors));
    Value::Object(out)
}

/// DescribeChangeSet.
pub fn describe(change_set: &ChangeSet, account: &Account) -> Value {
    let mut out = json!({
        "ChangeSetId": change_set.id,
        "ChangeSetArn": account.arn("ChangeSet", &change_set.id),
        "ChangeSetName": change_set.name,
        "Intent": change_set.intent,
        "StartTime": iso_seconds(change_set.start_time),
        "Status": change_set.status.as_str(),
        "ChangeSet": change_set.changes.iter().map(change_summary).collect::<Vec<_>>(),
    });
    if let Some(end) = change_set.end_time {
        out["EndTime"] = json!(iso_seconds(end));
    }
    if let Some(code) = &change_set.failure_code {
        out["FailureCode"] = json!(code);
    }
    if let Some(d) = &change_set.failure_description {
        out["FailureDescription"] = json!(d);
    }
    out
}

/// ListChangeSets.
pub fn list(world: &World, account: &Account, body: &Value) -> CatalogResult<Value> {
    let map = object(body, "request")?;
    super::validate::catalog(opt_str(map, "Catalog", "ListChangeSetsRequest")?)?;
    let max = opt_int(map, "MaxResults", "ListChangeSetsRequest")?.unwrap_or(20);
    if !(1..=20).contains(&max) {
        return Err(CatalogError::validation(
            "MaxResults must be between 1 and 20.",
        ));
    }
    let mut filters: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(list) = opt_array(map, "FilterList", "ListChangeSetsRequest")? {
        if list.is_empty() || list.len() > 8 {
            return Err(CatalogError::validation(
                "FilterList must contain between 1 and 8 filters.",
            ));
        }
        for f in list {
            let f = object(f, "FilterList")?;
            let name = req_str(f, "Name", "FilterList")?;
            const NAMES: &[&str] = &[
                "ChangeSetName",
                "Status",
                "EntityId",
                "BeforeStartTime",
                "AfterStartTime",
                "BeforeEndTime",
                "AfterEndTime",
            ];
            if !NAMES.contains(&name) {
                return Err(CatalogError::validation(format!(
                    "Filter name {name} is not supported."
                )));
            }
            let values = string_list(
                super::members::req_array(f, "ValueList", "FilterList")?,
                "FilterList.ValueList",
            )?;
            if values.is_empty() || values.len() > 10 {
                return Err(CatalogError::validation(
                    "ValueList must contain between 1 and 10 values.",
                ));
            }
            if name.contains("Time") && values.iter().any(|v| parse_datetime(v).is_none()) {
                return Err(CatalogError::validation(format!(
                    "{name} values must be YYYY-MM-DDTHH:MM:SSZ."
                )));
            }
            filters.push((name.to_owned(), values));
        }
    }
    let (sort_by, descending) = match map.get("Sort") {
        None => ("StartTime".to_owned(), true),
        Some(sort) => {
            let sort = object(sort, "Sort")?;
            let by = opt_str(sort, "SortBy", "Sort")?.unwrap_or("StartTime");
            if by != "StartTime" && by != "EndTime" {
                return Err(CatalogError::validation(
                    "SortBy must be StartTime or EndTime.",
                ));
            }
            let descending = match opt_str(sort, "SortOrder", "Sort")? {
                None | Some("DESCENDING") => true,
                Some("ASCENDING") => false,
                Some(_) => {
                    return Err(CatalogError::validation(
                        "SortOrder must be ASCENDING or DESCENDING.",
                    ));
                }
            };
            (by.to_owned(), descending)
        }
    };
    let mut sets: Vec<&ChangeSet> = world
        .catalog
        .change_sets
        .values()
        .filter(|c| matches(c, &filters))
        .collect();
    sets.sort_by_key(|c| {
        (
            if sort_by == "EndTime" {
                c.end_time
            } else {
                Some(c.start_time)
            },
            c.id.clone(),
        )
    });
    if descending {
        sets.reverse();
    }
    let start = super::paging::start(map, "ListChangeSetsRequest")?;
    let limit = usize::try_from(max).unwrap_or(20);
    let page: Vec<Value> = sets
        .iter()
        .skip(start)
        .take(limit)
        .map(|c| {
            let mut item = json!({
                "ChangeSetId": c.id,
                "ChangeSetArn": account.arn("ChangeSet", &c.id),
                "ChangeSetName": c.name,
                "StartTime": iso_seconds(c.start_time),
                "Status": c.status.as_str(),
                "EntityIdList": c.entity_ids(),
            });
            if let Some(end) = c.end_time {
                item["EndTime"] = json!(iso_seconds(end));
            }
            if let Some(code) = &c.failure_code {
                item["FailureCode"] = json!(code);
            }
            item
        })
        .collect();
    let next = (start.saturating_add(limit) < sets.len())
        .then(|| super::paging::token(start.saturating_add(limit)));
    Ok(json!({ "ChangeSetSummaryList": page, "NextToken": next }))
}

fn matches(c: &ChangeSet, filters: &[(String, Vec<String>)]) -> bool {
    filters.iter().all(|(name, values)| {
        let times = || values.iter().filter_map(|v| parse_datetime(v));
        match name.as_str() {
            "ChangeSetName" => values.contains(&c.name),
            "Status" => values.iter().any(|v| v == c.status.as_str()),
            "EntityId" => c.entity_ids().iter().any(|id| values.contains(id)),
            "BeforeStartTime" => times().any(|t| c.start_time <= t),
            "AfterStartTime" => times().any(|t| c.start_time >= t),
            "BeforeEndTime" => c.end_time.is_some_and(|e| times().any(|t| e <= t)),
            "AfterEndTime" => c.end_time.is_some_and(|e| times().any(|t| e >= t)),
            _ => true,
        }
    })
}
