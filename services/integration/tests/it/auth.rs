use souk_proto::integration as pb;
use souk_testkit::both_backends;
use tonic::{Code, Request};

use crate::harness::{
    Harness, authed, expect_code, get_request, integration_request, key_request,
    organization_request, revoke_request, template_request,
};

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
        .revoke_api_key(authed(&h.admin, revoke_request(&key_id)))
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
        .revoke_api_key(authed(&h.admin, revoke_request(&key_id)))
        .await
        .expect("revoke again")
        .into_inner()
        .api_key
        .unwrap();
    assert_eq!(again.revoke_time, revoked.revoke_time);

    // A key may revoke itself.
    let (own_id, own) = h.key(&h.admin, &[pb::Scope::Full]).await;
    client
        .revoke_api_key(authed(&own, revoke_request(&own_id)))
        .await
        .expect("self revoke");
    expect_code(
        client
            .list_api_keys(authed(&own, pb::ListApiKeysRequest::default()))
            .await,
        Code::Unauthenticated,
    );

    assert_eq!(
        h.events_of("integration.api_key_revoked").await,
        2,
        "{:?}",
        h.outbox().await
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
        .get_integration(authed(&read_only, get_request(&existing.id)))
        .await
        .expect("read one");
    client
        .list_api_keys(authed(&read_only, pb::ListApiKeysRequest::default()))
        .await
        .expect("list keys");
    client
        .get_onboarding_template(authed(&read_only, template_request(&existing.id)))
        .await
        .expect("template");

    // ... and can change nothing.
    for secret in [&read_only, &metering] {
        expect_code(
            client
                .create_integration(authed(secret, integration_request("x", "")))
                .await,
            Code::PermissionDenied,
        );
        h.expect_changes_refused(secret, &existing.id, &ro_id, Code::PermissionDenied)
            .await;
        expect_code(
            client
                .create_api_key(authed(secret, key_request("k", &[pb::Scope::ReadOnly])))
                .await,
            Code::PermissionDenied,
        );
        expect_code(
            client
                .create_organization(authed(secret, organization_request("o")))
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
            .get_integration(authed(&metering, get_request(&existing.id)))
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
            .create_organization(authed(&full, organization_request("o")))
            .await,
        Code::PermissionDenied,
    );
    let status = expect_code(
        client
            .create_api_key(authed(&full, key_request("k", &[pb::Scope::Admin])))
            .await,
        Code::PermissionDenied,
    );
    assert!(
        status.message().contains("cannot grant scope admin"),
        "{}",
        status.message()
    );

    // FULL cannot revoke an ADMIN key.
    let keys = h.list_api_keys(&full).await;
    let admin_key = keys
        .api_keys
        .iter()
        .find(|k| k.scopes.contains(&(pb::Scope::Admin as i32)))
        .unwrap();
    expect_code(
        client
            .revoke_api_key(authed(&full, revoke_request(&admin_key.id)))
            .await,
        Code::PermissionDenied,
    );

    let unchanged = h.get(&h.admin, &existing.id).await;
    assert_eq!(unchanged, existing);
    assert_eq!(
        h.outbox().await.len(),
        outbox_before,
        "no event for refused calls"
    );
});
