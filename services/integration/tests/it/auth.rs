use souk_proto::integration as pb;
use souk_testkit::both_backends;
use tonic::{Code, Request};

use crate::harness::{Harness, authed, expect_code};

both_backends!(
    calls_without_a_valid_key_are_unauthenticated,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let mut client = h.client();

        let status = expect_code(
            client
                .list_integrations(Request::new(pb::ListIntegrationsRequest::default()))
                .await,
            Code::Unauthenticated,
        );
        assert!(
            status.message().contains("missing api key"),
            "{}",
            status.message()
        );

        let status = expect_code(
            client
                .list_integrations(authed("souk_nope", pb::ListIntegrationsRequest::default()))
                .await,
            Code::Unauthenticated,
        );
        assert!(
            status.message().contains("malformed api key"),
            "{}",
            status.message()
        );

        let unknown = souk_auth::ApiKeySecret::generate();
        let status = expect_code(
            client
                .list_integrations(authed(
                    unknown.expose(),
                    pb::ListIntegrationsRequest::default(),
                ))
                .await,
            Code::Unauthenticated,
        );
        assert_eq!(status.message(), "unknown api key");

        // Health checks need no key.
        let channel = tonic::transport::Channel::from_shared(format!("http://{}", h.addr))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        health
            .check(tonic_health::pb::HealthCheckRequest {
                service: String::new(),
            })
            .await
            .expect("health without a key");

        // The admin key works.
        client
            .list_integrations(authed(&h.admin, pb::ListIntegrationsRequest::default()))
            .await
            .expect("admin key works");
    }
);

