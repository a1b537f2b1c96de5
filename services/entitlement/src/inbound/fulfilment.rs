//! The buyer's browser arriving from AWS Marketplace. `POST /aws/fulfilment/{integration_id}`
//! carries the registration token: Souk resolves the buyer, then sends the browser to the
//! seller's sign-up URL with a signed hand-off (`domain::handoff`), or shows its hosted
//! sign-up page, whose form posts to `.../signup`. Every other answer is a page telling the
//! buyer what to do (`pages`); internal details go to the log only. See docs/fulfilment.md.

use axum::Router;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Form, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use souk_core::{Id, Outcome};

use super::pages::{self, Refusal, SignupForm};
use crate::app::HttpContext;
use crate::domain::Error;
use crate::domain::fulfilment::{ResolveError, Resolved};
use crate::domain::handoff::{self, Handoff, PageTokenError};
use crate::domain::model::{CUSTOMER_PREFIX, Signup};
use crate::domain::ports::MarketError;

/// Largest body accepted: AWS posts a token of a few hundred bytes, the hosted form a few
/// short fields.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The routes under `/aws/fulfilment/{integration_id}`.
pub fn routes() -> Router<HttpContext> {
    Router::new()
        .route(
            "/aws/fulfilment/{integration_id}",
            post(fulfil).fallback(not_a_post),
        )
        .route(
            "/aws/fulfilment/{integration_id}/signup",
            post(signup).fallback(not_a_post),
        )
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
}

/// The form AWS Marketplace makes the buyer's browser post.
#[derive(Debug, Deserialize)]
struct MarketplaceForm {
    #[serde(rename = "x-amzn-marketplace-token", default)]
    token: String,
    #[serde(rename = "x-amzn-marketplace-offer-type", default)]
    offer_type: String,
}

/// The hosted sign-up form.
#[derive(Debug, Deserialize)]
struct HostedForm {
    #[serde(default)]
    page_token: String,
    #[serde(default)]
    company: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    email: String,
}

async fn fulfil(
    State(context): State<HttpContext>,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<MarketplaceForm>, FormRejection>,
) -> Response {
    let Some(integration_id) = integration_id(path) else {
        return Refusal::NoSuchPage.response();
    };
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return form_refusal(&rejection, Refusal::MissingToken),
    };
    if form.token.trim().is_empty() {
        return Refusal::MissingToken.response();
    }
    // Only the one value AWS sends means anything; the browser could post any other.
    let offer_type = (form.offer_type == "free-trial").then_some(form.offer_type);
    let entitlements = &context.entitlements;
    let resolved = match entitlements
        .resolve_token(None, &integration_id, &form.token, offer_type, None, |_| {
            Vec::new()
        })
        .await
    {
        Ok(Outcome::Done(resolved)) => resolved,
        Ok(Outcome::Replayed(_)) => {
            tracing::error!(%integration_id, "a fulfilment without idempotency key was replayed");
            return Refusal::Internal.response();
        }
        Err(error) => return resolve_refusal(&integration_id, error),
    };
    let settings = match entitlements.handoff_settings(&integration_id).await {
        Ok(settings) => settings,
        Err(error) => return error_refusal(&integration_id, &error),
    };
    let Some(secret) = settings.handoff_secret.as_deref() else {
        tracing::error!(%integration_id, "no hand-off secret after handoff_settings");
        return Refusal::Internal.response();
    };
    let now = entitlements.now().unix_timestamp();
    tracing::info!(
        %integration_id,
        customer_id = %resolved.customer.id,
        created = resolved.created,
        hosted = settings.signup_url.is_none(),
        "buyer arrived from AWS Marketplace"
    );
    match settings.signup_url.as_deref() {
        Some(signup_url) => see_other(&Handoff::of(&resolved, now).append_to(signup_url, secret)),
        None => hosted_page(&integration_id, &resolved, secret, now),
    }
}

/// Souk's sign-up form for a buyer just resolved.
fn hosted_page(integration_id: &Id, resolved: &Resolved, secret: &str, now: i64) -> Response {
    let token = handoff::page_token(
        secret,
        integration_id.as_str(),
        resolved.customer.id.as_str(),
        now,
    );
    let signup = resolved.customer.signup.as_ref();
    // Relative to `/aws/fulfilment/{id}`, so it works behind a path prefix too.
    let action = format!("{integration_id}/signup");
    let page = pages::signup_form(&SignupForm {
        action: &action,
        page_token: &token,
        product_code: Some(&resolved.customer.product_code),
        company: signup.map_or("", |s| s.company.as_str()),
        contact_name: signup.map_or("", |s| s.contact_name.as_str()),
        email: signup.map_or("", |s| s.email.as_str()),
        errors: &[],
    });
    pages::html(StatusCode::OK, &page)
}

