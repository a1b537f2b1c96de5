//! What accepting an offer costs: the dimension quantities bought, the agreement's dates and
//! estimated value, and the invoice lines of the ledger (upfront, installments, recurring).

use serde_json::Value;

use super::model::{DimensionQuantity, Invoice, InvoiceKind};
use crate::at::At;
use crate::support::format::{IsoDuration, end_of, new_id, parse_date, parse_micros, start_of};
use crate::support::json::str_at;

/// One priced amount: what the buyer pays (with the channel partner's markup, if any) and the
/// same amount before the markup (the ISV's wholesale price in a CPPO sale; equal to the
/// amount otherwise), both exact micros.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Line {
    /// What the buyer is invoiced, micros.
    pub amount_micros: i64,
    /// The amount before the markup, micros.
    pub wholesale_micros: i64,
}

impl Line {
    /// `amount` with `markup` applied, keeping `amount` as the wholesale.
    fn marked_up(amount: i64, markup: Option<&str>) -> Self {
        Self {
            amount_micros: with_markup(amount, markup),
            wholesale_micros: amount,
        }
    }
}

/// The priced outcome of accepting an offer's terms.
#[derive(Debug, Clone, Default)]
pub struct Priced {
    /// Quantities bought or granted (contract entitlements); `None` quantity = unlimited.
    pub entitlements: Vec<(String, Option<i64>)>,
    /// Configurable-upfront quantities (echoed in the accepted term's configuration).
    pub quantities: Vec<DimensionQuantity>,
    /// The selected rate card duration.
    pub selector_value: Option<String>,
    /// Currency of the pricing terms (USD when none).
    pub currency_code: String,
    /// Upfront lines: (dimension, amount).
    pub upfront: Vec<(Option<String>, Line)>,
    /// Monthly recurring amount.
    pub recurring: Option<Line>,
    /// Installments: (charge date, amount).
    pub schedule: Vec<(time::Date, Line)>,
    /// Agreement duration, when the terms give one.
    pub duration: Option<IsoDuration>,
    /// Whether the offer is a free trial.
    pub free_trial: bool,
}

impl Priced {
    /// `estimatedCharges.agreementValue` in micros.
    pub fn value_micros(&self) -> i64 {
        self.upfront
            .iter()
            .map(|(_, a)| a.amount_micros)
            .chain(self.schedule.iter().map(|(_, a)| a.amount_micros))
            .chain(self.recurring.map(|a| a.amount_micros))
            .fold(0_i64, i64::saturating_add)
    }
}

fn with_markup(amount: i64, markup: Option<&str>) -> i64 {
    let pct = markup.and_then(|m| parse_micros(m, 9)).unwrap_or(0);
    let scaled = i128::from(amount) * (100_000_000 + i128::from(pct)) / 100_000_000;
    i64::try_from(scaled).unwrap_or(i64::MAX)
}

fn find<'a>(terms: &'a [Value], kind: &str) -> Option<&'a Value> {
    terms.iter().find(|t| str_at(t, "Type") == Some(kind))
}

