//! The rules an offer must satisfy before Souk sends it to AWS: every rule the Catalog API
//! applies asynchronously (docs/aws/offers.md, the rules) that Souk can know from the request
//! and the clock, checked at once and reported as field violations named as in the request
//! (`payment_schedule[1].charge_date`, `terms.contract.dimensions[2].dimension_key`), each
//! saying what to change.

use std::collections::HashMap;

use souk_core::error::Violations;
use souk_core::validate::{aws_account_id, required};
use time::{Date, OffsetDateTime};

use super::dates::{add_months, end_of_day, iso};
use super::model::{
    CURRENCIES, ContractDimension, ContractTerms, DimensionPrice, Eula, FreeTrialGrant,
    Installment, OfferDraft, OfferKind, Pricing, STANDARD_EULA_VERSIONS, SoftwarePricingModel,
    SoftwareTerms, USD,
};

/// Most buyer accounts one private offer targets.
pub const MAX_BUYERS: usize = 26;
/// Most installments in a payment schedule.
pub const MAX_INSTALLMENTS: usize = 60;
/// Longest contract (and payment schedule): five years.
pub const MAX_DURATION_MONTHS: u32 = 60;
/// Most dimensions of a contract.
pub const MAX_DIMENSIONS: usize = 800;
/// Longest free trial, in days.
pub const MAX_TRIAL_DAYS: u32 = 365;
/// Largest price AWS takes: 100,000,000 units of the currency.
pub const MAX_PRICE_MICROS: i64 = 100_000_000 * MICROS;
/// Installment amounts have at most 2 decimals.
pub const CHARGE_STEP_MICROS: i64 = 10_000;
/// Upfront (contract) prices have at most 3 decimals.
pub const UPFRONT_STEP_MICROS: i64 = 1_000;

const MICROS: i64 = 1_000_000;

/// The payment periods (days) AWS offers buyers paying by invoice (NetPaymentTerm).
pub const NET_PAYMENT_DAYS: &[u32] = &[15, 30, 45, 60, 90, 120];
/// Most notification addresses of one offer.
pub const MAX_NOTIFICATION_EMAILS: usize = 10;
/// Longest email address (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;

/// Every violation of `draft` at `now`; `Ok` when AWS would take it.
pub fn draft(draft: &OfferDraft, now: OffsetDateTime) -> Result<(), souk_core::Error> {
    let mut v = Violations::new();
    let today = now.date();
    let kind = draft.kind();
    v.check("name", required(&draft.name, 150));
    v.check("description", required(&draft.description, 255));
    product_id(&mut v, &draft.product_id);
    currency(&mut v, draft, kind);
    buyers(&mut v, draft, kind);
    expiry(&mut v, draft, kind, now);
    eula(&mut v, &draft.eula);
    refund_policy(&mut v, &draft.refund_policy);
    pricing(&mut v, draft);
    validity(&mut v, draft, kind, today);
    schedule(&mut v, draft, kind, today);
    renewal(&mut v, draft, kind);
    net_payment(&mut v, draft, kind);
    notification_emails(&mut v, &draft.notification_emails);
    v.finish()
}

/// Whether `kind` bills usage or hours, which AWS charges in USD only.
/// The product an offer or resale authorisation is of: a Catalog product id.
pub(crate) fn product_id(v: &mut Violations, product_id: &str) {
    if !product_id.starts_with("prod-") || product_id.len() > 50 {
        v.add(
            "product_id",
            "must be a Catalog product id (\"prod-...\", at most 50 characters)",
        );
    }
}

fn usd_only(pricing: &Pricing) -> Option<&'static str> {
    match pricing {
        Pricing::Subscription { .. } => Some("usage prices are billed in USD only"),
        Pricing::ContractWithConsumption { .. } => {
            Some("its usage prices are billed in USD only, so the whole offer is in USD")
        }
        Pricing::Replacement { usage_prices, .. } if !usage_prices.is_empty() => {
            Some("its usage prices are billed in USD only, so the whole offer is in USD")
        }
        Pricing::Ami { software } | Pricing::Container { software }
            if matches!(
                software.pricing_model,
                SoftwarePricingModel::Hourly | SoftwarePricingModel::HourlyAnnual
            ) =>
        {
            Some("hourly prices are billed in USD only")
        }
        Pricing::FreeTrial { .. } => Some("free trials are in USD only"),
        _ => None,
    }
}

