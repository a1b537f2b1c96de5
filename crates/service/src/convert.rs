//! Conversions every service's `api/convert.rs` needs: ids, pages and timestamps, collecting
//! field violations so that one reply names every bad field.

use souk_core::access::Caller;
use souk_core::error::Violations;
use souk_core::{Id, PageRequest, PageScope};
use time::OffsetDateTime;

/// An instant as a protobuf timestamp.
pub fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    souk_events::envelope::to_timestamp(at)
}

/// A protobuf timestamp as an instant; the reason when it is not a valid one (nanos outside
/// 0..=999,999,999, or out of range).
pub fn instant(at: &prost_types::Timestamp) -> Result<OffsetDateTime, String> {
    if !(0..1_000_000_000).contains(&at.nanos) {
        return Err("is not a valid timestamp: nanos must be within 0..=999999999".into());
    }
    souk_events::envelope::from_timestamp(at).map_err(|_| "is not a valid timestamp".into())
}

/// Parses an id with `prefix` from `field`, recording a violation when it is malformed (the
/// returned id is then empty and must not be used).
pub fn id(v: &mut Violations, field: &str, prefix: &str, raw: &str) -> Id {
    match Id::parse(prefix, raw) {
        Ok(id) => id,
        Err(reason) => {
            v.add(field, reason);
            Id::from_trusted(String::new())
        }
    }
}

/// A required id with `prefix` in `field`.
pub fn required_id(field: &str, prefix: &str, raw: &str) -> Result<Id, souk_core::Error> {
    let mut v = Violations::new();
    let id = id(&mut v, field, prefix, raw);
    finish(v, id)
}

/// The page size and token of a request to `list` (`/package.Service/Method` without the
/// slash) by `caller`, with the request's `filters` (tokens are bound to all three).
pub fn page(
    list: &str,
    caller: &Caller,
    filters: &[&str],
    page_size: i32,
    page_token: &str,
) -> Result<PageRequest, souk_core::Error> {
    let scope = PageScope::new(list, caller.organization_id.as_str(), filters);
    PageRequest::parse(page_size, page_token, scope)
        .map_err(|(field, reason)| souk_core::Error::invalid_field(field, reason))
}

/// `value` when nothing was recorded in `v`, otherwise `InvalidArgument` listing every
/// violation.
pub fn finish<T>(v: Violations, value: T) -> Result<T, souk_core::Error> {
    v.finish()?;
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_and_bad_nanos_are_refused() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(instant(&timestamp(at)).unwrap(), at);
        let bad = prost_types::Timestamp {
            seconds: 1,
            nanos: -1,
        };
        assert_eq!(
            instant(&bad).unwrap_err(),
            "is not a valid timestamp: nanos must be within 0..=999999999"
        );
    }

    #[test]
    fn ids_are_checked_with_their_prefix() {
        let err = required_id("integration_id", "int", "org_x").unwrap_err();
        assert_eq!(err.violations[0].field, "integration_id");
        let caller = Caller {
            organization_id: Id::generate("org"),
            key_id: Id::generate("key"),
            scopes: vec![],
        };
        assert!(page("ListThings", &caller, &[], -1, "").is_err());
    }
}
