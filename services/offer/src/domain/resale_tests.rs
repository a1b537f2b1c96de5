//! One test per rule: the exact field violation a bad resale authorisation or channel-partner
//! offer gets, and that good ones pass.

#![allow(clippy::unwrap_used)]

use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};

use super::*;
use crate::domain::model::{ContractDimension, ContractTerms, DimensionPrice};

const NOW: OffsetDateTime = datetime!(2026-11-30 12:00 UTC);
const SELLER: &str = "111122223333";
const PARTNER: &str = "777788889999";
const BUYER: &str = "444455556666";

/// A 12-month contract floor of 2,000 EUR for one partner, multi-use until the end of 2027.
fn authorization() -> ResaleAuthorizationDraft {
    ResaleAuthorizationDraft {
        product_id: "prod-abc123".into(),
        name: "Acme via Partner".into(),
        description: "EMEA resale".into(),
        reseller_account_id: PARTNER.into(),
        pricing: Pricing::Contract {
            contract: ContractTerms {
                duration_months: 12,
                dimensions: vec![ContractDimension {
                    dimension_key: "seats".into(),
                    unit_price_micros: 100_000_000,
                    quantity: 20,
                }],
                allow_multiple_dimensions: false,
                allow_quantity_change: false,
            },
        },
        currency: "EUR".into(),
        payment_schedule: Vec::new(),
        eula: Eula::Standard {
            version: "2022-07-14".into(),
        },
        buyer_account_ids: Vec::new(),
        expiry_date: Some(date!(2027 - 12 - 31)),
        one_time: false,
    }
}

fn authorization_violations(draft: &ResaleAuthorizationDraft) -> Vec<(String, String)> {
    match validate_authorization(draft, Some(SELLER), NOW) {
        Ok(()) => Vec::new(),
        Err(e) => e
            .violations
            .into_iter()
            .map(|v| (v.field, v.reason))
            .collect(),
    }
}

fn pair(field: &str, reason: &str) -> Vec<(String, String)> {
    vec![(field.to_owned(), reason.to_owned())]
}

#[test]
fn a_valid_resale_authorization_passes() {
    assert_eq!(authorization_violations(&authorization()), Vec::new());
}

#[test]
fn the_partner_must_be_another_valid_account() {
    let mut own = authorization();
    own.reseller_account_id = SELLER.into();
    assert_eq!(
        authorization_violations(&own),
        pair(
            "reseller_account_id",
            "is the seller's own account: authorise the channel partner's account"
        )
    );
    let mut bad = authorization();
    bad.reseller_account_id = "7777".into();
    assert_eq!(
        authorization_violations(&bad),
        pair("reseller_account_id", "must be a 12-digit AWS account id")
    );
}

#[test]
fn an_authorization_currency_must_be_one_aws_takes() {
    let mut draft = authorization();
    draft.currency = "CHF".into();
    assert_eq!(
        authorization_violations(&draft),
        pair(
            "currency_code",
            "\"CHF\" is not a currency AWS takes for private offers: use one of USD, EUR, GBP, JPY, AUD"
        )
    );
}

#[test]
fn usage_floors_are_in_usd_only() {
    let mut draft = authorization();
    draft.pricing = Pricing::Subscription {
        usage_prices: vec![DimensionPrice {
            dimension_key: "requests".into(),
            price_micros: 10_000,
        }],
    };
    assert_eq!(
        authorization_violations(&draft),
        pair(
            "currency_code",
            "EUR is not allowed for a subscription offer: usage prices are billed in USD only; use USD"
        )
    );
}

#[test]
fn only_saas_terms_can_be_resold() {
    let mut draft = authorization();
    draft.pricing = Pricing::FreeTrial {
        duration_days: 30,
        grants: Vec::new(),
    };
    assert_eq!(
        authorization_violations(&draft),
        pair(
            "terms",
            "a free-trial offer cannot be resold: authorise subscription, contract or contract with consumption terms"
        )
    );
}

