use std::sync::Arc;
use std::time::Duration;

use souk_auth::{
    AwsClients, AwsError, IntegrationRole, RoleAssumer, RoleAssumerOptions, classify_sdk_error,
};
use souk_core::ManualClock;
use souk_emulator::{EmulatorConfig, RunningEmulator};

const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/SoukMarketplaceAccess";
const EXTERNAL_ID: &str = "souk-test-external-id-0123456789abcdef";

async fn emulator(sts_default_duration: Duration) -> RunningEmulator {
    let config = EmulatorConfig {
        sts_default_duration,
        ..EmulatorConfig::default()
    };
    let running = souk_emulator::spawn(config).await.expect("emulator starts");
    let caller_account = running.emulator.config().caller_account_id.clone();
    running.emulator.world().sts.put_role(
        ROLE_ARN,
        vec![caller_account],
        Some(EXTERNAL_ID.into()),
        3600,
    );
    running
}

fn assumer(url: &str, clock: Option<ManualClock>) -> RoleAssumer {
    let mut options = RoleAssumerOptions {
        endpoint_url: Some(url.to_owned()),
        ..RoleAssumerOptions::default()
    };
    if let Some(clock) = clock {
        options.clock = Arc::new(clock);
    }
    RoleAssumer::with_static_credentials("AKIDSOUKTESTBASE", "base-secret", options)
}

fn role(external_id: &str) -> IntegrationRole {
    IntegrationRole {
        integration_id: "int_0192f0c0d0e0f0a0b0c0d0e0f0a0b0c0".into(),
        role_arn: ROLE_ARN.into(),
        external_id: external_id.into(),
        region: "us-east-1".into(),
    }
}

/// ResolveCustomer with a registration token the emulator rejects, through `clients`: the call
/// always fails, and the tests look at how.
async fn resolve_bad_token(clients: &AwsClients) -> AwsError {
    let err = clients
        .metering
        .resolve_customer()
        .registration_token("garbage")
        .send()
        .await
        .unwrap_err();
    classify_sdk_error(&err)
}

/// The code and message of an `AccessDenied` error.
#[track_caller]
fn access_denied(error: AwsError) -> (String, String) {
    match error {
        AwsError::AccessDenied { code, message } => (code, message),
        other => panic!("expected AccessDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn role_assumption_needs_the_right_external_id() {
    let emu = emulator(Duration::from_secs(3600)).await;
    let assumer = assumer(&emu.url, None);

    let credentials = assumer
        .credentials(&role(EXTERNAL_ID))
        .await
        .expect("right external id is accepted");
    assert!(credentials.access_key_id().starts_with("ASIA"));
    assert!(credentials.session_token().is_some());

    let error = assumer
        .credentials(&role("souk-wrong-external-id-000000000000"))
        .await
        .unwrap_err();
    let (code, message) = access_denied(error);
    assert_eq!(code, "AccessDenied");
    assert!(
        message.contains("is not authorized to perform: sts:AssumeRole"),
        "{message}"
    );
    assert!(message.contains(ROLE_ARN), "{message}");

    let unknown = IntegrationRole {
        role_arn: "arn:aws:iam::111122223333:role/Nope".into(),
        ..role(EXTERNAL_ID)
    };
    assert!(matches!(
        assumer.credentials(&unknown).await,
        Err(AwsError::AccessDenied { .. })
    ));
}

#[tokio::test]
async fn credentials_are_cached_and_refreshed_before_expiry() {
    let emu = emulator(Duration::from_secs(120)).await;
    let clock = ManualClock::new(time::OffsetDateTime::now_utc());
    let assumer = assumer(&emu.url, Some(clock.clone()));
    let role = role(EXTERNAL_ID);

    let first = assumer.credentials(&role).await.unwrap();
    let again = assumer.credentials(&role).await.unwrap();
    assert_eq!(
        first.access_key_id(),
        again.access_key_id(),
        "cached while fresh"
    );

    // 120 s session: refreshed 12 s (10 %) before expiry, well before it ends.
    clock.advance(time::Duration::seconds(100));
    let still = assumer.credentials(&role).await.unwrap();
    assert_eq!(first.access_key_id(), still.access_key_id());
    clock.advance(time::Duration::seconds(10));
    let refreshed = assumer.credentials(&role).await.unwrap();
    assert_ne!(
        first.access_key_id(),
        refreshed.access_key_id(),
        "refreshed inside the margin"
    );

    // Clients keep working across the refresh: they ask the assumer for every call.
    let clients = assumer.clients(&role).await.unwrap();
    assert_eq!(
        resolve_bad_token(&clients).await.code(),
        Some("InvalidTokenException")
    );
}

#[tokio::test]
async fn denied_actions_surface_as_access_denied_with_the_aws_message() {
    let emu = emulator(Duration::from_secs(3600)).await;
    let assumer = assumer(&emu.url, None);
    let role = role(EXTERNAL_ID);
    let clients = assumer.clients(&role).await.unwrap();

    assert!(matches!(
        resolve_bad_token(&clients).await,
        AwsError::Other { .. }
    ));

    emu.emulator
        .world()
        .sts
        .roles
        .get_mut(ROLE_ARN)
        .unwrap()
        .denied_actions
        .insert("aws-marketplace:ResolveCustomer".into());
    let (_, message) = access_denied(resolve_bad_token(&clients).await);
    assert!(message.contains("ResolveCustomer"), "{message}");
}

#[tokio::test]
async fn an_unreachable_sts_is_reported_as_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let options = RoleAssumerOptions {
        endpoint_url: Some(url),
        max_attempts: 1,
        operation_timeout: Duration::from_secs(2),
        ..RoleAssumerOptions::default()
    };
    let assumer = RoleAssumer::with_static_credentials("AKID", "secret", options);
    assert!(matches!(
        assumer.credentials(&role(EXTERNAL_ID)).await,
        Err(AwsError::Unreachable { .. })
    ));
}
