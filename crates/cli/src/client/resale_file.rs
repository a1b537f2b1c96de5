//! The YAML files of channel-partner selling, flat like the offer file and sharing its pricing
//! keys and conversions (crates/cli/src/client/offer_file.rs): the resale authorisation a seller
//! grants (`souk offer resale create -f`, `kind: resale_authorization`) and the channel-partner
//! offer a partner makes from one (`souk offer create -f`, `kind: channel_partner`). The shapes
//! are documented in docs/offers.md with examples under docs/examples/offers/.

use serde::Deserialize;
use souk_proto::offer as pb;

use super::offer_file::{
    DimensionFile, EulaFile, InstallmentFile, OfferFile, PriceFile, ValidityFile, optional_date,
    usd,
};

/// The `kind` of a resale authorisation file.
pub const RESALE_KIND: &str = "resale_authorization";
/// The `kind` of a channel-partner offer file.
pub const CHANNEL_PARTNER_KIND: &str = "channel_partner";

/// The terms a resale authorisation can grant (`terms:`).
const RESALE_TERMS: [&str; 3] = ["subscription", "contract", "contract_with_consumption"];

/// The `kind` of the YAML `text` when it is a string; `what` names the file in errors.
fn kind_of(text: &str, what: &str) -> Result<Option<String>, String> {
    let value: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| format!("the {what} file is not valid: {e}"))?;
    Ok(value
        .get("kind")
        .and_then(|k| k.as_str())
        .map(str::to_owned))
}

/// What `souk offer create -f` sends for a file.
#[derive(Debug, Clone, PartialEq)]
pub enum OfferRequest {
    /// Any `kind` but `channel_partner`.
    Private(Box<pb::CreatePrivateOfferRequest>),
    /// `kind: channel_partner`.
    ChannelPartner(Box<pb::CreateChannelPartnerOfferRequest>),
}

/// The request of the offer file `text` (a private offer or a channel-partner offer), with
/// `idempotency_key`.
pub fn offer_request(text: &str, idempotency_key: String) -> Result<OfferRequest, String> {
    match kind_of(text, "offer")?.as_deref() {
        Some(CHANNEL_PARTNER_KIND) => ChannelPartnerFile::parse(text)?
            .request(idempotency_key)
            .map(|r| OfferRequest::ChannelPartner(Box::new(r))),
        Some(RESALE_KIND) => Err(format!(
            "kind: {RESALE_KIND:?} is a resale authorisation, not an offer: create it with `souk offer resale create -f`"
        )),
        _ => OfferFile::parse(text)?
            .request(idempotency_key)
            .map(|r| OfferRequest::Private(Box::new(r))),
    }
}

/// A resale authorisation as written in the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResaleFile {
    /// `resale_authorization`.
    pub kind: String,
    /// The seller's integration (`int_…`).
    pub integration_id: String,
    /// The Catalog product (`prod-…`).
    pub product_id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The channel partner's AWS account (12 digits).
    pub reseller_account_id: String,
    /// `subscription`, `contract` or `contract_with_consumption`: the pricing keys below are the
    /// offer file's for that kind.
    pub terms: String,
    /// USD, EUR, GBP, JPY or AUD (default USD).
    #[serde(default = "usd")]
    pub currency: String,
    #[serde(default)]
    pub payment_schedule: Vec<InstallmentFile>,
    /// The licence agreement the end buyers accept.
    #[serde(default)]
    pub buyer_eula: Option<EulaFile>,
    /// Only these buyer accounts; none for any buyer.
    #[serde(default)]
    pub buyers: Vec<String>,
    /// The last day the partner may make offers from it (`YYYY-MM-DD`); none for no end.
    pub expiry_date: Option<String>,
    /// True if the partner may make a single offer from it.
    #[serde(default)]
    pub one_time: bool,
    #[serde(default)]
    pub duration_months: i32,
    #[serde(default)]
    pub dimensions: Vec<DimensionFile>,
    #[serde(default)]
    pub allow_multiple_dimensions: bool,
    #[serde(default)]
    pub allow_quantity_change: bool,
    #[serde(default)]
    pub usage_prices: Vec<PriceFile>,
}

impl ResaleFile {
    /// Parses the YAML text of a resale authorisation file.
    pub fn parse(text: &str) -> Result<Self, String> {
        const WHAT: &str = "resale authorisation";
        match kind_of(text, WHAT)?.as_deref() {
            Some(RESALE_KIND) => {}
            None => {
                return Err(format!(
                    "kind: missing: a resale authorisation file has kind: {RESALE_KIND}"
                ));
            }
            Some(other) => {
                return Err(format!(
                    "kind: {other:?} is an offer, not a resale authorisation (kind: {RESALE_KIND}): create it with `souk offer create -f`"
                ));
            }
        }
        serde_norway::from_str(text).map_err(|e| format!("the {WHAT} file is not valid: {e}"))
    }

