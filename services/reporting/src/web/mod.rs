//! The revenue page on the HTTP port, an adapter like `api/`: authenticate (an API key of read
//! scope, or a signed link), convert the query, call the report use cases, render HTML.
//!
//! * `GET /reports?integration_id=int_…[&start=YYYY-MM-DD][&end=YYYY-MM-DD]` with
//!   `Authorization: Bearer souk_…`, or with a signed link's parameters (see [`auth`]): the
//!   page, server-rendered HTML with inline SVG charts and no script.
//! * `POST /reports/links?integration_id=int_…[&expires_in=SECONDS][&start=…][&end=…]` with
//!   `Authorization: Bearer souk_…` of read scope: a signed link (JSON `{"path", "expire_time"}`),
//!   what `souk report page` prints.

pub mod auth;
pub mod chart;
pub mod page;
pub mod reconciliation;
pub mod sections;

#[cfg(test)]
mod tests;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use souk_auth::{AuthError, Authenticator, Caller, Permission};
use souk_core::{Id, SharedClock};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::domain::Error;
use crate::domain::filter::Filter;
use crate::domain::ports::Acting;
use crate::domain::reconciliation::Reconciler;
use crate::domain::revenue::{Grouping, Reports};

use self::auth::{Link, LinkError, LinkParams, LinkSigner};
use self::page::{Page, RangeForm, error_page, html};

/// The path of the page.
pub const PAGE_PATH: &str = "/reports";
/// The path links are asked for at.
pub const LINKS_PATH: &str = "/reports/links";

/// What the page's handlers share.
#[derive(Clone)]
pub struct Web {
    reports: Reports,
    reconciler: Reconciler,
    authenticator: Authenticator,
    links: LinkSigner,
    clock: SharedClock,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web").finish_non_exhaustive()
    }
}

impl Web {
    /// The page over `reports` and `reconciler`, callers authenticated by `authenticator`,
    /// links signed by `links`, expiry counted on `clock`.
    pub fn new(
        reports: Reports,
        reconciler: Reconciler,
        authenticator: Authenticator,
        links: LinkSigner,
        clock: SharedClock,
    ) -> Self {
        Self {
            reports,
            reconciler,
            authenticator,
            links,
            clock,
        }
    }
}

/// The routes of the page.
pub fn router(web: Web) -> Router {
    Router::new()
        .route(PAGE_PATH, get(show))
        .route(LINKS_PATH, post(make_link))
        .with_state(web)
}

/// The query's parameters; the first of a repeated one counts.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter given and not empty (a form sends empty dates).
    fn non_empty(&self, name: &str) -> Option<&str> {
        self.get(name).filter(|v| !v.is_empty())
    }

    fn link(&self) -> LinkParams<'_> {
        LinkParams {
            integration_id: self.get("integration_id"),
            org: self.get("org"),
            key_id: self.get("key_id"),
            expires: self.get("expires"),
            signature: self.get("signature"),
        }
    }

    fn has_link(&self) -> bool {
        ["org", "key_id", "expires", "signature"]
            .iter()
            .any(|name| self.get(name).is_some())
    }
}

/// Who is looking.
enum Viewer {
    /// A caller with an API key of read scope.
    Key(Caller),
    /// A browser with a signed link.
    Link(Link),
}

impl Viewer {
    fn organization_id(&self) -> &Id {
        match self {
            Self::Key(caller) => &caller.organization_id,
            Self::Link(link) => &link.organization_id,
        }
    }

    fn key_id(&self) -> &Id {
        match self {
            Self::Key(caller) => &caller.key_id,
            Self::Link(link) => &link.key_id,
        }
    }
}

/// Why the page is not shown: an error page to answer.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Refusal {
    status: StatusCode,
    title: &'static str,
    message: String,
    hint: &'static str,
}

impl Refusal {
    /// The error page, with `WWW-Authenticate` on a 401.
    fn page(&self) -> Response {
        let mut response = html(
            self.status,
            error_page(self.title, &self.message, self.hint),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"souk\""),
            );
        }
        response
    }
}