pub(crate) fn currency(v: &mut Violations, draft: &OfferDraft, kind: OfferKind) {
    if !CURRENCIES.contains(&draft.currency.as_str()) {
        v.add(
            "currency_code",
            format!(
                "\"{}\" is not a currency AWS takes for private offers: use one of {}",
                draft.currency,
                CURRENCIES.join(", ")
            ),
        );
        return;
    }
    if draft.currency != USD
        && let Some(why) = usd_only(&draft.pricing)
    {
        v.add(
            "currency_code",
            format!(
                "{} is not allowed for {}: {why}; use USD",
                draft.currency,
                kind.label()
            ),
        );
    }
}

fn buyers(v: &mut Violations, draft: &OfferDraft, kind: OfferKind) {
    let ids = &draft.buyer_account_ids;
    match kind {
        OfferKind::FreeTrial if !ids.is_empty() => {
            v.add(
                "buyer_account_ids",
                "must be empty: a free trial is a public offer, open to every buyer",
            );
            return;
        }
        OfferKind::Replacement if !ids.is_empty() => {
            v.add(
                "buyer_account_ids",
                "must be empty for a replacement offer: AWS offers it to the buyer of the agreement it replaces",
            );
            return;
        }
        OfferKind::FreeTrial | OfferKind::Replacement => return,
        _ => {}
    }
    if ids.is_empty() {
        v.add(
            "buyer_account_ids",
            "at least one buyer account is required for a private offer",
        );
    }
    if ids.len() > MAX_BUYERS {
        v.add(
            "buyer_account_ids",
            format!(
                "at most {MAX_BUYERS} buyer accounts per offer, got {}",
                ids.len()
            ),
        );
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, id) in ids.iter().enumerate() {
        let field = format!("buyer_account_ids[{i}]");
        if let Err(reason) = aws_account_id(id) {
            v.add(field, reason);
        } else if let Some(first) = seen.insert(id, i) {
            v.add(field, format!("repeats buyer_account_ids[{first}]"));
            seen.insert(id, first);
        }
    }
}

fn expiry(v: &mut Violations, draft: &OfferDraft, kind: OfferKind, now: OffsetDateTime) {
    match (kind, draft.expiry_date) {
        (OfferKind::FreeTrial, Some(_)) => v.add(
            "expiry_date",
            "must be unset: a free trial is a public offer, which AWS gives no expiry date",
        ),
        (OfferKind::FreeTrial, None) => {}
        (_, None) => v.add(
            "expiry_date",
            "is required: the last day the buyers can accept the offer",
        ),
        (_, Some(day)) if end_of_day(day) < now => v.add(
            "expiry_date",
            format!(
                "{} is in the past: choose a day from {} on",
                iso(day),
                iso(now.date())
            ),
        ),
        (_, Some(_)) => {}
    }
}

pub(crate) fn eula(v: &mut Violations, eula: &Eula) {
    match eula {
        Eula::Standard { version } if !STANDARD_EULA_VERSIONS.contains(&version.as_str()) => v
            .add(
                "eula.standard_version",
                format!(
                    "\"{version}\" is not a version of the Standard Contract for AWS Marketplace: use {}",
                    STANDARD_EULA_VERSIONS.join(" or ")
                ),
            ),
        Eula::Custom { url } if !url.starts_with("https://") || url.len() <= 8 => v.add(
            "eula.custom_url",
            "must be an https:// URL of the EULA document that AWS can read",
        ),
        _ => {}
    }
}

fn refund_policy(v: &mut Violations, policy: &str) {
    if policy.chars().count() > 500 {
        v.add("refund_policy", "must be at most 500 characters");
    } else if policy.trim() != policy {
        v.add("refund_policy", "must not start or end with spaces");
    }
}

/// The request paths of a kind's pricing fields.
struct Paths {
    contract: &'static str,
    dimensions: &'static str,
    usage: &'static str,
}

