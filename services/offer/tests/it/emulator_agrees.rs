//! What Souk refuses synchronously, AWS (the emulator) refuses too: each bad offer of the rule
//! table is refused by `validate::draft`, and the same offer sent straight to the Catalog
//! (bypassing Souk's checks) is refused by the emulator, at StartChangeSet or as a failed
//! change set. Rules AWS does not check (installments adding up to the commit, BYOL and
//! monthly containers, which the Catalog change types cannot even express) are Souk's alone
//! and listed in `validate_tests.rs`.

use souk_offer::domain::change_set::create_offer;
use souk_offer::domain::model::{
    ContractDimension, ContractTerms, DimensionPrice, Eula, Installment, OfferDraft, Pricing,
    Validity,
};
use souk_offer::domain::ports::{CallError, Catalog, ChangeSetRequest, ChangeSetStatus};
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
    let request = ChangeSetRequest {
        name: name.chars().filter(char::is_ascii_alphanumeric).collect(),
        client_request_token: souk_core::Id::generate("tok").to_string(),
        changes: create_offer(draft),
    };
    let id = match h.catalog.start_change_set(&h.acting(), &request).await {
        Ok(id) => id,
        Err(CallError::Refused { code, message }) => return Err(format!("{code}: {message}")),
        Err(CallError::Retry(message)) => panic!("{name}: {message}"),
    };
    for _ in 0..10 {
        h.advance(10).await;
        match h.catalog.describe_change_set(&h.acting(), &id).await {
            Ok(ChangeSetStatus::Running) => {}
            Ok(ChangeSetStatus::Succeeded { .. }) => return Ok(()),
            Ok(ChangeSetStatus::Failed { errors, .. }) => {
                return Err(errors
                    .iter()
                    .map(|e| e.code.clone())
                    .collect::<Vec<_>>()
                    .join(","));
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    panic!("{name}: the change set did not finish")
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