    /// The file's pricing as an offer file of kind `terms`, to convert it the offers' way.
    fn pricing(&self) -> OfferFile {
        OfferFile {
            kind: self.terms.clone(),
            currency: self.currency.clone(),
            payment_schedule: self.payment_schedule.clone(),
            duration_months: self.duration_months,
            dimensions: self.dimensions.clone(),
            allow_multiple_dimensions: self.allow_multiple_dimensions,
            allow_quantity_change: self.allow_quantity_change,
            usage_prices: self.usage_prices.clone(),
            ..OfferFile::default()
        }
    }

    /// The CreateResaleAuthorization request, with `idempotency_key`.
    pub fn request(
        &self,
        idempotency_key: String,
    ) -> Result<pb::CreateResaleAuthorizationRequest, String> {
        if self.kind != RESALE_KIND {
            return Err(format!("kind: {:?} is not {RESALE_KIND}", self.kind));
        }
        if !RESALE_TERMS.contains(&self.terms.as_str()) {
            return Err(format!(
                "terms: {:?} is not subscription, contract or contract_with_consumption (the terms a resale authorisation can grant)",
                self.terms
            ));
        }
        let pricing = self.pricing();
        let (_, terms) = pricing.terms()?;
        Ok(pb::CreateResaleAuthorizationRequest {
            integration_id: self.integration_id.clone(),
            product_id: self.product_id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            reseller_account_id: self.reseller_account_id.clone(),
            terms: Some(pb::OfferTerms { kind: Some(terms) }),
            currency_code: self.currency.clone(),
            payment_schedule: pricing.payment_schedule()?,
            buyer_eula: self
                .buyer_eula
                .as_ref()
                .map(|e| e.eula("buyer_eula"))
                .transpose()?,
            buyer_account_ids: self.buyers.clone(),
            expiry_date: optional_date("expiry_date", self.expiry_date.as_deref())?,
            one_time: self.one_time,
            idempotency_key,
        })
    }
}

/// A channel-partner offer as written in the file: the pricing is the resale authorisation's,
/// raised by the markup.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelPartnerFile {
    /// `channel_partner`.
    pub kind: String,
    /// The partner's integration that received the resale authorisation (`int_…`).
    pub integration_id: String,
    /// The AWS resale authorisation id (`resaleauthz-…`).
    pub resale_authorization_id: String,
    pub name: String,
    pub description: String,
    /// The markup over the seller's price as a decimal percentage (`"12.5"`; `"0"` for none).
    pub markup_percentage: String,
    #[serde(default)]
    pub buyers: Vec<String>,
    /// The last day to accept (`YYYY-MM-DD`).
    pub expiry_date: Option<String>,
    #[serde(default)]
    pub validity: Option<ValidityFile>,
    /// The agreement (`agmt-…`) the offer replaces; none for a new agreement.
    #[serde(default)]
    pub replace_agreement_id: String,
    /// Addresses that hear of the offer's lifecycle.
    #[serde(default)]
    pub notification_emails: Vec<String>,
}

