//! The SQL store on both backends, driven through the use cases and the tracker (the Catalog is
//! scripted): every test runs on a fresh SQLite file and a fresh PostgreSQL database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use souk_core::clock::ManualClock;
use souk_core::{Id, Idempotency, Outcome, PageRequest, PageScope, SharedClock};
use souk_events::{EventFactory, Namespace};
use souk_store::Backend;
use souk_testkit::db::run_migrated;
use time::Duration;
use time::macros::datetime;
use tokio::sync::Notify;

use super::{SqlStore, migrations};
use crate::domain::fakes::FakeCatalog;
use crate::domain::model::{Offer, OfferKind, OfferState, Pricing};
use crate::domain::ports::{CallError, ChangeError, ChangeSetStatus, OfferFilter, Store};
use crate::domain::validate::tests::saas_contract;
use crate::domain::{CloneChanges, Error, Offers, TrackOptions, Tracker};

struct Fx {
    offers: Offers,
    tracker: Tracker,
    catalog: Arc<FakeCatalog>,
    clock: Arc<ManualClock>,
    store: Arc<dyn Store>,
    raw: souk_store::Store,
    org: Id,
    integration: Id,
}

fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Fx) -> Fut,
    Fut: Future<Output = ()>,
{
    run_migrated(backend, crate::STORE_NAME, migrations(), |raw| async move {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-30 12:00 UTC)));
        let shared: SharedClock = clock.clone();
        let store: Arc<dyn Store> = Arc::new(SqlStore::new(
            raw.clone(),
            EventFactory::new(shared.clone(), Namespace::default()),
            shared.clone(),
        ));
        let catalog = Arc::new(FakeCatalog::default());
        let offers = Offers::new(
            store.clone(),
            catalog.clone(),
            shared.clone(),
            Arc::new(Notify::new()),
        );
        let options = TrackOptions {
            first_poll: StdDuration::from_secs(1),
            max_poll: StdDuration::from_secs(8),
            acceptance_poll: StdDuration::from_secs(30),
            lease: StdDuration::from_secs(60),
            batch: 10,
            reminder_days: vec![7, 1],
        };
        let tracker = Tracker::new(store.clone(), catalog.clone(), shared, options);
        test(Fx {
            offers,
            tracker,
            catalog,
            clock,
            store,
            raw,
            org: Id::generate("org"),
            integration: Id::generate("int"),
        })
        .await;
    });
}

macro_rules! both {
    ($name:ident, |$fx:ident| $body:block) => {
        souk_testkit::both_backends!($name, run, |$fx: Fx| $body);
    };
}

async fn outbox(fx: &Fx, event_type: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE event_type = $1")
        .bind(event_type)
        .fetch_one(fx.raw.pool())
        .await
        .unwrap()
}

fn done(outcome: Outcome<Offer>) -> Offer {
    match outcome {
        Outcome::Done(offer) => offer,
        Outcome::Replayed(_) => panic!("replayed"),
    }
}

async fn create(fx: &Fx) -> Offer {
    done(
        fx.offers
            .create(&fx.org, &fx.integration, saas_contract(), None, |_| {
                Vec::new()
            })
            .await
            .unwrap(),
    )
}

/// Advances the clock past every due check and runs a pass.
async fn pass(fx: &Fx, by: i64) {
    fx.clock.advance(Duration::seconds(by));
    fx.tracker.track_once().await.unwrap();
}

fn page() -> PageRequest {
    PageRequest::parse(0, "", PageScope::new("list", "org", &[])).unwrap()
}

