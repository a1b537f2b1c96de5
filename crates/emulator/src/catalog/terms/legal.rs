//! UpdateLegalTerms: EULA documents.

use serde_json::Value;

use super::terms_of;
use crate::catalog::model::ErrorDetail;
use crate::support::json::str_at;

/// UpdateLegalTerms rules.
pub fn legal(doc: &Value) -> Vec<ErrorDetail> {
    let mut errors = Vec::new();
    let terms = terms_of(doc);
    if terms.len() > 1 {
        errors.push(ErrorDetail::new(
            "DUPLICATE_TERM_TYPES",
            "Provide only one LegalTerm.",
        ));
    }
    for t in &terms {
        let documents = t
            .get("Documents")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if documents.len() > 1 {
            errors.push(ErrorDetail::new(
                "INVALID_LEGAL_DOCUMENTS",
                "Provide exactly one legal document.",
            ));
        }
        for d in &documents {
            match str_at(d, "Type") {
                Some("StandardEula") | Some("StandardDsa") => {
                    let version = str_at(d, "Version").unwrap_or_default();
                    if !["2019-04-24", "2022-07-14", "2019-12-12"].contains(&version) {
                        errors.push(ErrorDetail::new(
                            "INVALID_LEGAL_DOCUMENTS",
                            format!("Version {version} of the standard contract isn't supported."),
                        ));
                    }
                }
                _ => {
                    let url = str_at(d, "Url").unwrap_or_default();
                    if !(url.starts_with("https://") || url.starts_with("http://")) {
                        errors.push(ErrorDetail::new(
                            "INVALID_LEGAL_DOCUMENTS",
                            "Provide an accessible http(s) URL for the legal document.",
                        ));
                    }
                }
            }
        }
    }
    errors
}
