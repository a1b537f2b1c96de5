use souk_store::Backend;
use souk_testkit::both_backends;

both_backends!(singleton_jobs_take_turns, |store| async move {
    let mut first = store.begin_write().await?;
    assert!(store.try_lock(&mut first, "hourly_aggregation").await?);
    if store.backend() == Backend::Postgres {
        let other = store.clone();
        let mut second = other.begin().await?;
        assert!(
            !other.try_lock(&mut second, "hourly_aggregation").await?,
            "held by the first"
        );
        assert!(
            other.try_lock(&mut second, "another_job").await?,
            "locks are per purpose"
        );
        second.rollback().await?;
    }
    first.commit().await?;
    let mut third = store.begin_write().await?;
    assert!(
        store.try_lock(&mut third, "hourly_aggregation").await?,
        "released at commit"
    );
    store.lock(&mut third, "hourly_aggregation").await?; // re-entrant within a transaction
    third.commit().await?;
    anyhow::Ok(())
});