/// A refusal with `status`.
fn refuse(status: StatusCode, title: &'static str, message: &str, hint: &'static str) -> Refusal {
    Refusal {
        status,
        title,
        message: message.to_owned(),
        hint,
    }
}

const LINK_HINT: &str = "Ask for a new link with `souk report page --integration int_…`, or \
                         send the header \"Authorization: Bearer souk_…\" with an API key.";

/// The caller of the `Authorization` header, with read scope.
async fn caller(web: &Web, headers: &HeaderMap, path: &str) -> Result<Caller, Refusal> {
    let value = headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let caller = match web.authenticator.authenticate_header(value).await {
        Ok(caller) => caller,
        Err(error) => {
            web.authenticator.record_failure(&error, path);
            return Err(match error {
                AuthError::Unavailable(_) => refuse(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Try again",
                    "The API keys cannot be read right now.",
                    "Reload the page in a moment.",
                ),
                other => refuse(
                    StatusCode::UNAUTHORIZED,
                    "Not signed in",
                    &other.to_string(),
                    LINK_HINT,
                ),
            });
        }
    };
    caller.require(Permission::Read).map_err(|error| {
        refuse(
            StatusCode::FORBIDDEN,
            "Not allowed",
            &error.message,
            "Use an API key with the read scope.",
        )
    })?;
    Ok(caller)
}

/// The viewer: the `Authorization` header's caller if there is one, else the link's.
async fn viewer(web: &Web, headers: &HeaderMap, params: &Params) -> Result<Viewer, Refusal> {
    if headers.contains_key(header::AUTHORIZATION) {
        return caller(web, headers, PAGE_PATH).await.map(Viewer::Key);
    }
    if !params.has_link() {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "Not signed in",
            "This page needs a signed link or an API key.",
            LINK_HINT,
        ));
    }
    web.links
        .verify(&params.link(), web.clock.now())
        .map(Viewer::Link)
        .map_err(|error| {
            tracing::warn!(
                path = PAGE_PATH,
                reason = error.reason(),
                "revenue page link refused"
            );
            let title = match error {
                LinkError::Expired(_) => "Link expired",
                _ => "Link not valid",
            };
            refuse(
                StatusCode::UNAUTHORIZED,
                title,
                &error.to_string(),
                LINK_HINT,
            )
        })
}

/// A `YYYY-MM-DD` day as its first instant (UTC).
fn day(raw: &str) -> Result<OffsetDateTime, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(raw, &format)
        .map(|date| date.midnight().assume_utc())
        .map_err(|_| format!("{raw:?} is not a day (YYYY-MM-DD)"))
}

/// `start` and `end` (each optional, `end` after `start`); every problem at once.
fn range(params: &Params) -> Result<(Option<OffsetDateTime>, Option<OffsetDateTime>), String> {
    let mut problems = Vec::new();
    let mut at = |name: &str| {
        params.non_empty(name).and_then(|raw| match day(raw) {
            Ok(at) => Some(at),
            Err(problem) => {
                problems.push(format!("{name}: {problem}"));
                None
            }
        })
    };
    let (start, end) = (at("start"), at("end"));
    if let (Some(start), Some(end)) = (start, end)
        && end <= start
    {
        problems.push("end: must be after start".to_owned());
    }
    if problems.is_empty() {
        Ok((start, end))
    } else {
        Err(problems.join("; "))
    }
}

/// The integration named by the query.
fn integration(params: &Params) -> Result<Id, Refusal> {
    let Some(raw) = params.non_empty("integration_id") else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Which integration?",
            "The page needs the parameter integration_id.",
            "Open /reports?integration_id=int_… (souk integration list shows the ids).",
        ));
    };
    Id::parse("int", raw).map_err(|reason| {
        refuse(
            StatusCode::BAD_REQUEST,
            "Which integration?",
            &format!("integration_id {reason}."),
            "souk integration list shows the ids.",
        )
    })
}

