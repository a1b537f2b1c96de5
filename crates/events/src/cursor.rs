//! The `WatchEvents` cursor: where a stream of one organisation stands in each service's
//! outbox, as the id of the organisation's last event read there. It names only the caller's
//! own events, never an outbox `seq` (which counts every tenant's events), and it names the
//! organisation, so that it works only for the one it was issued to. A service missing from it
//! held none of the organisation's events when it was issued: reading that outbox from its
//! beginning gives the same events as reading it from there.
//!
//! On the wire: `"c1."` and the base64url (unpadded) of newline-separated lines, the
//! organisation first, then `service event_id` per outbox.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The version prefix of every cursor this code issues.
const PREFIX: &str = "c1.";

/// Where a `WatchEvents` request starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// `""`: only events committed from now on.
    Now,
    /// `"0"`: every retained event.
    Beginning,
    /// After the events a cursor names.
    After(Cursor),
}

/// A decoded cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The organisation it was issued to.
    pub organization_id: String,
    /// Per service (store name): the id of the organisation's last event read in its outbox.
    pub positions: BTreeMap<String, String>,
}

/// Why a cursor was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    /// Not a cursor this code issued.
    #[error(
        "invalid cursor: use the cursor of a previous response, \"0\" for the oldest event or \"\" for new events only"
    )]
    Malformed,
    /// Issued to another organisation.
    #[error("invalid cursor: it was issued to another organisation")]
    Foreign,
}

impl Cursor {
    /// The cursor's text.
    pub fn encode(&self) -> String {
        let mut text = self.organization_id.clone();
        for (service, event_id) in &self.positions {
            text.push('\n');
            text.push_str(service);
            text.push(' ');
            text.push_str(event_id);
        }
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(text))
    }
}

/// Parses a request's cursor for a caller of `organization_id`.
pub fn parse(cursor: &str, organization_id: &str) -> Result<Start, CursorError> {
    match cursor {
        "" => return Ok(Start::Now),
        "0" => return Ok(Start::Beginning),
        _ => {}
    }
    let decoded = cursor
        .strip_prefix(PREFIX)
        .and_then(|body| URL_SAFE_NO_PAD.decode(body).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(CursorError::Malformed)?;
    let mut lines = decoded.split('\n');
    let owner = lines.next().unwrap_or_default();
    if owner.is_empty() {
        return Err(CursorError::Malformed);
    }
    let mut positions = BTreeMap::new();
    for line in lines {
        let (service, event_id) = line.split_once(' ').ok_or(CursorError::Malformed)?;
        if service.is_empty() || event_id.is_empty() || event_id.contains(' ') {
            return Err(CursorError::Malformed);
        }
        if positions
            .insert(service.to_owned(), event_id.to_owned())
            .is_some()
        {
            return Err(CursorError::Malformed);
        }
    }
    if owner != organization_id {
        return Err(CursorError::Foreign);
    }
    Ok(Start::After(Cursor {
        organization_id: owner.to_owned(),
        positions,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            organization_id: "org_acme".into(),
            positions: BTreeMap::from([
                ("integration".into(), "0193-a".into()),
                ("metering".into(), "0193-b".into()),
            ]),
        }
    }

    #[test]
    fn a_cursor_reads_back_for_its_organisation_only() {
        let text = cursor().encode();
        assert!(text.starts_with("c1."), "{text}");
        assert!(!text.contains("org_acme"), "opaque: {text}");
        assert_eq!(parse(&text, "org_acme"), Ok(Start::After(cursor())));
        assert_eq!(parse(&text, "org_globex"), Err(CursorError::Foreign));
        let empty = Cursor {
            organization_id: "org_acme".into(),
            positions: BTreeMap::new(),
        };
        assert_eq!(parse(&empty.encode(), "org_acme"), Ok(Start::After(empty)));
    }

    #[test]
    fn the_special_cursors_and_malformed_ones() {
        assert_eq!(parse("", "org_acme"), Ok(Start::Now));
        assert_eq!(parse("0", "org_acme"), Ok(Start::Beginning));
        let bad = |body: &str| format!("c1.{}", URL_SAFE_NO_PAD.encode(body));
        for text in [
            "17".to_owned(),
            "-4".to_owned(),
            "not-a-cursor".to_owned(),
            "c1.!!".to_owned(),
            bad(""),
            bad("org_acme\nmetering"),
            bad("org_acme\nmetering a\nmetering b"),
            bad("org_acme\n a"),
        ] {
            assert_eq!(
                parse(&text, "org_acme"),
                Err(CursorError::Malformed),
                "{text}"
            );
        }
        assert_eq!(
            CursorError::Malformed.to_string(),
            "invalid cursor: use the cursor of a previous response, \"0\" for the oldest event or \"\" for new events only"
        );
    }
}
