//! Resale authorisations (the ISV side of CPPO) against the emulator: created through the RPC,
//! submitted and released by the tracker with their events, read back by Souk or AWS id,
//! listed, isolated per organisation, refused with field violations; the change set Souk makes
//! is what the emulator releases, and what Souk refuses synchronously the emulator refuses too.

use souk_offer::domain::model::{ContractDimension, ContractTerms, DimensionPrice, Eula, Pricing};
use souk_offer::domain::ports::Catalog;
use souk_offer::domain::resale::{
    ResaleAuthorizationDraft, create_resale_authorization, validate_authorization,
};
use souk_proto::offer as pb;
use time::Duration;
use tonic::Code;

use super::harness::{BUYER, Harness, SAAS, authed, both, expect_code, violations};
use super::requests::{day, money};

/// The seller's own account (the role of the harness's integration).
const SELLER: &str = "111122223333";
pub(crate) const PARTNER: &str = "777788889999";

fn authorization(h: &Harness) -> ResaleAuthorizationDraft {
    ResaleAuthorizationDraft {
        product_id: SAAS.into(),
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
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(h.now().date() + Duration::days(90)),
        one_time: true,
    }
}

/// The emulator's verdict on `draft`'s change set: the new authorisation's id, or why it
/// refused.
async fn emulator(
    h: &Harness,
    name: &str,
    draft: &ResaleAuthorizationDraft,
) -> Result<String, String> {
    let made = h
        .verdict(&h.acting(), name, create_resale_authorization(draft))
        .await?;
    Ok(made.expect("the create change names the new entity"))
}

both!(a_valid_resale_authorization_is_released_as_asked, |h| {
    let draft = authorization(&h);
    validate_authorization(&draft, Some(SELLER), h.now()).expect("the authorisation is valid");
    let id = emulator(&h, "valid", &draft)
        .await
        .expect("the emulator releases the authorisation");
    assert!(id.starts_with("resaleauthz-"), "{id}");
    let details = h
        .catalog
        .describe_offer(&h.acting(), &id)
        .await
        .expect("DescribeEntity");
    assert_eq!(details["Status"], "Active", "{details}");
    assert_eq!(details["ResellerAccountId"], PARTNER);
    assert_eq!(details["ProductId"], SAAS);
    assert_eq!(details["PricingModel"], "Contract");
    assert_eq!(details["OffersMaxQuantity"], 1);
    let terms = details["Terms"].as_array().expect("terms");
    let pricing = terms
        .iter()
        .find(|t| t["Type"] == "ResaleConfigurableUpfrontPricingTerm")
        .expect("the floor price");
    assert_eq!(pricing["CurrencyCode"], "EUR");
    assert_eq!(pricing["RateCards"][0]["RateCard"][0]["Price"], "100");
    assert!(
        terms.iter().any(|t| t["Type"] == "BuyerTargetingTerm"
            && t["PositiveTargeting"]["BuyerAccounts"][0] == BUYER),
        "{details}"
    );
});

both!(
    what_souk_refuses_for_a_resale_authorization_the_emulator_refuses,
    |h| {
        let today = h.now().date();
        let mut table: Vec<(&str, ResaleAuthorizationDraft)> = Vec::new();
        let mut d = authorization(&h);
        d.reseller_account_id = SELLER.into();
        table.push(("the partner is the seller", d));
        let mut d = authorization(&h);
        d.currency = "CHF".into();
        table.push(("a currency AWS does not take", d));
        let mut d = authorization(&h);
        d.expiry_date = Some(today - Duration::days(1));
        table.push(("an end date in the past", d));
        let mut d = authorization(&h);
        d.buyer_account_ids = vec!["12345".into()];
        table.push(("a bad buyer account id", d));
        let mut d = authorization(&h);
        d.pricing = Pricing::Subscription {
            usage_prices: vec![DimensionPrice {
                dimension_key: "api_calls".into(),
                price_micros: -1_000,
            }],
        };
        d.currency = "USD".into();
        table.push(("a negative usage floor", d));

        for (name, draft) in &table {
            assert!(
                validate_authorization(draft, Some(SELLER), h.now()).is_err(),
                "Souk accepts: {name}"
            );
            let verdict = emulator(&h, name, draft).await;
            assert!(verdict.is_err(), "the emulator accepts: {name}");
        }
    }
);

