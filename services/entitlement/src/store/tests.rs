//! The SQL store on both backends: every test runs on a fresh SQLite file (`<test>::sqlite`) and
//! on a fresh PostgreSQL database (`<test>::postgres`, on the server of `SOUK_TEST_DATABASE_URL`
//! or the default `postgres://postgres@127.0.0.1:5432/test`, as every store test of the
//! workspace). Without that variable and without a server at the default URL, the PostgreSQL
//! runs are skipped with a message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;

use souk_core::Clock;
use souk_core::clock::ManualClock;
use souk_core::{Id, Idempotency, PageRequest, PageScope, SharedClock};
use souk_events::{EventFactory, Namespace};
use souk_store::Backend;
use souk_testkit::db::run_migrated;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::{SqlStore, migrations};
use crate::domain::Error;
use crate::domain::event::{EntitlementEvent, Origin};
use crate::domain::model::{
    Agreement, BuyerKeys, Customer, Entitlement, EntitlementValue, Feature, FulfilmentSettings,
    Signup, Subscription, SubscriptionState,
};
use crate::domain::plan::{Grant, Plan, PlanFeature};
use crate::domain::ports::{
    AgreementFilter, Begun, CustomerFilter, CustomerRecord, Store, SubscriptionFilter, Transaction,
};

const T0: OffsetDateTime = datetime!(2026-06-01 00:00 UTC);

struct Fx {
    store: SqlStore,
    clock: ManualClock,
    raw: souk_store::Store,
}

fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(Fx) -> Fut,
    Fut: Future<Output = ()>,
{
    run_migrated(backend, crate::STORE_NAME, migrations(), |raw| async move {
        let clock = ManualClock::new(T0);
        let shared: SharedClock = Arc::new(clock.clone());
        let store = SqlStore::new(
            raw.clone(),
            EventFactory::new(shared.clone(), Namespace::default()),
            shared,
        );
        test(Fx { store, clock, raw }).await;
    });
}

/// One test on both backends.
macro_rules! both {
    ($name:ident, |$fx:ident| $body:block) => {
        souk_testkit::both_backends!($name, run, |$fx: Fx| $body);
    };
}

// --- builders ------------------------------------------------------------------------------

fn org() -> Id {
    Id::generate("org")
}

fn integration() -> Id {
    Id::generate("int")
}

#[derive(Default, Clone, Copy)]
struct Keys<'a> {
    identifier: Option<&'a str>,
    account: Option<&'a str>,
    license: Option<&'a str>,
}

fn record(
    org: &Id,
    integration: &Id,
    product: &str,
    keys: Keys<'_>,
    now: OffsetDateTime,
) -> CustomerRecord {
    let customer = Customer {
        id: Id::generate("cus"),
        organization_id: org.clone(),
        integration_id: integration.clone(),
        product_code: product.into(),
        customer_identifier: keys.identifier.map(Into::into),
        aws_account_id: keys.account.map(Into::into),
        license_arn: keys.license.map(Into::into),
        external_id: None,
        signup: None,
        created_at: now,
        updated_at: now,
    };
    let subscription = Subscription {
        id: Id::generate("sub"),
        organization_id: org.clone(),
        integration_id: integration.clone(),
        customer_id: customer.id.clone(),
        product_code: product.into(),
        license_arn: keys.license.map(Into::into),
        agreement_id: Some("agmt-1".into()),
        offer_id: None,
        state: SubscriptionState::Pending,
        free_trial: false,
        activated_at: None,
        cancel_pending_at: None,
        final_metering_deadline: None,
        cancelled_at: None,
        state_notice_at: None,
        created_at: now,
        updated_at: now,
    };
    CustomerRecord {
        customer,
        subscription,
    }
}

fn account(id: &str) -> Keys<'_> {
    Keys {
        account: Some(id),
        ..Keys::default()
    }
}

fn plan(org: &Id, integration: &Id, product: &str, key: &str, now: OffsetDateTime) -> Plan {
    Plan {
        id: Id::generate("plan"),
        organization_id: org.clone(),
        integration_id: integration.clone(),
        product_code: product.into(),
        key: key.into(),
        name: format!("The {key} plan"),
        dimensions: vec![key.into()],
        features: vec![
            PlanFeature {
                feature: "users".into(),
                grant: Grant::DimensionQuantity(key.into()),
            },
            PlanFeature {
                feature: "sso".into(),
                grant: Grant::Boolean,
            },
        ],
        version: 1,
        created_at: now,
        updated_at: now,
    }
}

fn agreement(org: &Id, integration: &Id, id: &str, status: &str, now: OffsetDateTime) -> Agreement {
    Agreement {
        id: id.into(),
        organization_id: org.clone(),
        integration_id: integration.clone(),
        customer_id: None,
        product_code: Some("prod".into()),
        offer_id: Some("offer-1".into()),
        acceptor_account_id: Some("111122223333".into()),
        status: status.into(),
        start_at: Some(now),
        end_at: None,
        updated_at: now,
    }
}

fn entitlement(
    customer: &Id,
    dimension: &str,
    value: EntitlementValue,
    expires_at: Option<OffsetDateTime>,
) -> Entitlement {
    Entitlement {
        customer_id: customer.clone(),
        product_code: "prod".into(),
        dimension: dimension.into(),
        value,
        expires_at,
        license_arn: None,
        updated_at: T0,
    }
}

