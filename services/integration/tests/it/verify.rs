use souk_auth::{IntegrationRole, RoleAssumer, RoleAssumerOptions};
use souk_proto::integration as pb;
use souk_testkit::both_backends;

use crate::harness::{
    Harness, SELLER_ACCOUNT, SOUK_ACCOUNT, authed, integration_request, mask, verify_request,
};

const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/SoukVerify";

fn queue_url(name: &str) -> String {
    format!("https://sqs.us-east-1.amazonaws.com/{SELLER_ACCOUNT}/{name}")
}

/// Creates an SQS queue in the seller account through the emulator, as the integration's role.
async fn create_queue(h: &Harness, integration: &pb::Integration, name: &str) {
    let options = RoleAssumerOptions {
        endpoint_url: Some(h.emulator.url.clone()),
        ..RoleAssumerOptions::default()
    };
    let assumer = RoleAssumer::with_static_credentials("AKIDSOUKTESTSETUP", "secret", options);
    let role = IntegrationRole {
        integration_id: integration.id.clone(),
        role_arn: integration.role_arn.clone(),
        external_id: integration.external_id.clone(),
        region: integration.region.clone(),
    };
    let clients = assumer.clients(&role).await.expect("assume role for setup");
    clients
        .sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create queue");
}

/// VerifyIntegration of `integration` with `secret`, without an idempotency key: the report and
/// the integration as it stands afterwards.
async fn verify(
    h: &Harness,
    secret: &str,
    integration: &pb::Integration,
) -> (pb::VerificationReport, pb::Integration) {
    let response = h
        .client()
        .verify_integration(authed(secret, verify_request(&integration.id)))
        .await
        .unwrap()
        .into_inner();
    (response.report.unwrap(), response.integration.unwrap())
}

fn status_of(report: &pb::VerificationReport, action: &str) -> pb::CheckStatus {
    let check = report
        .checks
        .iter()
        .find(|c| c.action == action)
        .unwrap_or_else(|| panic!("no check for {action}"));
    pb::CheckStatus::try_from(check.status).unwrap()
}

both_backends!(
    verification_reports_allowed_and_denied_permissions,
    |db: TestDb| async move {
        let h = Harness::start(db).await;
        let mut client = h.client();
        let a = h.admin.clone();
        let emu = h.emulator.emulator.clone();

        let mut request = integration_request("verified", ROLE_ARN);
        request.notifications = Some(pb::NotificationConfig {
            sqs_queue_urls: vec![queue_url("souk-notifications")],
            sns_https: false,
            eventbridge: true,
        });
        let integration = h.create(&a, request).await;
        emu.world().sts.put_role(
            ROLE_ARN,
            vec![SOUK_ACCOUNT.into()],
            Some(integration.external_id.clone()),
            3600,
        );
        create_queue(&h, &integration, "souk-notifications").await;

        // Everything allowed.
        let keyed = pb::VerifyIntegrationRequest {
            integration_id: integration.id.clone(),
            idempotency_key: "v1".into(),
        };
        let response = client
            .verify_integration(authed(&a, keyed.clone()))
            .await
            .unwrap()
            .into_inner();
        let report = response.report.unwrap();
        assert!(report.role_assumed, "{report:?}");
        assert_eq!(report.checks.len(), 5, "{report:?}");
        assert!(
            report
                .checks
                .iter()
                .all(|c| c.status == pb::CheckStatus::Ok as i32 && c.detail.is_empty()),
            "{report:?}"
        );
        let verified = response.integration.unwrap();
        assert_eq!(verified.state, pb::IntegrationState::Verified as i32);
        assert_eq!(verified.last_verification.as_ref(), Some(&report));
        let replay = client
            .verify_integration(authed(&a, keyed))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(replay.report.as_ref(), Some(&report), "idempotent replay");

        // Two actions denied by the role's policy.
        {
            let mut world = emu.world();
            let role = world.sts.roles.get_mut(ROLE_ARN).unwrap();
            role.denied_actions
                .insert("aws-marketplace:GetEntitlements".into());
            role.denied_actions.insert("sqs:GetQueueAttributes".into());
        }
        let (report, after) = verify(&h, &a, &integration).await;
        assert!(report.role_assumed);
        for (action, expected) in [
            ("aws-marketplace:GetEntitlements", pb::CheckStatus::Denied),
            ("sqs:GetQueueAttributes", pb::CheckStatus::Denied),
            ("aws-marketplace:ResolveCustomer", pb::CheckStatus::Ok),
            ("aws-marketplace:ListEntities", pb::CheckStatus::Ok),
            ("aws-marketplace:SearchAgreements", pb::CheckStatus::Ok),
        ] {
            assert_eq!(status_of(&report, action), expected, "{action}");
        }
        let denied = report
            .checks
            .iter()
            .find(|c| c.action == "aws-marketplace:GetEntitlements")
            .unwrap();
        assert!(denied.detail.contains("AccessDenied"), "{denied:?}");
        assert!(
            denied.remedy.contains("aws-marketplace:GetEntitlements"),
            "{denied:?}"
        );
        assert!(denied.remedy.contains("onboarding template"), "{denied:?}");
        assert_eq!(after.state, pb::IntegrationState::VerificationFailed as i32);

        // A queue that does not exist.
        emu.world()
            .sts
            .roles
            .get_mut(ROLE_ARN)
            .unwrap()
            .denied_actions
            .clear();
        client
            .update_integration(authed(
                &a,
                pb::UpdateIntegrationRequest {
                    integration_id: integration.id.clone(),
                    notifications: Some(pb::NotificationConfig {
                        sqs_queue_urls: vec![queue_url("missing")],
                        ..Default::default()
                    }),
                    update_mask: mask(&["notifications"]),
                    ..Default::default()
                },
            ))
            .await
            .unwrap();
        let (report, _) = verify(&h, &a, &integration).await;
        assert_eq!(
            status_of(&report, "sqs:GetQueueAttributes"),
            pb::CheckStatus::Denied
        );

        // The trust policy wants another external id: the role cannot be assumed.
        emu.world().sts.put_role(
            ROLE_ARN,
            vec![SOUK_ACCOUNT.into()],
            Some("souk-someone-elses-external-id".into()),
            3600,
        );
        let (report, after) = verify(&h, &a, &integration).await;
        assert!(!report.role_assumed);
        assert!(
            report
                .role_error
                .contains("is not authorized to perform: sts:AssumeRole"),
            "{}",
            report.role_error
        );
        assert!(report.checks.is_empty());
        assert_eq!(after.state, pb::IntegrationState::VerificationFailed as i32);

        assert_eq!(
            h.events_of("integration.verified").await,
            4,
            "one event per verification, none for the replay"
        );
    }
);