/// A one-time, 12-month contract floor of 2,000 EUR for [`PARTNER`], for [`BUYER`] only.
pub(crate) fn request(h: &Harness) -> pb::CreateResaleAuthorizationRequest {
    pb::CreateResaleAuthorizationRequest {
        integration_id: h.integration_id.to_string(),
        product_id: SAAS.into(),
        name: "Acme via Partner".into(),
        description: "EMEA resale".into(),
        reseller_account_id: PARTNER.into(),
        terms: Some(pb::OfferTerms {
            kind: Some(pb::offer_terms::Kind::Contract(pb::ContractTerms {
                duration_months: 12,
                dimensions: vec![pb::ContractDimension {
                    dimension_key: "seats".into(),
                    unit_price: money(100_000_000, "EUR"),
                    quantity: 20,
                }],
                ..pb::ContractTerms::default()
            })),
        }),
        currency_code: "EUR".into(),
        payment_schedule: vec![],
        buyer_eula: None,
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(day(h.now(), 90)),
        one_time: true,
        idempotency_key: String::new(),
    }
}

pub(crate) async fn create(
    h: &Harness,
    key: &str,
    request: pb::CreateResaleAuthorizationRequest,
) -> Result<pb::ResaleAuthorization, tonic::Status> {
    Ok(h.client()
        .create_resale_authorization(authed(key, request))
        .await?
        .into_inner()
        .resale_authorization
        .expect("resale authorization"))
}

async fn get(h: &Harness, key: &str, id: &str) -> Result<pb::ResaleAuthorization, tonic::Status> {
    Ok(h.client()
        .get_resale_authorization(authed(
            key,
            pb::GetResaleAuthorizationRequest {
                resale_authorization_id: id.to_owned(),
            },
        ))
        .await?
        .into_inner()
        .resale_authorization
        .expect("resale authorization"))
}

async fn list(
    h: &Harness,
    key: &str,
    request: pb::ListResaleAuthorizationsRequest,
) -> Result<Vec<pb::ResaleAuthorization>, tonic::Status> {
    Ok(h.client()
        .list_resale_authorizations(authed(key, request))
        .await?
        .into_inner()
        .resale_authorizations)
}

/// Runs the tracker until `id` leaves DRAFT and SUBMITTED.
pub(crate) async fn settle(h: &Harness, id: &str) -> pb::ResaleAuthorization {
    for _ in 0..20 {
        h.track(10).await;
        let ra = get(h, &h.key, id).await.expect("get");
        let state = pb::OfferState::try_from(ra.state).unwrap_or_default();
        if !matches!(state, pb::OfferState::Draft | pb::OfferState::Submitted) {
            return ra;
        }
    }
    panic!("resale authorization {id} did not settle");
}

pub(crate) async fn events(h: &Harness, event_type: &str) -> i64 {
    let store =
        h.db.store(souk_offer::STORE_NAME)
            .await
            .expect("store opens");
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(store.pool())
        .await
        .expect("outbox count")
}