both!(
    an_offer_goes_from_draft_to_accepted_with_one_event_per_transition,
    |fx| {
        let offer = create(&fx).await;
        assert_eq!(offer.state, OfferState::Draft);
        assert_eq!(outbox(&fx, "offer.created").await, 1);

        pass(&fx, 0).await;
        let submitted = fx.offers.get(&fx.org, &offer.id).await.unwrap();
        assert_eq!(submitted.state, OfferState::Submitted);
        assert_eq!(
            submitted.change_set_id.as_deref(),
            Some(format!("cs-{}", offer.id).as_str())
        );
        let started = fx.catalog.started.lock().unwrap().clone();
        assert_eq!(started.len(), 1);
        assert_eq!(started[0].client_request_token, offer.id.to_string());
        assert_eq!(
            started[0].changes.last().unwrap().change_type,
            "ReleaseOffer"
        );

        fx.catalog
            .describe_answers
            .lock()
            .unwrap()
            .push_back(Ok(ChangeSetStatus::Succeeded {
                entity_id: Some("offer-abc".into()),
            }));
        pass(&fx, 1).await;
        let released = fx.offers.get(&fx.org, &offer.id).await.unwrap();
        assert_eq!(released.state, OfferState::Released);
        assert_eq!(released.aws_offer_id.as_deref(), Some("offer-abc"));
        assert_eq!(outbox(&fx, "offer.released").await, 1);

        // Not accepted yet: nothing changes.
        pass(&fx, 30).await;
        assert_eq!(
            fx.offers.get(&fx.org, &offer.id).await.unwrap().state,
            OfferState::Released
        );
        fx.catalog
            .agreements
            .lock()
            .unwrap()
            .insert("offer-abc".into(), "agmt-1".into());
        pass(&fx, 30).await;
        let accepted = fx.offers.get(&fx.org, &offer.id).await.unwrap();
        assert_eq!(accepted.state, OfferState::Accepted);
        assert_eq!(accepted.agreement_id.as_deref(), Some("agmt-1"));
        assert_eq!(accepted.next_check_at, None);
        assert_eq!(outbox(&fx, "offer.accepted").await, 1);
        assert_eq!(fx.catalog.starts(), 1);
    }
);

both!(
    a_failed_change_set_ends_failed_with_a_readable_message,
    |fx| {
        let offer = create(&fx).await;
        pass(&fx, 0).await;
        fx.catalog
            .describe_answers
            .lock()
            .unwrap()
            .push_back(Ok(ChangeSetStatus::Failed {
                failure_code: "CLIENT_ERROR".into(),
                description: "Change set failed".into(),
                errors: vec![ChangeError {
                    change_type: "UpdatePaymentScheduleTerms".into(),
                    code: "INVALID_CHARGE_DATES".into(),
                    message: "Provide a first charge date that isn't in the past.".into(),
                }],
            }));
        pass(&fx, 1).await;
        let failed = fx.offers.get(&fx.org, &offer.id).await.unwrap();
        assert_eq!(failed.state, OfferState::Failed);
        assert_eq!(failed.failure_code.as_deref(), Some("INVALID_CHARGE_DATES"));
        assert_eq!(
            failed.failure_message.as_deref(),
            Some(
                "AWS refused the offer: INVALID_CHARGE_DATES in UpdatePaymentScheduleTerms: Provide a first charge date that isn't in the past. (fix the payment schedule's dates and create the offer again (CloneOffer))"
            )
        );
        assert_eq!(outbox(&fx, "offer.failed").await, 1);
    }
);

both!(
    throttling_is_retried_with_backoff_and_the_same_token,
    |fx| {
        let offer = create(&fx).await;
        fx.catalog
            .start_answers
            .lock()
            .unwrap()
            .push_back(Err(CallError::Retry("ThrottlingException".into())));
        pass(&fx, 0).await;
        let waiting = fx.offers.get(&fx.org, &offer.id).await.unwrap();
        assert_eq!(waiting.state, OfferState::Draft);
        assert_eq!(waiting.check_failures, 1);
        assert_eq!(
            waiting.next_check_at,
            Some(fx.offers.now() + Duration::seconds(1))
        );
        pass(&fx, 1).await;
        let started = fx.catalog.started.lock().unwrap().clone();
        assert_eq!(started.len(), 2);
        assert_eq!(
            started[0].client_request_token,
            started[1].client_request_token
        );
        assert_eq!(
            fx.offers.get(&fx.org, &offer.id).await.unwrap().state,
            OfferState::Submitted
        );
    }
);