fn paths(pricing: &Pricing) -> Paths {
    match pricing {
        Pricing::ContractWithConsumption { .. } => Paths {
            contract: "terms.contract_with_consumption.contract",
            dimensions: "terms.contract_with_consumption.contract.dimensions",
            usage: "terms.contract_with_consumption.usage_prices",
        },
        Pricing::Replacement { .. } => Paths {
            contract: "terms.replacement.contract",
            dimensions: "terms.replacement.contract.dimensions",
            usage: "terms.replacement.usage_prices",
        },
        Pricing::ProfessionalServices { .. } => Paths {
            contract: "terms.professional_services",
            dimensions: "terms.professional_services.dimensions",
            usage: "",
        },
        _ => Paths {
            contract: "terms.contract",
            dimensions: "terms.contract.dimensions",
            usage: "terms.subscription.usage_prices",
        },
    }
}

pub(crate) fn pricing(v: &mut Violations, draft: &OfferDraft) {
    let scheduled = !draft.payment_schedule.is_empty();
    let p = paths(&draft.pricing);
    match &draft.pricing {
        Pricing::Subscription { usage_prices } => prices(v, p.usage, usage_prices, true),
        Pricing::Contract { contract } | Pricing::ProfessionalServices { contract } => {
            contract_terms(v, &p, contract, scheduled, true);
        }
        Pricing::ContractWithConsumption {
            contract,
            usage_prices,
        } => {
            contract_terms(v, &p, contract, scheduled, true);
            prices(v, p.usage, usage_prices, true);
        }
        Pricing::Replacement {
            agreement_id,
            contract,
            usage_prices,
            ..
        } => {
            if !agreement_id.starts_with("agmt-") || agreement_id.len() > 64 {
                v.add(
                    "terms.replacement.agreement_id",
                    "must be the id of the agreement to replace (\"agmt-...\")",
                );
            }
            // The agreement end date gives the new term's length.
            contract_terms(v, &p, contract, scheduled, false);
            prices(v, p.usage, usage_prices, false);
        }
        Pricing::Ami { software } => software_terms(v, "terms.ami", software, scheduled, true),
        Pricing::Container { software } => {
            software_terms(v, "terms.container", software, scheduled, false);
        }
        Pricing::FreeTrial {
            duration_days,
            grants,
        } => free_trial(v, *duration_days, grants),
    }
}

fn duration(v: &mut Violations, field: String, months: u32) {
    if !(1..=MAX_DURATION_MONTHS).contains(&months) {
        v.add(
            field,
            format!("must be 1 to {MAX_DURATION_MONTHS} months (AWS contracts last up to 5 years)"),
        );
    }
}

fn contract_terms(
    v: &mut Violations,
    p: &Paths,
    contract: &ContractTerms,
    scheduled: bool,
    needs_duration: bool,
) {
    if needs_duration {
        duration(
            v,
            format!("{}.duration_months", p.contract),
            contract.duration_months,
        );
    }
    dimensions(v, p.dimensions, &contract.dimensions, scheduled, true);
}

fn dimensions(
    v: &mut Violations,
    path: &str,
    dimensions: &[ContractDimension],
    scheduled: bool,
    required_one: bool,
) {
    if dimensions.is_empty() && required_one {
        v.add(path, "at least one dimension is required");
    }
    if dimensions.len() > MAX_DIMENSIONS {
        v.add(path, format!("at most {MAX_DIMENSIONS} dimensions"));
    }
    let keys: Vec<&str> = dimensions
        .iter()
        .map(|d| d.dimension_key.as_str())
        .collect();
    dimension_keys(v, path, &keys);
    for (i, d) in dimensions.iter().enumerate() {
        price(
            v,
            format!("{path}[{i}].unit_price.amount_micros"),
            d.unit_price_micros,
            UPFRONT_STEP_MICROS,
            "3 decimals",
        );
        if d.quantity < 0 {
            v.add(format!("{path}[{i}].quantity"), "must not be negative");
        } else if d.quantity == 0 && scheduled {
            v.add(
                format!("{path}[{i}].quantity"),
                "must be at least 1 when a payment schedule carries the charges (the buyer cannot choose the quantity)",
            );
        }
    }
}