#[test]
fn an_authorization_expiry_in_the_past_is_refused() {
    let mut draft = authorization();
    draft.expiry_date = Some(date!(2026 - 11 - 29));
    assert_eq!(
        authorization_violations(&draft),
        pair(
            "expiry_date",
            "2026-11-29 is in the past: choose a day from 2026-11-30 on"
        )
    );
}

#[test]
fn authorized_buyers_are_at_most_25_distinct_accounts() {
    let mut many = authorization();
    many.buyer_account_ids = (0..26).map(|n| format!("{:012}", 100 + n)).collect();
    assert_eq!(
        authorization_violations(&many),
        pair(
            "buyer_account_ids",
            "at most 25 buyer accounts for a resale authorisation, got 26"
        )
    );
    let mut twice = authorization();
    twice.buyer_account_ids = vec![BUYER.into(), BUYER.into()];
    assert_eq!(
        authorization_violations(&twice),
        pair("buyer_account_ids[1]", "repeats buyer_account_ids[0]")
    );
}

#[test]
fn floor_prices_follow_the_offer_rules() {
    let mut draft = authorization();
    if let Pricing::Contract { contract } = &mut draft.pricing {
        contract.dimensions[0].unit_price_micros = 0;
    }
    assert_eq!(
        authorization_violations(&draft),
        pair(
            "terms.contract.dimensions[0].unit_price.amount_micros",
            "must be a positive number of micros"
        )
    );
}

fn cppo() -> ChannelPartnerOfferDraft {
    ChannelPartnerOfferDraft {
        resale_authorization_id: "resaleauthz-abc123".into(),
        name: "Acme for Globex".into(),
        description: "partner deal".into(),
        markup_percentage: "12.5".into(),
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(date!(2026 - 12 - 31)),
        validity: Validity::default(),
        replace_agreement_id: None,
        notification_emails: vec!["partner@example.com".into()],
    }
}

fn cppo_violations(
    draft: &ChannelPartnerOfferDraft,
    granted: &ResaleAuthorizationDraft,
    active: bool,
    offers_made: u32,
) -> Vec<(String, String)> {
    let authorization = Authorization {
        draft: granted,
        active,
        offers_made,
    };
    match validate_channel_partner_offer(draft, &authorization, NOW) {
        Ok(()) => Vec::new(),
        Err(e) => e
            .violations
            .into_iter()
            .map(|v| (v.field, v.reason))
            .collect(),
    }
}

#[test]
fn a_valid_channel_partner_offer_passes() {
    assert_eq!(
        cppo_violations(&cppo(), &authorization(), true, 3),
        Vec::new()
    );
}

#[test]
fn an_inactive_authorization_cannot_be_used() {
    assert_eq!(
        cppo_violations(&cppo(), &authorization(), false, 0),
        pair(
            "resale_authorization_id",
            "is not active: the seller has not released it or has restricted it"
        )
    );
}

#[test]
fn an_expired_authorization_cannot_be_used() {
    let mut granted = authorization();
    granted.expiry_date = Some(date!(2026 - 11 - 29));
    let mut draft = cppo();
    draft.expiry_date = Some(date!(2026 - 11 - 29));
    let found = cppo_violations(&draft, &granted, true, 0);
    assert_eq!(
        found[0],
        (
            "resale_authorization_id".to_owned(),
            "expired on 2026-11-29: ask the seller for a new resale authorisation".to_owned()
        )
    );
}

#[test]
fn a_one_time_authorization_makes_one_offer() {
    let mut granted = authorization();
    granted.one_time = true;
    assert_eq!(cppo_violations(&cppo(), &granted, true, 0), Vec::new());
    assert_eq!(
        cppo_violations(&cppo(), &granted, true, 1),
        pair(
            "resale_authorization_id",
            "is one-time and an offer was already made from it: ask the seller for a new resale authorisation"
        )
    );
}

