//! Reading a Seller Data Feed file (docs/aws/data-feeds.md, file format) into rows: RFC 4180 CSV in
//! UTF-8 (a byte-order mark is tolerated), `\n` or `\r\n` line ends, a header row first.
//! Columns are found by header name; columns Souk does not know are kept. A row that does not
//! read becomes a [`RejectedRow`] with its line and why, and the rest of the file still reads.
//! Only a file whose header cannot be used at all is an error.

use std::collections::{BTreeMap, BTreeSet};

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

use super::feed::Feed;
use super::row::{FeedRow, History, ParsedFile, RejectedRow};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The history column every feed row must have.
const VALID_FROM: &str = "valid_from";
/// The optional history columns.
const INSERT_DATE: &str = "insert_date";
const UPDATE_DATE: &str = "update_date";
const DELETE_DATE: &str = "delete_date";

/// Reads `bytes`, a file of `feed`, into its rows and rejected rows.
///
/// `Err` when the file cannot be read at all: no header row, a header that is not UTF-8 or
/// names a column twice, or a header without one of `feed`'s key columns or `valid_from`.
pub fn parse_file(feed: Feed, bytes: &[u8]) -> Result<ParsedFile, String> {
    let mut rows = Vec::new();
    let rejected = parse_each(feed, bytes, |row| rows.push(row))?;
    Ok(ParsedFile { rows, rejected })
}

/// Reads `bytes`, a file of `feed`, handing each row to `on_row` as it is read (so a big file
/// is never held as rows all at once); the rejected rows. `Err` as [`parse_file`].
pub fn parse_each(
    feed: Feed,
    bytes: &[u8],
    mut on_row: impl FnMut(FeedRow),
) -> Result<Vec<RejectedRow>, String> {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes);
    let mut records = reader.byte_records();

    let header = loop {
        match records.next() {
            None => return Err(format!("the {} file has no header row", feed.name())),
            Some(Err(e)) => return Err(format!("the {} header cannot be read: {e}", feed.name())),
            Some(Ok(record)) if is_blank(&record) => {}
            Some(Ok(record)) => break record,
        }
    };
    let header = read_header(feed, &header)?;

    let mut lines = Lines::new(bytes);
    let mut rejected = Vec::new();
    for record in records {
        let record = match record {
            Ok(record) => record,
            Err(e) => {
                let line = e.position().map_or(0, |p| lines.at(p.byte()));
                rejected.push(RejectedRow {
                    line,
                    reason: format!("the row cannot be read: {e}"),
                });
                continue;
            }
        };
        if is_blank(&record) {
            continue;
        }
        let line = record.position().map_or(0, |p| lines.at(p.byte()));
        match read_row(feed, &header, &record, line) {
            Ok(row) => on_row(row),
            Err(reason) => rejected.push(RejectedRow { line, reason }),
        }
    }
    Ok(rejected)
}

/// Parses an ISO-8601 UTC timestamp (`2026-11-01T00:00:00Z`, with or without fractional
/// seconds, `Z` or a `+00:00` offset). A blank value is `None`; any other offset is an error.
pub fn timestamp(raw: &str) -> Result<Option<OffsetDateTime>, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let parsed = OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| format!("{raw:?} is not an ISO-8601 UTC timestamp"))?;
    if parsed.offset() != UtcOffset::UTC {
        let offset = value.get(value.len().saturating_sub(6)..).unwrap_or(value);
        return Err(format!("{raw:?} is not in UTC (offset {offset})"));
    }
    Ok(Some(parsed))
}

/// Parses a plain decimal (`12.5`, `-0.2`, `3`; `.` separator, at most six decimals) into
/// integer millionths: `"12.5"` is `12_500_000`. A thousands separator, an exponent, more than
/// six decimals or a value beyond `i64` micros is an error quoting the value.
pub fn micros(raw: &str) -> Result<i64, String> {
    let value = raw.trim();
    if value.contains(',') {
        return Err(format!(
            "{raw:?} has a comma: amounts use \".\" for decimals and no thousands separator"
        ));
    }
    let (negative, unsigned) = match value.as_bytes().first() {
        Some(b'-') => (true, &value[1..]),
        Some(b'+') => (false, &value[1..]),
        _ => (false, value),
    };
    let Some((whole, fraction)) = decimal_parts(unsigned) else {
        let has_exponent = unsigned
            .split_once(['e', 'E'])
            .is_some_and(|(mantissa, exponent)| {
                let exponent = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
                decimal_parts(mantissa).is_some() && is_digits(exponent)
            });
        return Err(if has_exponent {
            format!("{raw:?} has an exponent: amounts are plain decimals")
        } else {
            format!("{raw:?} is not a decimal number")
        });
    };
    if fraction.len() > 6 {
        return Err(format!("{raw:?} has more than 6 decimals"));
    }
    let out_of_range = || format!("{raw:?} is out of range");
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| out_of_range())?
    };
    let fraction: i128 = format!("{fraction:0<6}")
        .parse()
        .map_err(|_| out_of_range())?;
    let magnitude = whole
        .checked_mul(1_000_000)
        .and_then(|w| w.checked_add(fraction))
        .ok_or_else(out_of_range)?;
    let signed = if negative { -magnitude } else { magnitude };
    i64::try_from(signed).map_err(|_| out_of_range())
}