/// Prices `terms` for the requested quantities (`requested` empty: one unit of the first
/// dimension of the selected rate card).
pub fn price(
    terms: &[Value],
    markup: Option<&str>,
    requested: &[DimensionQuantity],
    selector: Option<&str>,
) -> Result<Priced, String> {
    let mut out = Priced {
        currency_code: "USD".to_owned(),
        ..Priced::default()
    };
    if let Some(c) = terms.iter().find_map(|t| str_at(t, "CurrencyCode")) {
        out.currency_code = c.to_owned();
    }
    if let Some(term) = find(terms, "ConfigurableUpfrontPricingTerm") {
        let cards = term
            .get("RateCards")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let card = match selector {
            Some(sel) => cards
                .iter()
                .find(|c| c.get("Selector").and_then(|s| str_at(s, "Value")) == Some(sel))
                .ok_or_else(|| format!("the offer has no rate card for duration {sel}"))?,
            None => cards.first().ok_or("the offer has no rate card")?,
        };
        out.selector_value = card
            .get("Selector")
            .and_then(|s| str_at(s, "Value"))
            .map(str::to_owned);
        out.duration = out.selector_value.as_deref().and_then(IsoDuration::parse);
        let rates: Vec<(String, i64)> = card
            .get("RateCard")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|r| {
                Some((
                    str_at(r, "DimensionKey")?.to_owned(),
                    parse_micros(str_at(r, "Price")?, 8)?,
                ))
            })
            .collect();
        let wanted: Vec<DimensionQuantity> = if requested.is_empty() {
            rates
                .first()
                .map(|(k, _)| DimensionQuantity {
                    dimension_key: k.clone(),
                    quantity: 1,
                })
                .into_iter()
                .collect()
        } else {
            requested.to_vec()
        };
        for q in &wanted {
            if q.quantity < 0 {
                return Err(format!(
                    "quantity of {} must not be negative",
                    q.dimension_key
                ));
            }
            let Some((_, unit)) = rates.iter().find(|(k, _)| *k == q.dimension_key) else {
                return Err(format!(
                    "the offer's rate card has no dimension {}",
                    q.dimension_key
                ));
            };
            let amount = Line::marked_up(unit.saturating_mul(q.quantity), markup);
            out.upfront.push((Some(q.dimension_key.clone()), amount));
            out.entitlements
                .push((q.dimension_key.clone(), Some(q.quantity)));
        }
        out.quantities = wanted;
    }
    if let Some(term) = find(terms, "FixedUpfrontPricingTerm") {
        let amount = str_at(term, "Price")
            .and_then(|p| parse_micros(p, 8))
            .unwrap_or(0);
        if amount > 0 {
            out.upfront.push((None, Line::marked_up(amount, markup)));
        }
        grants_into(term, &mut out.entitlements);
        if out.duration.is_none() {
            out.duration = str_at(term, "Duration").and_then(IsoDuration::parse);
        }
    }
    if let Some(term) = find(terms, "FreeTrialPricingTerm") {
        out.free_trial = true;
        grants_into(term, &mut out.entitlements);
        if out.duration.is_none() {
            out.duration = str_at(term, "Duration").and_then(IsoDuration::parse);
        }
    }
    if let Some(term) = find(terms, "RecurringPaymentTerm") {
        out.recurring = str_at(term, "Price")
            .and_then(|p| parse_micros(p, 8))
            .map(|p| Line::marked_up(p, markup));
    }
    if let Some(term) = find(terms, "PaymentScheduleTerm") {
        for item in term
            .get("Schedule")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let date = str_at(item, "ChargeDate").and_then(parse_date);
            let amount = str_at(item, "ChargeAmount").and_then(|a| parse_micros(a, 8));
            if let (Some(d), Some(a)) = (date, amount) {
                out.schedule.push((d, Line::marked_up(a, markup)));
            }
        }
    }
    if let Some(d) = find(terms, "ValidityTerm")
        .and_then(|v| str_at(v, "AgreementDuration"))
        .and_then(IsoDuration::parse)
    {
        out.duration = Some(d);
    }
    Ok(out)
}

fn grants_into(term: &Value, into: &mut Vec<(String, Option<i64>)>) {
    for g in term
        .get("Grants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(k) = str_at(g, "DimensionKey")
            && !into.iter().any(|(d, _)| d == k)
        {
            into.push((k.to_owned(), g.get("MaxQuantity").and_then(Value::as_i64)));
        }
    }
}

/// Start and end of an agreement accepted at `now`.
pub fn dates(terms: &[Value], priced: &Priced, now: At) -> (At, Option<At>) {
    let validity = find(terms, "ValidityTerm");
    let start = validity
        .and_then(|v| str_at(v, "AgreementStartDate"))
        .and_then(parse_date)
        .map(start_of)
        .filter(|s| *s > now)
        .unwrap_or(now);
    let end = validity
        .and_then(|v| str_at(v, "AgreementEndDate"))
        .and_then(parse_date)
        .map(end_of)
        .or_else(|| priced.duration.map(|d| d.add_to(start)));
    (start, end)
}

/// The fields every invoice line of one agreement shares.
#[derive(Debug, Clone)]
pub struct InvoiceParty {
    /// Agreement id.
    pub agreement_id: String,
    /// Offer id.
    pub offer_id: String,
    /// Product id.
    pub product_id: String,
    /// Product code.
    pub product_code: String,
    /// Buyer.
    pub buyer_account_id: String,
    /// Proposer.
    pub seller_account_id: String,
    /// Manufacturer.
    pub manufacturer_account_id: String,
    /// CPPO resale authorization.
    pub resale_authorization_id: Option<String>,
    /// Net payment period.
    pub payment_due_period: Option<String>,
}