/// Keys must be present and each appear once (AWS DUPLICATE_DIMENSION_KEYS).
fn dimension_keys(v: &mut Violations, path: &str, keys: &[&str]) {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        let field = format!("{path}[{i}].dimension_key");
        if key.trim().is_empty() {
            v.add(field, "must not be empty");
        } else if key.len() > 100 {
            v.add(field, "must be at most 100 characters");
        } else if let Some(first) = seen.get(key) {
            v.add(
                field,
                format!("repeats {path}[{first}]: name each dimension once"),
            );
        } else {
            seen.insert(key, i);
        }
    }
}

fn prices(v: &mut Violations, path: &str, prices: &[DimensionPrice], required_one: bool) {
    if prices.is_empty() && required_one {
        v.add(path, "at least one price is required");
    }
    let keys: Vec<&str> = prices.iter().map(|d| d.dimension_key.as_str()).collect();
    dimension_keys(v, path, &keys);
    for (i, d) in prices.iter().enumerate() {
        price(
            v,
            format!("{path}[{i}].price.amount_micros"),
            d.price_micros,
            1,
            "",
        );
    }
}

/// A price must be a positive whole number of micros, at most AWS's maximum, in steps of `step`.
fn price(v: &mut Violations, field: String, micros: i64, step: i64, decimals: &str) {
    if micros <= 0 {
        v.add(field, "must be a positive number of micros");
    } else if micros > MAX_PRICE_MICROS {
        v.add(
            field,
            format!("must be at most {MAX_PRICE_MICROS} (100000000 units)"),
        );
    } else if micros % step != 0 {
        v.add(
            field,
            format!("must have at most {decimals} (a multiple of {step} micros)"),
        );
    }
}

fn software_terms(v: &mut Violations, path: &str, s: &SoftwareTerms, scheduled: bool, ami: bool) {
    let product = if ami { "AMI" } else { "container" };
    let (hourly, prepaid) = if ami {
        ("hourly_prices", "prepaid_dimensions")
    } else {
        ("hourly_prices", "contract_dimensions")
    };
    let model_field = format!("{path}.pricing_model");
    match s.pricing_model {
        SoftwarePricingModel::Byol => v.add(
            model_field,
            format!(
                "AWS does not support private offers for BYOL {product} products through the Catalog API: the buyer brings a licence bought outside AWS; choose hourly or contract pricing"
            ),
        ),
        SoftwarePricingModel::Monthly => v.add(
            model_field,
            format!(
                "AWS has no monthly pricing for {product} offers: choose hourly{} or contract pricing",
                if ami { ", hourly with annual" } else { "" }
            ),
        ),
        SoftwarePricingModel::HourlyAnnual if !ami => v.add(
            model_field,
            "hourly with annual pricing exists for AMI products only: choose hourly or contract pricing",
        ),
        SoftwarePricingModel::Hourly => {
            prices(v, &format!("{path}.{hourly}"), &s.hourly_prices, true);
            if !s.contract_dimensions.is_empty() {
                v.add(
                    format!("{path}.{prepaid}"),
                    "must be empty for hourly pricing",
                );
            }
        }
        SoftwarePricingModel::HourlyAnnual => {
            prices(v, &format!("{path}.{hourly}"), &s.hourly_prices, true);
            dimensions(v, &format!("{path}.{prepaid}"), &s.contract_dimensions, false, true);
        }
        SoftwarePricingModel::Contract => {
            duration(v, format!("{path}.duration_months"), s.duration_months);
            dimensions(v, &format!("{path}.{prepaid}"), &s.contract_dimensions, scheduled, true);
            if !s.hourly_prices.is_empty() {
                v.add(
                    format!("{path}.{hourly}"),
                    "must be empty for contract pricing",
                );
            }
        }
    }
}

