//! Paging for list RPCs: a bounded page size and an opaque, tamper-evident-enough page token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Page size when the caller sends 0.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page a caller can ask for.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A validated request for one page: how many rows and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Rows to return (1..=MAX_PAGE_SIZE).
    pub size: u32,
    /// The sort key of the last row of the previous page, if any.
    pub after: Option<String>,
}

impl PageRequest {
    /// Validates the wire fields; errors are reasons for a field violation on the named field.
    pub fn parse(page_size: i32, page_token: &str) -> Result<Self, (&'static str, String)> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(("page_size", "must not be negative".into())),
            n => u32::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE),
        };
        let after = if page_token.is_empty() {
            None
        } else {
            Some(decode_token(page_token).ok_or((
                "page_token",
                "is not a token this server issued".to_string(),
            ))?)
        };
        Ok(Self { size, after })
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
                .map(|last| encode_token(&key(last)))
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

const TOKEN_VERSION: &str = "v1:";

fn encode_token(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_VERSION}{key}"))
}

fn decode_token(token: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(TOKEN_VERSION).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_and_tokens_round_trip() {
        let req = PageRequest::parse(2, "").unwrap();
        let page = Page::from_rows(vec!["a", "b", "c"], &req, |s| s.to_string());
        assert_eq!(page.items, vec!["a", "b"]);
        let next = PageRequest::parse(2, &page.next_page_token).unwrap();
        assert_eq!(next.after.as_deref(), Some("b"));
        let last = Page::from_rows(vec!["c"], &next, |s| s.to_string());
        assert!(last.next_page_token.is_empty());
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(PageRequest::parse(-1, "").unwrap_err().0, "page_size");
        assert_eq!(
            PageRequest::parse(0, "garbage!").unwrap_err().0,
            "page_token"
        );
        assert_eq!(PageRequest::parse(10_000, "").unwrap().size, MAX_PAGE_SIZE);
    }
}
