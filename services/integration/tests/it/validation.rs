use souk_proto::common::{LicensingModel, ProductType};
use souk_proto::integration as pb;
use souk_testkit::both_backends;

use crate::harness::{Harness, authed, fields, mask, revoke_request, violations};

both_backends!(
    bad_input_names_every_bad_field_and_changes_nothing,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let mut client = h.client();
        let a = h.admin.clone();
        let existing = h
            .integration(&a, "existing", "arn:aws:iam::111122223333:role/Existing")
            .await;
        let keys_before = h.list_api_keys(&a).await;
        let outbox_before = h.outbox().await;
        let long = "x".repeat(201);

        // CreateOrganization
        assert_eq!(
            fields(
                client
                    .create_organization(authed(
                        &a,
                        pb::CreateOrganizationRequest {
                            name: String::new(),
                            idempotency_key: "has space".into()
                        }
                    ))
                    .await
            ),
            ["idempotency_key", "name"]
        );
        assert_eq!(
            violations(
                client
                    .create_organization(authed(
                        &a,
                        pb::CreateOrganizationRequest {
                            name: long.clone(),
                            ..Default::default()
                        }
                    ))
                    .await
            ),
            [(
                "name".to_owned(),
                "must be at most 200 characters".to_owned()
            )]
        );

        // GetOrganization
        assert_eq!(
            violations(
                client
                    .get_organization(authed(
                        &a,
                        pb::GetOrganizationRequest {
                            organization_id: "int_123".into()
                        }
                    ))
                    .await
            ),
            [(
                "organization_id".to_owned(),
                "must start with \"org_\"".to_owned()
            )]
        );

        // CreateIntegration: every field wrong at once.
        let bad = pb::CreateIntegrationRequest {
            name: long.clone(),
            role_arn: "arn:aws:iam::12345:user/bob".into(),
            region: "mars-north-1".into(),
            products: vec![
                pb::Product {
                    product_code: "bad code!".into(),
                    product_id: Some("nope".into()),
                    r#type: 0,
                    licensing: 99,
                },
                pb::Product {
                    product_code: "dup".into(),
                    product_id: None,
                    r#type: ProductType::Saas as i32,
                    licensing: LicensingModel::ProductCode as i32,
                },
                pb::Product {
                    product_code: "dup".into(),
                    product_id: None,
                    r#type: ProductType::Saas as i32,
                    licensing: LicensingModel::ProductCode as i32,
                },
            ],
            notifications: Some(pb::NotificationConfig {
                sqs_queue_urls: vec![
                    "http://example.com/queue".into(),
                    "https://sqs.us-east-1.amazonaws.com/111122223333/ok".into(),
                ],
                sns_https: false,
                eventbridge: true,
            }),
            data_feed_bucket: "Not_A_Bucket".into(),
            idempotency_key: "k".repeat(129),
        };
        assert_eq!(
            fields(client.create_integration(authed(&a, bad)).await),
            [
                "data_feed_bucket",
                "idempotency_key",
                "name",
                "notifications.sqs_queue_urls[0]",
                "products[0].licensing",
                "products[0].product_code",
                "products[0].product_id",
                "products[0].type",
                "products[2].product_code",
                "region",
                "role_arn",
            ]
        );
        let region = violations(
            client
                .create_integration(authed(
                    &a,
                    pb::CreateIntegrationRequest {
                        name: "n".into(),
                        region: "mars-1".into(),
                        ..Default::default()
                    },
                ))
                .await,
        );
        assert_eq!(
            region,
            [(
                "region".to_owned(),
                "unknown AWS region \"mars-1\"".to_owned()
            )]
        );
        let empty_name = violations(
            client
                .create_integration(authed(&a, pb::CreateIntegrationRequest::default()))
                .await,
        );
        assert_eq!(
            empty_name,
            [("name".to_owned(), "must not be empty".to_owned())]
        );

        // GetIntegration / GetOnboardingTemplate: empty and malformed ids.
        assert_eq!(
            violations(
                client
                    .get_integration(authed(
                        &a,
                        pb::GetIntegrationRequest {
                            integration_id: String::new()
                        }
                    ))
                    .await
            ),
            [("integration_id".to_owned(), "must not be empty".to_owned())]
        );
        assert_eq!(
            fields(
                client
                    .get_integration(authed(
                        &a,
                        pb::GetIntegrationRequest {
                            integration_id: "int_zz".into()
                        }
                    ))
                    .await
            ),
            ["integration_id"]
        );
        assert_eq!(
            fields(
                client
                    .get_onboarding_template(authed(
                        &a,
                        pb::GetOnboardingTemplateRequest::default()
                    ))
                    .await
            ),
            ["integration_id"]
        );

        // ListIntegrations / ListApiKeys: negative page size, forged token.
        assert_eq!(
            fields(
                client
                    .list_integrations(authed(
                        &a,
                        pb::ListIntegrationsRequest {
                            page_size: -1,
                            page_token: String::new()
                        }
                    ))
                    .await
            ),
            ["page_size"]
        );
        assert_eq!(
            fields(
                client
                    .list_api_keys(authed(
                        &a,
                        pb::ListApiKeysRequest {
                            page_size: 0,
                            page_token: "forged!".into()
                        }
                    ))
                    .await
            ),
            ["page_token"]
        );

        // UpdateIntegration: no mask; unknown path; bad values in masked fields (unmasked ones ignored).
        assert_eq!(
            fields(
                client
                    .update_integration(authed(
                        &a,
                        pb::UpdateIntegrationRequest {
                            integration_id: existing.id.clone(),
                            ..Default::default()
                        }
                    ))
                    .await
            ),
            ["update_mask"]
        );
        assert_eq!(
            fields(
                client
                    .update_integration(authed(
                        &a,
                        pb::UpdateIntegrationRequest {
                            integration_id: String::new(),
                            name: String::new(),
                            role_arn: "arn:aws:iam::111122223333:role/".into(),
                            region: "xx-1".into(),
                            data_feed_bucket: "ab".into(),
                            notifications: Some(pb::NotificationConfig {
                                sqs_queue_urls: vec!["nope".into()],
                                ..Default::default()
                            }),
                            update_mask: mask(&[
                                "name",
                                "role_arn",
                                "region",
                                "data_feed_bucket",
                                "notifications",
                                "external_id"
                            ]),
                            ..Default::default()
                        },
                    ))
                    .await
            ),
            [
                "data_feed_bucket",
                "integration_id",
                "name",
                "notifications.sqs_queue_urls[0]",
                "region",
                "role_arn",
                "update_mask",
            ]
        );

        // VerifyIntegration / DeleteIntegration / RevokeApiKey: ids and idempotency keys.
        assert_eq!(
            fields(
                client
                    .verify_integration(authed(
                        &a,
                        pb::VerifyIntegrationRequest {
                            integration_id: "key_1".into(),
                            idempotency_key: "é".into()
                        }
                    ))
                    .await
            ),
            ["idempotency_key", "integration_id"]
        );
        assert_eq!(
            fields(
                client
                    .delete_integration(authed(&a, pb::DeleteIntegrationRequest::default()))
                    .await
            ),
            ["integration_id"]
        );
        assert_eq!(
            fields(
                client
                    .revoke_api_key(authed(&a, revoke_request(&existing.id)))
                    .await
            ),
            ["api_key_id"]
        );

        // CreateApiKey: empty name, no scopes / unspecified and unknown scopes, past expiry.
        assert_eq!(
            fields(
                client
                    .create_api_key(authed(&a, pb::CreateApiKeyRequest::default()))
                    .await
            ),
            ["name", "scopes"]
        );
        assert_eq!(
            fields(
                client
                    .create_api_key(authed(
                        &a,
                        pb::CreateApiKeyRequest {
                            name: long,
                            scopes: vec![0, 42],
                            expire_time: Some(prost_types::Timestamp {
                                seconds: 1_000,
                                nanos: 0
                            }),
                            idempotency_key: String::new(),
                        },
                    ))
                    .await
            ),
            ["expire_time", "name", "scopes[0]", "scopes[1]"]
        );

        // Nothing changed anywhere.
        assert_eq!(h.get(&a, &existing.id).await, existing);
        let listed = h.list_integrations(&a).await;
        assert_eq!(listed.integrations.len(), 1);
        let keys_after = h.list_api_keys(&a).await;
        assert_eq!(keys_after.api_keys.len(), keys_before.api_keys.len());
        assert_eq!(h.outbox().await, outbox_before);
    }
);

