//! Usage allocations and tags (`InvalidTagException`, `InvalidUsageAllocationsException`).

use std::collections::BTreeSet;

use super::ledger::Allocation;
#[cfg(test)]
use super::ledger::Tag;

use super::quantity::{self, Quantity};
use crate::wire::ApiError;

fn tag_text_ok(text: &str, max: usize) -> bool {
    !text.is_empty()
        && text.chars().count() <= max
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+ -=._:/@".contains(c))
}

fn invalid_tag(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidTagException", message)
}

fn invalid_allocations(message: impl Into<String>) -> ApiError {
    ApiError::client("InvalidUsageAllocationsException", message)
}

/// Validates allocations against a record's whole-unit quantity (the unit tests' shorthand).
#[cfg(test)]
pub fn validate(
    allocations: Option<&[Allocation]>,
    quantity: i64,
    member: &str,
) -> Result<(), ApiError> {
    validate_quantity(allocations, Quantity::units(quantity), member)
}

/// Validates allocations against the record's quantity (same kind, integer or decimal; exact
/// sum).
pub fn validate_quantity(
    allocations: Option<&[Allocation]>,
    quantity: Quantity,
    member: &str,
) -> Result<(), ApiError> {
    let Some(allocations) = allocations else {
        return Ok(());
    };
    if allocations.is_empty() || allocations.len() > 2500 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length between 1 and 2500"
        )));
    }
    let mut total: i64 = 0;
    let mut tag_sets = BTreeSet::new();
    for allocation in allocations {
        let integer_member = format!("{member}.member.allocatedUsageQuantity");
        let decimal_member = format!("{member}.member.allocatedUsageQuantityAsDecimal");
        let allocated = match (
            allocation.allocated_usage_quantity,
            allocation.allocated_usage_quantity_as_decimal.as_deref(),
        ) {
            (None, None) => {
                super::required(None::<i64>, &integer_member)?;
                Quantity::units(0)
            }
            (integer, decimal) => {
                quantity::resolve(integer, decimal, &integer_member, &decimal_member)?
            }
        };
        if allocated.decimal != quantity.decimal {
            return Err(invalid_allocations(if quantity.decimal {
                "A usage record with a decimal quantity must allocate it with AllocatedUsageQuantityAsDecimal"
            } else {
                "A usage record with an integer quantity must allocate it with AllocatedUsageQuantity"
            }));
        }
        total = total.saturating_add(allocated.micros);
        let tags = allocation.tags.as_deref().unwrap_or_default();
        if allocation.tags.is_some() && tags.is_empty() {
            return Err(invalid_tag("Tags must contain between 1 and 5 tags"));
        }
        if tags.len() > 5 {
            return Err(invalid_tag(format!(
                "An allocation has {} tags; at most 5 are allowed",
                tags.len()
            )));
        }
        let mut keys = BTreeSet::new();
        let mut set = Vec::new();
        for tag in tags {
            let (Some(key), Some(value)) = (tag.key.as_deref(), tag.value.as_deref()) else {
                return Err(invalid_tag("Every tag needs a Key and a Value"));
            };
            if !tag_text_ok(key, 100) || !tag_text_ok(value, 256) {
                return Err(invalid_tag(format!("Tag {key}={value} is not valid")));
            }
            if !keys.insert(key) {
                return Err(invalid_tag(format!(
                    "Tag key {key} appears twice in one allocation"
                )));
            }
            set.push((key, value));
        }
        set.sort_unstable();
        if !tag_sets.insert(set) {
            return Err(invalid_allocations(
                "Each usage allocation must have a unique set of tags",
            ));
        }
    }
    if total != quantity.micros {
        return Err(invalid_allocations(format!(
            "The sum of the allocated quantities ({}) does not equal the usage quantity ({})",
            quantity::format_micros(total),
            quantity::format_micros(quantity.micros)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(q: i64, tags: &[(&str, &str)]) -> Allocation {
        Allocation {
            allocated_usage_quantity: Some(q),
            allocated_usage_quantity_as_decimal: None,
            tags: (!tags.is_empty()).then(|| {
                tags.iter()
                    .map(|(k, v)| Tag {
                        key: Some((*k).into()),
                        value: Some((*v).into()),
                    })
                    .collect()
            }),
        }
    }

    fn code(result: Result<(), ApiError>) -> Option<String> {
        result.err().map(|e| e.code)
    }

    #[test]
    fn rules() {
        assert_eq!(
            code(validate(
                Some(&[alloc(2, &[("a", "1")]), alloc(1, &[])]),
                3,
                "x"
            )),
            None
        );
        assert_eq!(
            code(validate(Some(&[alloc(2, &[])]), 3, "x")).as_deref(),
            Some("InvalidUsageAllocationsException")
        );
        assert_eq!(
            code(validate(Some(&[alloc(1, &[]), alloc(2, &[])]), 3, "x")).as_deref(),
            Some("InvalidUsageAllocationsException")
        );
        let six = [
            ("a", "1"),
            ("b", "1"),
            ("c", "1"),
            ("d", "1"),
            ("e", "1"),
            ("f", "1"),
        ];
        assert_eq!(
            code(validate(Some(&[alloc(3, &six)]), 3, "x")).as_deref(),
            Some("InvalidTagException")
        );
        assert_eq!(
            code(validate(Some(&[alloc(3, &[("bad!", "1")])]), 3, "x")).as_deref(),
            Some("InvalidTagException")
        );
        assert_eq!(
            code(validate(Some(&[]), 0, "x")).as_deref(),
            Some("ValidationException")
        );
    }
}
