//! An offer made outside Souk, as DescribeEntity shows it (docs/aws/catalog.md, the offer
//! DetailsDocument), read back into an [`OfferDraft`] so that Souk lists and tracks it like its
//! own. Pure: the AWS adapter fetches the documents. Imported terms are descriptive: AWS
//! already took them, so they are not checked again, and what the document does not say (a
//! fixed upfront term's price per dimension) is left at zero.

use serde_json::Value;
use time::{Date, Month};

use super::model::{
    ContractDimension, ContractTerms, DimensionPrice, Eula, FreeTrialGrant, Installment,
    OfferDraft, Pricing, Renewal, ReplacementReason, ResaleTerms, STANDARD_EULA_VERSION,
    SoftwarePricingModel, SoftwareTerms, Validity,
};
use super::resale::ResaleAuthorizationDraft;

/// An offer read from the Catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedOffer {
    /// The AWS offer id.
    pub aws_offer_id: String,
    /// Its terms.
    pub draft: OfferDraft,
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// `YYYY-MM-DD`, or a timestamp whose first ten characters are one.
fn day(raw: &str) -> Option<Date> {
    let d = raw.get(..10)?;
    let mut parts = d.split('-');
    let year = parts.next()?.parse().ok()?;
    let month = Month::try_from(parts.next()?.parse::<u8>().ok()?).ok()?;
    let day = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, month, day).ok()
}

/// A decimal price as micros (more than 6 decimals are cut: micros are Souk's unit).
fn micros(raw: &str) -> Option<i64> {
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let whole: i64 = whole.parse().ok()?;
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(6).collect();
    let frac: i64 = digits.parse().ok()?;
    whole.checked_mul(1_000_000)?.checked_add(frac)
}

/// `P12M` as 12 months, `P365D` as 12 months (the yearly card), other day counts as None.
fn months(raw: &str) -> Option<u32> {
    if let Some(n) = raw.strip_prefix('P').and_then(|r| r.strip_suffix('M')) {
        return n.parse().ok();
    }
    match raw {
        "P365D" | "P1Y" => Some(12),
        _ => None,
    }
}

fn days(raw: &str) -> Option<u32> {
    raw.strip_prefix('P')?.strip_suffix('D')?.parse().ok()
}

/// A RenewalTerm as Souk's renewal: its limits and its fixed price increase (a percentage
/// range, which Souk does not make, is read as its default value).
fn renewal(term: &Value) -> Renewal {
    let increase = term.get("PriceIncrease").unwrap_or(&Value::Null);
    let price_increase_percentage = match text(increase, "Type") {
        "FixedPercentage" => text(increase, "Value"),
        "PercentageRange" => increase
            .get("Range")
            .map(|r| text(r, "DefaultValue"))
            .unwrap_or_default(),
        _ => "",
    };
    Renewal {
        max_renewals: term
            .get("MaxRenewals")
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok()),
        price_increase_percentage: price_increase_percentage.to_owned(),
        lockout_days: days(text(term, "LockoutPeriod")),
    }
}

fn rate_card(card: &Value) -> Vec<(String, i64)> {
    items(card, "RateCard")
        .map(|r| {
            (
                text(r, "DimensionKey").to_owned(),
                micros(text(r, "Price")).unwrap_or_default(),
            )
        })
        .collect()
}

/// The resale authorisation of `details` (a `ResaleAuthorization@1.0` DetailsDocument), or
/// why it cannot be imported. Its terms are an offer's with the `Resale` prefix (and the end
/// buyers' EULA in a `BuyerLegalTerm`), so they are read as an offer's.
pub fn resale_authorization_from_details(
    aws_id: &str,
    details: &Value,
) -> Result<ResaleAuthorizationDraft, String> {
    if !resale_authorization_is_active(details) {
        return Err(format!(
            "not active ({}): only released resale authorizations are imported",
            text(details, "Status")
        ));
    }
    resale_terms_from_details(aws_id, details)
}

/// Whether the resale authorisation of `details` can be used: released and not restricted.
pub fn resale_authorization_is_active(details: &Value) -> bool {
    text(details, "Status") == "Active"
}

