use souk_core::ErrorCode;
use souk_store::Backend;
use souk_store::migrate::{self, Migration};
use souk_testkit::both_backends;

use crate::{SERVICE, insert_widget};

both_backends!(apply_once_and_restart_is_a_no_op, |db: TestDb| async move {
    let store = db.store("svc").await?;
    let report = store.migrate(SERVICE).await?;
    assert_eq!(report.applied, vec![1, 2, 3, 100, 101]);
    assert_eq!(report.already_applied, 0);
    insert_widget(store.pool(), "w1", "org_a", "bolt").await?;
    store.close().await;

    // A restart runs the same list again: nothing to do, data intact.
    let store = db.store("svc").await?;
    let report = store.migrate(SERVICE).await?;
    assert!(report.applied.is_empty());
    assert_eq!(report.already_applied, 5);
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(count, 1);

    // A later build with one more migration applies just that one.
    let mut next = SERVICE.to_vec();
    next.push(Migration::portable(
        102,
        "widget_color",
        "ALTER TABLE widgets ADD COLUMN color TEXT",
    ));
    let report = store.migrate(&next).await?;
    assert_eq!(report.applied, vec![102]);
    let recorded: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM souk_migrations ORDER BY version")
            .fetch_all(store.pool())
            .await?;
    assert_eq!(recorded, vec![1, 2, 3, 100, 101, 102]);
    anyhow::Ok(())
});

both_backends!(changed_migration_is_refused, |db: TestDb| async move {
    let store = db.store("svc").await?;
    store.migrate(SERVICE).await?;
    let mut edited = SERVICE.to_vec();
    edited[1] = Migration::portable(101, "parts", "CREATE TABLE parts (id TEXT PRIMARY KEY)");
    let err = store.migrate(&edited).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::FailedPrecondition);
    assert!(
        err.message
            .contains("migration 101 (parts) was changed after it was applied"),
        "{}",
        err.message
    );
    anyhow::Ok(())
});

both_backends!(
    failed_migration_rolls_back_and_can_be_fixed,
    |db: TestDb| async move {
        let store = db.store("svc").await?;
        let broken = [
            SERVICE[0],
            Migration::portable(
                101,
                "broken",
                "CREATE TABLE half (id BIGINT); INSERT INTO missing_table VALUES (1);",
            ),
        ];
        let err = store.migrate(&broken).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::Internal);
        assert!(
            err.message.contains("migration 101 (broken) failed"),
            "{}",
            err.message
        );
        // 100 stays applied; nothing of 101 remains.
        let recorded: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM souk_migrations ORDER BY version")
                .fetch_all(store.pool())
                .await?;
        assert_eq!(recorded, vec![1, 2, 3, 100]);
        assert!(
            sqlx::query("SELECT * FROM half")
                .fetch_all(store.pool())
                .await
                .is_err()
        );

        let report = store.migrate(SERVICE).await?;
        assert_eq!(report.applied, vec![101]);
        anyhow::Ok(())
    }
);

both_backends!(
    concurrent_migrations_apply_each_once,
    |db: TestDb| async move {
        let stores = [
            db.store("svc").await?,
            db.store("svc").await?,
            db.store("svc").await?,
        ];
        let runs = stores.iter().map(|store| store.migrate(SERVICE));
        let reports = futures::future::join_all(runs).await;
        let mut applied = Vec::new();
        for report in reports {
            let report = report?;
            assert_eq!(report.applied.len() + report.already_applied, 5);
            applied.extend(report.applied);
        }
        applied.sort_unstable();
        assert_eq!(
            applied,
            vec![1, 2, 3, 100, 101],
            "each migration applied by exactly one replica"
        );
        anyhow::Ok(())
    }
);

both_backends!(service_versions_below_100_are_refused, |store| async move {
    let err = store
        .migrate(&[Migration::portable(7, "too_low", "SELECT 1")])
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    assert!(err.message.contains("reserved for shared tables"));
    let err = migrate::apply(&store, &[SERVICE[1], SERVICE[0]])
        .await
        .unwrap_err();
    assert!(err.message.contains("out of order"));
    anyhow::Ok(())
});

both_backends!(services_are_isolated, |db: TestDb| async move {
    let alpha = db.store("alpha").await?;
    let beta = db.store("beta").await?;
    alpha.migrate(SERVICE).await?;
    beta.migrate(SERVICE).await?;
    insert_widget(alpha.pool(), "w1", "org_a", "bolt").await?;
    let in_beta: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
        .fetch_one(beta.pool())
        .await?;
    assert_eq!(in_beta, 0);
    match db.backend() {
        Backend::Postgres => {
            let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
                .fetch_one(alpha.pool())
                .await?;
            assert_eq!(schema, "alpha");
        }
        Backend::Sqlite => {
            let file = db.config("alpha").sqlite_file()?;
            assert!(
                file.ends_with("alpha.db") && file.exists(),
                "{}",
                file.display()
            );
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(alpha.pool())
                .await?;
            assert_eq!(mode, "wal");
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(alpha.pool())
                .await?;
            assert_eq!(sync, 2, "synchronous=FULL");
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(alpha.pool())
                .await?;
            assert_eq!(fk, 1);
        }
    }
    anyhow::Ok(())
});

#[test]
fn bad_urls_are_invalid_arguments() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for url in ["sqlite::memory:", "mysql://h/db"] {
            let err = souk_store::Store::connect(&souk_store::StoreConfig::new(url, "svc"))
                .await
                .unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidArgument, "{url}");
        }
        let err = souk_store::Store::connect(&souk_store::StoreConfig::new(
            "postgres://postgres@127.0.0.1:1/x",
            "svc",
        ))
        .await
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::Unavailable, "{err}");
    });
}
