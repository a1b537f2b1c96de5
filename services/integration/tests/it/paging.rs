//! Page tokens are bound to their list, organisation and filters; page sizes follow the
//! documented 0 (default 50) or 1..=1000.

use souk_proto::integration as pb;
use souk_testkit::both_backends;

use crate::harness::{Harness, authed, fields, integration_request, key_request};

both_backends!(
    tokens_from_another_list_or_organisation_are_refused,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let (_org, a) = h.organization("paging-a").await;
        let (_org, b) = h.organization("paging-b").await;
        let mut client = h.client();
        for n in 0..3 {
            client
                .create_integration(authed(&a, integration_request(&format!("p{n}"), "")))
                .await
                .unwrap();
            client
                .create_api_key(authed(
                    &a,
                    key_request(&format!("k{n}"), &[pb::Scope::ReadOnly]),
                ))
                .await
                .unwrap();
        }
        let first = client
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
        assert_eq!(first.integrations.len(), 1);
        let token = first.next_page_token;
        assert!(!token.is_empty());

        // The same list and organisation: the next page.
        let second = client
            .list_integrations(authed(
                &a,
                pb::ListIntegrationsRequest {
                    page_size: 1,
                    page_token: token.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        assert_ne!(second.integrations[0].id, first.integrations[0].id);

        // Another list, another organisation: INVALID_ARGUMENT on page_token.
        let other_list = client
            .list_api_keys(authed(
                &a,
                pb::ListApiKeysRequest {
                    page_size: 1,
                    page_token: token.clone(),
                },
            ))
            .await;
        assert_eq!(fields(other_list), ["page_token"]);
        let other_org = client
            .list_integrations(authed(
                &b,
                pb::ListIntegrationsRequest {
                    page_size: 1,
                    page_token: token,
                },
            ))
            .await;
        assert_eq!(fields(other_org), ["page_token"]);

        // Page sizes beyond the documented 1000 are refused, not capped.
        let too_big = client
            .list_integrations(authed(
                &a,
                pb::ListIntegrationsRequest {
                    page_size: 1001,
                    page_token: String::new(),
                },
            ))
            .await;
        assert_eq!(fields(too_big), ["page_size"]);
    }
);
