//! A SaaS contract offer from request to accepted agreement through the emulator, its events,
//! tenant isolation, bad input, an asynchronous failure and a replacement offer.

use serde_json::{Value, json};
use souk_proto::offer as pb;
use tonic::Code;

use super::harness::{BUYER, authed, both, expect_code, violations};
use super::requests::{day, saas_contract};

fn state(offer: &pb::Offer) -> pb::OfferState {
    pb::OfferState::try_from(offer.state).unwrap_or_default()
}

both!(
    a_saas_contract_is_released_accepted_and_seen_accepted,
    |h| {
        let mut request = saas_contract(h.now(), "USD");
        request.integration_id = h.integration_id.to_string();
        request.idempotency_key = "create-1".into();
        let created = h.create(&h.key, request.clone()).await.unwrap();
        assert_eq!(state(&created), pb::OfferState::Draft);
        assert_eq!(created.buyer_account_ids, vec![BUYER.to_owned()]);
        assert!(created.expiry_time.is_some());
        // A retry with the same key is the same offer.
        let again = h.create(&h.key, request).await.unwrap();
        assert_eq!(again.id, created.id);

        let released = h.settle(&created.id).await;
        assert_eq!(state(&released), pb::OfferState::Released, "{released:?}");
        assert!(released.aws_offer_id.starts_with("offer-"), "{released:?}");
        assert!(!released.change_set_id.is_empty());

        let agreement = h
            .control(
                "POST",
                &format!("/_souk/offers/{}/accept", released.aws_offer_id),
                json!({"buyer_account_id": BUYER}),
            )
            .await;
        let agreement_id = agreement["id"].as_str().unwrap().to_owned();
        h.track(120).await;
        let accepted = h.get(&h.key, &created.id).await.unwrap();
        assert_eq!(state(&accepted), pb::OfferState::Accepted, "{accepted:?}");
        assert_eq!(accepted.agreement_id, agreement_id);

        // The agreement carries what was asked: currency, the grant and both installments.
        let agreement = h.agreement(&agreement_id).await;
        assert_eq!(agreement["currency_code"], "USD");
        let terms = agreement["terms"].as_array().unwrap();
        let term = |t: &str| {
            terms
                .iter()
                .find(|x| x["Type"] == t)
                .cloned()
                .unwrap_or(Value::Null)
        };
        assert_eq!(
            term("FixedUpfrontPricingTerm")["Grants"],
            json!([{"DimensionKey": "seats", "MaxQuantity": 20}])
        );
        let schedule = term("PaymentScheduleTerm")["Schedule"].clone();
        assert_eq!(schedule[0]["ChargeAmount"], "1200.00");
        assert_eq!(schedule[1]["ChargeAmount"], "800.00");
        assert_eq!(term("ValidityTerm")["AgreementDuration"], "P12M");

        // Another organisation sees nothing and can change nothing.
        expect_code(h.get(&h.other_key, &created.id).await, Code::NotFound);
        let cancel = h
            .client()
            .cancel_offer(souk_testkit::rpc::authed(
                &h.other_key,
                pb::CancelOfferRequest {
                    offer_id: created.id.clone(),
                    idempotency_key: String::new(),
                },
            ))
            .await;
        expect_code(cancel, Code::NotFound);
        let listed = h
            .client()
            .list_offers(souk_testkit::rpc::authed(
                &h.other_key,
                pb::ListOffersRequest::default(),
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.offers.is_empty());
        // A read key may read, not create.
        h.get(&h.reader, &created.id).await.unwrap();
        let mut denied = saas_contract(h.now(), "USD");
        denied.integration_id = h.integration_id.to_string();
        expect_code(h.create(&h.reader, denied).await, Code::PermissionDenied);

        // An upsell replacing the agreement: buyers come from the agreement.
        let mut upsell = saas_contract(h.now(), "USD");
        upsell.integration_id = h.integration_id.to_string();
        upsell.kind = pb::OfferKind::Replacement as i32;
        upsell.buyer_account_ids.clear();
        upsell.payment_schedule.clear();
        upsell.validity = Some(pb::Validity {
            agreement_start_date: None,
            agreement_end_date: Some(day(h.now(), 400)),
        });
        upsell.terms = Some(pb::OfferTerms {
            kind: Some(pb::offer_terms::Kind::Replacement(pb::ReplacementTerms {
                agreement_id: agreement_id.clone(),
                reason: pb::ReplacementReason::Upsell as i32,
                contract: Some(pb::ContractTerms {
                    duration_months: 0,
                    dimensions: vec![pb::ContractDimension {
                        dimension_key: "seats".into(),
                        unit_price: crate::requests::money(90_000_000, "USD"),
                        quantity: 0,
                    }],
                    // A replacement renews like a contract.
                    renewal: Some(pb::RenewalTerms {
                        max_renewals: 1,
                        price_increase_percentage: "2".into(),
                        lockout_days: 30,
                    }),
                    ..pb::ContractTerms::default()
                }),
                usage_prices: vec![],
            })),
        });
        let upsell = h.create(&h.key, upsell).await.unwrap();
        let released = h.settle(&upsell.id).await;
        assert_eq!(state(&released), pb::OfferState::Released, "{released:?}");
        let replaced = h
        .control(
            "POST",
            &format!("/_souk/offers/{}/accept", released.aws_offer_id),
            json!({"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": 30}]}),
        )
        .await;
        assert_eq!(replaced["intent"], "REPLACE", "{replaced}");
        let renewal = h.agreement(replaced["id"].as_str().unwrap()).await["terms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["Type"] == "RenewalTerm")
            .cloned();
        assert_eq!(
            renewal,
            Some(
                json!({"Type": "RenewalTerm", "MaxRenewals": 1, "LockoutPeriod": "P30D",
                "PriceIncrease": {"Type": "FixedPercentage", "Value": "2.00"}})
            ),
            "{replaced}"
        );
        h.track(120).await;
        assert_eq!(
            state(&h.get(&h.key, &upsell.id).await.unwrap()),
            pb::OfferState::Accepted
        );
    }
);

