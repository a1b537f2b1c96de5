use souk_core::ErrorCode;
use souk_store::idempotency::{self, IdempotencyKey, REUSED_MESSAGE};
use souk_testkit::both_backends;

use crate::{at, insert_widget, migrated};

const SCOPE: &str = "souk.test.v1.WidgetService/CreateWidget";

both_backends!(replay_and_mismatch, |store| async move {
    migrated(&store).await?;
    let key = IdempotencyKey {
        organization_id: "org_a",
        scope: SCOPE,
        key: "k-1",
    };
    let hash = idempotency::request_hash(b"create bolt");

    // First call: miss, do the work, remember the response, all in one transaction.
    let mut tx = store.begin_write().await?;
    assert_eq!(idempotency::lookup(&mut *tx, &key, &hash).await?, None);
    insert_widget(&mut *tx, "w1", "org_a", "bolt").await?;
    idempotency::store(&mut *tx, &key, &hash, b"response-w1", at(0)).await?;
    tx.commit().await?;

    // Retry: the same response, no new work.
    let replay = idempotency::lookup(store.pool(), &key, &hash).await?;
    assert_eq!(replay.as_deref(), Some(&b"response-w1"[..]));

    // Same key, different request: conflict.
    let other = idempotency::request_hash(b"create nut");
    let err = idempotency::lookup(store.pool(), &key, &other)
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert_eq!(err.message, REUSED_MESSAGE);

    // Storing the key twice (a concurrent twin) is a conflict too.
    let err = idempotency::store(store.pool(), &key, &hash, b"x", at(1))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);

    // Keys are per organisation and per RPC.
    let elsewhere = IdempotencyKey {
        organization_id: "org_b",
        ..key
    };
    assert_eq!(
        idempotency::lookup(store.pool(), &elsewhere, &other).await?,
        None
    );
    let other_rpc = IdempotencyKey {
        scope: "souk.test.v1.WidgetService/DeleteWidget",
        ..key
    };
    assert_eq!(
        idempotency::lookup(store.pool(), &other_rpc, &other).await?,
        None
    );
    anyhow::Ok(())
});

both_backends!(rolled_back_work_forgets_the_key, |store| async move {
    migrated(&store).await?;
    let key = IdempotencyKey {
        organization_id: "org_a",
        scope: SCOPE,
        key: "k-2",
    };
    let hash = idempotency::request_hash(b"req");
    let mut tx = store.begin_write().await?;
    idempotency::store(&mut *tx, &key, &hash, b"resp", at(0)).await?;
    tx.rollback().await?;
    assert_eq!(idempotency::lookup(store.pool(), &key, &hash).await?, None);

    idempotency::store(store.pool(), &key, &hash, b"resp", at(0)).await?;
    assert_eq!(idempotency::purge_before(store.pool(), at(1)).await?, 1);
    assert_eq!(idempotency::lookup(store.pool(), &key, &hash).await?, None);
    anyhow::Ok(())
});
