//! What Souk refuses synchronously, AWS (the emulator) refuses too: each bad offer of the rule
//! table is refused by `validate::draft`, and the same offer sent straight to the Catalog
//! (bypassing Souk's checks) is refused by the emulator, at StartChangeSet or as a failed
//! change set. Rules AWS does not check (installments adding up to the commit, BYOL and
//! monthly containers, which the Catalog change types cannot even express) are Souk's alone
//! and listed in `validate_tests.rs`; so are the renewal rules the emulator leaves to AWS (a
//! lockout shorter than the agreement, a price increase of at most 100.00 with 2 decimals,
//! renewal on contract kinds only) and the notification addresses, which never reach AWS.

use souk_offer::domain::change_set::create_offer;
use souk_offer::domain::model::{
    ContractDimension, ContractTerms, DimensionPrice, Eula, FreeTrialGrant, Installment,
    OfferDraft, Pricing, Renewal, Validity,
};
use souk_offer::domain::validate;
use time::{Date, Duration};

use super::harness::{BUYER, Harness, SAAS, both};

fn contract(h: &Harness) -> OfferDraft {
    let today = h.now().date();
    OfferDraft {
        product_id: SAAS.into(),
        name: "rule table".into(),
        description: "a bad offer".into(),
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
        currency: "USD".into(),
        payment_schedule: vec![
            Installment {
                charge_date: today + Duration::days(1),
                amount_micros: 1_200_000_000,
            },
            Installment {
                charge_date: today + Duration::days(60),
                amount_micros: 800_000_000,
            },
        ],
        eula: Eula::Standard {
            version: "2022-07-14".into(),
        },
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(today + Duration::days(30)),
        validity: Validity::default(),
        refund_policy: String::new(),
        renewal: None,
        net_payment_days: None,
        notification_emails: Vec::new(),
        resale: None,
    }
}

fn subscription(h: &Harness, prices: Vec<DimensionPrice>) -> OfferDraft {
    let mut d = contract(h);
    d.payment_schedule.clear();
    d.pricing = Pricing::Subscription {
        usage_prices: prices,
    };
    d
}

fn usage(key: &str, micros: i64) -> DimensionPrice {
    DimensionPrice {
        dimension_key: key.into(),
        price_micros: micros,
    }
}

/// The emulator's verdict on `draft`'s change set: `Err` with why it refused.
async fn emulator(h: &Harness, name: &str, draft: &OfferDraft) -> Result<(), String> {
    h.verdict(&h.acting(), name, create_offer(draft))
        .await
        .map(drop)
}

both!(what_souk_refuses_the_emulator_refuses, |h| {
    let today: Date = h.now().date();
    let valid = contract(&h);
    validate::draft(&valid, h.now()).expect("the base offer is valid");
    emulator(&h, "valid", &valid)
        .await
        .expect("the emulator releases the valid offer");

    let mut table: Vec<(&str, OfferDraft)> = Vec::new();
    let mut d = contract(&h);
    d.payment_schedule[0].charge_date = today - Duration::days(1);
    table.push(("charge date in the past", d));
    let mut d = contract(&h);
    d.payment_schedule[1].charge_date = today + Duration::days(20);
    table.push(("two installments before the expiry", d));
    let mut d = contract(&h);
    d.payment_schedule[1].charge_date = today + Duration::days(1);
    table.push(("duplicate charge dates", d));
    let mut d = contract(&h);
    d.payment_schedule[1].charge_date = today + Duration::days(500);
    table.push(("charge after the agreement end", d));
    let mut d = subscription(&h, vec![usage("api_calls", 1_000)]);
    d.currency = "EUR".into();
    table.push(("currency the kind does not allow", d));
    let mut d = contract(&h);
    d.payment_schedule.clear();
    d.validity = Validity {
        agreement_start_date: Some(today + Duration::days(40)),
        agreement_end_date: Some(today + Duration::days(35)),
    };
    d.expiry_date = Some(today + Duration::days(38));
    table.push(("end before expiry", d));
    let mut d = contract(&h);
    d.payment_schedule.clear();
    d.expiry_date = Some(today - Duration::days(1));
    table.push(("expiry in the past", d));
    let mut d = contract(&h);
    d.buyer_account_ids = vec!["12345".into()];
    table.push(("bad account id", d));
    let mut d = contract(&h);
    d.buyer_account_ids = (0..27)
        .map(|i| format!("{:012}", 555_500_000 + i))
        .collect();
    table.push(("too many buyers", d));
    table.push((
        "duplicate dimensions",
        subscription(
            &h,
            vec![usage("api_calls", 1_000), usage("api_calls", 2_000)],
        ),
    ));
    table.push((
        "price not positive",
        subscription(&h, vec![usage("api_calls", -1_000)]),
    ));
    let mut d = contract(&h);
    d.payment_schedule.clear();
    d.validity.agreement_start_date = Some(today + Duration::days(10));
    table.push(("start before the expiry", d));
    let mut d = contract(&h);
    d.payment_schedule.clear();
    d.validity.agreement_end_date = Some(today + Duration::days(400));
    table.push(("end date alone", d));
    let mut d = contract(&h);
    d.eula = Eula::Standard {
        version: "2001-01-01".into(),
    };
    table.push(("unknown standard EULA", d));
    let mut d = contract(&h);
    d.eula = Eula::Custom {
        url: "ftp://example.com/eula".into(),
    };
    table.push(("custom EULA not https", d));

    for (name, draft) in &table {
        assert!(
            validate::draft(draft, h.now()).is_err(),
            "Souk accepts: {name}"
        );
        let verdict = emulator(&h, name, draft).await;
        assert!(verdict.is_err(), "the emulator accepts: {name}");
    }
});

