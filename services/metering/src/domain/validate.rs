//! Checks of usage events that need nothing but the event: keys, quantities, tags.

use std::collections::HashSet;

use super::model::{Allocation, MAX_QUANTITY, Tag};

/// Longest dimension or customer reference accepted.
pub const MAX_REFERENCE_LEN: usize = 256;
/// Tags per allocation (AWS).
pub const MAX_TAGS: usize = 5;

/// A quantity of an event or allocation.
pub fn quantity(quantity: i64) -> Result<(), String> {
    if quantity < 0 {
        Err(format!("must not be negative (got {quantity})"))
    } else if quantity > MAX_QUANTITY {
        Err(format!("must be at most {MAX_QUANTITY} (got {quantity})"))
    } else {
        Ok(())
    }
}

/// An event's idempotency key: 1 to 128 printable ASCII characters.
pub fn event_key(key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err("is required".into());
    }
    souk_core::validate::idempotency_key(key)
}

/// A required reference (customer, dimension).
pub fn reference(raw: &str) -> Result<(), String> {
    if raw.is_empty() {
        Err("is required".into())
    } else if raw.len() > MAX_REFERENCE_LEN {
        Err(format!("must be at most {MAX_REFERENCE_LEN} characters"))
    } else {
        Ok(())
    }
}

fn tag_text(raw: &str, max: usize) -> bool {
    !raw.is_empty()
        && raw.chars().count() <= max
        && raw
            .chars()
            .all(|c| c.is_alphanumeric() || " _.:/=+-@".contains(c))
}

/// The allocations of an event of `quantity`: each valid, tag sets distinct, summing up to the
/// quantity. Returns every problem as (field suffix, reason).
pub fn allocations(allocations: &[Allocation], quantity: i64) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut sets: HashSet<Vec<Tag>> = HashSet::new();
    let mut total: i64 = 0;
    for (i, allocation) in allocations.iter().enumerate() {
        if let Err(reason) = self::quantity(allocation.quantity) {
            problems.push((format!("allocations[{i}].quantity"), reason));
        }
        total = total.saturating_add(allocation.quantity.max(0));
        if allocation.tags.len() > MAX_TAGS {
            problems.push((
                format!("allocations[{i}].tags"),
                format!("must hold at most {MAX_TAGS} tags"),
            ));
        }
        let mut keys = HashSet::new();
        for (j, tag) in allocation.tags.iter().enumerate() {
            if !tag_text(&tag.key, 100) {
                problems.push((
                    format!("allocations[{i}].tags[{j}].key"),
                    "must be 1 to 100 letters, digits, spaces or _ . : / = + - @".into(),
                ));
            }
            if !tag_text(&tag.value, 256) {
                problems.push((
                    format!("allocations[{i}].tags[{j}].value"),
                    "must be 1 to 256 letters, digits, spaces or _ . : / = + - @".into(),
                ));
            }
            if !keys.insert(tag.key.as_str()) {
                problems.push((
                    format!("allocations[{i}].tags[{j}].key"),
                    format!("repeats tag key {:?}", tag.key),
                ));
            }
        }
        if !sets.insert(super::tally::sorted(&allocation.tags)) {
            problems.push((
                format!("allocations[{i}].tags"),
                "repeats the tag set of an earlier allocation".into(),
            ));
        }
    }
    if !allocations.is_empty() && total != quantity {
        problems.push((
            "allocations".into(),
            format!("quantities add up to {total}, not to the event's quantity {quantity}"),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str) -> Tag {
        Tag {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn quantities_are_bounded_both_ways() {
        assert_eq!(quantity(-1).unwrap_err(), "must not be negative (got -1)");
        assert_eq!(
            quantity(MAX_QUANTITY + 1).unwrap_err(),
            "must be at most 2147483647 (got 2147483648)"
        );
        assert!(quantity(0).is_ok() && quantity(MAX_QUANTITY).is_ok());
    }

    #[test]
    fn allocations_must_add_up_and_differ() {
        let a = Allocation {
            quantity: 3,
            tags: vec![tag("team", "a")],
        };
        let again = Allocation {
            quantity: 2,
            tags: vec![tag("team", "a")],
        };
        let problems = allocations(&[a.clone(), again], 10);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, "allocations[1].tags");
        assert_eq!(
            problems[1].1,
            "quantities add up to 5, not to the event's quantity 10"
        );
        assert!(allocations(&[a], 3).is_empty());
    }

    #[test]
    fn tags_are_checked() {
        let bad = Allocation {
            quantity: 1,
            tags: vec![tag("", "x"), tag("k", "v!")],
        };
        let problems = allocations(&[bad], 1);
        assert_eq!(problems[0].0, "allocations[0].tags[0].key");
        assert_eq!(problems[1].0, "allocations[0].tags[1].value");
    }
}