both!(
    bad_input_is_refused_with_every_field_and_changes_nothing,
    |h| {
        let mut request = saas_contract(h.now(), "USD");
        request.integration_id = "nope".into();
        request.buyer_account_ids = vec!["123".into()];
        request.payment_schedule[1].charge_date = Some(day(h.now(), -2));
        request.payment_schedule[1].amount = crate::requests::money(800_000_000, "EUR");
        let found = violations(h.create(&h.key, request).await);
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec!["integration_id", "payment_schedule[1].amount.currency_code"],
            "{found:?}"
        );
        let mut request = saas_contract(h.now(), "USD");
        request.integration_id = h.integration_id.to_string();
        request.buyer_account_ids = vec!["123".into()];
        request.payment_schedule[1].charge_date = Some(day(h.now(), -2));
        let found = violations(h.create(&h.key, request).await);
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "buyer_account_ids[0]",
                "payment_schedule[1].charge_date",
                "payment_schedule[0].charge_date"
            ],
            "{found:?}"
        );
        let listed = h
            .client()
            .list_offers(souk_testkit::rpc::authed(
                &h.key,
                pb::ListOffersRequest::default(),
            ))
            .await
            .unwrap()
            .into_inner();
        assert!(listed.offers.is_empty());
        let bad_get = h.get(&h.key, "offer-123").await;
        assert_eq!(violations(bad_get)[0].0, "offer_id");

        // Renewal, payment period and contacts: their shape, then AWS's rules.
        let renewing = |renewal: pb::RenewalTerms| {
            let mut request = saas_contract(h.now(), "USD");
            request.integration_id = h.integration_id.to_string();
            if let Some(pb::offer_terms::Kind::Contract(c)) =
                request.terms.as_mut().and_then(|t| t.kind.as_mut())
            {
                c.renewal = Some(renewal);
            }
            request
        };
        let mut request = renewing(pb::RenewalTerms {
            max_renewals: -1,
            ..pb::RenewalTerms::default()
        });
        request.net_payment_days = -30;
        assert_eq!(
            violations(h.create(&h.key, request).await),
            vec![
                (
                    "terms.contract.renewal.max_renewals".to_owned(),
                    "must not be negative".to_owned()
                ),
                (
                    "net_payment_days".to_owned(),
                    "must not be negative".to_owned()
                ),
            ]
        );
        let mut request = renewing(pb::RenewalTerms {
            max_renewals: 2,
            ..pb::RenewalTerms::default()
        });
        request.net_payment_days = 100;
        request.notification_emails = vec!["deals at example.com".into()];
        assert_eq!(
            violations(h.create(&h.key, request).await),
            vec![
                (
                    "terms.contract.renewal.price_increase_percentage".to_owned(),
                    "is required with max_renewals or lockout_days (AWS asks for a price increase with them): give one, \"0\" for none".to_owned()
                ),
                (
                    "net_payment_days".to_owned(),
                    "100 is not a payment period AWS offers: use 15, 30, 45, 60, 90 or 120 days, or 0 for AWS's default".to_owned()
                ),
                (
                    "notification_emails[0]".to_owned(),
                    "\"deals at example.com\" is not an email address: write it like name@example.com".to_owned()
                ),
            ]
        );
    }
);

