//! The YAML file of `souk offer create -f`: one offer, flat, in the seller's words (decimal
//! amounts, `YYYY-MM-DD` days), turned into a CreatePrivateOffer request. The shape is
//! documented in docs/offers.md (the offer file) with an example per kind under
//! docs/examples/offers/. Amounts are parsed exactly into micros; the service checks the rest.
//! Channel-partner offers (`kind: channel_partner`) and resale authorisations have files of
//! their own (resale_file.rs), which reuse these pricing, EULA and date conversions.

use serde::Deserialize;
use souk_core::{CurrencyCode, Money};
use souk_proto::common::{Date, Money as PbMoney};
use souk_proto::offer as pb;

/// One offer as written in the file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferFile {
    /// `subscription`, `contract`, `contract_with_consumption`, `replacement`,
    /// `professional_services`, `ami`, `container` or `free_trial`.
    pub kind: String,
    /// The integration (`int_…`).
    pub integration_id: String,
    /// The Catalog product (`prod-…`); ignored by AWS for a replacement, kept for listings.
    pub product_id: String,
    pub name: String,
    pub description: String,
    /// USD, EUR, GBP, JPY or AUD (default USD).
    #[serde(default = "usd")]
    pub currency: String,
    #[serde(default)]
    pub buyers: Vec<String>,
    /// The last day to accept (`YYYY-MM-DD`); none for a free trial.
    pub expiry_date: Option<String>,
    #[serde(default)]
    pub eula: Option<EulaFile>,
    #[serde(default)]
    pub validity: Option<ValidityFile>,
    #[serde(default)]
    pub refund_policy: String,
    #[serde(default)]
    pub payment_schedule: Vec<InstallmentFile>,
    /// Contract length (contract kinds, AMI/container contracts).
    #[serde(default)]
    pub duration_months: i32,
    /// Contract dimensions (or an AMI's yearly prices).
    #[serde(default)]
    pub dimensions: Vec<DimensionFile>,
    #[serde(default)]
    pub allow_multiple_dimensions: bool,
    #[serde(default)]
    pub allow_quantity_change: bool,
    /// Usage prices (subscription, consumption, replacement).
    #[serde(default)]
    pub usage_prices: Vec<PriceFile>,
    /// `hourly`, `hourly_annual`, `contract` (AMI, container).
    #[serde(default)]
    pub pricing_model: Option<String>,
    /// Hourly prices (AMI, container).
    #[serde(default)]
    pub hourly_prices: Vec<PriceFile>,
    /// The agreement a replacement replaces.
    #[serde(default)]
    pub agreement_id: String,
    /// `upsell`, `renewal` or `replacement`.
    #[serde(default)]
    pub reason: Option<String>,
    /// Free-trial length.
    #[serde(default)]
    pub duration_days: i32,
    /// Free-trial dimensions.
    #[serde(default)]
    pub grants: Vec<GrantFile>,
    /// Automatic renewal of the contract (contract, contract with consumption, replacement).
    #[serde(default)]
    pub renewal: Option<RenewalFile>,
    /// Days a buyer paying by invoice has to pay: 15, 30, 45, 60, 90 or 120 (0: AWS's default).
    #[serde(default)]
    pub net_payment_days: i32,
    /// Up to 10 addresses that hear of the offer's lifecycle.
    #[serde(default)]
    pub notification_emails: Vec<String>,
}

/// `renewal:` of a contract; every key optional (none: a plain automatic renewal).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewalFile {
    /// Most renewals (0 or none: unlimited).
    #[serde(default)]
    pub max_renewals: i32,
    /// Price increase at each renewal, a quoted percentage such as "5.00".
    #[serde(default)]
    pub price_increase_percentage: String,
    /// Days before the end when the renewal can no longer change (0 or none: AWS's default).
    #[serde(default)]
    pub lockout_days: i32,
}

/// The default currency.
pub fn usd() -> String {
    "USD".into()
}