both!(a_second_tracker_resumes_where_the_first_stopped, |fx| {
    let offer = create(&fx).await;
    pass(&fx, 0).await;
    // A new tracker over the same store (a restarted process) polls the same change set and
    // starts nothing new.
    let again = Tracker::new(
        fx.store.clone(),
        fx.catalog.clone(),
        fx.clock.clone(),
        TrackOptions::default(),
    );
    fx.catalog
        .describe_answers
        .lock()
        .unwrap()
        .push_back(Ok(ChangeSetStatus::Succeeded {
            entity_id: Some("offer-xyz".into()),
        }));
    fx.clock.advance(Duration::seconds(5));
    again.track_once().await.unwrap();
    assert_eq!(
        fx.offers.get(&fx.org, &offer.id).await.unwrap().state,
        OfferState::Released
    );
    assert_eq!(fx.catalog.starts(), 1);
});

both!(an_unaccepted_offer_expires_after_its_expiry, |fx| {
    let offer = create(&fx).await;
    pass(&fx, 0).await;
    fx.catalog
        .describe_answers
        .lock()
        .unwrap()
        .push_back(Ok(ChangeSetStatus::Succeeded {
            entity_id: Some("offer-exp".into()),
        }));
    pass(&fx, 1).await;
    // Expiry 2026-12-31, end of day.
    fx.clock.set(datetime!(2027-01-01 00:00:01 UTC));
    fx.tracker.track_once().await.unwrap();
    assert_eq!(
        fx.offers.get(&fx.org, &offer.id).await.unwrap().state,
        OfferState::Expired
    );
    assert_eq!(outbox(&fx, "offer.expired").await, 1);
});

both!(
    cancelling_a_released_offer_ends_its_availability_yesterday,
    |fx| {
        let offer = create(&fx).await;
        pass(&fx, 0).await;
        fx.catalog
            .describe_answers
            .lock()
            .unwrap()
            .push_back(Ok(ChangeSetStatus::Succeeded {
                entity_id: Some("offer-c".into()),
            }));
        pass(&fx, 1).await;
        let cancelled = done(
            fx.offers
                .cancel(&fx.org, &offer.id, None, |_| Vec::new())
                .await
                .unwrap(),
        );
        assert_eq!(cancelled.state, OfferState::Cancelled);
        let started = fx.catalog.started.lock().unwrap().clone();
        let change = &started.last().unwrap().changes[0];
        assert_eq!(change.change_type, "UpdateAvailability");
        assert_eq!(change.identifier.as_deref(), Some("offer-c"));
        assert_eq!(
            change.details,
            serde_json::json!({ "AvailabilityEndDate": "2026-11-29" })
        );
        assert_eq!(outbox(&fx, "offer.cancelled").await, 1);
        let again = fx
            .offers
            .cancel(&fx.org, &offer.id, None, |_| Vec::new())
            .await
            .unwrap_err();
        assert_eq!(
            again,
            Error::FailedPrecondition(format!("offer {} is already cancelled", offer.id))
        );
    }
);

both!(
    extending_is_refused_when_two_installments_would_precede_the_expiry,
    |fx| {
        let offer = create(&fx).await;
        pass(&fx, 0).await;
        fx.catalog
            .describe_answers
            .lock()
            .unwrap()
            .push_back(Ok(ChangeSetStatus::Succeeded {
                entity_id: Some("offer-e".into()),
            }));
        pass(&fx, 1).await;
        let err = fx
            .offers
            .extend(
                &fx.org,
                &offer.id,
                time::macros::date!(2027 - 07 - 01),
                None,
                |_| Vec::new(),
            )
            .await
            .unwrap_err();
        let Error::InvalidArgument(violations) = err else {
            panic!("{err:?}")
        };
        assert_eq!(violations.len(), 1);
        assert_eq!(violations[0].field, "expiry_date");
        assert_eq!(
            violations[0].reason,
            "2 installments would fall on or before 2027-07-01 (payment_schedule[0] on 2026-12-15, payment_schedule[1] on 2027-06-15); AWS allows one: choose an earlier date or clone the offer with a new schedule"
        );
        let extended = done(
            fx.offers
                .extend(
                    &fx.org,
                    &offer.id,
                    time::macros::date!(2027 - 01 - 31),
                    None,
                    |_| Vec::new(),
                )
                .await
                .unwrap(),
        );
        assert_eq!(
            extended.draft.expiry_date,
            Some(time::macros::date!(2027 - 01 - 31))
        );
    }
);

