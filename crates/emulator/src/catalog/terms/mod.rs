//! Asynchronous business rules for offer term documents (docs/aws/catalog.md, offer change types and term types): each function returns the
//! `ErrorDetailList` entries a change type's DetailsDocument earns against the offer as it stands.

use serde_json::Value;

use crate::support::format::parse_micros;
use crate::support::json::{items_at, str_at};

mod legal;
mod net_payment;
mod pricing;
mod renewal;
mod schedule;
mod targeting;
mod validity;

pub use legal::legal;
pub use net_payment::net_payment;
pub use pricing::{offer_currency, pricing};
pub use renewal::renewal;
pub use schedule::{charge_dates, schedule};
pub use targeting::{list, targeting};
pub use validity::validity;

/// Currencies accepted for upfront and payment-schedule terms on private offers.
pub const PRIVATE_CURRENCIES: &[&str] = &["USD", "AUD", "EUR", "GBP", "JPY"];

/// Most schedule entries a payment schedule may have.
pub const MAX_CHARGES: usize = 60;

/// A copy of the `Terms` array of a DetailsDocument (empty when absent).
pub fn terms_of(doc: &Value) -> Vec<Value> {
    doc.get("Terms")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The term types present more than once in `terms`.
pub fn duplicate_types(terms: &[Value]) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut dups = Vec::new();
    for t in terms {
        let kind = str_at(t, "Type").unwrap_or_default();
        if seen.contains(&kind) && !dups.contains(&kind.to_owned()) {
            dups.push(kind.to_owned());
        }
        seen.push(kind);
    }
    dups
}

/// Every DimensionKey a pricing term names (grants and rate cards).
pub fn dimension_keys(term: &Value) -> Vec<String> {
    let mut keys = Vec::new();
    for grant in items_at(term, "Grants") {
        if let Some(k) = str_at(grant, "DimensionKey") {
            keys.push(k.to_owned());
        }
    }
    for rate in rates(term) {
        if let Some(k) = str_at(rate, "DimensionKey") {
            keys.push(k.to_owned());
        }
    }
    keys
}

/// All prices (micros) a pricing term carries.
pub fn prices(term: &Value) -> Vec<i64> {
    let mut out = Vec::new();
    if let Some(p) = str_at(term, "Price").and_then(|p| parse_micros(p, 8)) {
        out.push(p);
    }
    for rate in rates(term) {
        if let Some(p) = str_at(rate, "Price").and_then(|p| parse_micros(p, 8)) {
            out.push(p);
        }
    }
    out
}

/// Every rate of every rate card in a pricing term.
fn rates(term: &Value) -> impl Iterator<Item = &Value> {
    items_at(term, "RateCards").flat_map(|card| items_at(card, "RateCard"))
}
