//! A row of a feed file as read: the feed, the row's key, its history columns and every
//! column by name. Parsing (`parse_file`) keeps the rows that read and reports the others
//! with their line and reason, so one malformed row never stops a file.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use super::feed::Feed;

/// The history columns every feed row carries (docs/aws/data-feeds.md, history): the current
/// version of a row is the one with the latest `valid_from`, then the latest `update_date`; a
/// `delete_date` retires it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct History {
    /// From when this version is valid.
    pub valid_from: OffsetDateTime,
    /// When the row was first written.
    pub insert_date: Option<OffsetDateTime>,
    /// When this version was written (`None`: never updated).
    pub update_date: Option<OffsetDateTime>,
    /// When the row was retired (`None`: it stands).
    pub delete_date: Option<OffsetDateTime>,
}

impl History {
    /// Whether this version replaces `stored`: a later `valid_from`, or the same one updated
    /// later.
    pub fn supersedes(&self, stored: &History) -> bool {
        (self.valid_from, self.update_date) > (stored.valid_from, stored.update_date)
    }
}

/// One row of a feed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRow {
    /// The feed.
    pub feed: Feed,
    /// The row's key: its key columns' values joined by `|` (see [`Feed::key_columns`]).
    pub key: String,
    /// Its history columns.
    pub history: History,
    /// Every column by name, history columns included, as the file has them.
    pub columns: BTreeMap<String, String>,
    /// Its line in the file (1 is the header).
    pub line: u64,
}

impl FeedRow {
    /// Column `name`, empty when the file has none or it is blank.
    pub fn get(&self, name: &str) -> &str {
        self.columns.get(name).map_or("", String::as_str)
    }
}

/// A row that did not read, parked with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// Its line in the file.
    pub line: u64,
    /// What is wrong, e.g. "valid_from \"yesterday\" is not an ISO-8601 UTC timestamp".
    pub reason: String,
}

/// A feed file as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFile {
    /// The rows that read, in file order.
    pub rows: Vec<FeedRow>,
    /// The rows that did not.
    pub rejected: Vec<RejectedRow>,
}

/// Column `name` of a current feed row (as `Store::current_rows` gives them), trimmed; empty
/// when the row lacks it.
pub fn column(row: &std::collections::BTreeMap<String, String>, name: &str) -> String {
    row.get(name)
        .map(|v| v.trim().to_owned())
        .unwrap_or_default()
}