both!(a_clone_is_a_new_draft_with_the_changes, |fx| {
    let offer = create(&fx).await;
    let clone = done(
        fx.offers
            .clone_offer(
                &fx.org,
                &offer.id,
                CloneChanges {
                    buyer_account_ids: Some(vec!["777788889999".into()]),
                    ..CloneChanges::default()
                },
                None,
                |_| Vec::new(),
            )
            .await
            .unwrap(),
    );
    assert_ne!(clone.id, offer.id);
    assert_eq!(clone.state, OfferState::Draft);
    assert_eq!(clone.cloned_from.as_ref(), Some(&offer.id));
    assert_eq!(
        clone.draft.buyer_account_ids,
        vec!["777788889999".to_owned()]
    );
    assert_eq!(clone.draft.pricing, offer.draft.pricing);
});

both!(lists_filter_and_another_organisation_sees_nothing, |fx| {
    let first = create(&fx).await;
    let mut sub = saas_contract();
    sub.payment_schedule.clear();
    sub.buyer_account_ids = vec!["999988887777".into()];
    sub.pricing = Pricing::Subscription {
        usage_prices: vec![crate::domain::model::DimensionPrice {
            dimension_key: "api".into(),
            price_micros: 10,
        }],
    };
    let second = done(
        fx.offers
            .create(&fx.org, &fx.integration, sub, None, |_| Vec::new())
            .await
            .unwrap(),
    );
    let all = fx
        .offers
        .list(&fx.org, &OfferFilter::default(), &page())
        .await
        .unwrap();
    let ids: Vec<&Id> = all.items.iter().map(|o| &o.id).collect();
    assert_eq!(ids, vec![&second.id, &first.id]);
    let by_buyer = OfferFilter {
        buyer_account_id: Some("999988887777".into()),
        ..OfferFilter::default()
    };
    let found = fx.offers.list(&fx.org, &by_buyer, &page()).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].id, second.id);
    let by_kind = OfferFilter {
        kinds: vec![OfferKind::Contract],
        states: vec![OfferState::Draft],
        product_id: Some("prod-abc123".into()),
        expiring_before: Some(datetime!(2027-01-01 00:00 UTC)),
        ..OfferFilter::default()
    };
    let found = fx.offers.list(&fx.org, &by_kind, &page()).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].id, first.id);

    let other = Id::generate("org");
    assert_eq!(
        fx.offers.get(&other, &first.id).await.unwrap_err(),
        Error::NotFound(format!("offer {}", first.id))
    );
    assert!(
        fx.offers
            .list(&other, &OfferFilter::default(), &page())
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        fx.offers
            .cancel(&other, &first.id, None, |_| Vec::new())
            .await
            .is_err()
    );
});

both!(
    a_retried_create_replays_and_a_bad_one_changes_nothing,
    |fx| {
        let idem = Idempotency::new("create", "k1".into(), b"request");
        let first = fx
            .offers
            .create(
                &fx.org,
                &fx.integration,
                saas_contract(),
                Some(&idem),
                |o| o.id.to_string().into_bytes(),
            )
            .await
            .unwrap();
        let Outcome::Done(first) = first else {
            panic!()
        };
        let again = fx
            .offers
            .create(
                &fx.org,
                &fx.integration,
                saas_contract(),
                Some(&idem),
                |_| Vec::new(),
            )
            .await
            .unwrap();
        assert_eq!(again, Outcome::Replayed(first.id.to_string().into_bytes()));
        let mut bad = saas_contract();
        bad.buyer_account_ids = vec!["1".into()];
        assert!(matches!(
            fx.offers
                .create(&fx.org, &fx.integration, bad, None, |_| Vec::new())
                .await,
            Err(Error::InvalidArgument(_))
        ));
        assert_eq!(outbox(&fx, "offer.created").await, 1);
    }
);

