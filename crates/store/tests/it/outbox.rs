use std::time::Duration;

use souk_core::ErrorCode;
use souk_store::Backend;
use souk_store::outbox::{self, OutboxRecord};
use souk_testkit::both_backends;

use crate::{at, insert_widget, migrated};

fn record(n: u32, org: &str) -> OutboxRecord {
    OutboxRecord {
        event_id: uuid::Uuid::now_v7().to_string(),
        organization_id: org.to_owned(),
        subject: format!("souk.{org}.widget.created"),
        event_type: "widget.created".to_owned(),
        payload: vec![0x0a, 0x03, b'w', b'0' + (n % 10) as u8, 0xff],
        occurred_at: at(i64::from(n)),
    }
}

both_backends!(rolled_back_append_leaves_nothing, |store| async move {
    migrated(&store).await?;
    let mut tx = store.begin_write().await?;
    insert_widget(&mut *tx, "w1", "org_a", "bolt").await?;
    outbox::append(&mut tx, &record(1, "org_a")).await?;
    tx.rollback().await?;
    assert!(
        outbox::read_all_after(store.pool(), 0, 10)
            .await?
            .is_empty()
    );
    assert!(outbox::pending(store.pool(), 10).await?.is_empty());
    let widgets: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM widgets")
        .fetch_one(store.pool())
        .await?;
    assert_eq!(widgets, 0);

    // Dropping an uncommitted transaction is a rollback too.
    {
        let mut tx = store.begin_write().await?;
        outbox::append(&mut tx, &record(2, "org_a")).await?;
    }
    assert!(
        outbox::read_all_after(store.pool(), 0, 10)
            .await?
            .is_empty()
    );
    anyhow::Ok(())
});

both_backends!(committed_appends_are_visible_in_order, |store| async move {
    migrated(&store).await?;
    let records = [record(1, "org_a"), record(2, "org_b"), record(3, "org_a")];
    let mut tx = store.begin_write().await?;
    insert_widget(&mut *tx, "w1", "org_a", "bolt").await?;
    let s1 = outbox::append(&mut tx, &records[0]).await?;
    let s2 = outbox::append(&mut tx, &records[1]).await?;
    tx.commit().await?;
    let mut tx = store.begin_write().await?;
    let s3 = outbox::append(&mut tx, &records[2]).await?;
    tx.commit().await?;
    assert!(s1 < s2 && s2 < s3);

    let all = outbox::read_all_after(store.pool(), 0, 10).await?;
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![s1, s2, s3]
    );
    let first = &all[0];
    assert_eq!(first.event_id, records[0].event_id);
    assert_eq!(first.subject, "souk.org_a.widget.created");
    assert_eq!(first.event_type, "widget.created");
    assert_eq!(first.payload, records[0].payload);
    assert_eq!(first.occurred_at, records[0].occurred_at);
    assert_eq!(first.published_at, None);
    assert_eq!(first.attempts, 0);
    assert_eq!(first.last_error, None);

    // A duplicate event id is a conflict.
    let mut tx = store.begin_write().await?;
    let err = outbox::append(&mut tx, &records[0]).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    anyhow::Ok(())
});

both_backends!(read_after_resumes_per_organization, |store| async move {
    migrated(&store).await?;
    let mut seqs_a = Vec::new();
    for n in 0..5 {
        let mut tx = store.begin_write().await?;
        seqs_a.push(outbox::append(&mut tx, &record(n, "org_a")).await?);
        outbox::append(&mut tx, &record(n + 10, "org_b")).await?;
        tx.commit().await?;
    }
    let page = outbox::read_after(store.pool(), "org_a", 0, 2).await?;
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs_a[..2]);
    let cursor = page[1].seq;
    let rest = outbox::read_after(store.pool(), "org_a", cursor, 100).await?;
    assert_eq!(rest.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs_a[2..]);
    assert!(rest.iter().all(|e| e.organization_id == "org_a"));
    assert!(
        outbox::read_after(store.pool(), "org_a", seqs_a[4], 100)
            .await?
            .is_empty()
    );
    assert!(
        outbox::read_after(store.pool(), "org_c", 0, 100)
            .await?
            .is_empty()
    );
    assert_eq!(outbox::last_seq(store.pool(), "org_a").await?, seqs_a[4]);
    assert_eq!(outbox::last_seq(store.pool(), "org_c").await?, 0);
    anyhow::Ok(())
});

