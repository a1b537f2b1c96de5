use prost::Message;
use souk_proto::events::Event;
use souk_proto::events::event::Payload;
use souk_proto::integration as pb;
use souk_testkit::both_backends;
use tonic::Code;

use crate::harness::{
    Harness, authed, delete_request, expect_code, get_request, integration_request, mask,
    rename_request, verify_request,
};

both_backends!(
    integrations_are_created_changed_listed_and_deleted_with_events,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let mut client = h.client();
        let a = h.admin.clone();

        let created = h
            .integration(&a, "acme prod", "arn:aws:iam::111122223333:role/Souk")
            .await;
        assert!(created.id.starts_with("int_"));
        assert_eq!(created.aws_account_id, "111122223333");
        assert_eq!(
            created.state,
            pb::IntegrationState::PendingVerification as i32
        );
        assert!(created.external_id.len() >= 32);
        assert!(
            created
                .external_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
        );

        let second = h.integration(&a, "acme staging", "").await;
        assert_ne!(
            second.external_id, created.external_id,
            "external ids are unique per integration"
        );
        assert_eq!(second.region, "us-east-1");
        assert_eq!(second.aws_account_id, "");

        // Names are unique within the organisation.
        let status = expect_code(
            client
                .create_integration(authed(&a, integration_request("acme prod", "")))
                .await,
            Code::AlreadyExists,
        );
        assert!(
            status.message().contains("acme prod"),
            "{}",
            status.message()
        );

        // Paging, oldest first.
        let page1 = client
            .list_integrations(authed(
                &a,
                pb::ListIntegrationsRequest {
                    page_size: 1,
                    page_token: String::new(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page1.integrations[0].id, created.id);
        assert!(!page1.next_page_token.is_empty());
        let page2 = client
            .list_integrations(authed(
                &a,
                pb::ListIntegrationsRequest {
                    page_size: 1,
                    page_token: page1.next_page_token,
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(page2.integrations[0].id, second.id);
        assert!(page2.next_page_token.is_empty());

        // Update: only masked fields change; a new role needs verification again.
        let updated = client
            .update_integration(authed(
                &a,
                pb::UpdateIntegrationRequest {
                    integration_id: second.id.clone(),
                    name: "ignored".into(),
                    role_arn: "arn:aws:iam::444455556666:role/Souk".into(),
                    data_feed_bucket: "acme-data-feeds".into(),
                    update_mask: mask(&["role_arn", "data_feed_bucket"]),
                    ..Default::default()
                },
            ))
            .await
            .unwrap()
            .into_inner()
            .integration
            .unwrap();
        assert_eq!(updated.name, "acme staging");
        assert_eq!(updated.aws_account_id, "444455556666");
        assert_eq!(updated.data_feed_bucket, "acme-data-feeds");
        assert_eq!(
            updated.external_id, second.external_id,
            "the external id never changes"
        );

        // Renaming onto an existing name is refused.
        expect_code(
            client
                .update_integration(authed(&a, rename_request(&second.id, "acme prod")))
                .await,
            Code::AlreadyExists,
        );

        // Verifying without a role is a precondition failure.
        let no_role = h.integration(&a, "no role", "").await;
        expect_code(
            client
                .verify_integration(authed(&a, verify_request(&no_role.id)))
                .await,
            Code::FailedPrecondition,
        );

        client
            .delete_integration(authed(&a, delete_request(&second.id)))
            .await
            .unwrap();
        expect_code(
            client
                .get_integration(authed(&a, get_request(&second.id)))
                .await,
            Code::NotFound,
        );

        // Every change wrote its event, with the organisation, integration and payload.
        let entries = souk_store::outbox::read_all_after(h.store.pool(), 0, 1000)
            .await
            .unwrap();
        let events: Vec<Event> = entries
            .iter()
            .map(|e| Event::decode(e.payload.as_slice()).unwrap())
            .collect();
        let for_second: Vec<&str> = events
            .iter()
            .filter(|e| e.integration_id == second.id)
            .map(|e| e.r#type.as_str())
            .collect();
        assert_eq!(
            for_second,
            [
                "integration.created",
                "integration.updated",
                "integration.deleted"
            ]
        );
        let update_event = events
            .iter()
            .find(|e| e.r#type == "integration.updated")
            .unwrap();
        match &update_event.payload {
            Some(Payload::IntegrationUpdated(u)) => {
                assert_eq!(
                    u.update_mask.as_ref().unwrap().paths,
                    ["role_arn", "data_feed_bucket"]
                );
                assert_eq!(
                    u.integration.as_ref().unwrap().aws_account_id,
                    "444455556666"
                );
            }
            other => panic!("unexpected payload {other:?}"),
        }
        let subject = &entries
            .iter()
            .find(|e| e.event_type == "integration.updated")
            .unwrap()
            .subject;
        assert_eq!(
            subject,
            &format!("souk.{}.integration.updated", created.organization_id)
        );
    }
);
