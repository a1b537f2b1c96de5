//! The SNS HTTPS endpoint, `POST /aws/sns/{integration_id}`, and the checks every SNS envelope
//! passes wherever it arrives (also from SQS): a genuine SNS signature, a topic the integration
//! accepts, and, for this endpoint, a recent `Timestamp`. A `SubscriptionConfirmation` is
//! confirmed by visiting its `SubscribeURL`, only on a host certificates may come from.
//!
//! Answers: 200 when handled (or parked as never applicable, so SNS stops retrying), 4xx when
//! refused (parked), 503 when it may work later (SNS retries).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use http::StatusCode;
use time::OffsetDateTime;

use super::endpoint::{self, reply};
use super::park::{self, Applied, Origin, Refused, Route};
use crate::app::HttpContext;
use crate::domain::model::FulfilmentSettings;
use crate::domain::ports::IntegrationInfo;
use crate::notifications::{
    CertificateFetcher as _, CertificatePolicy, HttpCertificateFetcher, Inbound, SnsEnvelope,
    SubscriptionConfirmation, VerifyError, envelope_inbound, parse_sns_envelope,
};

/// Where AWS Marketplace's SNS topics live: `us-east-1`, in AWS's topic-owner account.
const MARKETPLACE_TOPIC_PREFIX: &str = "arn:aws:sns:us-east-1:287250355862:";

/// How far ahead of Souk's clock a `Timestamp` may be (clock skew).
const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// The routes under `/aws/sns/{integration_id}`.
pub fn routes() -> Router<HttpContext> {
    Router::new().route("/aws/sns/{integration_id}", post(receive))
}

async fn receive(
    State(context): State<HttpContext>,
    Path(raw_id): Path<String>,
    body: Body,
) -> Response {
    let (integration, settings) =
        match endpoint::integration(&context, Route::Sns.label(), &raw_id).await {
            Ok(found) => found,
            Err(response) => return response,
        };
    let body = match endpoint::read_body(body).await {
        Ok(body) => body,
        Err(refused) => {
            let origin = Origin::new(Route::Sns, &integration, &[]);
            return endpoint::refuse(&context, &origin, refused).await;
        }
    };
    let mut origin = Origin::new(Route::Sns, &integration, &body);
    let envelope = match parse_sns_envelope(&body) {
        Ok(envelope) => envelope,
        Err(error) => {
            let refused = Refused::new(StatusCode::BAD_REQUEST, "malformed", error.to_string());
            return endpoint::refuse(&context, &origin, refused).await;
        }
    };
    if let Err(refused) = authenticate(&context, &integration, &settings, &envelope).await {
        return endpoint::refuse(&context, &origin, refused).await;
    }
    origin.event_id = Some(envelope.message_id());
    // The Timestamp is signed, so only now does its age mean anything.
    let now = context.entitlements.now();
    if let Err(refused) = check_age(now, context.config.sns_max_age, envelope.timestamp()) {
        return endpoint::refuse(&context, &origin, refused).await;
    }
    match envelope_inbound(&envelope) {
        Err(error) => {
            let refused = Refused::new(StatusCode::BAD_REQUEST, "malformed", error.to_string());
            endpoint::refuse(&context, &origin, refused).await
        }
        Ok(Inbound::Confirmation(confirmation)) => match confirm(&context, &confirmation).await {
            Ok(()) => reply(StatusCode::OK, "subscription confirmed"),
            Err(refused) => endpoint::refuse(&context, &origin, refused).await,
        },
        Ok(Inbound::Notice(notice)) => match park::apply(&context, &origin, &notice).await {
            Applied::Done => reply(StatusCode::OK, "ok"),
            Applied::Parked => reply(StatusCode::OK, "parked: the notice cannot be applied"),
            Applied::Retry => endpoint::temporarily_unavailable(),
        },
        Ok(Inbound::Ignored { reason }) => {
            tracing::debug!(integration_id = %integration.id, %reason, "SNS message ignored");
            reply(StatusCode::OK, "ignored")
        }
    }
}

/// Whether `envelope` was signed by SNS (or the allowed emulator) on a topic `integration`
/// accepts. A certificate that cannot be fetched now is a temporary (503) refusal.
pub(crate) async fn authenticate(
    context: &HttpContext,
    integration: &IntegrationInfo,
    settings: &FulfilmentSettings,
    envelope: &SnsEnvelope,
) -> Result<(), Refused> {
    context
        .verifier
        .verify(envelope)
        .await
        .map_err(verify_refusal)?;
    if !accepts_topic(integration, settings, envelope.topic_arn()) {
        let topic: String = envelope.topic_arn().chars().take(200).collect();
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            "unknown_topic",
            format!("topic {topic} is not accepted for this integration"),
        ));
    }
    Ok(())
}