fn free_trial(v: &mut Violations, days: u32, grants: &[FreeTrialGrant]) {
    if !(1..=MAX_TRIAL_DAYS).contains(&days) {
        v.add(
            "terms.free_trial.duration_days",
            format!("must be 1 to {MAX_TRIAL_DAYS} days"),
        );
    }
    let path = "terms.free_trial.grants";
    if grants.is_empty() {
        v.add(path, "at least one dimension is required");
    }
    let keys: Vec<&str> = grants.iter().map(|g| g.dimension_key.as_str()).collect();
    dimension_keys(v, path, &keys);
    for (i, g) in grants.iter().enumerate() {
        if g.max_quantity.is_some_and(|q| q < 1) {
            v.add(
                format!("{path}[{i}].max_quantity"),
                "must be at least 1, or unset for unlimited",
            );
        }
    }
}

/// The contract's length in months, where the kind has one.
fn duration_months(pricing: &Pricing) -> Option<u32> {
    match pricing {
        Pricing::Contract { contract }
        | Pricing::ContractWithConsumption { contract, .. }
        | Pricing::ProfessionalServices { contract } => Some(contract.duration_months),
        Pricing::Ami { software } | Pricing::Container { software } => match software.pricing_model
        {
            SoftwarePricingModel::Contract => Some(software.duration_months),
            SoftwarePricingModel::HourlyAnnual => Some(12),
            _ => None,
        },
        _ => None,
    }
}

/// The last day the agreement can run if the offer is accepted on its last day: the fixed end
/// date, or the start (or the expiry) plus the duration.
pub fn latest_agreement_end(draft: &OfferDraft) -> Option<Date> {
    if let Some(end) = draft.validity.agreement_end_date {
        return Some(end);
    }
    let from = draft.validity.agreement_start_date.or(draft.expiry_date)?;
    add_months(from, duration_months(&draft.pricing)?)
}

fn validity(v: &mut Violations, draft: &OfferDraft, kind: OfferKind, today: Date) {
    let start = draft.validity.agreement_start_date;
    let end = draft.validity.agreement_end_date;
    if kind == OfferKind::FreeTrial {
        if start.is_some() || end.is_some() {
            v.add(
                "validity",
                "must be unset: a free trial lasts its duration_days from acceptance",
            );
        }
        return;
    }
    if kind == OfferKind::Replacement && end.is_none() {
        v.add(
            "validity.agreement_end_date",
            "is required for a replacement offer: the day the new agreement ends",
        );
    }
    if let Some(s) = start {
        if s < today {
            v.add(
                "validity.agreement_start_date",
                format!("{} is in the past", iso(s)),
            );
        } else if let Some(expiry) = draft.expiry_date
            && s <= expiry
        {
            v.add(
                "validity.agreement_start_date",
                format!(
                    "must be after the expiry date {}: a future start comes after the last day to accept",
                    iso(expiry)
                ),
            );
        }
    }
    if let Some(e) = end {
        if start.is_none() && kind != OfferKind::Replacement {
            v.add(
                "validity.agreement_end_date",
                "needs an agreement_start_date: AWS takes an end date alone only on replacement offers",
            );
        }
        if e < today {
            v.add(
                "validity.agreement_end_date",
                format!("{} is in the past", iso(e)),
            );
        } else if let Some(expiry) = draft.expiry_date
            && e < expiry
        {
            v.add(
                "validity.agreement_end_date",
                format!(
                    "{} is before the expiry date {}: the agreement would end before the buyer could accept; end it later or expire the offer earlier",
                    iso(e),
                    iso(expiry)
                ),
            );
        }
        if let Some(s) = start
            && s >= e
        {
            v.add(
                "validity.agreement_end_date",
                "must be after agreement_start_date",
            );
        }
    }
}

/// Kinds whose contract a payment schedule can carry, with its commit.
fn scheduled_commit(pricing: &Pricing) -> Result<Option<i64>, &'static str> {
    match pricing {
        Pricing::Contract { contract }
        | Pricing::ContractWithConsumption { contract, .. }
        | Pricing::Replacement { contract, .. }
        | Pricing::ProfessionalServices { contract } => Ok(contract.commit_micros()),
        Pricing::Ami { software } | Pricing::Container { software }
            if software.pricing_model == SoftwarePricingModel::Contract =>
        {
            Ok(software.contract_dimensions.iter().try_fold(0_i64, |t, d| {
                d.unit_price_micros
                    .checked_mul(d.quantity)
                    .and_then(|l| t.checked_add(l))
            }))
        }
        Pricing::Ami { .. } | Pricing::Container { .. } => {
            Err("AWS takes installments only on contract pricing")
        }
        Pricing::Subscription { .. } => Err("a subscription is billed by usage, not installments"),
        Pricing::FreeTrial { .. } => Err("a free trial is not charged"),
    }
}