both!(an_offer_aws_refuses_ends_failed_with_the_reason, |h| {
    // A product id Souk cannot know is wrong: the emulator fails the change set.
    let mut request = saas_contract(h.now(), "USD");
    request.integration_id = h.integration_id.to_string();
    request.product_id = "prod-doesnotexist".into();
    let created = h.create(&h.key, request).await.unwrap();
    let failed = h.settle(&created.id).await;
    assert_eq!(state(&failed), pb::OfferState::Failed);
    assert_eq!(failed.failure_code, "ResourceNotFoundException");
    assert_eq!(
        failed.failure_message,
        "AWS refused the change set: ResourceNotFoundException: Product prod-doesnotexist not found."
    );

    // A dimension the product does not have: the change set fails asynchronously.
    let mut request = saas_contract(h.now(), "USD");
    request.integration_id = h.integration_id.to_string();
    if let Some(pb::offer_terms::Kind::Contract(c)) =
        request.terms.as_mut().and_then(|t| t.kind.as_mut())
    {
        c.dimensions[0].dimension_key = "gpus".into();
    }
    let created = h.create(&h.key, request).await.unwrap();
    let failed = h.settle(&created.id).await;
    assert_eq!(state(&failed), pb::OfferState::Failed);
    assert_eq!(failed.failure_code, "INCOMPATIBLE_PRODUCT");
    assert_eq!(
        failed.failure_message,
        "AWS refused the offer: INCOMPATIBLE_PRODUCT in UpdatePricingTerms: Dimension gpus isn't defined for product prod-souksaas0001. (check the product id and its dimension keys, and that the product is Limited or Public and belongs to this seller account)"
    );
});

