//! Channel-partner private offers (CPPO) against the emulator: the ISV grants a resale
//! authorisation through Souk, the partner's integration makes an offer from it with a markup
//! (CreateChannelPartnerOffer), the emulator releases it, a buyer accepts it, and Souk sees it
//! accepted with the ISV's terms and the marked-up price. Requests the authorisation does not
//! allow are refused before AWS sees them, and offers made from authorisations outside Souk
//! are imported.

use serde_json::json;
use souk_offer::domain::change_set::create_offer;
use souk_offer::domain::import::resale_terms_from_details;
use souk_offer::domain::model::Validity;
use souk_offer::domain::ports::{Acting, Catalog, ChangeSetRequest};
use souk_offer::domain::resale::{
    Authorization, ChannelPartnerOfferDraft, ResaleAuthorizationDraft,
    validate_channel_partner_offer,
};
use souk_proto::offer as pb;
use tonic::Code;

use super::harness::{BUYER, Harness, SAAS, authed, both, expect_code, violations};
use super::kinds::agreement_terms;
use super::requests::day;
use super::resale::{self, PARTNER};

/// The ISV's one-time authorisation for [`PARTNER`] (20 seats at 100 EUR for 12 months, for
/// [`BUYER`] only), released; its AWS id.
async fn granted(h: &Harness) -> String {
    let created = resale::create(h, &h.key, resale::request(h))
        .await
        .expect("authorisation created");
    let released = resale::settle(h, &created.id).await;
    assert_eq!(
        released.state,
        pb::OfferState::Released as i32,
        "{}",
        released.failure_message
    );
    released.aws_resale_authorization_id
}

fn request(partner: &souk_core::Id, ra: &str, h: &Harness) -> pb::CreateChannelPartnerOfferRequest {
    pb::CreateChannelPartnerOfferRequest {
        integration_id: partner.to_string(),
        resale_authorization_id: ra.to_owned(),
        name: "Acme for Globex".into(),
        description: "partner deal".into(),
        markup_percentage: "10".into(),
        buyer_account_ids: vec![BUYER.into()],
        expiry_date: Some(day(h.now(), 30)),
        validity: None,
        replace_agreement_id: String::new(),
        idempotency_key: String::new(),
        notification_emails: vec!["partner-deals@example.com".into()],
    }
}

/// A partner's offer of `buyers` from authorisation `ra` (10 % markup, expiring in 30 days),
/// and the authorisation's terms as `acting` reads them in AWS.
async fn partner_offer(
    h: &Harness,
    acting: &Acting,
    ra: &str,
    buyers: &[&str],
) -> (ChannelPartnerOfferDraft, ResaleAuthorizationDraft) {
    let details = h
        .catalog
        .describe_offer(acting, ra)
        .await
        .expect("DescribeEntity");
    let terms = resale_terms_from_details(ra, &details).expect("the authorisation reads");
    let draft = ChannelPartnerOfferDraft {
        resale_authorization_id: ra.to_owned(),
        name: "Acme for Globex".into(),
        description: "partner deal".into(),
        markup_percentage: "10".into(),
        buyer_account_ids: buyers.iter().map(|b| (*b).to_owned()).collect(),
        expiry_date: Some(h.now().date() + time::Duration::days(30)),
        validity: Validity::default(),
        replace_agreement_id: None,
        notification_emails: Vec::new(),
    };
    (draft, terms)
}

async fn create(
    h: &Harness,
    key: &str,
    request: pb::CreateChannelPartnerOfferRequest,
) -> Result<pb::Offer, tonic::Status> {
    Ok(h.client()
        .create_channel_partner_offer(authed(key, request))
        .await?
        .into_inner()
        .offer
        .expect("offer"))
}

