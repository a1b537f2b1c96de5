//! STS AssumeRole / GetCallerIdentity, role trust and ExternalId, per-role denials.

use aws_sdk_sts::error::ProvideErrorMetadata as _;
use serde_json::json;

use crate::service_error;
use crate::support::*;

const ROLE: &str = "arn:aws:iam::111122223333:role/SoukIntegration";

async fn with_role() -> Env {
    let env = env().await;
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/sts/roles",
        json!({
            "role_arn": ROLE, "trusted_account": "123456789012", "external_id": "souk-ext-1",
            "max_session_duration_seconds": 7200
        }),
    )
    .await;
    env
}

#[tokio::test]
async fn assume_role_issues_credentials_for_the_role() {
    let env = with_role().await;
    let out = env
        .sts
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("souk")
        .external_id("souk-ext-1")
        .duration_seconds(1800)
        .send()
        .await;
    let Ok(out) = out else { panic!("{out:?}") };
    let Some(credentials) = out.credentials() else {
        panic!("no credentials")
    };
    assert!(credentials.access_key_id().starts_with("ASIA"));
    let lifetime = credentials.expiration().secs() - now(&env);
    assert!((1795..=1800).contains(&lifetime), "{lifetime}");
    assert_eq!(
        out.assumed_role_user().map(|u| u.arn()),
        Some("arn:aws:sts::111122223333:assumed-role/SoukIntegration/souk")
    );

    let assumed = session_credentials(credentials);
    let who = sts_client(&env.emu.url, assumed)
        .get_caller_identity()
        .send()
        .await;
    let Ok(who) = who else { panic!("{who:?}") };
    assert_eq!(who.account(), Some("111122223333"));
    assert_eq!(
        who.arn(),
        Some("arn:aws:sts::111122223333:assumed-role/SoukIntegration/souk")
    );

    let base = env.sts.get_caller_identity().send().await;
    let Ok(base) = base else { panic!("{base:?}") };
    assert_eq!(base.account(), Some("123456789012"));
}

#[tokio::test]
async fn trust_and_external_id_are_enforced_with_access_denied() {
    let env = with_role().await;
    let expected = format!(
        "User: arn:aws:iam::123456789012:user/souk-emulator is not authorized to perform: sts:AssumeRole on resource: {ROLE}"
    );
    for external_id in [None, Some("wrong-id")] {
        let err = service_error!(
            env.sts
                .assume_role()
                .role_arn(ROLE)
                .role_session_name("s1")
                .set_external_id(external_id.map(str::to_owned))
                .send()
                .await,
            403
        );
        assert_eq!(err.code(), Some("AccessDenied"));
        assert_eq!(err.message(), Some(expected.as_str()));
    }
    let err = service_error!(
        env.sts
            .assume_role()
            .role_arn("arn:aws:iam::111122223333:role/Unknown")
            .role_session_name("s1")
            .send()
            .await,
        403
    );
    assert_eq!(err.code(), Some("AccessDenied"));

    // A caller from an untrusted account.
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/sts/access-keys",
        json!({"access_key_id": "AKIDOTHER", "account_id": "999999999999"}),
    )
    .await;
    let other = sts_client(&env.emu.url, creds("AKIDOTHER"));
    let err = service_error!(
        other
            .assume_role()
            .role_arn(ROLE)
            .role_session_name("s1")
            .external_id("souk-ext-1")
            .send()
            .await,
        403
    );
    assert_eq!(err.code(), Some("AccessDenied"));
}

#[tokio::test]
async fn duration_limits_are_validation_errors() {
    let env = with_role().await;
    let call = |seconds: i32| {
        env.sts
            .assume_role()
            .role_arn(ROLE)
            .role_session_name("s1")
            .external_id("souk-ext-1")
            .duration_seconds(seconds)
            .send()
    };
    for seconds in [899, 7201, 43201] {
        let err = service_error!(call(seconds).await, 400);
        assert_eq!(err.code(), Some("ValidationError"), "{seconds}");
    }
    let err = service_error!(
        env.sts
            .assume_role()
            .role_arn(ROLE)
            .role_session_name("x")
            .send()
            .await,
        400
    );
    assert_eq!(err.code(), Some("ValidationError"));
    fault_once(&env.emu.url, "AssumeRole", "throttle").await;
    let err = service_error!(call(900).await, 400);
    assert_eq!(err.code(), Some("Throttling"));
}

#[tokio::test]
async fn denied_actions_answer_access_denied_in_the_service_protocol() {
    let env = with_role().await;
    seed(&env.emu.url).await;
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/sts/roles/deny",
        json!({"role_arn": ROLE, "actions": ["aws-marketplace:BatchMeterUsage"]}),
    )
    .await;
    let out = env
        .sts
        .assume_role()
        .role_arn(ROLE)
        .role_session_name("verify")
        .external_id("souk-ext-1")
        .send()
        .await;
    let Ok(out) = out else { panic!("{out:?}") };
    let Some(c) = out.credentials() else {
        panic!("no credentials")
    };
    let assumed = session_credentials(c);
    let metering = metering_client(&env.emu.url, assumed);
    let record = aws_sdk_marketplacemetering::types::UsageRecord::builder()
        .customer_aws_account_id(BUYER)
        .dimension("users")
        .timestamp(aws_smithy_types::DateTime::from_secs(now(&env)))
        .build();
    let Ok(record) = record else {
        panic!("builder")
    };
    let err = service_error!(
        metering
            .batch_meter_usage()
            .product_code(PRODUCT)
            .usage_records(record)
            .send()
            .await,
        400
    );
    use aws_sdk_marketplacemetering::error::ProvideErrorMetadata as _;
    assert_eq!(err.code(), Some("AccessDeniedException"));
    assert!(
        err.message()
            .is_some_and(|m| m.contains("assumed-role/SoukIntegration/verify")
                && m.contains("aws-marketplace:BatchMeterUsage"))
    );

    // Other actions still work for that role.
    let resolve = metering
        .resolve_customer()
        .registration_token("x")
        .send()
        .await;
    let err = service_error!(resolve, 400);
    assert!(matches!(err, aws_sdk_marketplacemetering::operation::resolve_customer::ResolveCustomerError::InvalidTokenException(_)));
}

#[tokio::test]
async fn short_default_sessions_are_refreshed_by_the_sdk_provider() {
    let config = souk_emulator::EmulatorConfig {
        sts_default_duration: std::time::Duration::from_secs(11),
        ..souk_emulator::EmulatorConfig::default()
    };
    let env = env_with(config).await;
    control_ok(
        &env.emu.url,
        "POST",
        "/_souk/sts/roles",
        json!({"role_arn": ROLE, "external_id": "souk-ext-1"}),
    )
    .await;
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(&env.emu.url)
        .credentials_provider(creds("AKIDTEST"))
        .load()
        .await;
    let provider = aws_config::sts::AssumeRoleProvider::builder(ROLE)
        .external_id("souk-ext-1")
        .session_name("refresh")
        .configure(&base)
        .build()
        .await;
    let client = metering_client(&env.emu.url, provider);
    // 11 s sessions: the SDK's cache (10 s buffer, up to 5 s jitter) must refresh within 7 s.
    for pause in [7, 0] {
        let result = client
            .resolve_customer()
            .registration_token("x")
            .send()
            .await;
        assert!(result.is_err_and(|e| e.into_service_error().is_invalid_token_exception()));
        tokio::time::sleep(std::time::Duration::from_secs(pause)).await;
    }
    let sessions = env.emu.emulator.world().sts.sessions.len();
    assert!(
        sessions >= 2,
        "credentials were refreshed: {sessions} sessions"
    );
}
