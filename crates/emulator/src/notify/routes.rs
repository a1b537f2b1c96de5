//! Public SNS endpoints: the signing certificate (`SigningCertURL`), `SubscribeURL` confirmation
//! and `UnsubscribeURL`.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};

use super::Status;
use super::signing::{self, CERT_PATH};
use crate::Emulator;

/// Routes for the certificate and the SNS confirm/unsubscribe links.
pub fn router() -> Router<Emulator> {
    Router::new()
        .route(CERT_PATH, get(certificate))
        .route("/_souk/sns/confirm", get(confirm))
        .route("/_souk/sns/unsubscribe", get(unsubscribe))
}

async fn certificate() -> Response {
    match signing::signer().await {
        Ok(signer) => (
            [(header::CONTENT_TYPE, "application/x-pem-file")],
            signer.cert_pem().to_owned(),
        )
            .into_response(),
        Err(error) => (StatusCode::SERVICE_UNAVAILABLE, error).into_response(),
    }
}

async fn confirm(
    State(emu): State<Emulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let token = query.get("Token").cloned().unwrap_or_default();
    let arn = {
        let mut world = emu.world();
        let found = world
            .notify
            .subscriptions
            .iter_mut()
            .find(|s| !token.is_empty() && s.token == token);
        found.map(|subscription| {
            subscription.status = Status::Confirmed;
            subscription.arn.clone()
        })
    };
    match arn {
        Some(arn) => xml(
            StatusCode::OK,
            format!(
                "<ConfirmSubscriptionResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><ConfirmSubscriptionResult>\
                 <SubscriptionArn>{}</SubscriptionArn></ConfirmSubscriptionResult><ResponseMetadata><RequestId>{}</RequestId>\
                 </ResponseMetadata></ConfirmSubscriptionResponse>",
                crate::sqs::query::escape(&arn),
                uuid::Uuid::new_v4()
            ),
        ),
        None => sns_error("InvalidParameter", "Invalid token"),
    }
}

async fn unsubscribe(
    State(emu): State<Emulator>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let arn = query.get("SubscriptionArn").cloned().unwrap_or_default();
    let removed = {
        let mut world = emu.world();
        let before = world.notify.subscriptions.len();
        world.notify.subscriptions.retain(|s| s.arn != arn);
        before != world.notify.subscriptions.len()
    };
    if !removed {
        return sns_error("NotFound", "Subscription does not exist");
    }
    xml(
        StatusCode::OK,
        format!(
            "<UnsubscribeResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><ResponseMetadata><RequestId>{}\
             </RequestId></ResponseMetadata></UnsubscribeResponse>",
            uuid::Uuid::new_v4()
        ),
    )
}

fn sns_error(code: &str, message: &str) -> Response {
    let status = if code == "NotFound" {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::BAD_REQUEST
    };
    xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{code}</Code>\
             <Message>{message}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            uuid::Uuid::new_v4()
        ),
    )
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}