both!(
    a_resale_authorization_is_created_released_read_and_listed,
    |h| {
        let created = create(&h, &h.key, request(&h)).await.expect("created");
        assert!(created.id.starts_with("rsa_"), "{}", created.id);
        assert_eq!(created.state, pb::OfferState::Draft as i32);
        assert_eq!(events(&h, "offer.resale_authorization_created").await, 1);

        let released = settle(&h, &created.id).await;
        assert_eq!(
            released.state,
            pb::OfferState::Released as i32,
            "{}",
            released.failure_message
        );
        let aws_id = released.aws_resale_authorization_id.clone();
        assert!(aws_id.starts_with("resaleauthz-"), "{aws_id}");
        assert_eq!(events(&h, "offer.resale_authorization_released").await, 1);
        assert_eq!(released.reseller_account_id, PARTNER);
        assert_eq!(released.currency_code, "EUR");
        assert!(released.one_time);
        assert_eq!(released.buyer_account_ids, vec![BUYER.to_owned()]);
        assert_eq!(released.expiry_date, created.expiry_date);

        // AWS holds it as asked.
        let details = h
            .catalog
            .describe_offer(&h.acting(), &aws_id)
            .await
            .expect("DescribeEntity");
        assert_eq!(details["Status"], "Active", "{details}");
        assert_eq!(details["OffersMaxQuantity"], 1);

        // Read back by either id.
        assert_eq!(
            get(&h, &h.reader, &aws_id).await.expect("by AWS id"),
            released
        );
        assert_eq!(
            get(&h, &h.reader, &created.id).await.expect("by Souk id"),
            released
        );

        // Listed, and filtered.
        let all = list(
            &h,
            &h.reader,
            pb::ListResaleAuthorizationsRequest::default(),
        )
        .await
        .expect("list");
        assert_eq!(all, vec![released.clone()]);
        let other_partner = list(
            &h,
            &h.reader,
            pb::ListResaleAuthorizationsRequest {
                reseller_account_id: "123456789012".into(),
                ..Default::default()
            },
        )
        .await
        .expect("list");
        assert!(other_partner.is_empty());
        let by_product = list(
            &h,
            &h.reader,
            pb::ListResaleAuthorizationsRequest {
                product_id: SAAS.into(),
                reseller_account_id: PARTNER.into(),
                integration_id: h.integration_id.to_string(),
                ..Default::default()
            },
        )
        .await
        .expect("list");
        assert_eq!(by_product.len(), 1);
    }
);

both!(a_resale_authorization_aws_refuses_ends_failed, |h| {
    let mut req = request(&h);
    // Only AWS knows the seller's own account.
    req.reseller_account_id = SELLER.into();
    let created = create(&h, &h.key, req).await.expect("created");
    let failed = settle(&h, &created.id).await;
    assert_eq!(failed.state, pb::OfferState::Failed as i32);
    assert_eq!(failed.failure_code, "INVALID_RESELLER_ACCOUNT_ID");
    assert!(
        failed.failure_message.contains("reseller"),
        "{}",
        failed.failure_message
    );
    assert_eq!(events(&h, "offer.resale_authorization_failed").await, 1);
});

both!(resale_authorizations_are_isolated_per_organization, |h| {
    let created = create(&h, &h.key, request(&h)).await.expect("created");
    expect_code(get(&h, &h.other_key, &created.id).await, Code::NotFound);
    let theirs = list(
        &h,
        &h.other_key,
        pb::ListResaleAuthorizationsRequest::default(),
    )
    .await
    .expect("list");
    assert!(theirs.is_empty());
    // A reader cannot create.
    expect_code(
        create(&h, &h.reader, request(&h)).await,
        Code::PermissionDenied,
    );
});