// Gaps found by probing: a 65-character role name (IAM allows 64), a right-to-left override in
// a name, and leading/trailing spaces that were silently trimmed.
both_backends!(
    names_and_role_names_are_checked_exactly,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let mut client = h.client();
        let a = h.admin.clone();
        let outbox_before = h.outbox().await;
        let long_role = format!("arn:aws:iam::111122223333:role/{}", "r".repeat(65));
        let role_reason = "the role name (after the last '/') must be 1 to 64 characters";
        assert_eq!(
            violations(
                client
                    .create_integration(authed(
                        &a,
                        crate::harness::integration_request("ok", &long_role)
                    ))
                    .await
            ),
            [("role_arn".to_owned(), role_reason.to_owned())]
        );
        let fits = format!("arn:aws:iam::111122223333:role/{}", "r".repeat(64));
        let created = h.integration(&a, "fits", &fits).await;
        assert_eq!(created.role_arn, fits);

        let bidi = "invoice\u{202E}fdp.exe";
        let bidi_reason = "must not contain bidirectional or zero-width control characters (U+202A-U+202E, U+2066-U+2069, ...)";
        let space_reason = "must not start or end with whitespace";
        for (name, reason) in [
            (bidi, bidi_reason),
            (" leading", space_reason),
            ("trailing ", space_reason),
        ] {
            assert_eq!(
                violations(
                    client
                        .create_integration(authed(
                            &a,
                            crate::harness::integration_request(name, "")
                        ))
                        .await
                ),
                [("name".to_owned(), reason.to_owned())],
                "{name:?}"
            );
            assert_eq!(
                violations(
                    client
                        .create_organization(authed(&a, crate::harness::organization_request(name)))
                        .await
                ),
                [("name".to_owned(), reason.to_owned())],
                "{name:?}"
            );
            assert_eq!(
                violations(
                    client
                        .create_api_key(authed(
                            &a,
                            crate::harness::key_request(name, &[pb::Scope::ReadOnly])
                        ))
                        .await
                ),
                [("name".to_owned(), reason.to_owned())],
                "{name:?}"
            );
        }
        assert_eq!(h.list_integrations(&a).await.integrations.len(), 1);
        assert_eq!(h.outbox().await.len(), outbox_before.len() + 1);
    }
);
