//! The seller's charges, read from the emulator's own ledgers: the invoice lines the Agreement
//! emulation issues for accepted offers (upfront, installments, recurring) and the metering
//! ledger priced by the buyer's agreement (`UsageBasedPricingTerm` rate card) or, failing that,
//! by a price set in the feed settings. Usage is invoiced per product, buyer, dimension and
//! calendar month on the first day of the next month (AWS bills usage monthly), or per hour
//! with `usage_invoicing = "hourly"`.

use std::collections::BTreeMap;

use serde_json::Value;
use sha2::{Digest, Sha256};
use time::{Date, Duration, Month};

use super::FeedSettings;
use super::money::{fractional_usage_amount_micros, parse_price_e8};
use crate::at::At;
use crate::state::World;
use crate::support::format::start_of;

/// One invoice line, from the seller's point of view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Charge {
    /// The invoice id.
    pub invoice_id: String,
    /// The agreement billed, when known.
    pub agreement_id: Option<String>,
    /// The offer accepted, when known.
    pub offer_id: Option<String>,
    /// Product id (`prod-…`).
    pub product_id: String,
    /// The buyer (payer) AWS account.
    pub buyer_account_id: String,
    /// The seller of record AWS account.
    pub seller_account_id: String,
    /// Amount in micros.
    pub amount_micros: i64,
    /// ISO 4217.
    pub currency: String,
    /// Invoice date.
    pub invoice_date: At,
    /// Payment due date.
    pub payment_due_date: At,
    /// Usage period (usage charges only).
    pub usage_period: Option<(At, At)>,
    /// Metered quantity billed, in millionths of a unit (usage charges only).
    pub usage_quantity_micros: Option<i64>,
    /// The dimension billed (usage charges only).
    pub usage_dimension: Option<String>,
    /// A channel-partner (CPPO) sale: what the seller of record (the reseller) owes the ISV.
    pub partner: Option<PartnerLeg>,
}

/// The partner leg of a channel-partner (CPPO) invoice line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerLeg {
    /// The ISV (the product's manufacturer) AWS account.
    pub isv_account_id: String,
    /// The ISV's price before the reseller's markup, exact micros.
    pub wholesale_micros: i64,
}

/// Every charge invoiced at or before `now`, oldest first.
pub fn charges(world: &World, settings: &FeedSettings, seller: &str, now: At) -> Vec<Charge> {
    let mut charges: Vec<Charge> = world
        .agreements
        .invoices
        .iter()
        .filter(|invoice| invoice.invoice_date <= now)
        .map(|invoice| Charge {
            invoice_id: invoice.invoice_id.clone(),
            agreement_id: Some(invoice.agreement_id.clone()),
            offer_id: Some(invoice.offer_id.clone()),
            product_id: invoice.product_id.clone(),
            buyer_account_id: invoice.buyer_account_id.clone(),
            seller_account_id: invoice.seller_account_id.clone(),
            amount_micros: invoice.amount_micros,
            currency: invoice.currency_code.clone(),
            invoice_date: invoice.invoice_date,
            payment_due_date: invoice.invoice_date
                + due_after(invoice.payment_due_period.as_deref()),
            usage_period: None,
            usage_quantity_micros: None,
            usage_dimension: None,
            partner: partner_leg(invoice),
        })
        .collect();
    charges.extend(usage_charges(world, settings, seller, now));
    charges.sort_by(|a, b| {
        a.invoice_date
            .cmp(&b.invoice_date)
            .then_with(|| a.invoice_id.cmp(&b.invoice_id))
    });
    charges
}

/// The partner leg of a CPPO invoice line: one sold by a seller of record that is not the
/// manufacturer, whose wholesale amount was recorded when it was billed (lines saved before
/// the emulator kept it have none, rather than a wholesale guessed back from the markup).
fn partner_leg(invoice: &crate::agreement::model::Invoice) -> Option<PartnerLeg> {
    let wholesale_micros = invoice.wholesale_micros?;
    (invoice.resale_authorization_id.is_some()
        && !invoice.manufacturer_account_id.is_empty()
        && invoice.manufacturer_account_id != invoice.seller_account_id)
        .then(|| PartnerLeg {
            isv_account_id: invoice.manufacturer_account_id.clone(),
            wholesale_micros,
        })
}

/// `P30D`-style due periods; 30 days when absent or unparsable.
fn due_after(period: Option<&str>) -> Duration {
    let days = period
        .and_then(|p| p.strip_prefix('P'))
        .and_then(|p| p.strip_suffix('D'))
        .and_then(|d| d.parse::<i64>().ok())
        .unwrap_or(30);
    Duration::days(days)
}

#[derive(Debug, Default)]
struct UsageLine {
    quantity_amount: i64,
    quantity_micros: i64,
    product_id: String,
    agreement_id: Option<String>,
    offer_id: Option<String>,
    currency: String,
}