both_backends!(lease_publish_and_failures, |store| async move {
    migrated(&store).await?;
    let mut tx = store.begin_write().await?;
    let mut seqs = Vec::new();
    for n in 0..3 {
        seqs.push(outbox::append(&mut tx, &record(n, "org_a")).await?);
    }
    tx.commit().await?;

    let mut lease = outbox::lease(&store, 2).await?;
    assert_eq!(
        lease.entries().iter().map(|e| e.seq).collect::<Vec<_>>(),
        seqs[..2]
    );
    assert_eq!(lease.mark_published(&[seqs[0]], at(100)).await?, 1);
    lease.record_failure(seqs[1], "nats: timed out").await?;
    lease.commit().await?;

    let pending = outbox::pending(store.pool(), 10).await?;
    assert_eq!(pending.iter().map(|e| e.seq).collect::<Vec<_>>(), seqs[1..]);
    assert_eq!(pending[0].attempts, 1);
    assert_eq!(pending[0].last_error.as_deref(), Some("nats: timed out"));
    let published = outbox::read_all_after(store.pool(), 0, 1).await?;
    assert_eq!(published[0].published_at, Some(at(100)));

    // Marking again is harmless; a dropped lease changes nothing.
    assert_eq!(
        outbox::mark_published(store.pool(), &[seqs[0]], at(200)).await?,
        0
    );
    if store.backend() == Backend::Postgres {
        let mut lease = outbox::lease(&store, 10).await?;
        lease.mark_published(&seqs, at(300)).await?;
        drop(lease);
        assert_eq!(outbox::pending(store.pool(), 10).await?.len(), 2);
    }

    let mut lease = outbox::lease(&store, 10).await?;
    let all: Vec<i64> = lease.entries().iter().map(|e| e.seq).collect();
    lease.mark_published(&all, at(400)).await?;
    lease.commit().await?;
    assert!(outbox::pending(store.pool(), 10).await?.is_empty());
    assert!(outbox::lease(&store, 10).await?.is_empty());

    assert_eq!(
        outbox::delete_published_before(store.pool(), at(150)).await?,
        1
    );
    assert_eq!(outbox::read_all_after(store.pool(), 0, 10).await?.len(), 2);
    anyhow::Ok(())
});

both_backends!(
    concurrent_leases_do_not_overlap_on_postgres,
    |store| async move {
        migrated(&store).await?;
        if store.backend() != Backend::Postgres {
            return anyhow::Ok(()); // SQLite: one process, one relay per file
        }
        let mut tx = store.begin_write().await?;
        for n in 0..5 {
            outbox::append(&mut tx, &record(n, "org_a")).await?;
        }
        tx.commit().await?;
        let first = outbox::lease(&store, 3).await?;
        let second = outbox::lease(&store, 10).await?;
        let a: Vec<i64> = first.entries().iter().map(|e| e.seq).collect();
        let b: Vec<i64> = second.entries().iter().map(|e| e.seq).collect();
        assert_eq!(a.len(), 3);
        assert_eq!(b.len(), 2);
        assert!(a.iter().all(|s| !b.contains(s)));
        anyhow::Ok(())
    }
);

both_backends!(seq_order_is_commit_order, |store| async move {
    migrated(&store).await?;
    // T1 appends first but commits last; T2 must not get a visible seq before T1's.
    let mut t1 = store.begin_write().await?;
    let s1 = outbox::append(&mut t1, &record(1, "org_a")).await?;
    let store2 = store.clone();
    let t2 = tokio::spawn(async move {
        let mut t2 = store2.begin_write().await?;
        let s2 = outbox::append(&mut t2, &record(2, "org_a")).await?;
        t2.commit().await.map_err(souk_store::map_sqlx_error)?;
        Ok::<_, souk_core::Error>(s2)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !t2.is_finished(),
        "second appender waits for the first to commit"
    );
    assert!(
        outbox::read_after(store.pool(), "org_a", 0, 10)
            .await?
            .is_empty()
    );
    t1.commit().await?;
    let s2 = t2.await??;
    assert!(s1 < s2);
    let seen = outbox::read_after(store.pool(), "org_a", 0, 10).await?;
    assert_eq!(seen.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![s1, s2]);
    anyhow::Ok(())
});

both_backends!(
    concurrent_writers_with_retries_lose_nothing,
    |store| async move {
        migrated(&store).await?;
        insert_widget(store.pool(), "w1", "org_a", "bolt").await?;
        let tasks = (0..12_u32).map(|n| {
            let store = store.clone();
            tokio::spawn(async move {
                souk_store::with_retries(souk_store::RetryPolicy::default(), || async {
                    let mut tx = store.begin_write().await?;
                    sqlx::query(
                        "UPDATE widgets SET price_micros = price_micros + 1 WHERE id = 'w1'",
                    )
                    .execute(&mut *tx)
                    .await
                    .map_err(souk_store::map_sqlx_error)?;
                    outbox::append(&mut tx, &record(n, "org_a")).await?;
                    tx.commit().await.map_err(souk_store::map_sqlx_error)
                })
                .await
            })
        });
        for result in futures::future::join_all(tasks).await {
            result??;
        }
        let price: i64 = sqlx::query_scalar("SELECT price_micros FROM widgets WHERE id = 'w1'")
            .fetch_one(store.pool())
            .await?;
        assert_eq!(price, 1_500_012);
        let entries = outbox::read_after(store.pool(), "org_a", 0, 100).await?;
        assert_eq!(entries.len(), 12);
        assert!(entries.windows(2).all(|w| w[0].seq < w[1].seq));
        anyhow::Ok(())
    }
);