/// `digits[.digits]` (one side of the point may be empty, not both) as (whole, fraction).
fn decimal_parts(value: &str) -> Option<(&str, &str)> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    let digits_or_empty = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    (!(whole.is_empty() && fraction.is_empty())
        && digits_or_empty(whole)
        && digits_or_empty(fraction))
    .then_some((whole, fraction))
}

fn is_digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// Line numbers of byte offsets, counted forward as records are read (the csv crate's own
/// line count misses blank lines and `\r\n`).
struct Lines<'a> {
    bytes: &'a [u8],
    /// Bytes counted so far.
    offset: usize,
    /// The line at `offset`.
    line: u64,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            line: 1,
        }
    }

    /// The line of the record the reader reported at `byte`: the reader's offset is where it
    /// began looking, so line ends before the record's first byte are skipped. Offsets must
    /// not decrease.
    fn at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .clamp(self.offset, self.bytes.len());
        while matches!(self.bytes.get(start), Some(b'\r' | b'\n')) {
            start += 1;
        }
        for (i, b) in self.bytes[self.offset..start].iter().enumerate() {
            let at = self.offset + i;
            let line_end = *b == b'\n' || (*b == b'\r' && self.bytes.get(at + 1) != Some(&b'\n'));
            if line_end {
                self.line += 1;
            }
        }
        self.offset = start;
        self.line
    }
}

/// A record of one field that is empty or white space: a blank line.
fn is_blank(record: &csv::ByteRecord) -> bool {
    record.is_empty() || (record.len() == 1 && record[0].iter().all(|b| b.is_ascii_whitespace()))
}

/// The header's column names, in file order, checked for `feed`'s required columns.
fn read_header(feed: Feed, record: &csv::ByteRecord) -> Result<Vec<String>, String> {
    let mut names = Vec::with_capacity(record.len());
    let mut seen = BTreeSet::new();
    for (index, field) in record.iter().enumerate() {
        let name = std::str::from_utf8(field).map_err(|_| {
            format!(
                "the {} header is not UTF-8 (column {})",
                feed.name(),
                index + 1
            )
        })?;
        let name = name.trim().to_owned();
        if !name.is_empty() && !seen.insert(name.clone()) {
            return Err(format!(
                "the {} header names column {name} twice",
                feed.name()
            ));
        }
        names.push(name);
    }
    let missing: Vec<&str> = feed
        .key_columns()
        .iter()
        .copied()
        .chain([VALID_FROM])
        .filter(|required| !seen.contains(*required))
        .collect();
    match missing.as_slice() {
        [] => Ok(names),
        [one] => Err(format!("the {} header has no {one} column", feed.name())),
        many => Err(format!(
            "the {} header has no {} columns",
            feed.name(),
            many.join(", ")
        )),
    }
}

fn read_row(
    feed: Feed,
    header: &[String],
    record: &csv::ByteRecord,
    line: u64,
) -> Result<FeedRow, String> {
    if record.len() != header.len() {
        return Err(format!(
            "the row has {} field{}, the header {}",
            record.len(),
            if record.len() == 1 { "" } else { "s" },
            header.len()
        ));
    }
    let mut columns = BTreeMap::new();
    for (name, field) in header.iter().zip(record.iter()) {
        let value = std::str::from_utf8(field).map_err(|_| format!("{name} is not valid UTF-8"))?;
        if !name.is_empty() {
            columns.insert(name.clone(), value.to_owned());
        }
    }
    let column = |name: &str| columns.get(name).map_or("", String::as_str);

    let mut key = Vec::with_capacity(feed.key_columns().len());
    for name in feed.key_columns() {
        let value = column(name);
        if value.trim().is_empty() {
            return Err(format!("{name} is blank"));
        }
        key.push(value);
    }
    let key = key.join("|");

    let history_column = |name: &str| timestamp(column(name)).map_err(|e| format!("{name} {e}"));
    let history = History {
        valid_from: history_column(VALID_FROM)?.ok_or_else(|| format!("{VALID_FROM} is blank"))?,
        insert_date: history_column(INSERT_DATE)?,
        update_date: history_column(UPDATE_DATE)?,
        delete_date: history_column(DELETE_DATE)?,
    };
    Ok(FeedRow {
        feed,
        key,
        history,
        columns,
        line,
    })
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
