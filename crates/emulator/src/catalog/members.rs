//! Typed reads of Catalog request members, failing with `ValidationException` messages that
//! name the offending field. (Plain JSON accessors live in [`crate::support::json`].)

use serde_json::{Map, Value};

pub use crate::support::json::{items_at, safe_text, str_at, without_nulls};

use super::error::{CatalogError, CatalogResult};

/// Reads a JSON object as the member of `field`.
pub fn object<'a>(value: &'a Value, field: &str) -> CatalogResult<&'a Map<String, Value>> {
    value
        .as_object()
        .ok_or_else(|| CatalogError::validation(format!("{field} must be a JSON object.")))
}

/// An optional string member.
pub fn opt_str<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> CatalogResult<Option<&'a str>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(_) => Err(CatalogError::validation(format!(
            "{field}.{key} must be a string."
        ))),
    }
}

/// A required string member.
pub fn req_str<'a>(map: &'a Map<String, Value>, key: &str, field: &str) -> CatalogResult<&'a str> {
    opt_str(map, key, field)?
        .ok_or_else(|| CatalogError::validation(format!("{field}.{key} is required.")))
}

/// A required string member with a length range.
pub fn req_len<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    field: &str,
    min: usize,
    max: usize,
) -> CatalogResult<&'a str> {
    let value = req_str(map, key, field)?;
    check_len(value, key, field, min, max)?;
    Ok(value)
}

/// An optional string member with a length range.
pub fn opt_len<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    field: &str,
    min: usize,
    max: usize,
) -> CatalogResult<Option<&'a str>> {
    let value = opt_str(map, key, field)?;
    if let Some(v) = value {
        check_len(v, key, field, min, max)?;
    }
    Ok(value)
}

fn check_len(value: &str, key: &str, field: &str, min: usize, max: usize) -> CatalogResult<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(CatalogError::validation(format!(
            "{field}.{key} must be between {min} and {max} characters long."
        )));
    }
    Ok(())
}

/// An optional array member.
pub fn opt_array<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> CatalogResult<Option<&'a Vec<Value>>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => Ok(Some(items)),
        Some(_) => Err(CatalogError::validation(format!(
            "{field}.{key} must be a list."
        ))),
    }
}

/// A required array member.
pub fn req_array<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> CatalogResult<&'a Vec<Value>> {
    opt_array(map, key, field)?
        .ok_or_else(|| CatalogError::validation(format!("{field}.{key} is required.")))
}

/// A list of strings.
pub fn string_list(items: &[Value], field: &str) -> CatalogResult<Vec<String>> {
    items
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| CatalogError::validation(format!("{field} must be a list of strings.")))
}

/// An optional integer member.
pub fn opt_int(map: &Map<String, Value>, key: &str, field: &str) -> CatalogResult<Option<i64>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| CatalogError::validation(format!("{field}.{key} must be an integer."))),
    }
}
