//! Offers made outside Souk are imported from the Catalog and followed like Souk's own.

use serde_json::json;
use souk_offer::domain::change_set::create_offer;
use souk_offer::domain::ports::{Catalog, ChangeSetRequest};
use souk_proto::offer as pb;

use super::harness::{BUYER, authed, both, expect_code};
use super::requests;
use tonic::Code;

both!(
    an_offer_made_outside_souk_is_imported_once_and_tracked,
    |h| {
        // A contract made straight through the Catalog API, as another tool would.
        let draft = souk_offer::domain::model::OfferDraft {
            product_id: crate::harness::SAAS.into(),
            name: "made elsewhere".into(),
            description: "not by Souk".into(),
            pricing: souk_offer::domain::model::Pricing::Subscription {
                usage_prices: vec![souk_offer::domain::model::DimensionPrice {
                    dimension_key: "api_calls".into(),
                    price_micros: 2_500,
                }],
            },
            currency: "USD".into(),
            payment_schedule: vec![],
            eula: souk_offer::domain::model::Eula::Standard {
                version: "2022-07-14".into(),
            },
            buyer_account_ids: vec![BUYER.into()],
            expiry_date: Some(h.now().date() + time::Duration::days(20)),
            validity: Default::default(),
            refund_policy: String::new(),
            renewal: None,
            net_payment_days: None,
            notification_emails: Vec::new(),
            resale: None,
        };
        let request = ChangeSetRequest {
            name: "elsewhere".into(),
            client_request_token: "elsewhere-1".into(),
            changes: create_offer(&draft),
        };
        h.catalog
            .start_change_set(&h.acting(), &request)
            .await
            .unwrap();
        h.advance(30).await;

        let import = pb::ImportOffersRequest {
            integration_id: h.integration_id.to_string(),
            idempotency_key: String::new(),
        };
        let answer = h
            .client()
            .import_offers(authed(&h.key, import.clone()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(answer.offers.len(), 1, "{answer:?}");
        let imported = &answer.offers[0];
        assert_eq!(imported.state, pb::OfferState::Released as i32);
        assert_eq!(imported.kind, pb::OfferKind::Subscription as i32);
        assert_eq!(imported.name, "made elsewhere");
        assert_eq!(imported.buyer_account_ids, vec![BUYER.to_owned()]);
        assert!(imported.aws_offer_id.starts_with("offer-"));

        // Again: nothing new.
        let again = h
            .client()
            .import_offers(authed(&h.key, import.clone()))
            .await
            .unwrap()
            .into_inner();
        assert!(again.offers.is_empty(), "{again:?}");
        // Another organisation's key imports into its own organisation only: the integration is
        // not its own, so AWS is asked as nobody (no role known for that organisation).
        expect_code(
            h.client()
                .import_offers(authed(
                    &h.key,
                    pb::ImportOffersRequest {
                        integration_id: "nope".into(),
                        idempotency_key: String::new(),
                    },
                ))
                .await,
            Code::InvalidArgument,
        );

        h.control(
            "POST",
            &format!("/_souk/offers/{}/accept", imported.aws_offer_id),
            json!({"buyer_account_id": BUYER}),
        )
        .await;
        h.track(120).await;
        let accepted = h.get(&h.key, &imported.id).await.unwrap();
        assert_eq!(
            accepted.state,
            pb::OfferState::Accepted as i32,
            "{accepted:?}"
        );
    }
);

both!(
    offers_of_every_product_type_are_imported_as_their_kind,
    |h| {
        let now = h.now();
        let mut released = Vec::new();
        for mut request in [
            requests::ami_hourly(now),
            requests::container_contract(now),
            requests::professional_services(now),
            requests::saas_contract(now, "USD"),
            requests::subscription(now),
        ] {
            request.integration_id = h.integration_id.to_string();
            let created = h.create(&h.key, request).await.expect("created");
            let offer = h.settle(&created.id).await;
            assert_eq!(offer.state, pb::OfferState::Released as i32, "{offer:?}");
            released.push(offer);
        }

        // Another organisation holding the same seller account imports them all.
        let answer = h
            .client()
            .import_offers(authed(
                &h.other_key,
                pb::ImportOffersRequest {
                    integration_id: h.integration_id.to_string(),
                    idempotency_key: String::new(),
                },
            ))
            .await
            .expect("import")
            .into_inner();
        let variant = |o: &pb::Offer| {
            std::mem::discriminant(
                o.terms
                    .as_ref()
                    .and_then(|t| t.kind.as_ref())
                    .expect("terms"),
            )
        };
        for asked in &released {
            let imported = answer
                .offers
                .iter()
                .find(|o| o.aws_offer_id == asked.aws_offer_id)
                .unwrap_or_else(|| panic!("{} imported: {answer:?}", asked.aws_offer_id));
            assert_eq!(imported.kind, asked.kind, "{imported:?}");
            assert_eq!(variant(imported), variant(asked), "{imported:?}");
            assert_eq!(imported.currency_code, asked.currency_code);
            assert_eq!(imported.product_id, asked.product_id);
        }
        let software = |o: &pb::Offer| match o.terms.as_ref().and_then(|t| t.kind.as_ref()) {
            Some(pb::offer_terms::Kind::Ami(t)) => (t.pricing_model, t.hourly_prices.clone()),
            Some(pb::offer_terms::Kind::Container(t)) => (t.pricing_model, t.hourly_prices.clone()),
            other => panic!("not software terms: {other:?}"),
        };
        let imported = |aws: &str| {
            answer
                .offers
                .iter()
                .find(|o| o.aws_offer_id == aws)
                .cloned()
                .expect("imported")
        };
        assert_eq!(
            software(&imported(&released[0].aws_offer_id)),
            software(&released[0]),
            "the AMI's hourly prices"
        );
        assert_eq!(
            software(&imported(&released[1].aws_offer_id)).0,
            pb::SoftwarePricingModel::Contract as i32,
            "the container contract"
        );
    }
);
