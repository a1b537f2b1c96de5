//! A role of one AWS partition cannot be used from a region of another: refused on create and on
//! the merged result of an update, with nothing written.

use souk_testkit::both_backends;

use crate::harness::{Harness, authed, fields, integration_request, mask};
use souk_proto::integration as pb;

both_backends!(
    roles_must_live_in_the_partition_of_the_region,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let a = h.admin.clone();
        let mut client = h.client();
        let outbox_before = h.outbox().await;

        let china = integration_request("china", "arn:aws-cn:iam::123456789012:role/Souk");
        let refused = client.create_integration(authed(&a, china)).await;
        assert_eq!(fields(refused), ["role_arn"]);
        assert_eq!(h.outbox().await, outbox_before, "nothing written");

        let mut ok = integration_request("commercial", "arn:aws:iam::123456789012:role/Souk");
        ok.region = "us-east-1".into();
        let created = client
            .create_integration(authed(&a, ok))
            .await
            .unwrap()
            .into_inner()
            .integration
            .unwrap();
        // Moving the region to GovCloud while the role stays commercial.
        let update = pb::UpdateIntegrationRequest {
            integration_id: created.id.clone(),
            region: "us-gov-west-1".into(),
            update_mask: mask(&["region"]),
            ..Default::default()
        };
        let refused = client.update_integration(authed(&a, update)).await;
        assert_eq!(fields(refused), ["role_arn"]);
        assert_eq!(h.get(&a, &created.id).await.region, "us-east-1");
    }
);