both!(
    a_channel_partner_offer_is_released_accepted_and_billed_with_the_markup,
    |h| {
        let ra = granted(&h).await;
        let partner = h.integration_for(PARTNER).await;
        let created = create(&h, &h.key, request(&partner, &ra, &h))
            .await
            .expect("created");
        assert_eq!(created.kind, pb::OfferKind::ChannelPartner as i32);
        assert_eq!(created.state, pb::OfferState::Draft as i32);
        assert_eq!(created.resale_authorization_id, ra);
        assert_eq!(created.markup_percentage, "10");
        assert_eq!(created.product_id, SAAS);
        assert_eq!(created.currency_code, "EUR", "the authorisation's currency");
        assert_eq!(created.integration_id, partner.to_string());
        assert_eq!(
            created.notification_emails,
            vec!["partner-deals@example.com".to_owned()]
        );

        let released = h.settle(&created.id).await;
        assert_eq!(
            released.state,
            pb::OfferState::Released as i32,
            "{}",
            released.failure_message
        );
        let details = h
            .catalog
            .describe_offer(&h.acting(), &released.aws_offer_id)
            .await
            .expect("DescribeEntity");
        assert_eq!(details["ResaleAuthorizationId"], ra.as_str(), "{details}");
        assert_eq!(details["MarkupPercentage"], "10", "{details}");
        assert_eq!(details["Name"], "Acme for Globex", "{details}");

        let agreement = h
            .control(
                "POST",
                &format!("/_souk/offers/{}/accept", released.aws_offer_id),
                json!({"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": 20}]}),
            )
            .await;
        assert_eq!(agreement["proposer_account_id"], PARTNER, "{agreement}");
        assert_eq!(agreement["currency_code"], "EUR", "{agreement}");
        let invoices = h.control("GET", "/_souk/invoices", json!(null)).await;
        let invoice = invoices
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|i| i["agreement_id"] == agreement["id"])
                    .cloned()
            })
            .unwrap_or_else(|| panic!("an invoice of {agreement} in {invoices}"));
        assert_eq!(
            invoice["amount_micros"], 2_200_000_000_i64,
            "20 seats at 100 EUR plus 10%: {invoice}"
        );
        assert_eq!(invoice["seller_account_id"], PARTNER, "{invoice}");
        // The agreement holds the ISV's terms (AWS applies the markup when it invoices).
        assert_eq!(
            agreement_terms(&h, agreement["id"].as_str().unwrap_or("")).await,
            vec![
                json!({"upfront": {"currency": "EUR", "rate_cards": [{"duration": "P12M",
                    "multiple_dimensions": "Disallowed", "quantity_change": "Disallowed",
                    "rates": [{"dimension": "seats", "price": "100"}]}],
                    "chosen": {"duration": "P12M", "quantities": [{"dimension": "seats", "quantity": 20}]}}}),
                json!({"validity": {"duration": "P12M", "start": null, "end": null}}),
            ]
        );

        h.track(120).await;
        let accepted = h.get(&h.key, &created.id).await.expect("get");
        assert_eq!(
            accepted.state,
            pb::OfferState::Accepted as i32,
            "{accepted:?}"
        );
        assert_eq!(
            accepted.agreement_id,
            agreement["id"].as_str().unwrap_or("")
        );
        assert_eq!(resale::events(&h, "offer.accepted").await, 1);

        // The authorisation was one-time: a second offer is refused before AWS sees it.
        let sets = h.change_sets().await;
        assert_eq!(
            violations(create(&h, &h.key, request(&partner, &ra, &h)).await),
            vec![(
                "resale_authorization_id".to_owned(),
                "is one-time and an offer was already made from it: ask the seller for a new resale authorisation".to_owned()
            )]
        );
        assert_eq!(h.change_sets().await, sets, "nothing reached AWS");
    }
);

