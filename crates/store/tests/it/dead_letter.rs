use souk_core::ErrorCode;
use souk_store::dead_letter::{self, DeadLetter, ListQuery};
use souk_testkit::both_backends;

use crate::{at, migrated};

fn letter(consumer: &str, event_id: &str, org: Option<&str>) -> DeadLetter {
    DeadLetter {
        consumer: consumer.to_owned(),
        event_id: event_id.to_owned(),
        organization_id: org.map(str::to_owned),
        subject: "souk.org_a.subscription.created".to_owned(),
        payload: vec![0xde, 0xad, 0x00, 0xbe, 0xef],
        reason: "payload is not a souk.events.v1.Event".to_owned(),
        attempts: 1,
        created_at: at(5),
    }
}

both_backends!(park_list_and_remove, |store| async move {
    migrated(&store).await?;
    let first = dead_letter::park(store.pool(), &letter("metering", "e1", Some("org_a"))).await?;
    let second = dead_letter::park(store.pool(), &letter("metering", "e2", None)).await?;
    let other = dead_letter::park(store.pool(), &letter("crm", "e1", Some("org_b"))).await?;
    assert!(first < second && second < other);

    // Parking again keeps one row with the latest reason.
    let mut again = letter("metering", "e1", Some("org_a"));
    again.reason = "still broken".to_owned();
    again.attempts = 5;
    assert_eq!(dead_letter::park(store.pool(), &again).await?, first);

    let all = dead_letter::list(
        store.pool(),
        &ListQuery {
            limit: 10,
            ..ListQuery::default()
        },
    )
    .await?;
    assert_eq!(
        all.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![first, second, other]
    );
    assert_eq!(all[0].letter, again);
    assert_eq!(all[1].letter, letter("metering", "e2", None));

    let query = ListQuery {
        consumer: Some("metering".to_owned()),
        limit: 1,
        ..ListQuery::default()
    };
    let page = dead_letter::list(store.pool(), &query).await?;
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![first]);
    let query = ListQuery {
        after_id: page[0].id,
        ..query
    };
    let page = dead_letter::list(store.pool(), &query).await?;
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![second]);

    let query = ListQuery {
        organization_id: Some("org_b".to_owned()),
        limit: 10,
        ..ListQuery::default()
    };
    let page = dead_letter::list(store.pool(), &query).await?;
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), vec![other]);

    dead_letter::remove(store.pool(), first).await?;
    let err = dead_letter::remove(store.pool(), first).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound);
    let left = dead_letter::list(
        store.pool(),
        &ListQuery {
            limit: 10,
            ..ListQuery::default()
        },
    )
    .await?;
    assert_eq!(left.len(), 2);
    anyhow::Ok(())
});
