//! Plain accessors on `serde_json` values, shared by every service.

use serde_json::Value;

/// Whether `value` contains none of `\ < >`.
pub fn safe_text(value: &str) -> bool {
    !value.contains(['\\', '<', '>'])
}

/// The string at `key` in `value`, if present.
pub fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The elements of the array at `key` in `value` (none when absent or not an array).
pub fn items_at<'a>(value: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `value` with its top-level `null` members removed (AWS omits unset members).
pub fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.into_iter().filter(|(_, v)| !v.is_null()).collect())
        }
        other => other,
    }
}