pub(crate) fn schedule(v: &mut Violations, draft: &OfferDraft, kind: OfferKind, today: Date) {
    let schedule = &draft.payment_schedule;
    if schedule.is_empty() {
        return;
    }
    let commit = match scheduled_commit(&draft.pricing) {
        Ok(commit) => commit,
        Err(why) => {
            v.add(
                "payment_schedule",
                format!("is not allowed for {}: {why}", kind.label()),
            );
            return;
        }
    };
    if schedule.len() > MAX_INSTALLMENTS {
        v.add(
            "payment_schedule",
            format!(
                "at most {MAX_INSTALLMENTS} installments, got {}",
                schedule.len()
            ),
        );
    }
    let agreement_end = latest_agreement_end(draft);
    let mut seen: HashMap<Date, usize> = HashMap::new();
    for (i, item) in schedule.iter().enumerate() {
        installment(v, i, item, today, agreement_end);
        if let Some(first) = seen.get(&item.charge_date) {
            v.add(
                format!("payment_schedule[{i}].charge_date"),
                format!("repeats payment_schedule[{first}].charge_date: one installment per day"),
            );
        } else {
            seen.insert(item.charge_date, i);
        }
    }
    if let Some(expiry) = draft.expiry_date {
        backdated(v, schedule, expiry);
    }
    let total = schedule
        .iter()
        .try_fold(0_i64, |t, i| t.checked_add(i.amount_micros));
    match (total, commit) {
        (Some(total), Some(commit)) if total != commit => v.add(
            "payment_schedule",
            format!(
                "the installments add up to {} {} but the contract commits {} {} (unit prices x quantities): they must be equal",
                units(total),
                draft.currency,
                units(commit),
                draft.currency
            ),
        ),
        (None, _) | (_, None) => v.add(
            "payment_schedule",
            "the amounts are too large to add up",
        ),
        _ => {}
    }
}

fn installment(
    v: &mut Violations,
    i: usize,
    item: &Installment,
    today: Date,
    agreement_end: Option<Date>,
) {
    let amount = format!("payment_schedule[{i}].amount.amount_micros");
    price(
        v,
        amount,
        item.amount_micros,
        CHARGE_STEP_MICROS,
        "2 decimals",
    );
    let field = format!("payment_schedule[{i}].charge_date");
    if item.charge_date < today {
        v.add(
            field,
            format!(
                "{} is in the past: AWS refuses charge dates before today ({})",
                iso(item.charge_date),
                iso(today)
            ),
        );
    } else if let Some(end) = agreement_end
        && item.charge_date > end
    {
        v.add(
            field,
            format!(
                "{} is after the agreement can end ({}): charge before the end",
                iso(item.charge_date),
                iso(end)
            ),
        );
    }
}

/// At most one installment on or before the expiry date (AWS TOO_MANY_BACKDATED_CHARGES): the
/// buyer pays it at acceptance; every later one is named.
fn backdated(v: &mut Violations, schedule: &[Installment], expiry: Date) {
    let mut early: Vec<(usize, Date)> = schedule
        .iter()
        .enumerate()
        .filter(|(_, i)| i.charge_date <= expiry)
        .map(|(n, i)| (n, i.charge_date))
        .collect();
    early.sort_by_key(|(n, d)| (*d, *n));
    let Some((first, _)) = early.first().copied() else {
        return;
    };
    for (n, _) in early.iter().skip(1) {
        v.add(
            format!("payment_schedule[{n}].charge_date"),
            format!(
                "only one installment may fall on or before the expiry date {} (payment_schedule[{first}] does): move this one after it",
                iso(expiry)
            ),
        );
    }
}

