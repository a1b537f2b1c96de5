//! One feed table and its CSV rendering: RFC 4180, UTF-8 without BOM, every field quoted, `\n`
//! line ends, header row first.

/// One feed table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Feed name (`billing_event`).
    pub name: &'static str,
    /// Column names in order.
    pub columns: Vec<&'static str>,
    /// Rows, each with one value per column; the month partition is taken from `insert_date`.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table.
    pub fn new(name: &'static str, columns: &[&'static str]) -> Self {
        Self {
            name,
            columns: columns.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Appends a row given as (column, value) pairs; missing columns are blank.
    pub fn push(&mut self, values: &[(&str, String)]) {
        let row = self
            .columns
            .iter()
            .map(|column| {
                values
                    .iter()
                    .find(|(name, _)| name == column)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        self.rows.push(row);
    }

    /// The index of `column`.
    pub fn column(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| *c == column)
    }
}

/// Renders a header and `rows` as CSV.
pub fn render(columns: &[&str], rows: &[&Vec<String>]) -> String {
    let mut out = String::new();
    push_line(&mut out, columns.iter().copied());
    for row in rows {
        push_line(&mut out, row.iter().map(String::as_str));
    }
    out
}

fn push_line<'a>(out: &mut String, fields: impl Iterator<Item = &'a str>) {
    let mut first = true;
    for field in fields {
        if !first {
            out.push(',');
        }
        first = false;
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn quotes_every_field_and_doubles_quotes() {
        let row = vec!["a \"b\"".to_owned(), "".to_owned(), "x,y\nz".to_owned()];
        assert_eq!(
            render(&["c1", "c2", "c3"], &[&row]),
            "\"c1\",\"c2\",\"c3\"\n\"a \"\"b\"\"\",\"\",\"x,y\nz\"\n"
        );
    }
}
