//! The bind values of a statement assembled piece by piece (optional filters, `IN (...)`
//! lists): each call appends a value and returns its placeholder (`$n`) to write into the SQL.
//!
//! ```ignore
//! let mut args = Args::default();
//! let mut sql = format!("SELECT id FROM t WHERE organization_id = {}", args.text(org));
//! if let Some(limit) = limit {
//!     sql.push_str(&format!(" LIMIT {}", args.int(limit)));
//! }
//! let rows = args.query(sql).fetch_all(pool).await?;
//! ```

use sqlx::any::AnyArguments;

/// The bind values of a statement, in placeholder order.
#[derive(Debug, Default)]
pub struct Args(Vec<Arg>);

#[derive(Debug)]
enum Arg {
    Text(String),
    Int(i64),
}

impl Args {
    /// Appends a text value; returns its placeholder.
    pub fn text(&mut self, value: impl Into<String>) -> String {
        self.0.push(Arg::Text(value.into()));
        format!("${}", self.0.len())
    }

    /// Appends an integer value; returns its placeholder.
    pub fn int(&mut self, value: i64) -> String {
        self.0.push(Arg::Int(value));
        format!("${}", self.0.len())
    }

    /// Appends text `values`; returns their placeholders, comma separated (for `IN (...)`).
    pub fn texts<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> String {
        values
            .into_iter()
            .map(|value| self.text(value))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `sql` with the values bound in order.
    pub fn query(self, sql: String) -> sqlx::query::Query<'static, sqlx::Any, AnyArguments> {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for arg in self.0 {
            query = match arg {
                Arg::Text(value) => query.bind(value),
                Arg::Int(value) => query.bind(value),
            };
        }
        query
    }
}