fn feature(name: &str, limit: Option<i64>, plans: &[&str]) -> Feature {
    Feature {
        name: name.into(),
        allowed: true,
        limit,
        unlimited: limit.is_none(),
        expires_at: Some(T0 + Duration::days(30)),
        plans: plans.iter().map(|p| p.to_string()).collect(),
    }
}

fn page(org: &Id, size: u32) -> PageRequest {
    PageRequest {
        size,
        after: None,
        scope: PageScope::new("test", org.as_str(), &[]),
    }
}

fn next(request: &PageRequest, token: &str) -> PageRequest {
    PageRequest::parse(
        i32::try_from(request.size).unwrap(),
        token,
        request.scope.clone(),
    )
    .unwrap()
}

async fn begin(store: &SqlStore, org: &Id) -> Box<dyn Transaction> {
    match store.begin(org, None).await.unwrap() {
        Begun::Fresh(tx) => tx,
        Begun::Replayed(_) => panic!("a write without idempotency key was replayed"),
    }
}

async fn insert(store: &SqlStore, record: &CustomerRecord) {
    let mut tx = begin(store, &record.customer.organization_id).await;
    tx.insert_customer(record).await.unwrap();
    tx.commit(Vec::new()).await.unwrap();
}

fn ids(records: &[CustomerRecord]) -> Vec<Id> {
    records.iter().map(|r| r.customer.id.clone()).collect()
}

// --- tests ---------------------------------------------------------------------------------

both!(customers_are_found_by_each_key, |fx| {
    let (o, i) = (org(), integration());
    let keys = Keys {
        identifier: Some("cust-legacy"),
        account: Some("111122223333"),
        license: Some("arn:aws:license-manager::1:license:l-1"),
    };
    let mut stored = record(&o, &i, "prod", keys, T0);
    stored.customer.signup = Some(Signup {
        company: "Acme".into(),
        contact_name: "Ada".into(),
        email: "ada@example.com".into(),
        submitted_at: T0,
    });
    stored.subscription.free_trial = true;
    stored.subscription.state_notice_at = Some(T0 - Duration::minutes(1));
    insert(&fx.store, &stored).await;
    let other = record(&o, &i, "prod", account("444455556666"), T0);
    insert(&fx.store, &other).await;

    let mut tx = begin(&fx.store, &o).await;
    for keys in [
        BuyerKeys {
            customer_identifier: keys.identifier.map(Into::into),
            ..BuyerKeys::default()
        },
        BuyerKeys {
            product_code: Some("prod".into()),
            aws_account_id: keys.account.map(Into::into),
            ..BuyerKeys::default()
        },
        BuyerKeys {
            license_arn: keys.license.map(Into::into),
            ..BuyerKeys::default()
        },
        BuyerKeys {
            customer_identifier: Some("unknown".into()),
            license_arn: keys.license.map(Into::into),
            ..BuyerKeys::default()
        },
    ] {
        let found = tx.find_customers(&o, &i, &keys).await.unwrap();
        assert_eq!(found, vec![stored.clone()], "{keys:?}");
    }
    let by_account = BuyerKeys {
        aws_account_id: keys.account.map(Into::into),
        ..BuyerKeys::default()
    };
    let other_product = BuyerKeys {
        product_code: Some("other".into()),
        ..by_account.clone()
    };
    assert!(
        tx.find_customers(&o, &i, &other_product)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tx.find_customers(&o, &integration(), &by_account)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        tx.find_customers(&o, &i, &BuyerKeys::default())
            .await
            .unwrap()
            .is_empty()
    );
    let both = BuyerKeys {
        customer_identifier: keys.identifier.map(Into::into),
        aws_account_id: Some("444455556666".into()),
        ..BuyerKeys::default()
    };
    let found = tx.find_customers(&o, &i, &both).await.unwrap();
    assert_eq!(found.len(), 2);
    assert_eq!(
        tx.lock_customer(&o, &stored.customer.id).await.unwrap(),
        Some(stored.clone())
    );
    tx.commit(Vec::new()).await.unwrap();

    let id = &stored.customer.id;
    assert_eq!(
        fx.store.get_customer(&o, id).await.unwrap(),
        Some(stored.customer.clone())
    );
    assert_eq!(
        fx.store.subscription_of(&o, id).await.unwrap(),
        Some(stored.subscription.clone())
    );
    assert_eq!(
        fx.store
            .get_subscription(&o, &stored.subscription.id)
            .await
            .unwrap(),
        Some(stored.subscription.clone())
    );
});