fn verify_refusal(error: VerifyError) -> Refused {
    let (status, class) = match &error {
        VerifyError::UnsupportedSignatureVersion(_) => {
            (StatusCode::BAD_REQUEST, "unsupported_signature_version")
        }
        VerifyError::CertificateUrlNotAllowed(_) => (StatusCode::FORBIDDEN, "certificate_url"),
        VerifyError::BadCertificate(_) => (StatusCode::FORBIDDEN, "bad_certificate"),
        VerifyError::BadSignature => (StatusCode::FORBIDDEN, "bad_signature"),
        VerifyError::CertificateUnavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "certificate_unavailable")
        }
    };
    Refused::new(status, class, error.to_string())
}

/// The topics of `settings`, or when it names none, the Marketplace topics of the integration's
/// products.
pub(crate) fn accepts_topic(
    integration: &IntegrationInfo,
    settings: &FulfilmentSettings,
    topic_arn: &str,
) -> bool {
    if !settings.sns_topic_arns.is_empty() {
        return settings.sns_topic_arns.iter().any(|t| t == topic_arn);
    }
    let Some(name) = topic_arn.strip_prefix(MARKETPLACE_TOPIC_PREFIX) else {
        return false;
    };
    let Some(code) = name
        .strip_prefix("aws-mp-subscription-notification-")
        .or_else(|| name.strip_prefix("aws-mp-entitlement-notification-"))
    else {
        return false;
    };
    integration.product(code).is_some()
}

/// Refuses a replay (older than `sns_max_age`) or a `Timestamp` too far ahead of Souk's clock.
/// Only for the endpoint: a queue legitimately holds messages for days while Souk is down.
fn check_age(
    now: OffsetDateTime,
    max_age: std::time::Duration,
    sent_at: OffsetDateTime,
) -> Result<(), Refused> {
    let age = now - sent_at;
    if age > max_age {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "stale",
            "stale message: Timestamp is older than sns_max_age",
        ));
    }
    if -age > MAX_CLOCK_SKEW {
        return Err(Refused::new(
            StatusCode::BAD_REQUEST,
            "future",
            "Timestamp is more than 5 minutes in the future",
        ));
    }
    Ok(())
}

/// Confirms an SNS subscription by fetching its `SubscribeURL` (5 s, no redirects), only if the
/// URL is on a host certificates may come from: the URL is the sender's, and fetching anything
/// else would let a forged confirmation make Souk call a host of its choosing.
pub(crate) async fn confirm(
    context: &HttpContext,
    confirmation: &SubscriptionConfirmation,
) -> Result<(), Refused> {
    if !subscribe_url_allowed(context.verifier.policy(), &confirmation.subscribe_url) {
        return Err(Refused::new(
            StatusCode::FORBIDDEN,
            "subscribe_url",
            "SubscribeURL is not on an SNS host",
        ));
    }
    // The certificate fetcher does exactly the GET a confirmation needs; confirmations are rare,
    // so a client per confirmation is cheap enough.
    let fetched = match HttpCertificateFetcher::new() {
        Ok(fetcher) => fetcher.fetch(&confirmation.subscribe_url).await,
        Err(error) => Err(error),
    };
    match fetched {
        Ok(_) => {
            tracing::info!(topic_arn = %confirmation.topic_arn, "SNS subscription confirmed");
            Ok(())
        }
        Err(error) => Err(Refused::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "confirmation_failed",
            format!("confirming the subscription failed: {error}"),
        )),
    }
}