/// `standard: 2022-07-14` or `custom_url: https://…`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EulaFile {
    pub standard: Option<String>,
    pub custom_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ValidityFile {
    pub start_date: Option<String>,
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstallmentFile {
    pub date: String,
    pub amount: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DimensionFile {
    pub key: String,
    pub unit_price: String,
    #[serde(default)]
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceFile {
    pub key: String,
    pub price: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantFile {
    pub key: String,
    pub max_quantity: Option<i64>,
}

/// A `YYYY-MM-DD` day.
pub fn date(field: &str, raw: &str) -> Result<Date, String> {
    let parts: Vec<&str> = raw.split('-').collect();
    let number = |s: &str| s.parse::<i32>().ok();
    match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            match (number(y), number(m), number(d)) {
                (Some(year), Some(month), Some(day)) => Ok(Date { year, month, day }),
                _ => Err(format!("{field}: {raw:?} is not a YYYY-MM-DD date")),
            }
        }
        _ => Err(format!("{field}: {raw:?} is not a YYYY-MM-DD date")),
    }
}

/// An optional `YYYY-MM-DD` day.
pub fn optional_date(field: &str, raw: Option<&str>) -> Result<Option<Date>, String> {
    raw.map(|d| date(field, d)).transpose()
}

impl EulaFile {
    /// The EULA; `field` names the key in errors (`eula`, `buyer_eula`).
    pub fn eula(&self, field: &str) -> Result<pb::Eula, String> {
        match self {
            EulaFile {
                custom_url: Some(url),
                standard: None,
            } => Ok(pb::Eula {
                r#type: pb::EulaType::Custom as i32,
                custom_url: url.clone(),
                standard_version: String::new(),
            }),
            EulaFile {
                standard,
                custom_url: None,
            } => Ok(pb::Eula {
                r#type: pb::EulaType::Standard as i32,
                standard_version: standard.clone().unwrap_or_default(),
                custom_url: String::new(),
            }),
            _ => Err(format!("{field}: give either standard or custom_url")),
        }
    }
}

impl ValidityFile {
    /// The agreement's start and end days.
    pub fn validity(&self) -> Result<pb::Validity, String> {
        Ok(pb::Validity {
            agreement_start_date: optional_date("validity.start_date", self.start_date.as_deref())?,
            agreement_end_date: optional_date("validity.end_date", self.end_date.as_deref())?,
        })
    }
}

impl OfferFile {
    /// Parses the YAML text of an offer file.
    pub fn parse(text: &str) -> Result<Self, String> {
        serde_norway::from_str(text).map_err(|e| format!("the offer file is not valid: {e}"))
    }

    fn money(&self, field: &str, raw: &str) -> Result<Option<PbMoney>, String> {
        let currency = CurrencyCode::parse(&self.currency).map_err(|e| format!("currency: {e}"))?;
        let money: Money =
            Money::parse_decimal(raw, currency).map_err(|e| format!("{field}: {raw:?} {e}"))?;
        Ok(Some(PbMoney {
            amount_micros: money.amount_micros,
            currency_code: self.currency.clone(),
        }))
    }

    fn prices(&self, field: &str, prices: &[PriceFile]) -> Result<Vec<pb::DimensionPrice>, String> {
        prices
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Ok(pb::DimensionPrice {
                    dimension_key: p.key.clone(),
                    price: self.money(&format!("{field}[{i}].price"), &p.price)?,
                })
            })
            .collect()
    }

    fn dimensions(&self) -> Result<Vec<pb::ContractDimension>, String> {
        self.dimensions
            .iter()
            .enumerate()
            .map(|(i, d)| {
                Ok(pb::ContractDimension {
                    dimension_key: d.key.clone(),
                    unit_price: self
                        .money(&format!("dimensions[{i}].unit_price"), &d.unit_price)?,
                    quantity: d.quantity,
                })
            })
            .collect()
    }

    fn contract(&self) -> Result<pb::ContractTerms, String> {
        Ok(pb::ContractTerms {
            duration_months: self.duration_months,
            dimensions: self.dimensions()?,
            allow_multiple_dimensions: self.allow_multiple_dimensions,
            allow_quantity_change: self.allow_quantity_change,
            renewal: self.renewal.as_ref().map(|r| pb::RenewalTerms {
                max_renewals: r.max_renewals,
                price_increase_percentage: r.price_increase_percentage.clone(),
                lockout_days: r.lockout_days,
            }),
        })
    }

    fn software_model(&self) -> Result<i32, String> {
        Ok(match self.pricing_model.as_deref() {
            Some("hourly") => pb::SoftwarePricingModel::Hourly,
            Some("hourly_annual") => pb::SoftwarePricingModel::HourlyAnnual,
            Some("contract") => pb::SoftwarePricingModel::Contract,
            Some("byol") => pb::SoftwarePricingModel::Byol,
            Some("monthly") => pb::SoftwarePricingModel::Monthly,
            other => {
                return Err(format!(
                    "pricing_model: {other:?} is not hourly, hourly_annual or contract"
                ));
            }
        } as i32)
    }

    /// The kind and terms the file's `kind` and pricing keys describe.
    pub fn terms(&self) -> Result<(pb::OfferKind, pb::offer_terms::Kind), String> {
        use pb::offer_terms::Kind;
        Ok(match self.kind.as_str() {
            "subscription" => (
                pb::OfferKind::Subscription,
                Kind::Subscription(pb::SubscriptionTerms {
                    usage_prices: self.prices("usage_prices", &self.usage_prices)?,
                }),
            ),
            "contract" => (pb::OfferKind::Contract, Kind::Contract(self.contract()?)),
            "contract_with_consumption" => (
                pb::OfferKind::ContractWithConsumption,
                Kind::ContractWithConsumption(pb::ContractWithConsumptionTerms {
                    contract: Some(self.contract()?),
                    usage_prices: self.prices("usage_prices", &self.usage_prices)?,
                }),
            ),
            "replacement" => (
                pb::OfferKind::Replacement,
                Kind::Replacement(pb::ReplacementTerms {
                    agreement_id: self.agreement_id.clone(),
                    reason: match self.reason.as_deref() {
                        Some("upsell") => pb::ReplacementReason::Upsell,
                        Some("renewal") => pb::ReplacementReason::Renewal,
                        Some("replacement") | None => pb::ReplacementReason::Replacement,
                        Some(other) => {
                            return Err(format!(
                                "reason: {other:?} is not upsell, renewal or replacement"
                            ));
                        }
                    } as i32,
                    contract: Some(self.contract()?),
                    usage_prices: self.prices("usage_prices", &self.usage_prices)?,
                }),
            ),
            "professional_services" => (
                pb::OfferKind::ProfessionalServices,
                Kind::ProfessionalServices(pb::ProfessionalServicesTerms {
                    duration_months: self.duration_months,
                    dimensions: self.dimensions()?,
                }),
            ),
            "ami" => (
                pb::OfferKind::Ami,
                Kind::Ami(pb::AmiTerms {
                    pricing_model: self.software_model()?,
                    hourly_prices: self.prices("hourly_prices", &self.hourly_prices)?,
                    prepaid_dimensions: self.dimensions()?,
                    duration_months: self.duration_months,
                }),
            ),
            "container" => (
                pb::OfferKind::Container,
                Kind::Container(pb::ContainerTerms {
                    pricing_model: self.software_model()?,
                    hourly_prices: self.prices("hourly_prices", &self.hourly_prices)?,
                    contract_dimensions: self.dimensions()?,
                    duration_months: self.duration_months,
                }),
            ),
            "free_trial" => (
                pb::OfferKind::FreeTrial,
                Kind::FreeTrial(pb::FreeTrialTerms {
                    duration_days: self.duration_days,
                    grants: self
                        .grants
                        .iter()
                        .map(|g| pb::FreeTrialGrant {
                            dimension_key: g.key.clone(),
                            max_quantity: g.max_quantity,
                        })
                        .collect(),
                }),
            ),
            other => {
                return Err(format!(
                    "kind: {other:?} is not subscription, contract, contract_with_consumption, replacement, professional_services, ami, container, free_trial or channel_partner"
                ));
            }
        })
    }

    /// The `payment_schedule` installments, in the file's currency.
    pub fn payment_schedule(&self) -> Result<Vec<pb::PaymentInstallment>, String> {
        self.payment_schedule
            .iter()
            .enumerate()
            .map(|(i, p)| {
                Ok(pb::PaymentInstallment {
                    charge_date: Some(date(&format!("payment_schedule[{i}].date"), &p.date)?),
                    amount: self.money(&format!("payment_schedule[{i}].amount"), &p.amount)?,
                })
            })
            .collect()
    }

    /// The CreatePrivateOffer request, with `idempotency_key`.
    pub fn request(
        &self,
        idempotency_key: String,
    ) -> Result<pb::CreatePrivateOfferRequest, String> {
        let (kind, terms) = self.terms()?;
        let payment_schedule = self.payment_schedule()?;
        let eula = self.eula.as_ref().map(|e| e.eula("eula")).transpose()?;
        let validity = self
            .validity
            .as_ref()
            .map(ValidityFile::validity)
            .transpose()?;
        Ok(pb::CreatePrivateOfferRequest {
            integration_id: self.integration_id.clone(),
            product_id: self.product_id.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            terms: Some(pb::OfferTerms { kind: Some(terms) }),
            currency_code: self.currency.clone(),
            payment_schedule,
            eula,
            buyer_account_ids: self.buyers.clone(),
            expiry_date: optional_date("expiry_date", self.expiry_date.as_deref())?,
            validity,
            refund_policy: self.refund_policy.clone(),
            idempotency_key,
            kind: kind as i32,
            net_payment_days: self.net_payment_days,
            notification_emails: self.notification_emails.clone(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every example under docs/examples/offers/ parses into a request of its kind.
    #[test]
    fn every_example_parses_into_its_kind() {
        let examples = [
            (
                include_str!("../../../../docs/examples/offers/subscription.yaml"),
                pb::OfferKind::Subscription,
            ),
            (
                include_str!("../../../../docs/examples/offers/contract.yaml"),
                pb::OfferKind::Contract,
            ),
            (
                include_str!("../../../../docs/examples/offers/contract-with-consumption.yaml"),
                pb::OfferKind::ContractWithConsumption,
            ),
            (
                include_str!("../../../../docs/examples/offers/replacement.yaml"),
                pb::OfferKind::Replacement,
            ),
            (
                include_str!("../../../../docs/examples/offers/professional-services.yaml"),
                pb::OfferKind::ProfessionalServices,
            ),
            (
                include_str!("../../../../docs/examples/offers/ami-hourly.yaml"),
                pb::OfferKind::Ami,
            ),
            (
                include_str!("../../../../docs/examples/offers/container-contract.yaml"),
                pb::OfferKind::Container,
            ),
            (
                include_str!("../../../../docs/examples/offers/free-trial.yaml"),
                pb::OfferKind::FreeTrial,
            ),
        ];
        for (text, kind) in examples {
            let request = OfferFile::parse(text).unwrap().request("k".into()).unwrap();
            assert_eq!(request.kind, kind as i32);
            assert!(request.terms.unwrap().kind.is_some());
        }
    }

    #[test]
    fn renewal_payment_days_and_contacts_reach_the_request() {
        let text = include_str!("../../../../docs/examples/offers/contract.yaml");
        let request = OfferFile::parse(text).unwrap().request("k".into()).unwrap();
        let Some(pb::offer_terms::Kind::Contract(contract)) = request.terms.unwrap().kind else {
            panic!("a contract");
        };
        assert_eq!(
            contract.renewal,
            Some(pb::RenewalTerms {
                max_renewals: 2,
                price_increase_percentage: "5.00".into(),
                lockout_days: 30,
            })
        );
        assert_eq!(request.net_payment_days, 30);
        assert_eq!(
            request.notification_emails,
            vec![
                "deals@example.com".to_owned(),
                "finance@example.com".to_owned()
            ]
        );
        // `renewal: {}` is a plain automatic renewal; no key, none.
        let plain = "kind: contract\nintegration_id: i\nproduct_id: p\nname: n\ndescription: d\nrenewal: {}\n";
        let request = OfferFile::parse(plain)
            .unwrap()
            .request("k".into())
            .unwrap();
        let Some(pb::offer_terms::Kind::Contract(contract)) = request.terms.unwrap().kind else {
            panic!("a contract");
        };
        assert_eq!(contract.renewal, Some(pb::RenewalTerms::default()));
        assert!(OfferFile::parse("kind: contract\nrenewal: {every: 1}\n").is_err());
    }

    #[test]
    fn amounts_are_exact_micros_and_dates_are_days() {
        let text = "kind: contract\nintegration_id: int_x\nproduct_id: prod-x\nname: n\ndescription: d\n\
                    expiry_date: 2027-01-31\nduration_months: 12\n\
                    dimensions: [{key: seats, unit_price: \"100.10\", quantity: 3}]\n\
                    payment_schedule: [{date: 2027-01-15, amount: \"300.30\"}]\n";
        let request = OfferFile::parse(text).unwrap().request("k".into()).unwrap();
        assert_eq!(
            request.payment_schedule[0]
                .amount
                .as_ref()
                .unwrap()
                .amount_micros,
            300_300_000
        );
        assert_eq!(
            request.expiry_date,
            Some(Date {
                year: 2027,
                month: 1,
                day: 31
            })
        );
        let bad = OfferFile::parse(
            "kind: lease\nintegration_id: i\nproduct_id: p\nname: n\ndescription: d\n",
        )
        .unwrap()
        .request("k".into())
        .unwrap_err();
        assert!(bad.starts_with("kind: \"lease\" is not"), "{bad}");
        assert!(OfferFile::parse("kind: contract\nmystery: 1\n").is_err());
    }
}