impl ChannelPartnerFile {
    /// Parses the YAML text of a channel-partner offer file.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_norway::from_str(text).map_err(|e| format!("the offer file is not valid: {e}"))
    }

    /// The CreateChannelPartnerOffer request, with `idempotency_key`.
    pub fn request(
        &self,
        idempotency_key: String,
    ) -> Result<pb::CreateChannelPartnerOfferRequest, String> {
        if self.kind != CHANNEL_PARTNER_KIND {
            return Err(format!(
                "kind: {:?} is not {CHANNEL_PARTNER_KIND}",
                self.kind
            ));
        }
        Ok(pb::CreateChannelPartnerOfferRequest {
            integration_id: self.integration_id.clone(),
            resale_authorization_id: self.resale_authorization_id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            markup_percentage: self.markup_percentage.clone(),
            buyer_account_ids: self.buyers.clone(),
            expiry_date: optional_date("expiry_date", self.expiry_date.as_deref())?,
            validity: self
                .validity
                .as_ref()
                .map(ValidityFile::validity)
                .transpose()?,
            replace_agreement_id: self.replace_agreement_id.clone(),
            notification_emails: self.notification_emails.clone(),
            idempotency_key,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use souk_proto::common::Date;

    use super::*;

    const RESALE_EXAMPLE: &str =
        include_str!("../../../../docs/examples/offers/resale-authorization.yaml");
    const CPPO_EXAMPLE: &str =
        include_str!("../../../../docs/examples/offers/channel-partner.yaml");

    fn day(year: i32, month: i32, day: i32) -> Option<Date> {
        Some(Date { year, month, day })
    }

    #[test]
    fn the_resale_example_is_a_contract_authorisation() {
        let request = ResaleFile::parse(RESALE_EXAMPLE)
            .unwrap()
            .request("k".into())
            .unwrap();
        assert_eq!(request.reseller_account_id, "777788889999");
        assert_eq!(request.currency_code, "USD");
        assert_eq!(request.expiry_date, day(2027, 6, 30));
        assert_eq!(request.idempotency_key, "k");
        let Some(pb::offer_terms::Kind::Contract(contract)) = request.terms.unwrap().kind else {
            panic!("not a contract");
        };
        assert_eq!(contract.duration_months, 12);
        assert_eq!(contract.dimensions[0].dimension_key, "seats");
        assert_eq!(
            contract.dimensions[0]
                .unit_price
                .as_ref()
                .unwrap()
                .amount_micros,
            80_000_000
        );
        assert_eq!(
            request.buyer_eula.unwrap().r#type,
            pb::EulaType::Standard as i32
        );
    }

    #[test]
    fn resale_terms_use_the_offer_pricing_keys() {
        let text = "kind: resale_authorization\nintegration_id: int_x\nproduct_id: prod-x\n\
                    name: n\nreseller_account_id: \"777788889999\"\nterms: contract_with_consumption\n\
                    duration_months: 12\nallow_quantity_change: true\n\
                    dimensions: [{key: seats, unit_price: \"50.00\"}]\n\
                    usage_prices: [{key: api_calls, price: \"0.001\"}]\n\
                    payment_schedule: [{date: 2027-01-15, amount: \"300.30\"}]\n\
                    buyer_eula: {custom_url: \"https://example.com/eula.pdf\"}\n\
                    buyers: [\"444455556666\"]\none_time: true\n";
        let request = ResaleFile::parse(text)
            .unwrap()
            .request("k".into())
            .unwrap();
        let Some(pb::offer_terms::Kind::ContractWithConsumption(terms)) =
            request.terms.unwrap().kind
        else {
            panic!("not a contract with consumption");
        };
        assert!(terms.contract.unwrap().allow_quantity_change);
        assert_eq!(
            terms.usage_prices[0].price.as_ref().unwrap().amount_micros,
            1_000
        );
        assert_eq!(request.payment_schedule[0].charge_date, day(2027, 1, 15));
        assert_eq!(
            request.payment_schedule[0]
                .amount
                .as_ref()
                .unwrap()
                .amount_micros,
            300_300_000
        );
        assert_eq!(
            request.buyer_eula.unwrap().custom_url,
            "https://example.com/eula.pdf"
        );
        assert_eq!(request.buyer_account_ids, ["444455556666"]);
        assert!(request.one_time);
        assert_eq!(request.expiry_date, None);
    }

    /// The error of `text` as a resale authorisation file.
    fn resale_error(text: &str) -> String {
        ResaleFile::parse(text)
            .and_then(|f| f.request("k".into()))
            .unwrap_err()
    }

    const RESALE_HEAD: &str = "kind: resale_authorization\nintegration_id: int_x\nproduct_id: prod-x\nname: n\nreseller_account_id: \"777788889999\"\n";

    #[test]
    fn bad_resale_files_say_what_to_change() {
        assert_eq!(
            resale_error(&format!("{RESALE_HEAD}terms: ami\n")),
            "terms: \"ami\" is not subscription, contract or contract_with_consumption (the terms a resale authorisation can grant)"
        );
        assert_eq!(
            resale_error(&format!(
                "{RESALE_HEAD}terms: contract\nmarkup_percentage: \"5\"\n"
            )),
            "the resale authorisation file is not valid: unknown field `markup_percentage`, expected one of `kind`, `integration_id`, `product_id`, `name`, `description`, `reseller_account_id`, `terms`, `currency`, `payment_schedule`, `buyer_eula`, `buyers`, `expiry_date`, `one_time`, `duration_months`, `dimensions`, `allow_multiple_dimensions`, `allow_quantity_change`, `usage_prices` at line 7 column 1"
        );
        assert_eq!(
            resale_error(&format!(
                "{RESALE_HEAD}terms: contract\ndimensions: [{{key: seats, unit_price: \"1.5x\"}}]\n"
            )),
            "dimensions[0].unit_price: \"1.5x\" must be a decimal number"
        );
        assert_eq!(
            resale_error(&format!(
                "{RESALE_HEAD}terms: contract\nexpiry_date: 2027-6-30\n"
            )),
            "expiry_date: \"2027-6-30\" is not a YYYY-MM-DD date"
        );
        assert_eq!(
            resale_error(&format!(
                "{RESALE_HEAD}terms: contract\nbuyer_eula: {{standard: \"2022-07-14\", custom_url: \"https://x\"}}\n"
            )),
            "buyer_eula: give either standard or custom_url"
        );
        assert_eq!(
            resale_error("kind: contract\nintegration_id: int_x\n"),
            "kind: \"contract\" is an offer, not a resale authorisation (kind: resale_authorization): create it with `souk offer create -f`"
        );
        assert_eq!(
            resale_error("integration_id: int_x\n"),
            "kind: missing: a resale authorisation file has kind: resale_authorization"
        );
        assert_eq!(
            resale_error(&format!("{RESALE_HEAD}terms: contract\nbuyers: 4\n")),
            "the resale authorisation file is not valid: buyers: invalid type: integer `4`, expected a sequence at line 7 column 9"
        );
    }

    #[test]
    fn the_channel_partner_example_is_a_channel_partner_offer() {
        let OfferRequest::ChannelPartner(request) =
            offer_request(CPPO_EXAMPLE, "k".into()).unwrap()
        else {
            panic!("not a channel-partner offer");
        };
        assert!(
            request.resale_authorization_id.starts_with("resaleauthz-"),
            "{request:?}"
        );
        assert_eq!(request.markup_percentage, "12.5");
        assert_eq!(request.buyer_account_ids, ["444455556666"]);
        assert_eq!(request.expiry_date, day(2027, 1, 31));
        assert_eq!(request.replace_agreement_id, "");
        assert_eq!(request.idempotency_key, "k");
    }

    #[test]
    fn channel_partner_files_take_validity_and_a_replaced_agreement() {
        let text = "kind: channel_partner\nintegration_id: int_p\nresale_authorization_id: resaleauthz-1\n\
                    name: n\ndescription: d\nmarkup_percentage: 0\nbuyers: [\"444455556666\"]\n\
                    expiry_date: 2027-01-31\nvalidity: {start_date: 2027-02-01, end_date: 2028-01-31}\n\
                    replace_agreement_id: agmt-1\nnotification_emails: [deals@example.com]\n";
        let OfferRequest::ChannelPartner(request) = offer_request(text, "k".into()).unwrap() else {
            panic!("not a channel-partner offer");
        };
        assert_eq!(request.markup_percentage, "0");
        assert_eq!(
            request.validity,
            Some(pb::Validity {
                agreement_start_date: day(2027, 2, 1),
                agreement_end_date: day(2028, 1, 31),
            })
        );
        assert_eq!(request.replace_agreement_id, "agmt-1");
        assert_eq!(request.notification_emails, ["deals@example.com"]);
    }

    /// The error of `text` as an offer file.
    fn offer_error(text: &str) -> String {
        offer_request(text, "k".into()).unwrap_err()
    }

    #[test]
    fn bad_offer_files_say_what_to_change() {
        let cppo = "kind: channel_partner\nintegration_id: int_p\nresale_authorization_id: resaleauthz-1\nname: n\ndescription: d\n";
        assert_eq!(
            offer_error(&format!("{cppo}markup_percentage: \"5\"\ndimensions: []\n")),
            "the offer file is not valid: unknown field `dimensions`, expected one of `kind`, `integration_id`, `resale_authorization_id`, `name`, `description`, `markup_percentage`, `buyers`, `expiry_date`, `validity`, `replace_agreement_id`, `notification_emails` at line 7 column 1"
        );
        assert_eq!(
            offer_error(cppo),
            "the offer file is not valid: missing field `markup_percentage`"
        );
        assert_eq!(
            offer_error(&format!(
                "{cppo}markup_percentage: \"5\"\nvalidity: {{start_date: tomorrow}}\n"
            )),
            "validity.start_date: \"tomorrow\" is not a YYYY-MM-DD date"
        );
        assert_eq!(
            offer_error("kind: resale_authorization\n"),
            "kind: \"resale_authorization\" is a resale authorisation, not an offer: create it with `souk offer resale create -f`"
        );
        assert!(
            offer_error("kind: lease\nintegration_id: i\nproduct_id: p\nname: n\ndescription: d\n")
                .ends_with("free_trial or channel_partner"),
        );
        assert_eq!(
            offer_error("- kind: contract\n"),
            "the offer file is not valid: invalid type: sequence, expected struct OfferFile"
        );
    }
}