async fn signup(
    State(context): State<HttpContext>,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<HostedForm>, FormRejection>,
) -> Response {
    let Some(integration_id) = integration_id(path) else {
        return Refusal::NoSuchPage.response();
    };
    let form = match form {
        Ok(Form(form)) => form,
        Err(rejection) => return form_refusal(&rejection, Refusal::FormInvalid),
    };
    let entitlements = &context.entitlements;
    let settings = match entitlements
        .fulfilment_settings(None, &integration_id)
        .await
    {
        Ok((_, settings)) => settings,
        Err(error) => return error_refusal(&integration_id, &error),
    };
    // No secret: this integration never issued a page token.
    let Some(secret) = settings.handoff_secret.as_deref() else {
        return Refusal::FormInvalid.response();
    };
    let now = entitlements.now();
    let opened = handoff::open_page_token(
        secret,
        integration_id.as_str(),
        &form.page_token,
        now.unix_timestamp(),
    );
    let customer_id = match opened.map(|raw| Id::parse(CUSTOMER_PREFIX, &raw)) {
        Ok(Ok(customer_id)) => customer_id,
        Ok(Err(_)) | Err(PageTokenError::Invalid) => return Refusal::FormInvalid.response(),
        Err(PageTokenError::Expired) => return Refusal::FormExpired.response(),
    };
    let typed = Signup {
        company: form.company.trim().to_owned(),
        contact_name: form.contact_name.trim().to_owned(),
        email: form.email.trim().to_owned(),
        submitted_at: now,
    };
    match entitlements
        .record_signup(&integration_id, &customer_id, typed)
        .await
    {
        Ok(customer) => {
            tracing::info!(%integration_id, %customer_id, "buyer signed up on the hosted page");
            let (name, email) = customer
                .signup
                .map(|s| (s.contact_name, s.email))
                .unwrap_or_default();
            pages::html(StatusCode::OK, pages::all_set(&name, &email))
        }
        Err(Error::InvalidArgument(errors)) => {
            // The form again, with what was typed and what is wrong with it; the page token
            // stays valid until its hour is up.
            let page = pages::signup_form(&SignupForm {
                action: "signup",
                page_token: &form.page_token,
                product_code: None,
                company: &form.company,
                contact_name: &form.contact_name,
                email: &form.email,
                errors: &errors,
            });
            pages::html(StatusCode::BAD_REQUEST, &page)
        }
        Err(error) => error_refusal(&integration_id, &error),
    }
}

async fn not_a_post() -> Response {
    Refusal::NotAPost.response()
}

/// The integration id of the path; `None` (a 404, like an unknown id) when malformed.
fn integration_id(path: Result<Path<String>, PathRejection>) -> Option<Id> {
    let Path(raw) = path.ok()?;
    Id::parse("int", &raw).ok()
}

/// A body that is too large, or is not the form expected (`otherwise`).
fn form_refusal(rejection: &FormRejection, otherwise: Refusal) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Refusal::TooLarge.response()
    } else {
        tracing::info!(reason = %rejection.body_text(), "fulfilment form refused");
        otherwise.response()
    }
}

fn resolve_refusal(integration_id: &Id, error: ResolveError) -> Response {
    let refusal = match &error {
        ResolveError::Market(MarketError::InvalidToken) => Refusal::UnknownToken,
        ResolveError::Market(MarketError::ExpiredToken) => Refusal::ExpiredToken,
        ResolveError::Market(MarketError::Unavailable(_)) => Refusal::Unavailable,
        ResolveError::Market(MarketError::AccessDenied(_) | MarketError::Rejected(_)) => {
            Refusal::SellerSetup
        }
        ResolveError::ProductNotSold { .. } => Refusal::WrongProduct,
        ResolveError::UsedElsewhere => Refusal::TokenUsedElsewhere,
        // The only argument is the token: text that cannot be a token is unknown to AWS too.
        ResolveError::Other(Error::InvalidArgument(_)) => Refusal::UnknownToken,
        ResolveError::Other(other) => return error_refusal(integration_id, other),
    };
    log(integration_id, refusal, &error);
    refusal.response()
}

fn error_refusal(integration_id: &Id, error: &Error) -> Response {
    let refusal = match error {
        Error::NotFound(_) => Refusal::NoSuchPage,
        Error::InvalidArgument(_) | Error::FailedPrecondition(_) | Error::Conflict(_) => {
            Refusal::FormInvalid
        }
        Error::Unavailable(_) | Error::ResourceExhausted(_) | Error::Aborted(_) => {
            Refusal::Unavailable
        }
        Error::PermissionDenied(_) | Error::Internal(_) => Refusal::Internal,
    };
    log(integration_id, refusal, error);
    refusal.response()
}

/// Logs a refusal once, here: with the detail the buyer does not see.
fn log(integration_id: &Id, refusal: Refusal, error: &dyn std::fmt::Display) {
    if refusal.status().is_server_error() {
        tracing::warn!(%integration_id, ?refusal, %error, "fulfilment failed");
    } else {
        tracing::info!(%integration_id, ?refusal, %error, "fulfilment refused");
    }
}

/// 303 to `location`, so the browser follows with a GET.
fn see_other(location: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        tracing::error!("the hand-off URL is not a valid header value");
        return Refusal::Internal.response();
    };
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
    pages::protect(response.headers_mut());
    response
}