both!(
    bad_resale_authorization_requests_are_invalid_and_change_nothing,
    |h| {
        let mut bad = request(&h);
        bad.integration_id = "nope".into();
        assert_eq!(
            violations(create(&h, &h.key, bad).await),
            vec![(
                "integration_id".to_owned(),
                "must start with \"int_\"".to_owned()
            )]
        );

        let mut bad = request(&h);
        bad.reseller_account_id = "1234".into();
        bad.currency_code = "CHF".into();
        if let Some(pb::offer_terms::Kind::Contract(c)) =
            bad.terms.as_mut().and_then(|t| t.kind.as_mut())
        {
            c.dimensions[0].unit_price = money(100_000_000, "CHF");
        }
        bad.expiry_date = Some(day(h.now(), -1));
        let today = day(h.now(), 0);
        let yesterday = day(h.now(), -1);
        let iso =
            |d: &souk_proto::common::Date| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day);
        assert_eq!(
        violations(create(&h, &h.key, bad).await),
        vec![
            (
                "reseller_account_id".to_owned(),
                "must be a 12-digit AWS account id".to_owned()
            ),
            (
                "currency_code".to_owned(),
                "\"CHF\" is not a currency AWS takes for private offers: use one of USD, EUR, GBP, JPY, AUD".to_owned()
            ),
            (
                "expiry_date".to_owned(),
                format!(
                    "{} is in the past: choose a day from {} on",
                    iso(&yesterday),
                    iso(&today)
                )
            ),
        ]
    );
        let mut no_terms = request(&h);
        no_terms.terms = None;
        assert_eq!(
            violations(create(&h, &h.key, no_terms).await),
            vec![(
                "terms".to_owned(),
                "is required: the pricing of the offer's kind".to_owned()
            )]
        );
        assert_eq!(
            violations(get(&h, &h.key, "ofr_123").await),
            vec![(
                "resale_authorization_id".to_owned(),
                "must start with \"rsa_\"".to_owned()
            )]
        );
        let found = violations(
            list(
                &h,
                &h.key,
                pb::ListResaleAuthorizationsRequest {
                    reseller_account_id: "12".into(),
                    ..Default::default()
                },
            )
            .await,
        );
        assert_eq!(
            found,
            vec![(
                "reseller_account_id".to_owned(),
                "must be a 12-digit AWS account id".to_owned()
            )]
        );
        // Nothing was stored, nothing reached AWS.
        assert!(
            list(&h, &h.key, pb::ListResaleAuthorizationsRequest::default())
                .await
                .expect("list")
                .is_empty()
        );
        assert_eq!(h.change_sets().await, 0);
        assert_eq!(events(&h, "offer.resale_authorization_created").await, 0);
    }
);

both!(
    a_resale_authorization_made_outside_souk_is_imported_once,
    |h| {
        // Granted straight through the Catalog API, as another tool would.
        let draft = authorization(&h);
        let aws_id = emulator(&h, "elsewhere", &draft)
            .await
            .expect("the emulator releases it");
        let import = pb::ImportOffersRequest {
            integration_id: h.integration_id.to_string(),
            idempotency_key: String::new(),
        };
        let answer = h
            .client()
            .import_offers(authed(&h.key, import.clone()))
            .await
            .expect("import")
            .into_inner();
        assert_eq!(answer.resale_authorizations.len(), 1, "{answer:?}");
        let imported = &answer.resale_authorizations[0];
        assert_eq!(imported.aws_resale_authorization_id, aws_id);
        assert_eq!(imported.state, pb::OfferState::Released as i32);
        assert_eq!(imported.reseller_account_id, PARTNER);
        assert_eq!(imported.product_id, SAAS);
        assert_eq!(imported.name, "Acme via Partner");
        assert_eq!(imported.currency_code, "EUR");
        assert!(imported.one_time);
        assert_eq!(imported.buyer_account_ids, vec![BUYER.to_owned()]);
        let expiry = draft.expiry_date.expect("expiry");
        assert_eq!(
            imported.expiry_date,
            Some(souk_proto::common::Date {
                year: expiry.year(),
                month: i32::from(u8::from(expiry.month())),
                day: i32::from(expiry.day()),
            })
        );
        let Some(pb::offer_terms::Kind::Contract(contract)) =
            imported.terms.as_ref().and_then(|t| t.kind.clone())
        else {
            panic!("contract terms: {imported:?}");
        };
        assert_eq!(contract.duration_months, 12);
        assert_eq!(contract.dimensions[0].dimension_key, "seats");
        assert_eq!(contract.dimensions[0].unit_price, money(100_000_000, "EUR"));
        assert_eq!(events(&h, "offer.resale_authorization_created").await, 1);

        // Read back by its AWS id; a second import brings nothing new.
        let got = get(&h, &h.reader, &aws_id).await.expect("get");
        assert_eq!(&got, imported);
        let again = h
            .client()
            .import_offers(authed(&h.key, import))
            .await
            .expect("import")
            .into_inner();
        assert!(again.resale_authorizations.is_empty(), "{again:?}");
    }
);
