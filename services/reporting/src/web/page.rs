//! The revenue page's HTML: a self-contained document (inline CSS and SVG, no script, nothing
//! fetched) made of [`Section`]s, and the error pages. Every value from the data is escaped
//! here or in [`chart`](super::chart).
//!
//! A new part of the page is one more [`Section`]: build it in the handler and push it onto
//! [`Page::sections`] (as the reconciliation status is).

pub use souk_service::html::{CONTENT_SECURITY_POLICY, escape, html, protect};

/// One part of the page: a heading and its HTML (already escaped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The element id (`revenue-usd`), for links and tests.
    pub id: String,
    /// The heading (plain text).
    pub title: String,
    /// The content, HTML.
    pub body: String,
}

/// The range form's values and the link parameters it keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeForm {
    /// `start` as given (`YYYY-MM-DD`), empty when none.
    pub start: String,
    /// `end` as given, empty when none.
    pub end: String,
    /// Hidden fields carried along (`integration_id`, the link's signature…).
    pub hidden: Vec<(String, String)>,
}

/// The revenue page of one integration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The integration.
    pub integration_id: String,
    /// What the range is, in words ("all time", "from 2026-01-01 to before 2026-07-01").
    pub range: String,
    /// When the newest billing event counted was written (RFC 3339), if any.
    pub freshness: Option<String>,
    /// The range form.
    pub form: RangeForm,
    /// The sections, in order.
    pub sections: Vec<Section>,
}

impl Page {
    /// The whole document.
    pub fn render(&self) -> String {
        let mut body = format!(
            "<header><h1>Revenue of {}</h1><p class=\"muted\">{}{}</p>",
            escape(&self.integration_id),
            escape(&self.range),
            self.freshness
                .as_ref()
                .map(|at| format!(" · data as of {} (newest billing event)", escape(at)))
                .unwrap_or_default()
        );
        body.push_str(&self.form.render());
        body.push_str("</header>");
        if !self.sections.is_empty() {
            body.push_str("<nav><ul>");
            for section in &self.sections {
                body.push_str(&format!(
                    "<li><a href=\"#{}\">{}</a></li>",
                    escape(&section.id),
                    escape(&section.title)
                ));
            }
            body.push_str("</ul></nav>");
        }
        for section in &self.sections {
            body.push_str(&format!(
                "<section id=\"{}\"><h2>{}</h2>{}</section>",
                escape(&section.id),
                escape(&section.title),
                section.body
            ));
        }
        layout(&format!("Revenue of {}", self.integration_id), &body)
    }
}

impl RangeForm {
    fn render(&self) -> String {
        let mut form = String::from("<form method=\"get\" action=\"/reports\" class=\"range\">");
        for (name, value) in &self.hidden {
            form.push_str(&format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            ));
        }
        form.push_str(&format!(
            "<label>From <input type=\"date\" name=\"start\" value=\"{}\"></label>\
             <label>to before <input type=\"date\" name=\"end\" value=\"{}\"></label>\
             <button type=\"submit\">Show</button></form>",
            escape(&self.start),
            escape(&self.end)
        ));
        form
    }
}

/// A table: a header row and rows of cells (plain text; numeric columns right-aligned).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column headings.
    pub columns: Vec<String>,
    /// How many leading columns are text; the rest are amounts.
    pub text_columns: usize,
    /// The rows.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// The `<table>`.
    pub fn html(&self) -> String {
        let class = |i: usize| {
            if i < self.text_columns {
                ""
            } else {
                " class=\"num\""
            }
        };
        let mut out = String::from("<table><thead><tr>");
        for (i, column) in self.columns.iter().enumerate() {
            out.push_str(&format!("<th{}>{}</th>", class(i), escape(column)));
        }
        out.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            out.push_str("<tr>");
            for (i, cell) in row.iter().enumerate() {
                out.push_str(&format!("<td{}>{}</td>", class(i), escape(cell)));
            }
            out.push_str("</tr>");
        }
        out.push_str("</tbody></table>");
        out
    }
}

/// A paragraph of plain text.
pub fn paragraph(text: &str) -> String {
    format!("<p class=\"muted\">{}</p>", escape(text))
}

/// A page saying what went wrong and what to do (plain text both).
pub fn error_page(title: &str, message: &str, hint: &str) -> String {
    let hint = if hint.is_empty() {
        String::new()
    } else {
        format!("<p class=\"muted\">{}</p>", escape(hint))
    };
    layout(
        title,
        &format!(
            "<h1>{}</h1><p class=\"error\">{}</p>{hint}",
            escape(title),
            escape(message)
        ),
    )
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;\
background:#f3f4f6;color:#1f2430;margin:0;padding:1.5rem 1rem;line-height:1.5}\
main{max-width:60rem;margin:0 auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;\
box-shadow:0 1px 3px rgba(0,0,0,.15)}h1{font-size:1.4rem;margin:0}h2{font-size:1.15rem;\
margin:2rem 0 .5rem;border-bottom:1px solid #e5e7eb}.muted{color:#5b6475;font-size:.9rem}\
.error{color:#b3261e}nav ul{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:1rem}\
form.range{display:flex;gap:1rem;align-items:end;flex-wrap:wrap}\
form.range input{font:inherit;padding:.2rem}button{padding:.3rem 1rem;border:0;\
border-radius:4px;background:#232f3e;color:#fff;font:inherit}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{padding:.3rem .6rem;\
border-bottom:1px solid #e5e7eb;text-align:left}.num{text-align:right;\
font-variant-numeric:tabular-nums}svg.chart{width:100%;height:auto;display:block}\
svg .grid{stroke:#e5e7eb}svg .zero{stroke:#6b7280}svg text{font-size:11px;fill:#374151}";

fn layout(title: &str, body: &str) -> String {
    souk_service::html::document(title, STYLE, body)
}

/// `micros` of a currency as an exact decimal with two to six decimals (as the CLI prints
/// amounts).
pub use souk_core::money::decimal as amount;
