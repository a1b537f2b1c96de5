//! What narrows a report: products, customers, offers, agreements and resellers, each a list
//! of accepted values (empty accepts all); the lists combine with AND.

/// A report filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Catalog product ids (`prod-...`).
    pub product_ids: Vec<String>,
    /// Marketplace product codes.
    pub product_codes: Vec<String>,
    /// Buyers' 12-digit AWS account ids.
    pub customer_aws_account_ids: Vec<String>,
    /// AWS offer ids.
    pub offer_ids: Vec<String>,
    /// AWS agreement ids.
    pub agreement_ids: Vec<String>,
    /// Resellers' 12-digit AWS account ids.
    pub reseller_aws_account_ids: Vec<String>,
}

/// Whether `value` passes the list `accepted` (an empty list accepts everything).
pub fn accepts(accepted: &[String], value: &str) -> bool {
    accepted.is_empty() || accepted.iter().any(|a| a == value)
}

impl Filter {
    /// True when the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        self.product_ids.is_empty()
            && self.product_codes.is_empty()
            && self.customer_aws_account_ids.is_empty()
            && self.offer_ids.is_empty()
            && self.agreement_ids.is_empty()
            && self.reseller_aws_account_ids.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_list_accepts_everything_and_a_list_only_its_values() {
        assert!(accepts(&[], "prod-a"));
        let list = vec!["prod-a".to_owned(), "prod-b".to_owned()];
        assert!(accepts(&list, "prod-b"));
        assert!(!accepts(&list, "prod-c"));
        assert!(Filter::default().is_empty());
        let filter = Filter {
            offer_ids: list,
            ..Filter::default()
        };
        assert!(!filter.is_empty());
    }
}