both!(
    a_released_offer_is_cancelled_and_no_buyer_can_accept_it,
    |h| {
        let mut request = saas_contract(h.now(), "USD");
        request.integration_id = h.integration_id.to_string();
        let created = h.create(&h.key, request).await.unwrap();
        let released = h.settle(&created.id).await;
        let cancelled = h
            .client()
            .cancel_offer(souk_testkit::rpc::authed(
                &h.key,
                pb::CancelOfferRequest {
                    offer_id: created.id.clone(),
                    idempotency_key: "cancel-1".into(),
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .offer
            .unwrap();
        assert_eq!(state(&cancelled), pb::OfferState::Cancelled);
        h.track(30).await;
        let (status, answer) = h
            .control_status(
                "POST",
                &format!("/_souk/offers/{}/accept", released.aws_offer_id),
                json!({"buyer_account_id": BUYER}),
            )
            .await;
        assert_eq!(status, 409, "{answer}");
        assert_eq!(
            state(&h.get(&h.key, &created.id).await.unwrap()),
            pb::OfferState::Cancelled
        );
    }
);

both!(
    every_rpc_is_confined_to_the_callers_organisation_and_checks_its_input,
    |h| {
        let mut request = saas_contract(h.now(), "USD");
        request.integration_id = h.integration_id.to_string();
        let created = h.create(&h.key, request).await.unwrap();
        let released = h.settle(&created.id).await;
        assert_eq!(state(&released), pb::OfferState::Released);
        let mut client = h.client();

        // Another organisation: not found everywhere, and nothing changes.
        let other = &h.other_key;
        expect_code(h.get(other, &created.id).await, Code::NotFound);
        let extend = pb::ExtendOfferRequest {
            offer_id: created.id.clone(),
            expiry_date: Some(day(h.now(), 31)),
            idempotency_key: String::new(),
        };
        expect_code(
            client.extend_offer(authed(other, extend.clone())).await,
            Code::NotFound,
        );
        let clone = pb::CloneOfferRequest {
            offer_id: created.id.clone(),
            ..pb::CloneOfferRequest::default()
        };
        expect_code(
            client.clone_offer(authed(other, clone.clone())).await,
            Code::NotFound,
        );
        expect_code(
            client
                .cancel_offer(authed(
                    other,
                    pb::CancelOfferRequest {
                        offer_id: created.id.clone(),
                        idempotency_key: String::new(),
                    },
                ))
                .await,
            Code::NotFound,
        );
        let mine = h.get(&h.key, &created.id).await.unwrap();
        assert_eq!(mine, released);

        // Bad input: INVALID_ARGUMENT naming the field, for every RPC.
        let bad_id = |v: Vec<(String, String)>| v.iter().any(|(f, _)| f == "offer_id");
        assert!(bad_id(violations(h.get(&h.key, "offer-1").await)));
        assert!(bad_id(violations(
            client
                .extend_offer(authed(
                    &h.key,
                    pb::ExtendOfferRequest {
                        offer_id: "x".into(),
                        ..extend.clone()
                    },
                ))
                .await
        )));
        assert!(bad_id(violations(
            client
                .clone_offer(authed(
                    &h.key,
                    pb::CloneOfferRequest {
                        offer_id: "x".into(),
                        ..clone.clone()
                    },
                ))
                .await
        )));
        assert!(bad_id(violations(
            client
                .cancel_offer(authed(
                    &h.key,
                    pb::CancelOfferRequest {
                        offer_id: "x".into(),
                        idempotency_key: String::new(),
                    },
                ))
                .await
        )));
        let found = violations(
            client
                .list_offers(authed(
                    &h.key,
                    pb::ListOffersRequest {
                        buyer_account_id: "12".into(),
                        states: vec![99],
                        ..pb::ListOffersRequest::default()
                    },
                ))
                .await,
        );
        let fields: Vec<&str> = found.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, vec!["buyer_account_id", "states[0]"]);
        let missing_date = violations(
            client
                .extend_offer(authed(
                    &h.key,
                    pb::ExtendOfferRequest {
                        expiry_date: None,
                        ..extend.clone()
                    },
                ))
                .await,
        );
        assert_eq!(missing_date[0].0, "expiry_date");
        // An extension to an earlier day is refused and changes nothing.
        let earlier = violations(
            client
                .extend_offer(authed(
                    &h.key,
                    pb::ExtendOfferRequest {
                        expiry_date: Some(day(h.now(), 29)),
                        ..extend.clone()
                    },
                ))
                .await,
        );
        assert_eq!(earlier[0].0, "expiry_date");
        assert_eq!(h.get(&h.key, &created.id).await.unwrap(), released);

        // The owner extends it and clones it for another buyer with a custom EULA.
        let extended = client
            .extend_offer(authed(&h.key, extend))
            .await
            .unwrap()
            .into_inner()
            .offer
            .unwrap();
        assert!(extended.expiry_time.unwrap().seconds > released.expiry_time.unwrap().seconds);
        let copy = client
            .clone_offer(authed(
                &h.key,
                pb::CloneOfferRequest {
                    buyer_account_ids: vec!["777788889999".into()],
                    eula: Some(pb::Eula {
                        r#type: pb::EulaType::Custom as i32,
                        custom_url: "https://example.com/eula.pdf".into(),
                        standard_version: String::new(),
                    }),
                    ..clone
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .offer
            .unwrap();
        assert_eq!(copy.cloned_from_offer_id, created.id);
        assert_eq!(copy.buyer_account_ids, vec!["777788889999".to_owned()]);
        let copy = h.settle(&copy.id).await;
        assert_eq!(state(&copy), pb::OfferState::Released, "{copy:?}");
    }
);