both!(renewal_and_net_payment_terms_agree_with_the_emulator, |h| {
    // What Souk accepts, the emulator releases: a limited renewal with a price increase, a
    // plain renewal, and each payment period.
    let mut limited = contract(&h);
    limited.renewal = Some(Renewal {
        max_renewals: Some(2),
        price_increase_percentage: "5.5".into(),
        lockout_days: Some(30),
    });
    limited.net_payment_days = Some(45);
    limited.notification_emails = vec!["deals@example.com".into()];
    let mut plain = contract(&h);
    plain.renewal = Some(Renewal::default());
    plain.net_payment_days = Some(120);
    let mut consumption = contract(&h);
    consumption.payment_schedule.clear();
    consumption.pricing = Pricing::ContractWithConsumption {
        contract: ContractTerms {
            duration_months: 12,
            dimensions: vec![ContractDimension {
                dimension_key: "seats".into(),
                unit_price_micros: 100_000_000,
                quantity: 0,
            }],
            allow_multiple_dimensions: false,
            allow_quantity_change: true,
        },
        usage_prices: vec![usage("api_calls", 1_000)],
    };
    consumption.renewal = Some(Renewal {
        max_renewals: None,
        price_increase_percentage: "0".into(),
        lockout_days: None,
    });
    consumption.net_payment_days = Some(15);
    for (name, draft) in [
        ("limited renewal", &limited),
        ("plain renewal", &plain),
        ("consumption renewal", &consumption),
    ] {
        validate::draft(draft, h.now()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        emulator(&h, name, draft)
            .await
            .unwrap_or_else(|e| panic!("the emulator refuses {name}: {e}"));
    }

    // What Souk refuses, the emulator refuses too, for the same reason.
    let mut table: Vec<(&str, OfferDraft, &str)> = Vec::new();
    let mut d = contract(&h);
    d.renewal = Some(Renewal {
        max_renewals: Some(0),
        price_increase_percentage: "5.00".into(),
        lockout_days: None,
    });
    table.push(("zero renewals", d, "MaxRenewals must be at least 1"));
    let mut d = contract(&h);
    d.renewal = Some(Renewal {
        max_renewals: Some(3),
        price_increase_percentage: String::new(),
        lockout_days: Some(30),
    });
    table.push((
        "limits without a price increase",
        d,
        "MISSING_PRICE_INCREASE",
    ));
    let mut d = contract(&h);
    d.net_payment_days = Some(31);
    table.push(("net payment period", d, "INVALID_PAYMENT_DUE_PERIOD"));
    let mut d = contract(&h);
    d.payment_schedule.clear();
    d.buyer_account_ids.clear();
    d.expiry_date = None;
    d.pricing = Pricing::FreeTrial {
        duration_days: 14,
        grants: vec![FreeTrialGrant {
            dimension_key: "api_calls".into(),
            max_quantity: None,
        }],
    };
    d.net_payment_days = Some(30);
    table.push((
        "net payment on a public free trial",
        d,
        "INCOMPATIBLE_TERMS",
    ));
    for (name, draft, why) in &table {
        assert!(
            validate::draft(draft, h.now()).is_err(),
            "Souk accepts: {name}"
        );
        let verdict = emulator(&h, name, draft).await;
        let refusal = verdict.expect_err(&format!("the emulator accepts: {name}"));
        assert!(refusal.contains(why), "{name}: {refusal}");
    }
});
