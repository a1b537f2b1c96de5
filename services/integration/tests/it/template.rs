//! Every combination of the onboarding template passes `cfn-lint`.

use std::process::Command;

use souk_proto::integration as pb;
use souk_testkit::TestDb;

use crate::harness::{Harness, authed, integration_request};

fn cfn_lint_available() -> Result<(), String> {
    match Command::new("cfn-lint").arg("--version").output() {
        Ok(output) if output.status.success() => Ok(()),
        Ok(output) => Err(format!(
            "cfn-lint --version failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )),
        Err(err) => Err(format!(
            "cfn-lint is not installed ({err}); install it with `pip install cfn-lint` (the test script does this)"
        )),
    }
}

fn lint(name: &str, body: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.yaml"));
    std::fs::write(&path, body).unwrap();
    let output = Command::new("cfn-lint")
        .arg("--")
        .arg(&path)
        .output()
        .expect("run cfn-lint");
    assert!(
        output.status.success(),
        "cfn-lint rejected the {name} template:\n{}{}\n--- template ---\n{body}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn every_onboarding_template_passes_cfn_lint() {
    if let Err(message) = cfn_lint_available() {
        panic!("{message}");
    }
    let h = Harness::start(TestDb::sqlite().unwrap()).await;
    let mut client = h.client();
    let a = h.admin.clone();

    let mut variants = Vec::new();
    let mut sns = integration_request("sns", "arn:aws:iam::111122223333:role/Souk");
    sns.products.push(pb::Product {
        product_code: "second-product".into(),
        product_id: None,
        r#type: souk_proto::common::ProductType::Container as i32,
        licensing: souk_proto::common::LicensingModel::ProductCode as i32,
    });
    sns.data_feed_bucket = "acme-marketplace-feeds".into();
    sns.notifications = Some(pb::NotificationConfig {
        sqs_queue_urls: vec!["https://sqs.eu-west-1.amazonaws.com/111122223333/existing".into()],
        sns_https: true,
        eventbridge: false,
    });
    variants.push(sns);
    let mut eventbridge = integration_request("eventbridge", "");
    eventbridge.notifications = Some(pb::NotificationConfig {
        eventbridge: true,
        ..Default::default()
    });
    variants.push(eventbridge);
    let mut bare = integration_request("no products", "");
    bare.products.clear();
    variants.push(bare);

    for request in variants {
        let name = request.name.clone();
        let integration = h.create(&a, request).await;
        for include_notifications in [false, true] {
            for include_data_feed in [false, true] {
                let rendered = client
                    .get_onboarding_template(authed(
                        &a,
                        pb::GetOnboardingTemplateRequest {
                            integration_id: integration.id.clone(),
                            include_notifications,
                            include_data_feed,
                        },
                    ))
                    .await
                    .unwrap()
                    .into_inner();
                let body = &rendered.template_body;
                assert!(body.contains(&integration.external_id));
                assert!(body.contains("sts:ExternalId"));
                assert!(body.contains("arn:aws:iam::123456789012:root"));
                assert!(body.contains("RoleArn:"));
                assert_eq!(body.contains("QueueUrl:"), include_notifications);
                assert_eq!(body.contains("BucketName:"), include_data_feed);
                assert!(rendered.launch_hint.contains(&rendered.stack_name_hint));
                lint(
                    &format!("{name}-n{include_notifications}-d{include_data_feed}")
                        .replace(' ', "_"),
                    body,
                );
            }
        }
    }
}
