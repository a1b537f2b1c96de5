//! Concurrent retries of one request (same idempotency key) get the first call's result, never
//! another error: the duplicate waits for the first to commit and replays it.

use souk_proto::integration as pb;
use souk_testkit::both_backends;

use crate::harness::{Harness, authed, integration_request, key_request};

both_backends!(
    parallel_identical_requests_all_get_the_first_result,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let a = h.admin.clone();
        for round in 0..5 {
            let mut create = integration_request(&format!("storm-{round}"), "");
            create.idempotency_key = format!("storm-create-{round}");
            let calls = (0..8).map(|_| {
                let mut client = h.client();
                let request = authed(&a, create.clone());
                async move { client.create_integration(request).await }
            });
            let results = futures::future::join_all(calls).await;
            let first = results[0].as_ref().expect("first call").get_ref().clone();
            for result in &results {
                let response = result.as_ref().expect("every retry succeeds");
                assert_eq!(response.get_ref(), &first, "round {round}");
            }

            let mut key = key_request(&format!("storm key {round}"), &[pb::Scope::ReadOnly]);
            key.idempotency_key = format!("storm-key-{round}");
            let calls = (0..8).map(|_| {
                let mut client = h.client();
                let request = authed(&a, key.clone());
                async move { client.create_api_key(request).await }
            });
            let results = futures::future::join_all(calls).await;
            let ids: Vec<String> = results
                .iter()
                .map(|r| {
                    r.as_ref()
                        .expect("every retry succeeds")
                        .get_ref()
                        .api_key
                        .as_ref()
                        .expect("key")
                        .id
                        .clone()
                })
                .collect();
            assert!(ids.iter().all(|id| id == &ids[0]), "round {round}: {ids:?}");
        }
        assert_eq!(h.list_integrations(&a).await.integrations.len(), 5);
    }
);
