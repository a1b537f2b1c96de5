use souk_proto::integration as pb;
use souk_testkit::both_backends;
use tonic::Code;

use crate::harness::{Harness, authed, expect_code, integration_request, mask};

both_backends!(
    retries_with_an_idempotency_key_replay_the_first_response,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let mut client = h.client();
        let a = h.admin.clone();

        let mut request = integration_request("idem", "");
        request.idempotency_key = "create-1".into();
        let first = client
            .create_integration(authed(&a, request.clone()))
            .await
            .unwrap()
            .into_inner();
        let second = client
            .create_integration(authed(&a, request.clone()))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(first, second, "same response, same integration");
        let listed = h.list_integrations(&a).await;
        assert_eq!(listed.integrations.len(), 1);

        request.name = "different".into();
        let status = expect_code(
            client.create_integration(authed(&a, request)).await,
            Code::AlreadyExists,
        );
        assert!(
            status
                .message()
                .contains("idempotency key reused with a different request"),
            "{}",
            status.message()
        );

        // The same key on another RPC is independent.
        let id = first.integration.unwrap().id;
        let update = pb::UpdateIntegrationRequest {
            integration_id: id.clone(),
            name: "renamed".into(),
            update_mask: mask(&["name"]),
            idempotency_key: "create-1".into(),
            ..Default::default()
        };
        let updated = client
            .update_integration(authed(&a, update.clone()))
            .await
            .unwrap()
            .into_inner();
        let replayed = client
            .update_integration(authed(&a, update))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(updated, replayed);

        // API keys: the secret is only in the first response.
        let key_request = pb::CreateApiKeyRequest {
            name: "ci".into(),
            scopes: vec![pb::Scope::ReadOnly as i32],
            expire_time: None,
            idempotency_key: "key-1".into(),
        };
        let created = client
            .create_api_key(authed(&a, key_request.clone()))
            .await
            .unwrap()
            .into_inner();
        assert!(created.secret.starts_with("souk_"));
        let again = client
            .create_api_key(authed(&a, key_request))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(again.api_key, created.api_key);
        assert!(
            again.secret.is_empty(),
            "the secret is never stored, so a replay cannot return it"
        );

        let delete = pb::DeleteIntegrationRequest {
            integration_id: id.clone(),
            idempotency_key: "del-1".into(),
        };
        client
            .delete_integration(authed(&a, delete.clone()))
            .await
            .unwrap();
        client
            .delete_integration(authed(&a, delete))
            .await
            .expect("replayed delete succeeds");
        expect_code(
            client
                .delete_integration(authed(
                    &a,
                    pb::DeleteIntegrationRequest {
                        integration_id: id,
                        idempotency_key: "del-2".into(),
                    },
                ))
                .await,
            Code::NotFound,
        );

        for event_type in [
            "integration.created",
            "integration.updated",
            "integration.deleted",
        ] {
            assert_eq!(h.events_of(event_type).await, 1, "{event_type}");
        }
    }
);
