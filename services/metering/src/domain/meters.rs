//! The meters of every organisation, kept in memory for the ingestion path: a product's
//! dimensions are known only through its meters, so an unknown dimension is refused at once.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use souk_core::Id;

use super::model::Meter;

/// Meters of one organisation and product.
type ByProduct = HashMap<(Id, String), Vec<Meter>>;

/// The meters by organisation and product.
#[derive(Debug, Clone, Default)]
pub struct MeterCache(Arc<RwLock<ByProduct>>);

/// How an event's dimension matched a product's meters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DimensionMatch {
    /// The meter of that dimension (by AWS key or feature name).
    Meter(Meter),
    /// The product has no meter of that name.
    Unknown {
        /// The product's dimensions and feature names, for the error.
        known: Vec<String>,
    },
}

impl MeterCache {
    /// Replaces everything with `meters`.
    pub fn replace(&self, meters: Vec<Meter>) {
        let mut map = ByProduct::new();
        for meter in meters {
            map.entry((meter.organization_id.clone(), meter.product_code.clone()))
                .or_default()
                .push(meter);
        }
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = map;
    }

    /// Adds or replaces one meter.
    pub fn put(&self, meter: Meter) {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        let meters = map
            .entry((meter.organization_id.clone(), meter.product_code.clone()))
            .or_default();
        meters.retain(|m| m.dimension != meter.dimension);
        meters.push(meter);
    }

    /// The meter `name` (AWS key or feature) of a product.
    pub fn find(&self, organization_id: &Id, product_code: &str, name: &str) -> DimensionMatch {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        let meters = map
            .get(&(organization_id.clone(), product_code.to_owned()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let found = meters
            .iter()
            .find(|m| m.dimension == name)
            .or_else(|| meters.iter().find(|m| m.feature.as_deref() == Some(name)));
        match found {
            Some(meter) => DimensionMatch::Meter(meter.clone()),
            None => {
                let mut known: Vec<String> = meters
                    .iter()
                    .flat_map(|m| std::iter::once(m.dimension.clone()).chain(m.feature.clone()))
                    .collect();
                known.sort();
                DimensionMatch::Unknown { known }
            }
        }
    }

    /// Every meter of an organisation (of one product when given), by product then dimension.
    pub fn list(&self, organization_id: &Id, product_code: Option<&str>) -> Vec<Meter> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        let mut meters: Vec<Meter> = map
            .iter()
            .filter(|((org, product), _)| {
                org == organization_id && product_code.is_none_or(|p| p == product)
            })
            .flat_map(|(_, meters)| meters.iter().cloned())
            .collect();
        meters
            .sort_by(|a, b| (&a.product_code, &a.dimension).cmp(&(&b.product_code, &b.dimension)));
        meters
    }

    /// Every meter that wants zero records.
    pub fn zero_fill(&self) -> Vec<Meter> {
        let map = self.0.read().unwrap_or_else(|e| e.into_inner());
        map.values()
            .flatten()
            .filter(|m| m.zero_fill)
            .cloned()
            .collect()
    }
}
