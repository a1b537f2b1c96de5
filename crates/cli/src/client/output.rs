//! Printing results: aligned tables for people, JSON for scripts.

use prost_types::Timestamp;
use serde_json::{Value, json};

use crate::args::OutputFormat;

/// A table: header and rows of cells.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: Vec<&'static str>) -> Self {
        Self {
            header,
            rows: Vec::new(),
        }
    }

    /// Adds one row.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table as aligned text.
    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.len()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(width) = widths.get_mut(i) {
                    *width = (*width).max(cell.chars().count());
                }
            }
        }
        let mut out = String::new();
        let line = |cells: Vec<&str>, out: &mut String| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            out.push_str(padded.join("  ").trim_end());
            out.push('\n');
        };
        line(self.header.clone(), &mut out);
        for row in &self.rows {
            line(row.iter().map(String::as_str).collect(), &mut out);
        }
        out
    }
}

/// Prints `table` or `json` according to `format`.
pub fn emit(format: OutputFormat, table: &Table, json: &Value) {
    match format {
        OutputFormat::Table => print!("{}", table.render()),
        OutputFormat::Json => {
            println!("{}", serde_json::to_string_pretty(json).unwrap_or_default())
        }
    }
}

/// An RFC 3339 rendering of a protobuf timestamp; empty when unset.
pub fn time(ts: Option<&Timestamp>) -> String {
    let Some(ts) = ts else { return String::new() };
    let nanos = i128::from(ts.seconds) * 1_000_000_000 + i128::from(ts.nanos);
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A JSON value for a timestamp (`null` when unset).
pub fn time_json(ts: Option<&Timestamp>) -> Value {
    let text = time(ts);
    if text.is_empty() {
        Value::Null
    } else {
        json!(text)
    }
}

/// RFC 4180 CSV: the `header` row, then `rows`, CRLF line ends, a field in double quotes (inner
/// quotes doubled) when it holds a comma, a quote or a line break.
pub fn csv(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut out = header.join(",");
    out.push_str("\r\n");
    for row in rows {
        let fields: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// The enum value's name without its type prefix, lowercase (`SCOPE_READ_ONLY` → `read_only`).
pub fn enum_name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix)
        .unwrap_or(full)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_what_needs_it() {
        let text = csv(
            &["a", "b"],
            [vec![
                "plain".to_owned(),
                "with, comma and \"quote\"".to_owned(),
            ]],
        );
        assert_eq!(text, "a,b\r\nplain,\"with, comma and \"\"quote\"\"\"\r\n");
    }

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(vec!["ID", "NAME"]);
        table.row(vec!["int_1".into(), "prod".into()]);
        table.row(vec!["int_22".into(), "x".into()]);
        assert_eq!(table.render(), "ID      NAME\nint_1   prod\nint_22  x\n");
    }

    #[test]
    fn times_and_enums() {
        assert_eq!(
            time(Some(&Timestamp {
                seconds: 0,
                nanos: 0
            })),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(time(None), "");
        assert_eq!(enum_name("SCOPE_READ_ONLY", "SCOPE_"), "read_only");
    }
}