#[test]
fn the_price_never_falls_below_the_floor() {
    let mut draft = cppo();
    draft.markup_percentage = "-5".into();
    assert_eq!(
        cppo_violations(&draft, &authorization(), true, 0),
        pair(
            "markup_percentage",
            "must not be negative: a channel-partner offer cannot be priced below the resale authorisation"
        )
    );
    for bad in ["", "abc", "1.", ".5", "1.0000000001"] {
        draft.markup_percentage = bad.into();
        assert_eq!(
            cppo_violations(&draft, &authorization(), true, 0),
            pair(
                "markup_percentage",
                "must be a decimal percentage of at least 0 with at most 9 decimals, for example \"12.5\""
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn a_markup_raises_prices_exactly_and_rounds_up() {
    assert_eq!(Markup::parse("12.5"), Ok(Markup(12_500_000_000)));
    assert_eq!(Markup::parse("0"), Ok(Markup(0)));
    assert_eq!(Markup(12_500_000_000).apply(100_000_000), Some(112_500_000));
    assert_eq!(Markup(0).apply(100_000_000), Some(100_000_000));
    // 1 micro + 0.000000001 % rounds up to 2 micros: never below the floor.
    assert_eq!(Markup(1).apply(1), Some(2));
}

#[test]
fn buyers_must_be_among_those_the_authorization_allows() {
    let mut granted = authorization();
    granted.buyer_account_ids = vec!["123456789012".into()];
    assert_eq!(
        cppo_violations(&cppo(), &granted, true, 0),
        pair(
            "buyer_account_ids[0]",
            "444455556666 is not among the buyers the resale authorisation allows"
        )
    );
    let mut none = cppo();
    none.buyer_account_ids.clear();
    assert_eq!(
        cppo_violations(&none, &authorization(), true, 0),
        pair(
            "buyer_account_ids",
            "at least 1 buyer account is required for a private offer"
        )
    );
}

#[test]
fn the_offer_expires_before_the_authorization_and_in_the_future() {
    let mut late = cppo();
    late.expiry_date = Some(date!(2028 - 01 - 01));
    assert_eq!(
        cppo_violations(&late, &authorization(), true, 0),
        pair(
            "expiry_date",
            "2028-01-01 is after the resale authorisation ends (2027-12-31): choose a day until then"
        )
    );
    let mut past = cppo();
    past.expiry_date = Some(date!(2026 - 11 - 01));
    assert_eq!(
        cppo_violations(&past, &authorization(), true, 0),
        pair(
            "expiry_date",
            "2026-11-01 is in the past: choose a day from 2026-11-30 on"
        )
    );
    let mut missing = cppo();
    missing.expiry_date = None;
    assert_eq!(
        cppo_violations(&missing, &authorization(), true, 0),
        pair(
            "expiry_date",
            "is required: the last day the buyers can accept the offer"
        )
    );
}

#[test]
fn the_agreement_ends_after_the_offer_expires() {
    let mut draft = cppo();
    draft.validity.agreement_end_date = Some(date!(2026 - 12 - 15));
    assert_eq!(
        cppo_violations(&draft, &authorization(), true, 0),
        pair(
            "validity.agreement_end_date",
            "2026-12-15 is before the expiry date 2026-12-31: the agreement must end after the offer expires"
        )
    );
}

#[test]
fn expiry_is_a_utc_day() {
    let granted = authorization();
    let today: Date = NOW.date();
    assert!(!granted.expired_on(today));
    assert!(granted.expired_on(date!(2028 - 01 - 01)));
}

#[test]
fn an_authorization_is_one_change_set_ending_in_its_release() {
    let mut draft = authorization();
    draft.one_time = true;
    draft.buyer_account_ids = vec![BUYER.into()];
    let changes = create_resale_authorization(&draft);
    let types: Vec<&str> = changes.iter().map(|c| c.change_type).collect();
    assert_eq!(
        types,
        [
            "CreateResaleAuthorization",
            "UpdatePricingTerms",
            "UpdateLegalTerms",
            "UpdateBuyerTargetingTerms",
            "UpdateAvailability",
            "ReleaseResaleAuthorization",
        ]
    );
    assert!(
        changes
            .iter()
            .all(|c| c.entity_type == "ResaleAuthorization@1.0")
    );
    assert_eq!(
        changes[0].details,
        serde_json::json!({
            "ProductId": "prod-abc123",
            "Name": "Acme via Partner",
            "Description": "EMEA resale",
            "ResellerAccountId": PARTNER,
        })
    );
    assert_eq!(
        changes[1].details["Terms"][0]["Type"],
        "ResaleConfigurableUpfrontPricingTerm"
    );
    assert_eq!(changes[1].details["Terms"][0]["CurrencyCode"], "EUR");
    assert_eq!(
        changes[4].details,
        serde_json::json!({ "AvailabilityEndDate": "2027-12-31", "OffersMaxQuantity": 1 })
    );
    assert_eq!(
        changes[1].identifier.as_deref(),
        Some("$CreateResaleAuthorizationChange.Entity.Identifier")
    );
}

#[test]
fn no_markup_on_scheduled_charges() {
    let mut granted = authorization();
    granted.payment_schedule = vec![Installment {
        charge_date: date!(2027 - 01 - 15),
        amount_micros: 2_000_000_000,
    }];
    assert_eq!(
        cppo_violations(&cppo(), &granted, true, 0),
        pair(
            "markup_percentage",
            "must be 0: the resale authorisation has a payment schedule, and AWS takes no markup on scheduled charges"
        )
    );
    let mut draft = cppo();
    draft.markup_percentage = "0".into();
    assert_eq!(cppo_violations(&draft, &granted, true, 0), Vec::new());
}

#[test]
fn the_offer_is_the_authorisations_terms_with_the_partners_buyers_and_markup() {
    let granted = authorization();
    let offer = cppo().into_offer(granted.clone());
    assert_eq!(
        offer.kind(),
        crate::domain::model::OfferKind::ChannelPartner
    );
    assert_eq!(offer.product_id, granted.product_id);
    assert_eq!(offer.pricing, granted.pricing);
    assert_eq!(offer.currency, "EUR");
    assert_eq!(offer.eula, granted.eula);
    assert_eq!(offer.buyer_account_ids, vec![BUYER.to_owned()]);
    assert_eq!(offer.resale.clone().unwrap().markup_percentage, "12.5");
    let changes: Vec<&str> = crate::domain::change_set::create_offer(&offer)
        .iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(
        changes,
        vec![
            "CreateOfferUsingResaleAuthorization",
            "UpdateInformation",
            "UpdateMarkup",
            "UpdateTargeting",
            // The contract's duration, from the authorisation's rate card.
            "UpdateValidityTerms",
            "UpdateAvailability",
            "ReleaseOffer"
        ]
    );
}

#[test]
fn a_replacement_goes_to_the_agreements_buyer_until_a_given_end() {
    let mut draft = cppo();
    draft.replace_agreement_id = Some("agmt-abc123".into());
    assert_eq!(
        cppo_violations(&draft, &authorization(), true, 0),
        vec![
            (
                "buyer_account_ids".to_owned(),
                "must be empty for a replacement: the replaced agreement's buyer receives it"
                    .to_owned()
            ),
            (
                "validity.agreement_end_date".to_owned(),
                "is required for a replacement: the day the new agreement ends".to_owned()
            ),
        ]
    );
    draft.buyer_account_ids.clear();
    draft.validity.agreement_end_date = Some(date!(2027 - 12 - 31));
    assert_eq!(
        cppo_violations(&draft, &authorization(), true, 0),
        Vec::new()
    );
    let offer = draft.into_offer(authorization());
    let changes: Vec<&str> = crate::domain::change_set::create_offer(&offer)
        .iter()
        .map(|c| c.change_type)
        .collect();
    assert_eq!(
        changes,
        vec![
            "CreateReplacementOfferUsingResaleAuthorization",
            "UpdateInformation",
            "UpdateMarkup",
            "UpdateLegalTerms",
            "UpdatePricingTerms",
            "UpdateValidityTerms",
            "UpdateAvailability",
            "ReleaseOffer"
        ]
    );
}