/// The invoice lines for `priced`, billed from `at` (upfront and first recurring month) and on
/// each installment's ChargeDate (a date already past is billed at `at`). A channel-partner
/// (CPPO) line also keeps its wholesale amount (before the reseller's markup), which the
/// billing feed's partner leg pays the ISV.
pub fn invoices(party: &InvoiceParty, priced: &Priced, at: At) -> Vec<Invoice> {
    let line = |kind: InvoiceKind, dimension_key: Option<String>, amount: Line, date: At| Invoice {
        invoice_id: new_id("inv-", 16),
        agreement_id: party.agreement_id.clone(),
        offer_id: party.offer_id.clone(),
        product_id: party.product_id.clone(),
        product_code: party.product_code.clone(),
        buyer_account_id: party.buyer_account_id.clone(),
        seller_account_id: party.seller_account_id.clone(),
        manufacturer_account_id: party.manufacturer_account_id.clone(),
        resale_authorization_id: party.resale_authorization_id.clone(),
        kind,
        dimension_key,
        amount_micros: amount.amount_micros,
        wholesale_micros: party
            .resale_authorization_id
            .is_some()
            .then_some(amount.wholesale_micros),
        currency_code: priced.currency_code.clone(),
        invoice_date: date,
        payment_due_period: party.payment_due_period.clone(),
    };
    let mut out = Vec::new();
    for (dimension, amount) in &priced.upfront {
        if amount.amount_micros > 0 {
            out.push(line(InvoiceKind::Upfront, dimension.clone(), *amount, at));
        }
    }
    if let Some(amount) = priced.recurring.filter(|a| a.amount_micros > 0) {
        out.push(line(InvoiceKind::Recurring, None, amount, at));
    }
    for (date, amount) in &priced.schedule {
        let when = start_of(*date).max(at);
        out.push(line(InvoiceKind::Installment, None, *amount, when));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn configurable_upfront_prices_quantities() {
        let terms = vec![json!({
            "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "USD",
            "RateCards": [{ "Selector": { "Type": "Duration", "Value": "P12M" },
                "Constraints": { "MultipleDimensionSelection": "Allowed", "QuantityConfiguration": "Allowed" },
                "RateCard": [{ "DimensionKey": "Users", "Price": "10.50" }] }]
        })];
        let requested = vec![DimensionQuantity {
            dimension_key: "Users".into(),
            quantity: 4,
        }];
        let priced = price(&terms, Some("10.0"), &requested, None).unwrap_or_default();
        assert_eq!(
            priced.upfront,
            vec![(
                Some("Users".to_owned()),
                Line {
                    amount_micros: 46_200_000,
                    wholesale_micros: 42_000_000
                }
            )]
        );
        assert_eq!(priced.duration, IsoDuration::parse("P12M"));
        assert!(
            price(
                &terms,
                None,
                &[DimensionQuantity {
                    dimension_key: "X".into(),
                    quantity: 1
                }],
                None
            )
            .is_err()
        );
    }

    #[test]
    fn a_channel_partner_invoice_keeps_the_wholesale_before_the_markup() {
        let terms = vec![json!({
            "Type": "ConfigurableUpfrontPricingTerm", "CurrencyCode": "EUR",
            "RateCards": [{ "Selector": { "Type": "Duration", "Value": "P12M" },
                "RateCard": [{ "DimensionKey": "seats", "Price": "100.00" }] }]
        })];
        let requested = vec![DimensionQuantity {
            dimension_key: "seats".into(),
            quantity: 20,
        }];
        let priced = price(&terms, Some("10"), &requested, None).unwrap_or_default();
        let party = InvoiceParty {
            agreement_id: "agmt-1".into(),
            offer_id: "offer-1".into(),
            product_id: "prod-1".into(),
            product_code: "code".into(),
            buyer_account_id: "210987654321".into(),
            seller_account_id: "777788889999".into(),
            manufacturer_account_id: "111122223333".into(),
            resale_authorization_id: Some("resaleauthz-1".into()),
            payment_due_period: None,
        };
        let at = At::from(time::macros::datetime!(2026-11-01 0:00 UTC));
        let lines = invoices(&party, &priced, at);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].amount_micros, 2_200_000_000);
        assert_eq!(lines[0].wholesale_micros, Some(2_000_000_000));
        let direct = InvoiceParty {
            seller_account_id: "111122223333".into(),
            resale_authorization_id: None,
            ..party
        };
        let lines = invoices(
            &direct,
            &price(&terms, None, &requested, None).unwrap_or_default(),
            at,
        );
        assert_eq!(lines[0].amount_micros, 2_000_000_000);
        assert_eq!(lines[0].wholesale_micros, None);
        // Old state files (no wholesale) still load.
        let mut saved = serde_json::to_value(&lines[0]).unwrap_or_default();
        assert!(saved.get("wholesale_micros").is_none());
        saved["resale_authorization_id"] = json!("resaleauthz-1");
        let loaded: Result<Invoice, _> = serde_json::from_value(saved);
        assert_eq!(loaded.ok().and_then(|i| i.wholesale_micros), None);
    }
}