fn usage_charges(world: &World, settings: &FeedSettings, seller: &str, now: At) -> Vec<Charge> {
    // (period start, period end, product code, buyer, dimension) → accumulated amount.
    let mut lines: BTreeMap<(At, At, String, String, String), UsageLine> = BTreeMap::new();
    for entry in world.metering.ledger.values() {
        let start = entry.hour_start();
        let (period_start, period_end) = if settings.usage_invoicing == "hourly" {
            (start, start + Duration::HOUR)
        } else {
            month_bounds(start)
        };
        if period_end > now {
            continue;
        }
        let agreement = agreement_for(world, &entry.product_code, &entry.customer_aws_account_id);
        let price = agreement
            .and_then(|a| usage_price(&a.terms, &entry.dimension))
            .or_else(|| fallback_price(settings, &entry.product_code, &entry.dimension));
        let Some((price_e8, currency)) = price else {
            continue;
        };
        let product_id = world
            .market
            .products
            .get(&entry.product_code)
            .map(|p| p.product_id.clone())
            .or_else(|| agreement.map(|a| a.product_id.clone()))
            .unwrap_or_else(|| entry.product_code.clone());
        let key = (
            period_start,
            period_end,
            entry.product_code.clone(),
            entry.customer_aws_account_id.clone(),
            entry.dimension.clone(),
        );
        let line = lines.entry(key).or_default();
        line.quantity_amount = line
            .quantity_amount
            .saturating_add(fractional_usage_amount_micros(entry.micros(), price_e8));
        line.quantity_micros = line.quantity_micros.saturating_add(entry.micros());
        line.product_id = product_id;
        line.agreement_id = agreement.map(|a| a.id.clone());
        line.offer_id = agreement.map(|a| a.offer_id.clone());
        line.currency = currency;
    }
    lines
        .into_iter()
        .filter(|(_, line)| line.quantity_amount != 0)
        .map(
            |((period_start, period_end, product_code, buyer, dimension), line)| {
                let invoice_id = usage_invoice_id(&product_code, &buyer, &dimension, period_start);
                Charge {
                    invoice_id,
                    agreement_id: line.agreement_id,
                    offer_id: line.offer_id,
                    product_id: line.product_id,
                    buyer_account_id: buyer,
                    seller_account_id: seller.to_owned(),
                    amount_micros: line.quantity_amount,
                    currency: line.currency,
                    invoice_date: period_end,
                    payment_due_date: period_end + due_after(None),
                    usage_period: Some((period_start, period_end - Duration::SECOND)),
                    usage_quantity_micros: Some(line.quantity_micros),
                    usage_dimension: Some(dimension),
                    partner: None,
                }
            },
        )
        .collect()
}

/// The buyer's agreement for a product: the one the market subscription names, else the most
/// recently accepted one.
fn agreement_for<'a>(
    world: &'a World,
    product_code: &str,
    buyer: &str,
) -> Option<&'a crate::agreement::model::Agreement> {
    let subscription = world
        .market
        .subscriptions
        .get(&format!("{product_code}/{buyer}"));
    if let Some(agreement) =
        subscription.and_then(|s| world.agreements.agreements.get(&s.agreement_id))
    {
        return Some(agreement);
    }
    world
        .agreements
        .agreements
        .values()
        .filter(|a| a.product_code == product_code && a.acceptor_account_id == buyer)
        .max_by_key(|a| a.acceptance_time)
}

/// The `UsageBasedPricingTerm` price of `dimension` in agreement `terms`.
fn usage_price(terms: &[Value], dimension: &str) -> Option<(i128, String)> {
    let term = terms
        .iter()
        .find(|t| t.get("Type").and_then(Value::as_str) == Some("UsageBasedPricingTerm"))?;
    let currency = term
        .get("CurrencyCode")
        .and_then(Value::as_str)
        .unwrap_or("USD")
        .to_owned();
    let cards = term.get("RateCards").and_then(Value::as_array)?;
    cards
        .iter()
        .filter_map(|card| card.get("RateCard").and_then(Value::as_array))
        .flatten()
        .find(|rate| rate.get("DimensionKey").and_then(Value::as_str) == Some(dimension))
        .and_then(|rate| rate.get("Price").and_then(Value::as_str))
        .and_then(parse_price_e8)
        .map(|price| (price, currency))
}

fn fallback_price(
    settings: &FeedSettings,
    product_code: &str,
    dimension: &str,
) -> Option<(i128, String)> {
    let price = settings
        .usage_prices
        .get(&format!("{product_code}/{dimension}"))?;
    parse_price_e8(price).map(|p| (p, "USD".to_owned()))
}

/// The first instant of `at`'s month and of the next month.
pub fn month_bounds(at: At) -> (At, At) {
    let date = at.date();
    let start_date = Date::from_calendar_date(date.year(), date.month(), 1).unwrap_or(date);
    let (year, month) = if date.month() == Month::December {
        (date.year() + 1, Month::January)
    } else {
        (date.year(), date.month().next())
    };
    let end_date = Date::from_calendar_date(year, month, 1).unwrap_or(start_date);
    (start_of(start_date), start_of(end_date))
}

/// Stable across regenerations: derived from the period's start in epoch seconds.
fn usage_invoice_id(product_code: &str, buyer: &str, dimension: &str, start: At) -> String {
    let start = start.seconds();
    let digest =
        Sha256::digest(format!("usage|{product_code}|{buyer}|{dimension}|{start}").as_bytes());
    format!("inv-{}", &hex::encode(digest)[..16])
}
