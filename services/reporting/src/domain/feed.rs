//! The Seller Data Feeds Souk reads (docs/aws/data-feeds.md): which feed a bucket key holds and
//! what identifies a row of each.

/// One feed (table) of the Seller Data Feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feed {
    /// `billing_event`: invoices, fees, refunds, disbursements.
    BillingEvent,
    /// `account`: buyer and seller accounts.
    Account,
    /// `address`: account addresses.
    Address,
    /// `product`: products.
    Product,
    /// `offer`: offers, one row per revision.
    Offer,
    /// `offer_product`: which product an offer revision is for.
    OfferProduct,
    /// `offer_target`: who an offer revision targets.
    OfferTarget,
    /// `agreement`: agreements.
    Agreement,
    /// `tax_item`: tax lines.
    TaxItem,
    /// `legacy_id_mapping`: old to new offer and product ids.
    LegacyIdMapping,
}

impl Feed {
    /// Every feed.
    pub const ALL: [Self; 10] = [
        Self::BillingEvent,
        Self::Account,
        Self::Address,
        Self::Product,
        Self::Offer,
        Self::OfferProduct,
        Self::OfferTarget,
        Self::Agreement,
        Self::TaxItem,
        Self::LegacyIdMapping,
    ];

    /// The feed's name, as in its folder (`billing_event_v1/...`).
    pub fn name(self) -> &'static str {
        match self {
            Self::BillingEvent => "billing_event",
            Self::Account => "account",
            Self::Address => "address",
            Self::Product => "product",
            Self::Offer => "offer",
            Self::OfferProduct => "offer_product",
            Self::OfferTarget => "offer_target",
            Self::Agreement => "agreement",
            Self::TaxItem => "tax_item",
            Self::LegacyIdMapping => "legacy_id_mapping",
        }
    }

    /// The feed named `raw`.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == raw)
    }

    /// The feed of bucket key `key` (`<feed>_v<N>/year=YYYY/month=MM/data.csv`, possibly under
    /// a prefix); `None` for any other object.
    pub fn of_key(key: &str) -> Option<Self> {
        let mut parts = key.rsplit('/');
        let file = parts.next()?;
        let month = parts.next()?;
        let year = parts.next()?;
        let folder = parts.next()?;
        if !file.ends_with(".csv") || !month.starts_with("month=") || !year.starts_with("year=") {
            return None;
        }
        let (name, version) = folder.rsplit_once("_v")?;
        if version.is_empty() || !version.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Self::parse(name)
    }

    /// The columns that identify a row; its versions share them and differ by `valid_from`
    /// and `update_date`.
    pub fn key_columns(self) -> &'static [&'static str] {
        match self {
            Self::BillingEvent => &["billing_event_id"],
            Self::Account => &["account_id"],
            Self::Address => &["address_id"],
            Self::Product => &["product_id"],
            Self::Offer => &["offer_id", "offer_revision"],
            Self::OfferProduct => &["offer_id", "offer_revision", "product_id"],
            Self::OfferTarget => &["offer_target_id"],
            Self::Agreement => &["agreement_id"],
            Self::TaxItem => &["tax_item_id"],
            Self::LegacyIdMapping => &["mapping_type", "legacy_id"],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_feed() {
        assert_eq!(
            Feed::of_key("billing_event_v1/year=2026/month=11/data.csv"),
            Some(Feed::BillingEvent)
        );
        assert_eq!(
            Feed::of_key("sellers/acme/offer_target_v2/year=2026/month=01/data.csv"),
            Some(Feed::OfferTarget)
        );
        assert_eq!(Feed::of_key("billing_event_v1/readme.txt"), None);
        assert_eq!(Feed::of_key("unknown_v1/year=2026/month=11/data.csv"), None);
        assert_eq!(Feed::of_key("offer_vX/year=2026/month=11/data.csv"), None);
    }
}