both!(an_unaccepted_offer_earns_each_reminder_once, |fx| {
    let offer = create(&fx).await;
    pass(&fx, 0).await;
    fx.catalog
        .describe_answers
        .lock()
        .unwrap()
        .push_back(Ok(ChangeSetStatus::Succeeded {
            entity_id: Some("offer-rem".into()),
        }));
    pass(&fx, 1).await;
    assert_eq!(outbox(&fx, "offer.expiring").await, 0);
    // Expiry 2026-12-31 23:59:59.999: 7 days before is 2026-12-24 23:59:59.999.
    fx.clock.set(datetime!(2026-12-25 00:00 UTC));
    fx.tracker.track_once().await.unwrap();
    assert_eq!(outbox(&fx, "offer.expiring").await, 1);
    pass(&fx, 60).await;
    pass(&fx, 60).await;
    assert_eq!(outbox(&fx, "offer.expiring").await, 1);
    let reminded = fx.offers.get(&fx.org, &offer.id).await.unwrap();
    assert_eq!(reminded.reminders_sent, 1);
    assert_eq!(reminded.state, OfferState::Released);
    fx.clock.set(datetime!(2026-12-31 00:00 UTC));
    fx.tracker.track_once().await.unwrap();
    assert_eq!(outbox(&fx, "offer.expiring").await, 2);
    pass(&fx, 60).await;
    assert_eq!(outbox(&fx, "offer.expiring").await, 2);
    assert_eq!(
        fx.offers
            .get(&fx.org, &offer.id)
            .await
            .unwrap()
            .reminders_sent,
        2
    );
});

both!(a_late_tracker_sends_only_the_nearest_reminder, |fx| {
    let offer = create(&fx).await;
    pass(&fx, 0).await;
    fx.catalog
        .describe_answers
        .lock()
        .unwrap()
        .push_back(Ok(ChangeSetStatus::Succeeded {
            entity_id: Some("offer-late".into()),
        }));
    pass(&fx, 1).await;
    fx.clock.set(datetime!(2026-12-31 12:00 UTC));
    fx.tracker.track_once().await.unwrap();
    assert_eq!(outbox(&fx, "offer.expiring").await, 1);
    let payload: Vec<u8> =
        sqlx::query_scalar("SELECT payload FROM outbox WHERE event_type = 'offer.expiring'")
            .fetch_one(fx.raw.pool())
            .await
            .unwrap();
    let event = <souk_proto::events::Event as prost::Message>::decode(payload.as_slice()).unwrap();
    let Some(souk_proto::events::event::Payload::OfferExpiring(expiring)) = event.payload else {
        panic!("{event:?}")
    };
    assert_eq!(expiring.days_before, 1);
    assert_eq!(
        fx.offers
            .get(&fx.org, &offer.id)
            .await
            .unwrap()
            .reminders_sent,
        2
    );
});

both!(a_draft_is_cancelled_unless_the_tracker_holds_it, |fx| {
    let offer = create(&fx).await;
    let cancelled = done(
        fx.offers
            .cancel(&fx.org, &offer.id, None, |_| Vec::new())
            .await
            .unwrap(),
    );
    assert_eq!(cancelled.state, OfferState::Cancelled);
    assert_eq!(cancelled.next_check_at, None);
    pass(&fx, 0).await;
    assert_eq!(fx.catalog.starts(), 0);

    // A draft claimed by the tracker (its StartChangeSet may be on its way) is not.
    let held = create(&fx).await;
    assert!(
        fx.store
            .claim(&held, fx.offers.now() + Duration::seconds(60))
            .await
            .unwrap()
    );
    assert_eq!(
        fx.offers
            .cancel(&fx.org, &held.id, None, |_| Vec::new())
            .await
            .unwrap_err(),
        Error::FailedPrecondition(format!(
            "offer {} is being submitted to AWS: cancel it once it is released",
            held.id
        ))
    );
});
