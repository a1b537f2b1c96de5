//! Prefixed, time-ordered identifiers (`org_…`, `int_…`, `key_…`) built on UUIDv7.

use std::fmt;

/// A Souk identifier: a short type prefix, an underscore and a UUIDv7 in simple (hex) form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Id(String);

impl Id {
    /// A fresh id with `prefix` (for example `org`).
    pub fn generate(prefix: &str) -> Self {
        Self(format!("{prefix}_{}", uuid::Uuid::now_v7().simple()))
    }

    /// Parses `raw` as an id with `prefix`; the error is a reason suitable for a field violation.
    pub fn parse(prefix: &str, raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        let Some(rest) = raw.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) else {
            return Err(format!("must start with \"{prefix}_\""));
        };
        if rest.len() != 32
            || !rest
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(format!(
                "must be \"{prefix}_\" followed by 32 lowercase hex digits"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wraps a value read back from storage, trusted to be well formed.
    pub fn from_trusted(raw: String) -> Self {
        Self(raw)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> Self {
        id.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_and_sort_by_time() {
        let a = Id::generate("org");
        let b = Id::generate("org");
        assert!(a < b);
        assert_eq!(Id::parse("org", a.as_str()), Ok(a));
    }

    #[test]
    fn parse_rejects_wrong_prefix_and_garbage() {
        assert_eq!(Id::parse("org", ""), Err("must not be empty".to_string()));
        assert_eq!(
            Id::parse("org", "int_0192"),
            Err("must start with \"org_\"".to_string())
        );
        assert!(Id::parse("org", "org_xyz").is_err());
    }
}