/// The terms of the resale authorisation of `details`, whatever its status: what a channel
/// partner's offer is made from.
pub fn resale_terms_from_details(
    aws_id: &str,
    details: &Value,
) -> Result<ResaleAuthorizationDraft, String> {
    let mut terms = Vec::new();
    let mut buyers = Vec::new();
    for term in items(details, "Terms") {
        let mut term = term.clone();
        let kind = text(&term, "Type").to_owned();
        match kind.as_str() {
            "BuyerTargetingTerm" => {
                buyers = term
                    .get("PositiveTargeting")
                    .map(|p| {
                        items(p, "BuyerAccounts")
                            .filter_map(|a| a.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                continue;
            }
            "BuyerLegalTerm" => term["Type"] = Value::from("LegalTerm"),
            other => {
                if let Some(plain) = other.strip_prefix("Resale") {
                    term["Type"] = Value::from(plain);
                }
            }
        }
        terms.push(term);
    }
    let as_offer = serde_json::json!({
        "State": "Released",
        "ProductId": text(details, "ProductId"),
        "Name": text(details, "Name"),
        "Description": text(details, "Description"),
        "Terms": terms,
    });
    // Souk resells SaaS terms only.
    let offer = offer_from_details(aws_id, &as_offer, SAAS_PRODUCT)?.draft;
    Ok(ResaleAuthorizationDraft {
        product_id: offer.product_id,
        name: offer.name,
        description: offer.description,
        reseller_account_id: text(details, "ResellerAccountId").to_owned(),
        pricing: offer.pricing,
        currency: offer.currency,
        payment_schedule: offer.payment_schedule,
        eula: offer.eula,
        buyer_account_ids: buyers,
        expiry_date: day(text(details, "AvailabilityEndDate")),
        one_time: details.get("OffersMaxQuantity").and_then(Value::as_u64) == Some(1),
    })
}

/// The offer of `details` (an `Offer@1.0` DetailsDocument), or why it cannot be imported.
/// `product_type` is the product's DescribeEntity `EntityType` (`AmiProduct@1.0`, ...; empty
/// when unknown, read as SaaS): an AMI's hourly prices are usage terms, as a SaaS
/// subscription's are, so only the product tells the kinds apart.
pub fn offer_from_details(
    aws_offer_id: &str,
    details: &Value,
    product_type: &str,
) -> Result<ImportedOffer, String> {
    if text(details, "State") != "Released" {
        return Err("not released (drafts made outside Souk are left alone)".into());
    }
    // A channel partner's offer: its terms are the resale authorisation's, read as any
    // offer's; the markup is applied by AWS when it invoices.
    let resale = details
        .get("ResaleAuthorizationId")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .map(|id| ResaleTerms {
            resale_authorization_id: id.to_owned(),
            markup_percentage: match text(details, "MarkupPercentage") {
                "" => "0".to_owned(),
                markup => markup.to_owned(),
            },
            replace_agreement_id: None,
        });
    let terms: Vec<&Value> = items(details, "Terms").collect();
    let term = |t: &str| terms.iter().copied().find(|x| text(x, "Type") == t);
    let mut currency = "USD".to_owned();
    let mut usage_prices = Vec::new();
    if let Some(u) = term("UsageBasedPricingTerm") {
        currency = text(u, "CurrencyCode").to_owned();
        for card in items(u, "RateCards") {
            usage_prices.extend(
                rate_card(card)
                    .into_iter()
                    .map(|(key, price)| DimensionPrice {
                        dimension_key: key,
                        price_micros: price,
                    }),
            );
        }
    }
    let validity_term = term("ValidityTerm");
    let mut contract: Option<ContractTerms> = None;
    if let Some(c) = term("ConfigurableUpfrontPricingTerm") {
        currency = text(c, "CurrencyCode").to_owned();
        let card = items(c, "RateCards").next().unwrap_or(&Value::Null);
        let selector = card.get("Selector").unwrap_or(&Value::Null);
        let constraints = card.get("Constraints").unwrap_or(&Value::Null);
        contract = Some(ContractTerms {
            duration_months: months(text(selector, "Value")).unwrap_or_default(),
            dimensions: rate_card(card)
                .into_iter()
                .map(|(key, price)| ContractDimension {
                    dimension_key: key,
                    unit_price_micros: price,
                    quantity: 0,
                })
                .collect(),
            allow_multiple_dimensions: text(constraints, "MultipleDimensionSelection") == "Allowed",
            allow_quantity_change: text(constraints, "QuantityConfiguration") == "Allowed",
        });
    } else if let Some(f) = term("FixedUpfrontPricingTerm") {
        currency = text(f, "CurrencyCode").to_owned();
        let duration = validity_term
            .map(|v| text(v, "AgreementDuration"))
            .or_else(|| f.get("Duration").and_then(Value::as_str))
            .and_then(months)
            .unwrap_or_default();
        contract = Some(ContractTerms {
            duration_months: duration,
            dimensions: items(f, "Grants")
                .map(|g| ContractDimension {
                    dimension_key: text(g, "DimensionKey").to_owned(),
                    unit_price_micros: 0,
                    quantity: g
                        .get("MaxQuantity")
                        .and_then(Value::as_i64)
                        .unwrap_or_default(),
                })
                .collect(),
            allow_multiple_dimensions: false,
            allow_quantity_change: false,
        });
    }
    let agreement_id = text(details, "AgreementId");
    let pricing = if let Some(t) = term("FreeTrialPricingTerm") {
        Pricing::FreeTrial {
            duration_days: days(text(t, "Duration")).unwrap_or_default(),
            grants: items(t, "Grants")
                .map(|g| FreeTrialGrant {
                    dimension_key: text(g, "DimensionKey").to_owned(),
                    max_quantity: g.get("MaxQuantity").and_then(Value::as_i64),
                })
                .collect(),
        }
    } else {
        match (contract, usage_prices.is_empty()) {
            (Some(contract), _) if !agreement_id.is_empty() => Pricing::Replacement {
                agreement_id: agreement_id.to_owned(),
                reason: ReplacementReason::Replacement,
                contract,
                usage_prices,
            },
            (Some(contract), true) => Pricing::Contract { contract },
            (Some(contract), false) => Pricing::ContractWithConsumption {
                contract,
                usage_prices,
            },
            (None, false) => Pricing::Subscription { usage_prices },
            (None, true) => return Err("no pricing terms Souk knows (BYOL or free)".into()),
        }
    };
    let pricing = for_product(pricing, product_type);
    let payment_schedule = term("PaymentScheduleTerm")
        .map(|t| {
            items(t, "Schedule")
                .filter_map(|s| {
                    Some(Installment {
                        charge_date: day(text(s, "ChargeDate"))?,
                        amount_micros: micros(text(s, "ChargeAmount"))?,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let eula = term("LegalTerm")
        .and_then(|l| items(l, "Documents").next())
        .map(|d| match text(d, "Type") {
            "CustomEula" | "CustomDsa" => Eula::Custom {
                url: text(d, "Url").to_owned(),
            },
            _ => Eula::Standard {
                version: text(d, "Version").to_owned(),
            },
        })
        .unwrap_or(Eula::Standard {
            version: STANDARD_EULA_VERSION.to_owned(),
        });
    let rules: Vec<&Value> = items(details, "Rules").collect();
    let rule = |t: &str| rules.iter().copied().find(|x| text(x, "Type") == t);
    let buyer_account_ids = rule("TargetingRule")
        .and_then(|r| r.get("PositiveTargeting"))
        .map(|p| {
            items(p, "BuyerAccounts")
                .filter_map(|a| a.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let expiry_date = rule("AvailabilityRule").and_then(|r| day(text(r, "AvailabilityEndDate")));
    Ok(ImportedOffer {
        aws_offer_id: aws_offer_id.to_owned(),
        draft: OfferDraft {
            product_id: text(details, "ProductId").to_owned(),
            name: text(details, "Name").to_owned(),
            description: text(details, "Description").to_owned(),
            pricing,
            currency,
            payment_schedule,
            eula,
            buyer_account_ids,
            expiry_date,
            validity: Validity {
                agreement_start_date: validity_term
                    .and_then(|v| day(text(v, "AgreementStartDate"))),
                agreement_end_date: validity_term.and_then(|v| day(text(v, "AgreementEndDate"))),
            },
            refund_policy: term("SupportTerm")
                .map(|s| text(s, "RefundPolicy").to_owned())
                .unwrap_or_default(),
            renewal: term("RenewalTerm").map(renewal),
            net_payment_days: term("NetPaymentTerm")
                .and_then(|t| days(text(t, "PaymentDuePeriod"))),
            notification_emails: Vec::new(),
            resale,
        },
    })
}

/// The entity type of a SaaS product.
pub const SAAS_PRODUCT: &str = "SaaSProduct@1.0";

/// `pricing`, read from terms alone as a SaaS offer's, as the kind of a `product_type`
/// product: usage prices are an AMI's or container's hourly prices, a contract with a yearly
/// card beside them is an AMI's hourly-annual pricing, a professional services product's
/// contract is its services.
fn for_product(pricing: Pricing, product_type: &str) -> Pricing {
    let product = product_type.split('@').next().unwrap_or_default();
    match (product, pricing) {
        ("AmiProduct" | "ContainerProduct", pricing) => {
            let (hourly_prices, contract) = match pricing {
                Pricing::Subscription { usage_prices } => (usage_prices, None),
                Pricing::Contract { contract } => (Vec::new(), Some(contract)),
                Pricing::ContractWithConsumption {
                    contract,
                    usage_prices,
                } => (usage_prices, Some(contract)),
                other => return other,
            };
            let pricing_model = match (&contract, hourly_prices.is_empty()) {
                (None, _) => SoftwarePricingModel::Hourly,
                (Some(_), true) => SoftwarePricingModel::Contract,
                (Some(_), false) => SoftwarePricingModel::HourlyAnnual,
            };
            let duration_months = match pricing_model {
                SoftwarePricingModel::Contract => {
                    contract.as_ref().map_or(0, |c| c.duration_months)
                }
                _ => 0,
            };
            let software = SoftwareTerms {
                pricing_model,
                hourly_prices,
                contract_dimensions: contract.map(|c| c.dimensions).unwrap_or_default(),
                duration_months,
            };
            if product == "AmiProduct" {
                Pricing::Ami { software }
            } else {
                Pricing::Container { software }
            }
        }
        ("ProfessionalServicesProduct", Pricing::Contract { contract }) => {
            Pricing::ProfessionalServices { contract }
        }
        (_, pricing) => pricing,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::json;
    use time::macros::date;

    use super::*;

    #[test]
    fn a_released_contract_with_installments_reads_back() {
        let details = json!({
            "Id": "offer-1", "State": "Released", "Name": "Acme", "Description": "d",
            "ProductId": "prod-1",
            "Terms": [
                {"Type": "FixedUpfrontPricingTerm", "CurrencyCode": "EUR", "Price": "0",
                 "Grants": [{"DimensionKey": "seats", "MaxQuantity": 20}]},
                {"Type": "ValidityTerm", "AgreementDuration": "P12M"},
                {"Type": "PaymentScheduleTerm", "CurrencyCode": "EUR", "Schedule": [
                    {"ChargeDate": "2026-12-01T00:00:00.000Z", "ChargeAmount": "1200.00"}]},
                {"Type": "LegalTerm", "Documents": [{"Type": "CustomEula", "Url": "https://x/e.pdf"}]}
            ],
            "Rules": [
                {"Type": "TargetingRule", "PositiveTargeting": {"BuyerAccounts": ["444455556666"]}},
                {"Type": "AvailabilityRule", "AvailabilityEndDate": "2026-12-31T23:59:59.999Z"}
            ]
        });
        let imported = offer_from_details("offer-1", &details, SAAS_PRODUCT).unwrap();
        let d = imported.draft;
        assert_eq!(d.currency, "EUR");
        assert_eq!(d.expiry_date, Some(date!(2026 - 12 - 31)));
        assert_eq!(d.buyer_account_ids, vec!["444455556666".to_owned()]);
        assert_eq!(
            d.payment_schedule,
            vec![Installment {
                charge_date: date!(2026 - 12 - 01),
                amount_micros: 1_200_000_000
            }]
        );
        let Pricing::Contract { contract } = d.pricing else {
            panic!()
        };
        assert_eq!(contract.duration_months, 12);
        assert_eq!(contract.dimensions[0].quantity, 20);
        assert_eq!(
            d.eula,
            Eula::Custom {
                url: "https://x/e.pdf".into()
            }
        );
    }

    #[test]
    fn renewal_and_net_payment_terms_read_back() {
        let details = json!({
            "State": "Released", "Name": "Acme", "Description": "d", "ProductId": "prod-1",
            "Terms": [
                {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
                 "RateCards": [{"RateCard": [{"DimensionKey": "api_calls", "Price": "0.01"}]}]},
                {"Type": "RenewalTerm", "MaxRenewals": 2, "LockoutPeriod": "P30D",
                 "PriceIncrease": {"Type": "FixedPercentage", "Value": "5.00"}},
                {"Type": "NetPaymentTerm", "PaymentDuePeriod": "P60D"}
            ]
        });
        let d = offer_from_details("offer-4", &details, SAAS_PRODUCT)
            .unwrap()
            .draft;
        assert_eq!(
            d.renewal,
            Some(Renewal {
                max_renewals: Some(2),
                price_increase_percentage: "5.00".into(),
                lockout_days: Some(30),
            })
        );
        assert_eq!(d.net_payment_days, Some(60));
        let plain = json!({
            "State": "Released", "Terms": [
                {"Type": "UsageBasedPricingTerm", "CurrencyCode": "USD",
                 "RateCards": [{"RateCard": [{"DimensionKey": "api_calls", "Price": "0.01"}]}]},
                {"Type": "RenewalTerm"}
            ]
        });
        let d = offer_from_details("offer-5", &plain, SAAS_PRODUCT)
            .unwrap()
            .draft;
        assert_eq!(d.renewal, Some(Renewal::default()));
        assert_eq!(d.net_payment_days, None);
    }

    #[test]
    fn drafts_and_unknown_pricing_are_skipped_with_the_reason() {
        let draft = json!({"State": "Draft"});
        assert_eq!(
            offer_from_details("offer-2", &draft, SAAS_PRODUCT).unwrap_err(),
            "not released (drafts made outside Souk are left alone)"
        );
        let byol = json!({"State": "Released", "Terms": [{"Type": "ByolPricingTerm"}]});
        assert_eq!(
            offer_from_details("offer-3", &byol, SAAS_PRODUCT).unwrap_err(),
            "no pricing terms Souk knows (BYOL or free)"
        );
        assert_eq!(micros("0.0015"), Some(1_500));
        assert_eq!(micros("12"), Some(12_000_000));
    }
}