/// A renewal price increase (`"5"`, `"5.5"`, `"5.00"`) in hundredths of a percent: 0 to 100
/// with at most 2 decimals; `None` otherwise.
pub fn price_increase_hundredths(raw: &str) -> Option<u32> {
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 3 || !digits(whole) {
        return None;
    }
    if raw.contains('.') && (frac.is_empty() || frac.len() > 2 || !digits(frac)) {
        return None;
    }
    let whole: u32 = whole.parse().ok()?;
    let frac: u32 = format!("{frac:0<2}").parse().ok()?;
    let total = whole * 100 + frac;
    (total <= 10_000).then_some(total)
}

/// The kinds AWS renews automatically: the contract-based ones whose request carries
/// `ContractTerms`.
fn renewal_path(pricing: &Pricing) -> Option<&'static str> {
    match pricing {
        Pricing::Contract { .. } => Some("terms.contract.renewal"),
        Pricing::ContractWithConsumption { .. } => {
            Some("terms.contract_with_consumption.contract.renewal")
        }
        Pricing::Replacement { .. } => Some("terms.replacement.contract.renewal"),
        _ => None,
    }
}

/// The fewest days the agreement can run: from its start (a future start date, or acceptance
/// on the expiry day at the latest) to its end; `None` when the offer does not say.
fn shortest_agreement_days(draft: &OfferDraft) -> Option<(i64, Date)> {
    let from = draft.validity.agreement_start_date.or(draft.expiry_date)?;
    let end = latest_agreement_end(draft)?;
    Some(((end - from).whole_days(), end))
}

/// AWS RenewalTerm rules (docs/aws/offers.md, renewal).
fn renewal(v: &mut Violations, draft: &OfferDraft, kind: OfferKind) {
    let Some(renewal) = &draft.renewal else {
        return;
    };
    let Some(path) = renewal_path(&draft.pricing) else {
        v.add(
            "renewal",
            format!(
                "is not allowed for {}: AWS renews contract, contract with consumption and replacement offers only; leave it unset",
                kind.label()
            ),
        );
        return;
    };
    if renewal.max_renewals == Some(0) {
        v.add(
            format!("{path}.max_renewals"),
            "must be at least 1, or 0 in the request (unset) for unlimited renewals",
        );
    }
    let increase = &renewal.price_increase_percentage;
    if increase.is_empty() {
        if renewal.max_renewals.is_some() || renewal.lockout_days.is_some() {
            v.add(
                format!("{path}.price_increase_percentage"),
                "is required with max_renewals or lockout_days (AWS asks for a price increase with them): give one, \"0\" for none",
            );
        }
    } else if price_increase_hundredths(increase).is_none() {
        v.add(
            format!("{path}.price_increase_percentage"),
            format!(
                "\"{increase}\" is not a percentage from 0 to 100 with at most 2 decimals: write it like \"5.00\""
            ),
        );
    }
    match renewal.lockout_days {
        Some(0) => v.add(
            format!("{path}.lockout_days"),
            "must be at least 1 day, or 0 in the request (unset) for AWS's default",
        ),
        Some(days) => {
            if let Some((agreement, end)) = shortest_agreement_days(draft)
                && i64::from(days) >= agreement
            {
                v.add(
                    format!("{path}.lockout_days"),
                    format!(
                        "{days} days is not shorter than the agreement, which can run as few as {agreement} days (to {}): choose fewer days",
                        iso(end)
                    ),
                );
            }
        }
        None => {}
    }
}

/// AWS NetPaymentTerm rules: one of AWS's periods, on private offers only.
fn net_payment(v: &mut Violations, draft: &OfferDraft, kind: OfferKind) {
    let Some(days) = draft.net_payment_days else {
        return;
    };
    if kind == OfferKind::FreeTrial {
        v.add(
            "net_payment_days",
            "must be 0 for a free trial: it is a public offer, and AWS takes payment terms on private offers only",
        );
    } else if !NET_PAYMENT_DAYS.contains(&days) {
        v.add(
            "net_payment_days",
            format!(
                "{days} is not a payment period AWS offers: use 15, 30, 45, 60, 90 or 120 days, or 0 for AWS's default"
            ),
        );
    }
}