/// A domain failure as a page.
fn failure(error: &Error) -> Refusal {
    match error {
        Error::InvalidArgument(_) => refuse(
            StatusCode::BAD_REQUEST,
            "Bad request",
            &error.to_string(),
            "",
        ),
        Error::NotFound(_) | Error::FailedPrecondition(_) => refuse(
            StatusCode::NOT_FOUND,
            "Unknown integration",
            &error.to_string(),
            "Check the integration id (souk integration list) and that it has an AWS role.",
        ),
        Error::PermissionDenied(_) => {
            refuse(StatusCode::FORBIDDEN, "Not allowed", &error.to_string(), "")
        }
        Error::Unavailable(_) | Error::Aborted(_) | Error::ResourceExhausted(_) => refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again",
            "The reports cannot be read right now.",
            "Reload the page in a moment.",
        ),
        Error::Conflict(_) | Error::Internal(_) => {
            tracing::error!(%error, "revenue page failed");
            refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The page could not be made; the server's log says why.",
                "",
            )
        }
    }
}

async fn show(
    State(web): State<Web>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return malformed_query();
    };
    let params = Params(params);
    let viewer = match viewer(&web, &headers, &params).await {
        Ok(viewer) => viewer,
        Err(refusal) => return refusal.page(),
    };
    let integration_id = match &viewer {
        // The link's integration is the one it was signed for.
        Viewer::Link(link) => link.integration_id.clone(),
        Viewer::Key(_) => match integration(&params) {
            Ok(id) => id,
            Err(refusal) => return refusal.page(),
        },
    };
    let (start, end) = match range(&params) {
        Ok(range) => range,
        Err(problems) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "Bad dates",
                &problems,
                "Dates are days, YYYY-MM-DD (UTC); end is exclusive.",
            )
            .page();
        }
    };
    let acting = Acting {
        organization_id: viewer.organization_id().clone(),
        integration_id,
    };
    tracing::info!(
        integration_id = %acting.integration_id,
        key_id = %viewer.key_id(),
        via = if matches!(viewer, Viewer::Link(_)) { "link" } else { "api_key" },
        "revenue page"
    );
    // Independent reads, side by side; the reconciliation's failure fails only its section.
    let reports = &web.reports;
    let answers = async {
        tokio::try_join!(
            reports.revenue(&acting, start, end, &[Grouping::Month]),
            reports.revenue(&acting, start, end, &[Grouping::Customer]),
            reports.disbursements(&acting, start, end),
        )
    };
    let everything = Filter::default();
    let reconciled = web
        .reconciler
        .reconcile(&acting, start, end, &everything, false);
    let (answers, reconciled) = tokio::join!(answers, reconciled);
    let (by_month, by_customer, disbursements) = match answers {
        Ok(answers) => answers,
        Err(error) => return failure(&error).page(),
    };
    let hidden = match &viewer {
        Viewer::Link(link) => link_fields(&params, link),
        Viewer::Key(_) => vec![(
            "integration_id".to_owned(),
            acting.integration_id.to_string(),
        )],
    };
    let page = Page {
        integration_id: acting.integration_id.to_string(),
        range: describe_range(params.non_empty("start"), params.non_empty("end")),
        freshness: by_month.freshness.and_then(|at| at.format(&Rfc3339).ok()),
        form: RangeForm {
            start: params.non_empty("start").unwrap_or_default().to_owned(),
            end: params.non_empty("end").unwrap_or_default().to_owned(),
            hidden,
        },
        sections: {
            let mut all = sections::sections(sections::Reports {
                by_month: &by_month,
                by_customer: &by_customer,
                disbursements: &disbursements,
            });
            all.push(reconciliation::section(reconciled.as_ref()));
            all
        },
    };
    html(StatusCode::OK, page.render())
}

/// The link's own parameters, for the range form to carry.
fn link_fields(params: &Params, link: &Link) -> Vec<(String, String)> {
    vec![
        ("integration_id".into(), link.integration_id.to_string()),
        ("org".into(), link.organization_id.to_string()),
        ("key_id".into(), link.key_id.to_string()),
        ("expires".into(), link.expires.to_string()),
        (
            "signature".into(),
            params.get("signature").unwrap_or_default().to_owned(),
        ),
    ]
}

