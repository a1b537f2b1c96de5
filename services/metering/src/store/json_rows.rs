//! Many rows as one statement parameter: a JSON array of objects that the database unpacks
//! (`json_populate_recordset` on PostgreSQL, `json_each` on SQLite). The statement text is the
//! same whatever the batch size, so it is prepared once per connection, and the rows are bound
//! as one string instead of thousands of placeholders parsed and converted value by value on
//! every call (most of an ingestion's time, measured, before this).

use std::io::Write as _;

use souk_store::Backend;

/// Rows being written as one JSON array.
#[derive(Debug)]
pub(super) struct JsonRows {
    text: Vec<u8>,
    rows: usize,
    fields: usize,
}

impl JsonRows {
    /// Room for about `rows` rows.
    pub(super) fn with_capacity(rows: usize) -> Self {
        let mut text = Vec::with_capacity(rows * 256 + 2);
        text.push(b'[');
        Self {
            text,
            rows: 0,
            fields: 0,
        }
    }

    /// Starts the next row.
    pub(super) fn row(&mut self) -> &mut Self {
        if self.rows > 0 {
            self.text.extend_from_slice(b"},");
        }
        self.text.push(b'{');
        self.rows += 1;
        self.fields = 0;
        self
    }

    fn name(&mut self, column: &str) {
        if self.fields > 0 {
            self.text.push(b',');
        }
        self.fields += 1;
        self.text.push(b'"');
        self.text.extend_from_slice(column.as_bytes());
        self.text.extend_from_slice(b"\":");
    }

    /// A text column.
    pub(super) fn text(&mut self, column: &str, value: &str) -> &mut Self {
        self.name(column);
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut self.text, value);
        self
    }

    /// A nullable text column.
    pub(super) fn opt_text(&mut self, column: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(value) => self.text(column, value),
            None => self.null(column),
        }
    }

    /// An integer column.
    pub(super) fn int(&mut self, column: &str, value: i64) -> &mut Self {
        self.name(column);
        // Writing into a Vec cannot fail.
        let _ = write!(self.text, "{value}");
        self
    }

    /// A nullable integer column.
    pub(super) fn opt_int(&mut self, column: &str, value: Option<i64>) -> &mut Self {
        match value {
            Some(value) => self.int(column, value),
            None => self.null(column),
        }
    }

    fn null(&mut self, column: &str) -> &mut Self {
        self.name(column);
        self.text.extend_from_slice(b"null");
        self
    }

    /// How many rows were written.
    pub(super) fn len(&self) -> usize {
        self.rows
    }

    /// The parameter to bind.
    pub(super) fn finish(mut self) -> String {
        if self.rows > 0 {
            self.text.push(b'}');
        }
        self.text.push(b']');
        // Only UTF-8 was written: column names are ASCII, values are `str` or digits.
        String::from_utf8(self.text).unwrap_or_default()
    }
}

/// The rows of parameter `$param` as a relation with `columns` (typed as in `table`), for
/// `FROM {source} AS alias`.
pub(super) fn source(backend: Backend, param: usize, table: &str, columns: &[&str]) -> String {
    match backend {
        Backend::Postgres => format!("json_populate_recordset(NULL::{table}, ${param}::json)"),
        Backend::Sqlite => {
            let fields: Vec<String> = columns
                .iter()
                .map(|c| format!("value ->> '{c}' AS {c}"))
                .collect();
            format!("(SELECT {} FROM json_each(${param}))", fields.join(", "))
        }
    }
}

/// `columns`, comma separated, as the statements' column lists want them.
pub(super) fn list(columns: &[&str]) -> String {
    columns.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_a_json_array_of_objects() {
        let mut rows = JsonRows::with_capacity(2);
        rows.row()
            .text("a", "x\"y")
            .int("b", -3)
            .opt_text("c", None);
        rows.row().opt_int("b", Some(7)).opt_text("c", Some("é"));
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows.finish(),
            r#"[{"a":"x\"y","b":-3,"c":null},{"b":7,"c":"é"}]"#
        );
        assert_eq!(JsonRows::with_capacity(0).finish(), "[]");
    }
}