both!(another_tenant_finds_nothing, |fx| {
    let (a, b, i) = (org(), org(), integration());
    let stored = record(&a, &i, "prod", account("111122223333"), T0);
    insert(&fx.store, &stored).await;
    let p = plan(&a, &i, "prod", "basic", T0);
    let mut tx = begin(&fx.store, &a).await;
    tx.insert_plan(&p).await.unwrap();
    assert!(
        tx.put_agreement(&agreement(&a, &i, "agmt-a", "ACTIVE", T0))
            .await
            .unwrap()
    );
    tx.put_settings(&FulfilmentSettings::defaults(a.clone(), i.clone()))
        .await
        .unwrap();
    tx.replace_features(&stored.customer, &[feature("users", Some(5), &[])])
        .await
        .unwrap();
    tx.commit(Vec::new()).await.unwrap();

    let s = &fx.store;
    let customer = &stored.customer.id;
    assert_eq!(s.get_customer(&b, customer).await.unwrap(), None);
    assert_eq!(s.subscription_of(&b, customer).await.unwrap(), None);
    assert_eq!(
        s.get_subscription(&b, &stored.subscription.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.get_plan(&b, &p.id).await.unwrap(), None);
    assert_eq!(s.get_agreement(&b, "agmt-a").await.unwrap(), None);
    assert_eq!(s.settings(&b, &i).await.unwrap(), None);
    assert!(s.features_of(&b, customer).await.unwrap().is_empty());
    assert!(s.entitlements_of(&b, customer).await.unwrap().is_empty());
    assert!(s.live_customers(&b, &i).await.unwrap().is_empty());
    let all = CustomerFilter::default();
    assert!(
        s.list_customers(&b, &all, &page(&b, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    assert!(
        s.list_plans(&b, None, None, &page(&b, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let agreements = AgreementFilter::default();
    assert!(
        s.list_agreements(&b, &agreements, &page(&b, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );
    let subscriptions = SubscriptionFilter::default();
    assert!(
        s.list_subscriptions(&b, &subscriptions, &page(&b, 10))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let mut tx = begin(s, &b).await;
    assert_eq!(tx.lock_customer(&b, customer).await.unwrap(), None);
    assert_eq!(tx.lock_plan(&b, &p.id).await.unwrap(), None);
    assert_eq!(tx.lock_agreement(&b, "agmt-a").await.unwrap(), None);
    assert_eq!(tx.lock_settings(&b, &i).await.unwrap(), None);
    let keys = BuyerKeys {
        aws_account_id: Some("111122223333".into()),
        ..BuyerKeys::default()
    };
    assert!(tx.find_customers(&b, &i, &keys).await.unwrap().is_empty());
    assert!(
        tx.features_of(customer).await.unwrap().is_empty(),
        "confined to the transaction's organisation"
    );
    assert!(tx.plans_of(&b, &i, "prod").await.unwrap().is_empty());
    assert!(tx.customers_of(&b, &i, "prod").await.unwrap().is_empty());
    // Writing another tenant's record is refused.
    let refused = tx.update_customer(&stored.customer).await.unwrap_err();
    assert!(matches!(refused, Error::Internal(_)), "{refused:?}");
    drop(tx);

    // Organisation A still sees its own.
    assert_eq!(
        s.get_customer(&a, customer).await.unwrap(),
        Some(stored.customer.clone())
    );
    assert_eq!(s.get_plan(&a, &p.id).await.unwrap(), Some(p.clone()));
    assert!(s.get_agreement(&a, "agmt-a").await.unwrap().is_some());
});

both!(notices_are_seen_once, |fx| {
    let (o, i) = (org(), integration());
    let mut tx = begin(&fx.store, &o).await;
    assert!(tx.first_sight(&i, "msg-1", T0).await.unwrap());
    assert!(!tx.first_sight(&i, "msg-1", T0).await.unwrap());
    assert!(tx.first_sight(&i, "msg-2", T0).await.unwrap());
    tx.commit(Vec::new()).await.unwrap();

    let mut tx = begin(&fx.store, &o).await;
    assert!(
        !tx.first_sight(&i, "msg-1", T0).await.unwrap(),
        "after the commit too"
    );
    assert!(
        tx.first_sight(&integration(), "msg-1", T0).await.unwrap(),
        "per integration"
    );
    drop(tx); // rolled back

    let mut tx = begin(&fx.store, &o).await;
    assert!(tx.first_sight(&i, "msg-3", T0).await.unwrap());
    drop(tx);
    let mut tx = begin(&fx.store, &o).await;
    assert!(
        tx.first_sight(&i, "msg-3", T0).await.unwrap(),
        "a rolled back sight does not count"
    );
});

both!(a_token_stays_with_its_first_integration, |fx| {
    let (o, first, second) = (org(), integration(), integration());
    let customer = Id::generate("cus");
    let mut tx = begin(&fx.store, &o).await;
    assert_eq!(
        tx.claim_token(&o, &first, "hash-1", &customer, T0)
            .await
            .unwrap(),
        first
    );
    assert_eq!(
        tx.claim_token(&o, &first, "hash-1", &customer, T0)
            .await
            .unwrap(),
        first
    );
    tx.commit(Vec::new()).await.unwrap();

    let other_org = org();
    let mut tx = begin(&fx.store, &other_org).await;
    assert_eq!(
        tx.claim_token(&other_org, &second, "hash-1", &customer, T0)
            .await
            .unwrap(),
        first
    );
    assert_eq!(
        tx.claim_token(&other_org, &second, "hash-2", &customer, T0)
            .await
            .unwrap(),
        second
    );
});

both!(an_external_id_links_one_customer, |fx| {
    let (o, i) = (org(), integration());
    let mut first = record(&o, &i, "prod", account("111122223333"), T0);
    let mut second = record(&o, &i, "prod", account("444455556666"), T0);
    insert(&fx.store, &first).await;
    insert(&fx.store, &second).await;

    let mut tx = begin(&fx.store, &o).await;
    first.customer.external_id = Some("acct-42".into());
    first.customer.updated_at = T0 + Duration::minutes(1);
    tx.update_customer(&first.customer).await.unwrap();
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(
        fx.store.get_customer(&o, &first.customer.id).await.unwrap(),
        Some(first.customer.clone())
    );

    let mut tx = begin(&fx.store, &o).await;
    second.customer.external_id = Some("acct-42".into());
    let err = tx.update_customer(&second.customer).await.unwrap_err();
    assert_eq!(
        err,
        Error::Conflict("another customer is already linked to \"acct-42\"".into())
    );
    drop(tx);

    // The same external id in another organisation is another link.
    let other = org();
    let mut elsewhere = record(&other, &i, "prod", account("111122223333"), T0);
    elsewhere.customer.external_id = Some("acct-42".into());
    insert(&fx.store, &elsewhere).await;
    // Customers without a link do not collide.
    insert(
        &fx.store,
        &record(&o, &i, "prod", account("777788889999"), T0),
    )
    .await;
});

both!(customers_page_with_filters, |fx| {
    let (o, i, j) = (org(), integration(), integration());
    let mut all = Vec::new();
    for n in 0..5 {
        let mut r = record(&o, &i, "prod", account(&format!("{n:012}")), T0);
        if n % 2 == 0 {
            r.subscription.state = SubscriptionState::Active;
        }
        insert(&fx.store, &r).await;
        all.push(r);
    }
    let elsewhere = record(&o, &j, "other", account("000000000001"), T0);
    insert(&fx.store, &elsewhere).await;
    insert(
        &fx.store,
        &record(&org(), &i, "prod", account("000000000001"), T0),
    )
    .await;

    let mut expected: Vec<Id> = all.iter().map(|r| r.customer.id.clone()).collect();
    expected.sort();
    let filter = CustomerFilter {
        integration_id: Some(i.clone()),
        ..CustomerFilter::default()
    };
    let mut request = page(&o, 2);
    let mut seen = Vec::new();
    loop {
        let got = fx
            .store
            .list_customers(&o, &filter, &request)
            .await
            .unwrap();
        assert!(got.items.len() <= 2);
        seen.extend(got.items.iter().map(|(c, _)| c.id.clone()));
        if got.next_page_token.is_empty() {
            break;
        }
        request = next(&request, &got.next_page_token);
    }
    assert_eq!(seen, expected);

    let active = CustomerFilter {
        integration_id: Some(i.clone()),
        product_code: Some("prod".into()),
        state: Some(SubscriptionState::Active),
        ..CustomerFilter::default()
    };
    let got = fx
        .store
        .list_customers(&o, &active, &page(&o, 50))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 3);
    assert!(
        got.items
            .iter()
            .all(|(_, s)| *s == Some(SubscriptionState::Active))
    );
    assert!(got.next_page_token.is_empty());

    let by_account = CustomerFilter {
        aws_account_id: Some("000000000001".into()),
        ..CustomerFilter::default()
    };
    let got = fx
        .store
        .list_customers(&o, &by_account, &page(&o, 50))
        .await
        .unwrap();
    let got: Vec<Id> = got.items.iter().map(|(c, _)| c.id.clone()).collect();
    let mut want = vec![all[1].customer.id.clone(), elsewhere.customer.id.clone()];
    want.sort();
    assert_eq!(got, want);

    let none = CustomerFilter {
        aws_account_id: Some("000000000001".into()),
        state: Some(SubscriptionState::Active),
        ..CustomerFilter::default()
    };
    assert!(
        fx.store
            .list_customers(&o, &none, &page(&o, 50))
            .await
            .unwrap()
            .items
            .is_empty()
    );

    let subscriptions = SubscriptionFilter {
        integration_id: Some(i.clone()),
        state: Some(SubscriptionState::Pending),
        ..SubscriptionFilter::default()
    };
    let got = fx
        .store
        .list_subscriptions(&o, &subscriptions, &page(&o, 1))
        .await
        .unwrap();
    assert_eq!(got.items.len(), 1);
    assert!(!got.next_page_token.is_empty());
    let one = SubscriptionFilter {
        customer_id: Some(all[0].customer.id.clone()),
        ..SubscriptionFilter::default()
    };
    let got = fx
        .store
        .list_subscriptions(&o, &one, &page(&o, 10))
        .await
        .unwrap();
    assert_eq!(got.items, vec![all[0].subscription.clone()]);
});

both!(check_views_since_an_instant, |fx| {
    let (o, i) = (org(), integration());
    let mut a = record(&o, &i, "prod", account("111122223333"), T0);
    a.customer.external_id = Some("acct-a".into());
    let b = record(&o, &i, "prod", account("444455556666"), T0);
    let c = record(&o, &i, "unplanned", account("777788889999"), T0);
    for r in [&a, &b, &c] {
        insert(&fx.store, r).await;
    }
    let mut tx = begin(&fx.store, &o).await;
    tx.insert_plan(&plan(&o, &i, "prod", "basic", T0))
        .await
        .unwrap();
    tx.commit(Vec::new()).await.unwrap();

    let views = fx.store.customer_views(None).await.unwrap();
    assert_eq!(views.len(), 3);
    let view_a = views
        .iter()
        .find(|v| v.customer_id == a.customer.id)
        .unwrap();
    assert_eq!(view_a.organization_id, o);
    assert_eq!(view_a.aws_account_id.as_deref(), Some("111122223333"));
    assert_eq!(view_a.external_id.as_deref(), Some("acct-a"));
    assert_eq!(view_a.state, Some(SubscriptionState::Pending));
    assert!(view_a.features.is_empty());
    assert!(view_a.has_plans);
    let view_c = views
        .iter()
        .find(|v| v.customer_id == c.customer.id)
        .unwrap();
    assert!(!view_c.has_plans);

    // Later: a's subscription becomes active and gets features; b is untouched.
    fx.clock.advance(Duration::hours(1));
    let since = fx.clock.now();
    assert!(
        fx.store
            .customer_views(Some(since))
            .await
            .unwrap()
            .is_empty()
    );
    let mut tx = begin(&fx.store, &o).await;
    let mut sub = a.subscription.clone();
    sub.state = SubscriptionState::Active;
    sub.updated_at = since;
    tx.update_subscription(&sub).await.unwrap();
    let features = vec![
        feature("users", Some(25), &["basic"]),
        feature("sso", None, &["basic"]),
    ];
    tx.replace_features(&a.customer, &features).await.unwrap();
    tx.commit(Vec::new()).await.unwrap();

    let views = fx.store.customer_views(Some(since)).await.unwrap();
    assert_eq!(views.len(), 1);
    let view = &views[0];
    assert_eq!(view.customer_id, a.customer.id);
    assert_eq!(view.state, Some(SubscriptionState::Active));
    assert_eq!(view.features.len(), 2);
    assert_eq!(view.features["users"], features[0]);
    assert_eq!(view.features["sso"], features[1]);

    // A plan of the unplanned product changes whether its customers have plans.
    fx.clock.advance(Duration::hours(1));
    let since = fx.clock.now();
    let mut tx = begin(&fx.store, &o).await;
    let new_plan = plan(&o, &i, "unplanned", "pro", since);
    tx.insert_plan(&new_plan).await.unwrap();
    tx.commit(Vec::new()).await.unwrap();
    let views = fx.store.customer_views(Some(since)).await.unwrap();
    assert_eq!(views.len(), 1);
    assert_eq!(views[0].customer_id, c.customer.id);
    assert!(views[0].has_plans);

    fx.clock.advance(Duration::hours(1));
    let since = fx.clock.now();
    let mut tx = begin(&fx.store, &o).await;
    tx.delete_plan(&new_plan).await.unwrap();
    tx.commit(Vec::new()).await.unwrap();
    let views = fx.store.customer_views(Some(since)).await.unwrap();
    assert_eq!(views.len(), 1);
    assert!(!views[0].has_plans);
    assert_eq!(fx.store.customer_views(None).await.unwrap().len(), 3);
});

both!(check_views_carry_what_metering_needs, |fx| {
    let (o, i) = (org(), integration());
    let legacy_keys = Keys {
        identifier: Some("ident-1"),
        account: Some("111122223333"),
        ..Keys::default()
    };
    let legacy = record(&o, &i, "prod", legacy_keys, T0);
    let licensed_keys = Keys {
        account: Some("444455556666"),
        license: Some("arn:aws:license-manager::1:license/l-1"),
        ..Keys::default()
    };
    let mut licensed = record(&o, &i, "prod", licensed_keys, T0);
    licensed.subscription.state = SubscriptionState::CancelPending;
    licensed.subscription.activated_at = Some(T0);
    licensed.subscription.cancel_pending_at = Some(T0 + Duration::hours(2));
    licensed.subscription.final_metering_deadline = Some(T0 + Duration::hours(3));
    licensed.subscription.cancelled_at = Some(T0 + Duration::hours(4));
    for r in [&legacy, &licensed] {
        insert(&fx.store, r).await;
    }
    let views = fx.store.customer_views(None).await.unwrap();
    let view = |id: &Id| views.iter().find(|v| &v.customer_id == id).unwrap();

    let legacy_view = view(&legacy.customer.id).subscription.clone().unwrap();
    assert_eq!(legacy_view.subscription_id, legacy.subscription.id);
    assert_eq!(legacy_view.integration_id, i);
    assert_eq!(legacy_view.product_code, "prod");
    assert_eq!(legacy_view.customer_identifier.as_deref(), Some("ident-1"));
    assert_eq!(legacy_view.license_arn, None);
    assert_eq!(legacy_view.final_metering_deadline, None);

    let licensed_view = view(&licensed.customer.id);
    assert_eq!(licensed_view.state, Some(SubscriptionState::CancelPending));
    let sub = licensed_view.subscription.clone().unwrap();
    assert_eq!(sub.subscription_id, licensed.subscription.id);
    assert_eq!(sub.customer_identifier, None);
    assert_eq!(
        sub.license_arn.as_deref(),
        Some("arn:aws:license-manager::1:license/l-1")
    );
    assert_eq!(sub.activated_at, Some(T0));
    assert_eq!(sub.cancel_pending_at, Some(T0 + Duration::hours(2)));
    assert_eq!(sub.final_metering_deadline, Some(T0 + Duration::hours(3)));
    assert_eq!(sub.cancelled_at, Some(T0 + Duration::hours(4)));
});

both!(features_round_trip, |fx| {
    let (o, i) = (org(), integration());
    let r = record(&o, &i, "prod", account("111122223333"), T0);
    insert(&fx.store, &r).await;
    let mut denied = feature("audit", Some(0), &[]);
    denied.allowed = false;
    denied.unlimited = false;
    denied.expires_at = None;
    // Given out of order: read back by name.
    let features = vec![
        feature("users", Some(10), &["basic", "pro"]),
        denied.clone(),
        feature("sso", None, &["pro"]),
    ];
    let mut tx = begin(&fx.store, &o).await;
    tx.replace_features(&r.customer, &features).await.unwrap();
    let mut sorted = features.clone();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(tx.features_of(&r.customer.id).await.unwrap(), sorted);
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(
        fx.store.features_of(&o, &r.customer.id).await.unwrap(),
        sorted
    );

    let mut tx = begin(&fx.store, &o).await;
    tx.replace_features(&r.customer, &[denied.clone()])
        .await
        .unwrap();
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(
        fx.store.features_of(&o, &r.customer.id).await.unwrap(),
        vec![denied]
    );

    let mut tx = begin(&fx.store, &o).await;
    tx.replace_features(&r.customer, &[]).await.unwrap();
    tx.commit(Vec::new()).await.unwrap();
    assert!(
        fx.store
            .features_of(&o, &r.customer.id)
            .await
            .unwrap()
            .is_empty()
    );
});

both!(entitlements_and_expiry_notices, |fx| {
    let (o, i) = (org(), integration());
    let r = record(&o, &i, "prod", account("111122223333"), T0);
    insert(&fx.store, &r).await;
    let id = &r.customer.id;
    let soon = T0 + Duration::days(5);
    let later = T0 + Duration::days(60);
    let entitlements = vec![
        entitlement(id, "users", EntitlementValue::Integer(25), Some(soon)),
        entitlement(id, "api", EntitlementValue::Decimal("0.5".into()), None),
        entitlement(
            id,
            "tier",
            EntitlementValue::Text("gold".into()),
            Some(later),
        ),
        entitlement(id, "sso", EntitlementValue::Boolean(true), Some(soon)),
    ];
    let mut tx = begin(&fx.store, &o).await;
    tx.replace_entitlements(&r.customer, &entitlements)
        .await
        .unwrap();
    let mut sorted = entitlements.clone();
    sorted.sort_by(|a, b| a.dimension.cmp(&b.dimension));
    assert_eq!(tx.entitlements_of(id).await.unwrap(), sorted);
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(fx.store.entitlements_of(&o, id).await.unwrap(), sorted);

    let due = fx
        .store
        .entitlements_expiring_between(T0, T0 + Duration::days(30))
        .await
        .unwrap();
    let dimensions: Vec<&str> = due.iter().map(|(_, e)| e.dimension.as_str()).collect();
    assert_eq!(dimensions, vec!["sso", "users"]);
    assert!(due.iter().all(|(record, _)| record == &r));

    let mut tx = begin(&fx.store, &o).await;
    assert!(tx.first_expiry_notice(id, "users", soon, 7).await.unwrap());
    assert!(!tx.first_expiry_notice(id, "users", soon, 7).await.unwrap());
    assert!(tx.first_expiry_notice(id, "users", soon, 1).await.unwrap());
    assert!(
        tx.first_expiry_notice(id, "users", later, 7).await.unwrap(),
        "a renewed contract"
    );
    tx.commit(Vec::new()).await.unwrap();

    let mut tx = begin(&fx.store, &o).await;
    tx.replace_entitlements(&r.customer, &entitlements[1..2])
        .await
        .unwrap();
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(
        fx.store.entitlements_of(&o, id).await.unwrap(),
        entitlements[1..2].to_vec()
    );
    assert!(
        fx.store
            .entitlements_expiring_between(T0, T0 + Duration::days(365))
            .await
            .unwrap()
            .is_empty()
    );
});

both!(plan_keys_are_unique_per_product, |fx| {
    let (o, i) = (org(), integration());
    let basic = plan(&o, &i, "prod", "basic", T0);
    let mut tx = begin(&fx.store, &o).await;
    tx.insert_plan(&basic).await.unwrap();
    tx.insert_plan(&plan(&o, &i, "other", "basic", T0))
        .await
        .unwrap();
    tx.insert_plan(&plan(&o, &integration(), "prod", "basic", T0))
        .await
        .unwrap();
    tx.commit(Vec::new()).await.unwrap();

    let mut tx = begin(&fx.store, &o).await;
    let err = tx
        .insert_plan(&plan(&o, &i, "prod", "basic", T0))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Conflict("a plan with key \"basic\" already exists for product prod".into())
    );
    drop(tx);

    // Another organisation may use the key.
    let other = org();
    let mut tx = begin(&fx.store, &other).await;
    tx.insert_plan(&plan(&other, &i, "prod", "basic", T0))
        .await
        .unwrap();
    tx.commit(Vec::new()).await.unwrap();

    let mut tx = begin(&fx.store, &o).await;
    let mut locked = tx.lock_plan(&o, &basic.id).await.unwrap().unwrap();
    assert_eq!(locked, basic);
    locked.name = "Basic".into();
    locked.features.push(PlanFeature {
        feature: "api".into(),
        grant: Grant::Limit(1000),
    });
    locked.features.push(PlanFeature {
        feature: "exports".into(),
        grant: Grant::Unlimited,
    });
    locked.version = 2;
    locked.updated_at = T0 + Duration::minutes(5);
    tx.update_plan(&locked).await.unwrap();
    let premium = plan(&o, &i, "prod", "premium", T0);
    tx.insert_plan(&premium).await.unwrap();
    let mut of_product = tx.plans_of(&o, &i, "prod").await.unwrap();
    of_product.sort_by(|a, b| a.key.cmp(&b.key));
    assert_eq!(of_product, vec![locked.clone(), premium.clone()]);
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(
        fx.store.get_plan(&o, &basic.id).await.unwrap(),
        Some(locked.clone())
    );

    let listed = fx
        .store
        .list_plans(&o, Some(&i), Some("prod"), &page(&o, 1))
        .await
        .unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(!listed.next_page_token.is_empty());
    let all = fx
        .store
        .list_plans(&o, None, None, &page(&o, 10))
        .await
        .unwrap();
    assert_eq!(all.items.len(), 4);

    let mut tx = begin(&fx.store, &o).await;
    tx.delete_plan(&locked).await.unwrap();
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(fx.store.get_plan(&o, &basic.id).await.unwrap(), None);
});

both!(agreements_are_upserted, |fx| {
    let (o, i) = (org(), integration());
    let mut a = agreement(&o, &i, "agmt-1", "ACTIVE", T0);
    let mut tx = begin(&fx.store, &o).await;
    assert_eq!(tx.lock_agreement(&o, "agmt-1").await.unwrap(), None);
    assert!(tx.put_agreement(&a).await.unwrap());
    a.status = "CANCELLED".into();
    a.end_at = Some(T0 + Duration::days(1));
    a.customer_id = Some(Id::generate("cus"));
    assert!(!tx.put_agreement(&a).await.unwrap());
    assert_eq!(
        tx.lock_agreement(&o, "agmt-1").await.unwrap(),
        Some(a.clone())
    );
    assert!(
        tx.put_agreement(&agreement(&o, &i, "agmt-2", "ACTIVE", T0))
            .await
            .unwrap()
    );
    assert!(
        tx.put_agreement(&agreement(&o, &i, "agmt-3", "EXPIRED", T0))
            .await
            .unwrap()
    );
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(
        fx.store.get_agreement(&o, "agmt-1").await.unwrap(),
        Some(a.clone())
    );

    let ended = AgreementFilter {
        statuses: vec!["CANCELLED".into(), "EXPIRED".into()],
        ..AgreementFilter::default()
    };
    let first = fx
        .store
        .list_agreements(&o, &ended, &page(&o, 1))
        .await
        .unwrap();
    assert_eq!(
        first
            .items
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>(),
        ["agmt-1"]
    );
    let rest = fx
        .store
        .list_agreements(&o, &ended, &next(&page(&o, 1), &first.next_page_token))
        .await
        .unwrap();
    assert_eq!(
        rest.items.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["agmt-3"]
    );
    assert!(rest.next_page_token.is_empty());
    let of_customer = AgreementFilter {
        customer_id: a.customer_id.clone(),
        integration_id: Some(i.clone()),
        offer_id: Some("offer-1".into()),
        ..AgreementFilter::default()
    };
    let got = fx
        .store
        .list_agreements(&o, &of_customer, &page(&o, 10))
        .await
        .unwrap();
    assert_eq!(got.items, vec![a]);
});

both!(sync_queue_and_live_customers, |fx| {
    let (o, i) = (org(), integration());
    let mut records = Vec::new();
    for (n, state) in [
        SubscriptionState::Active,
        SubscriptionState::Cancelled,
        SubscriptionState::Failed,
        SubscriptionState::CancelPending,
    ]
    .into_iter()
    .enumerate()
    {
        let mut r = record(&o, &i, "prod", account(&format!("{n:012}")), T0);
        r.subscription.state = state;
        insert(&fx.store, &r).await;
        records.push(r);
    }
    let live = fx.store.live_customers(&o, &i).await.unwrap();
    let mut want = vec![
        records[0].customer.id.clone(),
        records[3].customer.id.clone(),
    ];
    want.sort();
    assert_eq!(ids(&live), want);

    assert!(fx.store.customers_to_sync(10).await.unwrap().is_empty());
    // Requested in the order 3, 0, 1; 3 again later keeps its place.
    for n in [3, 0, 1, 3] {
        fx.clock.advance(Duration::seconds(1));
        let mut tx = begin(&fx.store, &o).await;
        tx.mark_sync(&records[n].customer.id, true).await.unwrap();
        tx.commit(Vec::new()).await.unwrap();
    }
    let queue = fx.store.customers_to_sync(10).await.unwrap();
    assert_eq!(
        ids(&queue),
        vec![
            records[3].customer.id.clone(),
            records[0].customer.id.clone(),
            records[1].customer.id.clone()
        ]
    );
    assert_eq!(fx.store.customers_to_sync(1).await.unwrap().len(), 1);
    let mut tx = begin(&fx.store, &o).await;
    tx.mark_sync(&records[3].customer.id, false).await.unwrap();
    tx.commit(Vec::new()).await.unwrap();
    let queue = fx.store.customers_to_sync(10).await.unwrap();
    assert_eq!(
        ids(&queue),
        vec![
            records[0].customer.id.clone(),
            records[1].customer.id.clone()
        ]
    );
    assert_eq!(queue[0], records[0]);

    let mut tx = begin(&fx.store, &o).await;
    let of_product = tx.customers_of(&o, &i, "prod").await.unwrap();
    assert_eq!(of_product.len(), 4);
    assert!(tx.customers_of(&o, &i, "other").await.unwrap().is_empty());
});

both!(settings_round_trip, |fx| {
    let (o, i) = (org(), integration());
    let mut tx = begin(&fx.store, &o).await;
    assert_eq!(tx.lock_settings(&o, &i).await.unwrap(), None);
    let mut settings = FulfilmentSettings::defaults(o.clone(), i.clone());
    settings.updated_at = Some(T0);
    tx.put_settings(&settings).await.unwrap();
    settings.signup_url = Some("https://example.com/signup".into());
    settings.sns_topic_arns = vec!["arn:aws:sns:us-east-1:1:topic".into()];
    settings.expiry_notice_days = vec![14, 3];
    settings.handoff_secret = Some("handoff".into());
    settings.eventbridge_secret = Some("bridge".into());
    tx.put_settings(&settings).await.unwrap();
    assert_eq!(
        tx.lock_settings(&o, &i).await.unwrap(),
        Some(settings.clone())
    );
    tx.commit(Vec::new()).await.unwrap();
    assert_eq!(
        fx.store.settings(&o, &i).await.unwrap(),
        Some(settings.clone())
    );

    // Another organisation cannot take over the integration's settings.
    let other = org();
    let mut tx = begin(&fx.store, &other).await;
    let err = tx
        .put_settings(&FulfilmentSettings::defaults(other.clone(), i.clone()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Internal(_)), "{err:?}");
    drop(tx);
    assert_eq!(fx.store.settings(&o, &i).await.unwrap(), Some(settings));
});

both!(events_and_responses_commit_with_the_change, |fx| {
    let (o, i) = (org(), integration());
    let r = record(&o, &i, "prod", account("111122223333"), T0);
    let idem = Idempotency::new("test/Resolve", "key-1".into(), b"request");
    let Begun::Fresh(mut tx) = fx.store.begin(&o, Some(&idem)).await.unwrap() else {
        panic!("nothing ran yet");
    };
    assert!(tx.remembers_response());
    tx.insert_customer(&r).await.unwrap();
    tx.emit(EntitlementEvent::SubscriptionCreated(
        r.subscription.clone(),
        Origin::Fulfilment,
    ))
    .unwrap();
    tx.commit(b"response".to_vec()).await.unwrap();
    let outbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(fx.raw.pool())
        .await
        .unwrap();
    assert_eq!(outbox, 1);
    match fx.store.begin(&o, Some(&idem)).await.unwrap() {
        Begun::Replayed(bytes) => assert_eq!(bytes, b"response"),
        Begun::Fresh(_) => panic!("the retry must replay"),
    }

    // Dropped without a commit: nothing happens.
    let mut tx = begin(&fx.store, &o).await;
    assert!(!tx.remembers_response());
    let lost = record(&o, &i, "prod", account("444455556666"), T0);
    tx.insert_customer(&lost).await.unwrap();
    tx.emit(EntitlementEvent::SubscriptionCreated(
        lost.subscription.clone(),
        Origin::Fulfilment,
    ))
    .unwrap();
    drop(tx);
    assert_eq!(
        fx.store.get_customer(&o, &lost.customer.id).await.unwrap(),
        None
    );
    let outbox: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox")
        .fetch_one(fx.raw.pool())
        .await
        .unwrap();
    assert_eq!(outbox, 1);
});

both!(a_new_buyer_seen_twice_at_once_is_created_once, |fx| {
    let (o, i) = (org(), integration());
    let keys = BuyerKeys {
        product_code: Some("prod".into()),
        aws_account_id: Some("111122223333".into()),
        ..BuyerKeys::default()
    };
    let mut first = begin(&fx.store, &o).await;
    assert!(
        first
            .find_customers(&o, &i, &keys)
            .await
            .unwrap()
            .is_empty()
    );
    let second = {
        let (store, o, i, keys) = (fx.store.clone(), o.clone(), i.clone(), keys.clone());
        tokio::spawn(async move {
            // Waits for the first transaction (PostgreSQL: the buyers lock; SQLite: the write
            // lock), then finds what it created.
            let mut tx = begin(&store, &o).await;
            let found = tx.find_customers(&o, &i, &keys).await.unwrap();
            tx.commit(Vec::new()).await.unwrap();
            found
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!second.is_finished(), "the second finder must wait");
    let created = record(&o, &i, "prod", account("111122223333"), T0);
    first.insert_customer(&created).await.unwrap();
    first.commit(Vec::new()).await.unwrap();
    assert_eq!(second.await.unwrap(), vec![created]);
});
