use souk_core::ErrorCode;
use souk_store::{Backend, constraint_name, is_retryable, map_sqlx_error};
use souk_testkit::both_backends;

use crate::{insert_widget, migrated};

both_backends!(unique_violation_is_conflict, |store| async move {
    migrated(&store).await?;
    insert_widget(store.pool(), "w1", "org_a", "bolt").await?;
    let err = insert_widget(store.pool(), "w2", "org_a", "bolt")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert_eq!(err.message, "conflicts with an existing record");
    // primary key too
    let err = insert_widget(store.pool(), "w1", "org_a", "nut")
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    // the same name in another organisation is fine
    insert_widget(store.pool(), "w3", "org_b", "bolt").await?;

    let raw = sqlx::query("INSERT INTO widgets (id, organization_id, name, price_micros) VALUES ('w9', 'org_a', 'bolt', 1)")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(!is_retryable(&raw));
    if store.backend() == Backend::Postgres {
        assert_eq!(
            constraint_name(&raw).as_deref(),
            Some("widgets_organization_id_name_key")
        );
    }
    anyhow::Ok(())
});

both_backends!(
    foreign_key_violation_is_failed_precondition,
    |store| async move {
        migrated(&store).await?;
        let err =
            sqlx::query("INSERT INTO parts (id, widget_id, quantity) VALUES ('p1', 'nope', 3)")
                .execute(store.pool())
                .await
                .map_err(map_sqlx_error)
                .unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedPrecondition);
        anyhow::Ok(())
    }
);

both_backends!(
    missing_row_is_not_found_and_bad_sql_internal,
    |store| async move {
        migrated(&store).await?;
        let err = sqlx::query("SELECT id FROM widgets WHERE id = $1")
            .bind("nope")
            .fetch_one(store.pool())
            .await
            .map(|_| ())
            .map_err(map_sqlx_error)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::NotFound);
        let err = sqlx::query("SELECT * FROM no_such_table")
            .fetch_all(store.pool())
            .await
            .map(|_| ())
            .map_err(map_sqlx_error)
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(
            err.message.contains("no_such_table"),
            "detail kept for the log: {}",
            err.message
        );
        anyhow::Ok(())
    }
);

both_backends!(write_conflicts_are_retryable, |store| async move {
    migrated(&store).await?;
    insert_widget(store.pool(), "w1", "org_a", "bolt").await?;
    match store.backend() {
        Backend::Postgres => {
            // Two serializable transactions each read what the other writes: one must fail 40001.
            let mut a = store
                .pool()
                .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
                .await?;
            let mut b = store
                .pool()
                .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
                .await?;
            let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
                .fetch_one(&mut *a)
                .await?;
            let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
                .fetch_one(&mut *b)
                .await?;
            insert_widget(&mut *a, "w2", "org_a", "nut").await?;
            insert_widget(&mut *b, "w3", "org_a", "washer").await?;
            a.commit().await?;
            let err = match b.commit().await {
                Err(err) => err,
                Ok(()) => panic!("serializable conflict not detected"),
            };
            assert!(is_retryable(&err), "{err}");
            assert_eq!(map_sqlx_error(err).code, ErrorCode::Unavailable);
        }
        Backend::Sqlite => {
            // A deferred reader that then writes after another writer committed: SQLITE_BUSY.
            let mut a = store.begin().await?;
            let _: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
                .fetch_one(&mut *a)
                .await?;
            insert_widget(store.pool(), "w2", "org_a", "nut").await?;
            let err = sqlx::query("UPDATE widgets SET name = 'x' WHERE id = 'w1'")
                .execute(&mut *a)
                .await
                .unwrap_err();
            assert!(is_retryable(&err), "{err}");
        }
    }
    anyhow::Ok(())
});
