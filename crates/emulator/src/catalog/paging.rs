//! The Catalog's `NextToken` member (tokens themselves: [`crate::support::paging`]).

use serde_json::{Map, Value};

pub use crate::support::paging::{decode, token};

use super::error::{CatalogError, CatalogResult};

/// The page's start offset from the request's `NextToken`.
pub fn start(map: &Map<String, Value>, field: &str) -> CatalogResult<usize> {
    match super::members::opt_str(map, "NextToken", field)? {
        None => Ok(0),
        Some(t) => decode(t).ok_or_else(|| CatalogError::validation("The NextToken is invalid.")),
    }
}