both!(
    what_the_authorisation_does_not_allow_is_refused_and_changes_nothing,
    |h| {
        let ra = granted(&h).await;
        let partner = h.integration_for(PARTNER).await;
        let sets = h.change_sets().await;

        let mut bad = request(&partner, &ra, &h);
        bad.buyer_account_ids = vec!["999988887777".into()];
        bad.markup_percentage = "-1".into();
        bad.expiry_date = Some(day(h.now(), 120));
        let ends = day(h.now(), 90);
        let iso =
            |d: &souk_proto::common::Date| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day);
        assert_eq!(
            violations(create(&h, &h.key, bad).await),
            vec![
                (
                    "markup_percentage".to_owned(),
                    "must not be negative: a channel-partner offer cannot be priced below the resale authorisation".to_owned()
                ),
                (
                    "buyer_account_ids[0]".to_owned(),
                    "999988887777 is not among the buyers the resale authorisation allows"
                        .to_owned()
                ),
                (
                    "expiry_date".to_owned(),
                    format!(
                        "{} is after the resale authorisation ends ({}): choose a day until then",
                        iso(&day(h.now(), 120)),
                        iso(&ends)
                    )
                ),
            ]
        );

        let mut unknown = request(&partner, "resaleauthz-doesnotexist1", &h);
        unknown.name = String::new();
        let found = violations(create(&h, &h.key, unknown).await);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].0, "resale_authorization_id");
        assert!(
            found[0].1.starts_with(
                "AWS shows no resale authorisation resaleauthz-doesnotexist1 to this integration's account ("
            ),
            "{}",
            found[0].1
        );

        let mut malformed = request(&partner, "rsa_123", &h);
        malformed.replace_agreement_id = "offer-1".into();
        assert_eq!(
            violations(create(&h, &h.key, malformed).await),
            vec![
                (
                    "resale_authorization_id".to_owned(),
                    "must be the AWS id of the resale authorisation the seller granted (\"resaleauthz-...\")".to_owned()
                ),
                (
                    "replace_agreement_id".to_owned(),
                    "must be an agreement id (\"agmt-...\", at most 64 characters)".to_owned()
                ),
            ]
        );

        // The partner's offers are the organisation's: a reader cannot create one and another
        // organisation sees none.
        expect_code(
            create(&h, &h.reader, request(&partner, &ra, &h)).await,
            Code::PermissionDenied,
        );
        let created = create(&h, &h.key, request(&partner, &ra, &h))
            .await
            .expect("created");
        expect_code(h.get(&h.other_key, &created.id).await, Code::NotFound);
        let theirs = h
            .client()
            .list_offers(authed(&h.other_key, pb::ListOffersRequest::default()))
            .await
            .expect("list")
            .into_inner()
            .offers;
        assert!(theirs.is_empty());
        let mine = h
            .client()
            .list_offers(authed(
                &h.reader,
                pb::ListOffersRequest {
                    kinds: vec![pb::OfferKind::ChannelPartner as i32],
                    ..Default::default()
                },
            ))
            .await
            .expect("list")
            .into_inner()
            .offers;
        assert_eq!(mine.len(), 1, "only the accepted request made an offer");
        assert_eq!(
            h.change_sets().await,
            sets,
            "no refused request reached AWS"
        );
    }
);

both!(
    an_offer_made_from_an_authorisation_outside_souk_is_imported,
    |h| {
        let ra = granted(&h).await;
        let partner = h.integration_for(PARTNER).await;
        let acting = Acting {
            organization_id: h.org.clone(),
            integration_id: partner.clone(),
        };
        // Made straight through the Catalog API by the partner, as another tool would.
        let (asked, terms) = partner_offer(&h, &acting, &ra, &[BUYER]).await;
        let offer = ChannelPartnerOfferDraft {
            markup_percentage: "7.5".into(),
            ..asked
        }
        .into_offer(terms);
        let request = ChangeSetRequest {
            name: "elsewhere".into(),
            client_request_token: "elsewhere-cppo-1".into(),
            changes: create_offer(&offer),
        };
        h.catalog
            .start_change_set(&acting, &request)
            .await
            .expect("StartChangeSet");
        h.advance(60).await;

        let report = h
            .client()
            .import_offers(authed(
                &h.key,
                pb::ImportOffersRequest {
                    integration_id: partner.to_string(),
                    ..Default::default()
                },
            ))
            .await
            .expect("import")
            .into_inner();
        assert_eq!(report.offers.len(), 1, "{report:?}");
        let imported = &report.offers[0];
        assert_eq!(imported.kind, pb::OfferKind::ChannelPartner as i32);
        assert_eq!(imported.state, pb::OfferState::Released as i32);
        assert_eq!(imported.resale_authorization_id, ra);
        assert_eq!(imported.markup_percentage, "7.5");
        assert_eq!(imported.currency_code, "EUR");
        assert_eq!(imported.buyer_account_ids, vec![BUYER.to_owned()]);
    }
);

