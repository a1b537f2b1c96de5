//! A product's listing from a Catalog `DescribeEntity` details document: the product code (when
//! the document carries it), the title and the pricing dimensions.

use serde_json::Value;

use crate::domain::ports::{ListingDimension, ListingProduct};

/// The listing in `details` of entity `product_id`; `product_code` is the integration's code
/// for it when known.
pub fn product(
    product_id: &str,
    product_code: Option<&str>,
    details: &Value,
) -> Option<ListingProduct> {
    let code = product_code
        .map(str::to_owned)
        .or_else(|| details.get("ProductCode")?.as_str().map(str::to_owned))?;
    let title = details
        .pointer("/Description/ProductTitle")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let dimensions = details
        .get("Dimensions")
        .and_then(Value::as_array)
        .map(|all| all.iter().filter_map(dimension).collect())
        .unwrap_or_default();
    Some(ListingProduct {
        product_code: code,
        product_id: product_id.to_owned(),
        title,
        dimensions,
    })
}

fn dimension(value: &Value) -> Option<ListingDimension> {
    let key = value.get("Key")?.as_str()?.to_owned();
    Some(ListingDimension {
        name: value
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or(&key)
            .to_owned(),
        types: value
            .get("Types")
            .and_then(Value::as_array)
            .map(|t| {
                t.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        key,
    })
}

/// A Smithy document as JSON.
pub fn document_json(doc: &aws_smithy_types::Document) -> Value {
    use aws_smithy_types::{Document, Number};
    match doc {
        Document::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), document_json(v)))
                .collect(),
        ),
        Document::Array(items) => Value::Array(items.iter().map(document_json).collect()),
        Document::Number(Number::PosInt(n)) => Value::from(*n),
        Document::Number(Number::NegInt(n)) => Value::from(*n),
        Document::Number(Number::Float(f)) => Value::from(*f),
        Document::String(s) => Value::String(s.clone()),
        Document::Bool(b) => Value::Bool(*b),
        Document::Null => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_title_and_dimensions() {
        let details = json!({
            "ProductCode": "abc",
            "Description": {"ProductTitle": "Demo"},
            "Dimensions": [
                {"Key": "seats", "Name": "Seats", "Types": ["Entitled"]},
                {"Key": "users", "Types": ["ExternallyMetered"]},
                {"Name": "no key"}
            ]
        });
        let p = product("prod-1", None, &details).unwrap_or_else(|| panic!("no product"));
        assert_eq!(p.product_code, "abc");
        assert_eq!(p.title, "Demo");
        assert_eq!(p.dimensions.len(), 2);
        assert_eq!(p.dimensions[1].name, "users");
        assert_eq!(p.dimensions[0].types, vec!["Entitled".to_string()]);
    }
}