/// Whether `raw` looks like a deliverable address: `name@domain.tld`, no spaces.
fn plausible_email(raw: &str) -> bool {
    let Some((local, domain)) = raw.split_once('@') else {
        return false;
    };
    let labels: Vec<&str> = domain.split('.').collect();
    let tld = labels.last().copied().unwrap_or_default();
    !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"@()<>[]\\,;:\"".contains(c))
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Notification addresses: at most [`MAX_NOTIFICATION_EMAILS`], each plausible and once.
pub(super) fn notification_emails(v: &mut Violations, emails: &[String]) {
    if emails.len() > MAX_NOTIFICATION_EMAILS {
        v.add(
            "notification_emails",
            format!(
                "at most {MAX_NOTIFICATION_EMAILS} addresses per offer, got {}",
                emails.len()
            ),
        );
    }
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, email) in emails.iter().enumerate() {
        let field = format!("notification_emails[{i}]");
        if email.len() > MAX_EMAIL_LEN {
            v.add(field, format!("must be at most {MAX_EMAIL_LEN} characters"));
        } else if !plausible_email(email) {
            v.add(
                field,
                format!("\"{email}\" is not an email address: write it like name@example.com"),
            );
        } else if let Some(first) = seen.get(&email.to_ascii_lowercase()) {
            v.add(field, format!("repeats notification_emails[{first}]"));
        } else {
            seen.insert(email.to_ascii_lowercase(), i);
        }
    }
}

/// Micros as a decimal amount with two decimals (or more when needed), for messages.
pub fn units(micros: i64) -> String {
    let sign = if micros < 0 { "-" } else { "" };
    let abs = micros.unsigned_abs();
    let whole = abs / 1_000_000;
    let frac = abs % 1_000_000;
    if frac.is_multiple_of(10_000) {
        format!("{sign}{whole}.{:02}", frac / 10_000)
    } else {
        let text = format!("{frac:06}");
        format!("{sign}{whole}.{}", text.trim_end_matches('0'))
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
pub(crate) mod tests;

/// Whether a released offer's expiry may move to `new_expiry` at `now`: later than today's
/// expiry, not in the past, and still with at most one installment on or before it and the
/// agreement's dates after it. Violations are named after the ExtendOffer request.
pub fn extension(
    draft: &OfferDraft,
    new_expiry: Date,
    now: OffsetDateTime,
) -> Result<(), souk_core::Error> {
    let mut v = Violations::new();
    let field = "expiry_date";
    match draft.expiry_date {
        None => v.add(
            field,
            "the offer has no expiry date to extend (a public free trial)",
        ),
        Some(current) if new_expiry <= current => v.add(
            field,
            format!(
                "{} is not later than the current expiry date {}",
                iso(new_expiry),
                iso(current)
            ),
        ),
        Some(_) if end_of_day(new_expiry) < now => {
            v.add(field, format!("{} is in the past", iso(new_expiry)));
        }
        Some(_) => {}
    }
    let mut early: Vec<(usize, Date)> = draft
        .payment_schedule
        .iter()
        .enumerate()
        .filter(|(_, i)| i.charge_date <= new_expiry)
        .map(|(n, i)| (n, i.charge_date))
        .collect();
    early.sort_by_key(|(n, d)| (*d, *n));
    if early.len() > 1 {
        let named: Vec<String> = early
            .iter()
            .map(|(n, d)| format!("payment_schedule[{n}] on {}", iso(*d)))
            .collect();
        v.add(
            field,
            format!(
                "{} installments would fall on or before {} ({}); AWS allows one: choose an earlier date or clone the offer with a new schedule",
                early.len(),
                iso(new_expiry),
                named.join(", ")
            ),
        );
    }
    if let Some(end) = draft.validity.agreement_end_date
        && end < new_expiry
    {
        v.add(
            field,
            format!("must not be after the agreement end date {}", iso(end)),
        );
    }
    if let Some(start) = draft.validity.agreement_start_date
        && start <= new_expiry
    {
        v.add(
            field,
            format!("must be before the agreement start date {}", iso(start)),
        );
    }
    v.finish()
}