both!(
    what_souk_refuses_for_a_channel_partner_offer_the_emulator_refuses,
    |h| {
        let ra = granted(&h).await;
        let partner = h.integration_for(PARTNER).await;
        let acting = Acting {
            organization_id: h.org.clone(),
            integration_id: partner,
        };
        let (base, terms) = partner_offer(&h, &acting, &ra, &[]).await;
        let asked = |buyers: &[&str]| ChannelPartnerOfferDraft {
            buyer_account_ids: buyers.iter().map(|b| (*b).to_owned()).collect(),
            ..base.clone()
        };
        let check = |draft: &ChannelPartnerOfferDraft, offers_made: u32| {
            let authorization = Authorization {
                draft: &terms,
                active: true,
                offers_made,
            };
            validate_channel_partner_offer(draft, &authorization, h.now())
        };
        let changes =
            |draft: ChannelPartnerOfferDraft| create_offer(&draft.into_offer(terms.clone()));

        // A buyer the authorisation does not allow.
        let outside = asked(&["999988887777"]);
        assert!(check(&outside, 0).is_err(), "Souk accepts a buyer outside");
        let verdict = h.verdict(&acting, "outside", changes(outside)).await;
        assert!(
            verdict
                .as_ref()
                .is_err_and(|codes| codes.contains("INCOMPATIBLE_RESALE_AUTHORIZATION")),
            "{verdict:?}"
        );

        // The valid offer is released; then the one-time authorisation is used up.
        let valid = asked(&[BUYER]);
        check(&valid, 0).expect("the offer is valid");
        let made = h
            .verdict(&acting, "valid", changes(valid.clone()))
            .await
            .expect("the emulator releases the valid offer");
        assert!(made.is_some_and(|id| id.starts_with("offer-")));
        assert!(check(&valid, 1).is_err(), "Souk accepts a second offer");
        let verdict = h.verdict(&acting, "second", changes(valid)).await;
        assert!(
            verdict
                .as_ref()
                .is_err_and(|codes| codes.contains("INCOMPATIBLE_RESALE_AUTHORIZATION")),
            "{verdict:?}"
        );
    }
);

both!(
    a_channel_partner_replaces_its_buyers_agreement_from_a_multi_use_authorisation,
    |h| {
        let mut asked = resale::request(&h);
        asked.one_time = false;
        let ra = resale::create(&h, &h.key, asked).await.expect("created");
        let ra = resale::settle(&h, &ra.id).await.aws_resale_authorization_id;
        let partner = h.integration_for(PARTNER).await;

        let first = create(&h, &h.key, request(&partner, &ra, &h))
            .await
            .expect("first offer");
        let first = h.settle(&first.id).await;
        let agreement = h
            .control(
                "POST",
                &format!("/_souk/offers/{}/accept", first.aws_offer_id),
                json!({"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": 20}]}),
            )
            .await;
        let agreement_id = agreement["id"].as_str().expect("agreement id").to_owned();

        let mut replacement = request(&partner, &ra, &h);
        replacement.name = "Acme for Globex, renewed".into();
        replacement.replace_agreement_id = agreement_id.clone();
        replacement.buyer_account_ids.clear();
        replacement.validity = Some(pb::Validity {
            agreement_start_date: None,
            agreement_end_date: Some(day(h.now(), 400)),
        });
        replacement.markup_percentage = "12.5".into();
        let second = create(&h, &h.key, replacement).await.expect("replacement");
        let second = h.settle(&second.id).await;
        assert_eq!(
            second.state,
            pb::OfferState::Released as i32,
            "{}",
            second.failure_message
        );
        let replaced = h
            .control(
                "POST",
                &format!("/_souk/offers/{}/accept", second.aws_offer_id),
                json!({"buyer_account_id": BUYER, "quantities": [{"dimension_key": "seats", "quantity": 20}]}),
            )
            .await;
        assert_eq!(replaced["proposer_account_id"], PARTNER, "{replaced}");
        h.track(120).await;
        let accepted = h.get(&h.key, &second.id).await.expect("get");
        assert_eq!(
            accepted.state,
            pb::OfferState::Accepted as i32,
            "{accepted:?}"
        );
        assert_eq!(accepted.agreement_id, replaced["id"].as_str().unwrap_or(""));
    }
);