both_backends!(a_revoked_key_is_refused_at_once, |db: TestDb| async move {
    let h = Harness::start(db).await;
    let mut client = h.client();
    let (key_id, secret) = h.key(&h.admin, &[pb::Scope::Full]).await;
    client
        .list_integrations(authed(&secret, pb::ListIntegrationsRequest::default()))
        .await
        .expect("new key works");

    let revoked = client
        .revoke_api_key(authed(
            &h.admin,
            pb::RevokeApiKeyRequest {
                api_key_id: key_id.clone(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .expect("revoke")
        .into_inner()
        .api_key
        .unwrap();
    assert!(revoked.revoke_time.is_some());

    let status = expect_code(
        client
            .list_integrations(authed(&secret, pb::ListIntegrationsRequest::default()))
            .await,
        Code::Unauthenticated,
    );
    assert_eq!(status.message(), "api key revoked");

    // Revoking again succeeds and keeps the first time.
    let again = client
        .revoke_api_key(authed(
            &h.admin,
            pb::RevokeApiKeyRequest {
                api_key_id: key_id,
                idempotency_key: String::new(),
            },
        ))
        .await
        .expect("revoke again")
        .into_inner()
        .api_key
        .unwrap();
    assert_eq!(again.revoke_time, revoked.revoke_time);

    // A key may revoke itself.
    let (own_id, own) = h.key(&h.admin, &[pb::Scope::Full]).await;
    client
        .revoke_api_key(authed(
            &own,
            pb::RevokeApiKeyRequest {
                api_key_id: own_id,
                idempotency_key: String::new(),
            },
        ))
        .await
        .expect("self revoke");
    expect_code(
        client
            .list_api_keys(authed(&own, pb::ListApiKeysRequest::default()))
            .await,
        Code::Unauthenticated,
    );

    let types: Vec<String> = h.outbox().await.into_iter().map(|(t, _)| t).collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| *t == "integration.api_key_revoked")
            .count(),
        2,
        "{types:?}"
    );
});

both_backends!(an_expired_key_is_refused, |db: TestDb| async move {
    let h = Harness::start(db).await;
    let mut client = h.client();
    let expire = souk_events::envelope::to_timestamp(
        time::OffsetDateTime::now_utc() + time::Duration::seconds(2),
    );
    let created = client
        .create_api_key(authed(
            &h.admin,
            pb::CreateApiKeyRequest {
                name: "short lived".into(),
                scopes: vec![pb::Scope::ReadOnly as i32],
                expire_time: Some(expire),
                idempotency_key: String::new(),
            },
        ))
        .await
        .expect("create")
        .into_inner();
    client
        .list_integrations(authed(
            &created.secret,
            pb::ListIntegrationsRequest::default(),
        ))
        .await
        .expect("still valid");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let status = expect_code(
        client
            .list_integrations(authed(
                &created.secret,
                pb::ListIntegrationsRequest::default(),
            ))
            .await,
        Code::Unauthenticated,
    );
    assert_eq!(status.message(), "api key expired");
});

both_backends!(scopes_limit_what_a_key_may_do, |db: TestDb| async move {
    let h = Harness::start(db).await;
    let mut client = h.client();
    let existing = h.integration(&h.admin, "existing", "").await;
    let (ro_id, read_only) = h.key(&h.admin, &[pb::Scope::ReadOnly]).await;
    let (_, metering) = h.key(&h.admin, &[pb::Scope::Metering]).await;
    let (_, full) = h.key(&h.admin, &[pb::Scope::Full]).await;
    let outbox_before = h.outbox().await.len();

    // READ_ONLY reads ...
    client
        .list_integrations(authed(&read_only, pb::ListIntegrationsRequest::default()))
        .await
        .expect("read list");
    client
        .get_integration(authed(
            &read_only,
            pb::GetIntegrationRequest {
                integration_id: existing.id.clone(),
            },
        ))
        .await
        .expect("read one");
    client
        .list_api_keys(authed(&read_only, pb::ListApiKeysRequest::default()))
        .await
        .expect("list keys");
    client
        .get_onboarding_template(authed(
            &read_only,
            pb::GetOnboardingTemplateRequest {
                integration_id: existing.id.clone(),
                ..Default::default()
            },
        ))
        .await
        .expect("template");

    // ... and can change nothing.
    let update = pb::UpdateIntegrationRequest {
        integration_id: existing.id.clone(),
        name: "renamed".into(),
        update_mask: Some(prost_types::FieldMask {
            paths: vec!["name".into()],
        }),
        ..Default::default()
    };
    for secret in [&read_only, &metering] {
        expect_code(
            client
                .create_integration(authed(secret, crate::harness::integration_request("x", "")))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            client
                .update_integration(authed(secret, update.clone()))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            client
                .verify_integration(authed(
                    secret,
                    pb::VerifyIntegrationRequest {
                        integration_id: existing.id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            client
                .delete_integration(authed(
                    secret,
                    pb::DeleteIntegrationRequest {
                        integration_id: existing.id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            client
                .create_api_key(authed(
                    secret,
                    pb::CreateApiKeyRequest {
                        name: "k".into(),
                        scopes: vec![pb::Scope::ReadOnly as i32],
                        ..Default::default()
                    },
                ))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            client
                .revoke_api_key(authed(
                    secret,
                    pb::RevokeApiKeyRequest {
                        api_key_id: ro_id.clone(),
                        ..Default::default()
                    },
                ))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            client
                .create_organization(authed(
                    secret,
                    pb::CreateOrganizationRequest {
                        name: "o".into(),
                        ..Default::default()
                    },
                ))
                .await,
            Code::PermissionDenied,
        );
    }

    // METERING cannot touch integration administration, not even to read it.
    expect_code(
        client
            .list_integrations(authed(&metering, pb::ListIntegrationsRequest::default()))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        client
            .get_integration(authed(
                &metering,
                pb::GetIntegrationRequest {
                    integration_id: existing.id.clone(),
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    expect_code(
        client
            .list_api_keys(authed(&metering, pb::ListApiKeysRequest::default()))
            .await,
        Code::PermissionDenied,
    );

    // FULL cannot create organisations nor grant ADMIN.
    expect_code(
        client
            .create_organization(authed(
                &full,
                pb::CreateOrganizationRequest {
                    name: "o".into(),
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    let status = expect_code(
        client
            .create_api_key(authed(
                &full,
                pb::CreateApiKeyRequest {
                    name: "k".into(),
                    scopes: vec![pb::Scope::Admin as i32],
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
    );
    assert!(
        status.message().contains("cannot grant scope admin"),
        "{}",
        status.message()
    );

    // FULL cannot revoke an ADMIN key.
    let keys = client
        .list_api_keys(authed(&full, pb::ListApiKeysRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let admin_key = keys
        .api_keys
        .iter()
        .find(|k| k.scopes.contains(&(pb::Scope::Admin as i32)))
        .unwrap();
    expect_code(
        client
            .revoke_api_key(authed(
                &full,
                pb::RevokeApiKeyRequest {
                    api_key_id: admin_key.id.clone(),
                    ..Default::default()
                },
            ))
            .await,
        Code::PermissionDenied,
    );

    let unchanged = client
        .get_integration(authed(
            &h.admin,
            pb::GetIntegrationRequest {
                integration_id: existing.id.clone(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .integration
        .unwrap();
    assert_eq!(unchanged, existing);
    assert_eq!(
        h.outbox().await.len(),
        outbox_before,
        "no event for refused calls"
    );
});