fn describe_range(start: Option<&str>, end: Option<&str>) -> String {
    match (start, end) {
        (None, None) => "All time".to_owned(),
        (Some(start), None) => format!("From {start}"),
        (None, Some(end)) => format!("Before {end}"),
        (Some(start), Some(end)) => format!("From {start} to before {end}"),
    }
}

/// The answer to a query that is not `application/x-www-form-urlencoded`.
fn malformed_query() -> Response {
    refuse(
        StatusCode::BAD_REQUEST,
        "Bad link",
        "The address's query cannot be read.",
        "Copy the whole link again.",
    )
    .page()
}

/// A JSON answer with `status`, kept out of caches.
fn json_answer(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, axum::Json(body.clone())).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json_error(status: StatusCode, message: &str) -> Response {
    json_answer(status, &json!({ "error": message }))
}

async fn make_link(
    State(web): State<Web>,
    headers: HeaderMap,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return malformed_query();
    };
    let params = Params(params);
    let caller = match caller(&web, &headers, LINKS_PATH).await {
        Ok(caller) => caller,
        Err(refusal) => {
            let status = refusal.status;
            let message = match status {
                StatusCode::UNAUTHORIZED => {
                    "not authenticated: send \"Authorization: Bearer souk_…\""
                }
                StatusCode::FORBIDDEN => "this api key lacks the read scope",
                _ => "the api keys cannot be read right now; retry",
            };
            return json_error(status, message);
        }
    };
    let Some(integration_id) = params
        .non_empty("integration_id")
        .and_then(|raw| Id::parse("int", raw).ok())
    else {
        return json_error(
            StatusCode::BAD_REQUEST,
            "integration_id must be \"int_\" followed by 32 lowercase hex digits",
        );
    };
    let lifetime = match params.non_empty("expires_in") {
        None => auth::DEFAULT_LIFETIME.as_secs(),
        Some(raw) => match raw.parse::<u64>() {
            Ok(seconds) if (1..=auth::MAX_LIFETIME.as_secs()).contains(&seconds) => seconds,
            _ => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "expires_in must be a number of seconds from 1 to {}",
                        auth::MAX_LIFETIME.as_secs()
                    ),
                );
            }
        },
    };
    if let Err(problems) = range(&params) {
        return json_error(StatusCode::BAD_REQUEST, &problems);
    }
    // The integration must be one the caller can report on: an empty range answers that
    // cheaply, with the page's own errors.
    let acting = Acting {
        organization_id: caller.organization_id.clone(),
        integration_id: integration_id.clone(),
    };
    let now = web.clock.now();
    let probe = web
        .reports
        .revenue(&acting, Some(now), Some(now + time::Duration::SECOND), &[])
        .await;
    if let Err(error) = probe {
        let refusal = failure(&error);
        let message = match refusal.status {
            StatusCode::NOT_FOUND => error.to_string(),
            _ => refusal.message,
        };
        return json_error(refusal.status, &message);
    }
    let expires = now
        .unix_timestamp()
        .saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX));
    let link = Link {
        organization_id: caller.organization_id,
        integration_id,
        key_id: caller.key_id,
        expires,
    };
    tracing::info!(
        integration_id = %link.integration_id,
        key_id = %link.key_id,
        expires,
        "revenue page link made"
    );
    let query = web
        .links
        .query(&link, params.non_empty("start"), params.non_empty("end"));
    let expire_time = OffsetDateTime::from_unix_timestamp(expires)
        .ok()
        .and_then(|at| at.format(&Rfc3339).ok())
        .unwrap_or_default();
    json_answer(
        StatusCode::OK,
        &json!({
            "path": format!("{PAGE_PATH}?{query}"),
            "integration_id": link.integration_id.to_string(),
            "expire_time": expire_time,
        }),
    )
}
