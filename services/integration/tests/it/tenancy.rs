use souk_proto::integration as pb;
use souk_testkit::both_backends;
use tonic::Code;

use crate::harness::{
    Harness, authed, expect_code, get_request, integration_request, template_request,
};

both_backends!(
    a_key_of_one_organization_cannot_see_or_change_another,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let mut client = h.client();

        // Organisation B with an integration and a second key.
        let (org_b, b_full) = h.organization("beta").await;
        let b_integration = h
            .integration(
                &b_full,
                "beta seller",
                "arn:aws:iam::111122223333:role/Beta",
            )
            .await;
        let (b_key_id, _) = h.key(&b_full, &[pb::Scope::ReadOnly]).await;
        let b_keys_before = h.list_api_keys(&b_full).await;

        // Organisation A (the default one): a FULL key and the ADMIN key.
        let (_, a_full) = h.key(&h.admin, &[pb::Scope::Full]).await;
        let outbox_before = h.outbox().await.len();

        for a in [&a_full, &h.admin] {
            // Reads: NOT_FOUND or absent.
            expect_code(
                client
                    .get_integration(authed(a, get_request(&b_integration.id)))
                    .await,
                Code::NotFound,
            );
            let listed = h.list_integrations(a).await;
            assert!(listed.integrations.iter().all(|i| i.id != b_integration.id));
            let keys = h.list_api_keys(a).await;
            assert!(keys.api_keys.iter().all(|k| k.id != b_key_id));
            expect_code(
                client
                    .get_onboarding_template(authed(a, template_request(&b_integration.id)))
                    .await,
                Code::NotFound,
            );

            // Writes: NOT_FOUND, nothing changed.
            h.expect_changes_refused(a, &b_integration.id, &b_key_id, Code::NotFound)
                .await;
        }

        // GetOrganization: a FULL key sees only its own organisation; ADMIN may read any.
        expect_code(
            client
                .get_organization(authed(
                    &a_full,
                    pb::GetOrganizationRequest {
                        organization_id: org_b.clone(),
                    },
                ))
                .await,
            Code::NotFound,
        );
        let own = client
            .get_organization(authed(&a_full, pb::GetOrganizationRequest::default()))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(own.organization.unwrap().id, org_b);
        let by_admin = client
            .get_organization(authed(
                &h.admin,
                pb::GetOrganizationRequest {
                    organization_id: org_b.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(by_admin.organization.unwrap().name, "beta");

        // Creations land in the caller's own organisation, never in B.
        let a_integration = client
            .create_integration(authed(&a_full, integration_request("beta seller", "")))
            .await
            .expect("same name is fine in another organization")
            .into_inner()
            .integration
            .unwrap();
        assert_ne!(a_integration.organization_id, org_b);
        h.key(&a_full, &[pb::Scope::ReadOnly]).await;
        let (new_org, _) = h.organization("gamma").await;
        assert_ne!(new_org, org_b);

        // B is exactly as it was.
        let b_now = h.get(&b_full, &b_integration.id).await;
        assert_eq!(b_now, b_integration);
        let b_keys_after = h.list_api_keys(&b_full).await;
        assert_eq!(b_keys_after, b_keys_before);
        let b_list = h.list_integrations(&b_full).await;
        assert_eq!(b_list.integrations.len(), 1);
        let events_for_b = h.outbox().await[outbox_before..]
            .iter()
            .filter(|(_, org)| *org == org_b)
            .count();
        assert_eq!(events_for_b, 0, "nothing happened in organization B");
    }
);
