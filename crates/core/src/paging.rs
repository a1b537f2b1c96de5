//! Paging for list RPCs: a bounded page size and an opaque page token bound to the list, the
//! organisation and the filters it came from, so a token of one list, tenant or filter set is
//! refused by another instead of silently paging through the wrong rows.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Page size when the caller sends 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page a caller can ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// What a page token is bound to: one list (`souk.integration.v1.IntegrationService/ListApiKeys`),
/// one organisation and one set of filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageScope(String);

impl PageScope {
    /// The scope of `list` for `organization_id` with `filters` (the request's filter fields, in
    /// a fixed order; empty when the list has none).
    pub fn new(list: &str, organization_id: &str, filters: &[&str]) -> Self {
        let mut hash = Sha256::new();
        for part in [list, organization_id].iter().chain(filters) {
            hash.update(part.as_bytes());
            hash.update([0]);
        }
        Self(hex::encode(&hash.finalize()[..8]))
    }
}

/// A validated request for one page: how many rows and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to return (1..=MAX_PAGE_SIZE).
    pub size: u32,
    /// The sort key of the last row of the previous page, if any.
    pub after: Option<String>,
    /// What the tokens of this list are bound to.
    pub scope: PageScope,
}

impl PageRequest {
    /// Validates the wire fields against the documented contract (page size 0 for the default,
    /// else 1..=1000; a token this list issued for this organisation and these filters); errors
    /// are reasons for a field violation on the named field.
    pub fn parse(
        page_size: i32,
        page_token: &str,
        scope: PageScope,
    ) -> Result<Self, (&'static str, String)> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(("page_size", "must not be negative".into())),
            n => match u32::try_from(n) {
                Ok(n) if n <= MAX_PAGE_SIZE => n,
                _ => {
                    return Err((
                        "page_size",
                        format!("must be at most {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"),
                    ));
                }
            },
        };
        let after =
            if page_token.is_empty() {
                None
            } else {
                Some(decode_token(page_token, &scope).ok_or((
                "page_token",
                "is not a token of this list: send the next_page_token of the previous page, \
                 with the same filters"
                    .to_string(),
            ))?)
            };
        Ok(Self { size, after, scope })
    }

    /// How many rows to fetch: one more than the page, to learn whether another page exists.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.size) + 1
    }
}

/// One page of results and the token for the next one (empty when this is the last page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// The token to send for the next page; empty on the last page.
    pub next_page_token: String,
}

impl<T> Page<T> {
    /// Cuts `rows` (fetched with [`PageRequest::fetch_limit`]) into a page, using `key` for the
    /// next token.
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, key: impl Fn(&T) -> String) -> Self {
        let size = usize::try_from(request.size).unwrap_or(usize::MAX);
        let next_page_token = if rows.len() > size {
            rows.truncate(size);
            rows.last()
                .map(|last| encode_token(&key(last), &request.scope))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Self {
            items: rows,
            next_page_token,
        }
    }
}

const TOKEN_VERSION: &str = "v2";

fn encode_token(key: &str, scope: &PageScope) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_VERSION}:{}:{key}", scope.0))
}

fn decode_token(token: &str, scope: &PageScope) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let rest = text.strip_prefix(TOKEN_VERSION)?.strip_prefix(':')?;
    let (bound, key) = rest.split_once(':')?;
    (bound == scope.0).then(|| key.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> PageScope {
        PageScope::new("ListThings", "org_a", &["state=active"])
    }

    #[test]
    fn pages_and_tokens_round_trip() {
        let req = PageRequest::parse(2, "", scope()).unwrap();
        let page = Page::from_rows(vec!["a", "b", "c"], &req, |s| s.to_string());
        assert_eq!(page.items, vec!["a", "b"]);
        let next = PageRequest::parse(2, &page.next_page_token, scope()).unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        let last = Page::from_rows(vec!["c"], &next, |s| s.to_string());
        assert!(last.next_page_token.is_empty());
    }

    #[test]
    fn tokens_are_bound_to_their_list_organisation_and_filters() {
        let req = PageRequest::parse(1, "", scope()).unwrap();
        let token = Page::from_rows(vec!["a", "b"], &req, |s| s.to_string()).next_page_token;
        for other in [
            PageScope::new("ListOther", "org_a", &["state=active"]),
            PageScope::new("ListThings", "org_b", &["state=active"]),
            PageScope::new("ListThings", "org_a", &["state=cancelled"]),
        ] {
            assert_eq!(
                PageRequest::parse(1, &token, other).unwrap_err().0,
                "page_token"
            );
        }
        // The v1 tokens of earlier releases (`v1:<id>`) are refused, not misread.
        let old = URL_SAFE_NO_PAD.encode("v1:int_x");
        assert!(PageRequest::parse(1, &old, scope()).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(
            PageRequest::parse(-1, "", scope()).unwrap_err().0,
            "page_size"
        );
        assert_eq!(
            PageRequest::parse(0, "garbage!", scope()).unwrap_err().0,
            "page_token"
        );
        assert_eq!(
            PageRequest::parse(1001, "", scope()).unwrap_err(),
            ("page_size", "must be at most 1000 (0 means 50)".to_string())
        );
        assert_eq!(PageRequest::parse(1000, "", scope()).unwrap().size, 1000);
        assert_eq!(PageRequest::parse(0, "", scope()).unwrap().size, 50);
    }
}