/// Whether `url` is on a host the certificate policy fetches from: everything before the query
/// must pass [`CertificatePolicy::allows`] as the directory of a certificate, so the two checks
/// can never disagree about hosts.
fn subscribe_url_allowed(policy: &CertificatePolicy, url: &str) -> bool {
    let (base, _query) = url.split_once('?').unwrap_or((url, ""));
    let probe = if base.ends_with('/') {
        format!("{base}souk-probe.pem")
    } else {
        format!("{base}/souk-probe.pem")
    };
    if !policy.allows(&probe) {
        return false;
    }
    // What the HTTP client will connect to must be the authority just checked.
    let Some(authority) = base
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
    else {
        return false;
    };
    url.parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.authority().map(|a| a.as_str() == authority))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use souk_core::Id;

    use super::*;
    use crate::domain::ports::{IntegrationProduct, Licensing};

    fn integration() -> IntegrationInfo {
        IntegrationInfo {
            id: Id::from_trusted("int_0".into()),
            organization_id: Id::from_trusted("org_0".into()),
            role_arn: String::new(),
            external_id: String::new(),
            region: "us-east-1".into(),
            products: vec![IntegrationProduct {
                product_code: "prod1".into(),
                product_id: None,
                licensing: Licensing::ProductCode,
            }],
            sqs_queue_urls: Vec::new(),
        }
    }

    fn settings(topics: &[&str]) -> FulfilmentSettings {
        let mut settings = FulfilmentSettings::defaults(
            Id::from_trusted("org_0".into()),
            Id::from_trusted("int_0".into()),
        );
        settings.sns_topic_arns = topics.iter().map(|t| (*t).to_owned()).collect();
        settings
    }

    #[test]
    fn the_products_marketplace_topics_are_accepted_by_default() {
        let accepts = |arn: &str| accepts_topic(&integration(), &settings(&[]), arn);
        assert!(accepts(
            "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-prod1"
        ));
        assert!(accepts(
            "arn:aws:sns:us-east-1:287250355862:aws-mp-entitlement-notification-prod1"
        ));
        assert!(!accepts(
            "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-prod2"
        ));
        assert!(!accepts(
            "arn:aws:sns:us-east-1:111122223333:aws-mp-subscription-notification-prod1"
        ));
        assert!(!accepts(
            "arn:aws:sns:eu-west-1:287250355862:aws-mp-subscription-notification-prod1"
        ));
        assert!(!accepts("arn:aws:sns:us-east-1:287250355862:prod1"));
    }

    #[test]
    fn configured_topics_replace_the_defaults() {
        let own = "arn:aws:sns:us-east-1:111122223333:mine";
        let configured = settings(&[own]);
        assert!(accepts_topic(&integration(), &configured, own));
        assert!(!accepts_topic(
            &integration(),
            &configured,
            "arn:aws:sns:us-east-1:287250355862:aws-mp-subscription-notification-prod1"
        ));
    }

    #[test]
    fn messages_must_be_recent_and_not_from_the_future() {
        let now = time::macros::datetime!(2026-11-02 08:15:30 UTC);
        let hour = std::time::Duration::from_secs(3600);
        let class = |sent_at| check_age(now, hour, sent_at).map_err(|r| (r.status, r.class));
        assert_eq!(class(now), Ok(()));
        assert_eq!(class(now - time::Duration::hours(1)), Ok(()));
        assert_eq!(class(now + time::Duration::minutes(5)), Ok(()));
        assert_eq!(
            class(now - time::Duration::hours(1) - time::Duration::milliseconds(1)),
            Err((StatusCode::BAD_REQUEST, "stale"))
        );
        assert_eq!(
            class(now + time::Duration::minutes(5) + time::Duration::milliseconds(1)),
            Err((StatusCode::BAD_REQUEST, "future"))
        );
    }

    #[test]
    fn subscribe_urls_must_be_on_a_certificate_host() {
        let aws = CertificatePolicy::aws();
        let emulator = CertificatePolicy::aws()
            .with_extra_prefix("http://127.0.0.1:4566/_souk/sns/")
            .expect("prefix");
        let arn = "arn%3Aaws%3Asns%3Aus-east-1%3A287250355862%3Aaws-mp-subscription-notification-p";
        let aws_url = format!(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={arn}&Token=abc"
        );
        assert!(subscribe_url_allowed(&aws, &aws_url));
        assert!(subscribe_url_allowed(&emulator, &aws_url));
        let emulator_url = format!(
            "http://127.0.0.1:4566/_souk/sns/confirm?Action=ConfirmSubscription&TopicArn={arn}&Token=abc"
        );
        assert!(subscribe_url_allowed(&emulator, &emulator_url));
        assert!(!subscribe_url_allowed(&aws, &emulator_url));
        for refused in [
            "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-east-1.amazonaws.com.evil.test/?Action=ConfirmSubscription",
            "https://evil.test/?x=https://sns.us-east-1.amazonaws.com/",
            "https://sns.us-east-1.amazonaws.com@evil.test/?Action=ConfirmSubscription",
            "https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription",
            "https://sns.us-east-1.amazonaws.com/../x?Action=ConfirmSubscription",
            "http://127.0.0.1:4567/_souk/sns/confirm?Token=abc",
            "http://127.0.0.1:4566/other/confirm?Token=abc",
            "",
        ] {
            assert!(!subscribe_url_allowed(&emulator, refused), "{refused}");
        }
    }
}
