//! The HTTP side of a Souk process: liveness, readiness and Prometheus metrics. Later issues add
//! the fulfilment page and the AWS notification webhooks here.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::shutdown::Shutdown;
use souk_service::metrics::Metrics;

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct HttpState {
    /// Set once every service finished starting (migrations ran, listeners bound).
    pub ready: Arc<AtomicBool>,
    /// The process's metrics.
    pub metrics: Arc<Metrics>,
    /// The stores whose outbox backlog is reported.
    pub stores: Vec<souk_store::Store>,
    /// The authenticator whose refusals are counted.
    pub authenticator: souk_auth::Authenticator,
    /// The parked-notification counts of the entitlement service (none when it is not here).
    pub parked: Vec<souk_entitlement::inbound::Parked>,
    /// The metering service, whose backlog and calls are reported (none when it is not here).
    pub metering: Option<souk_metering::MeteringApp>,
}

/// An unpublished event older than this makes the process unready: its relay cannot publish
/// (broker down, streams lost) and a load balancer should prefer a healthy replica.
const STALE_OUTBOX: std::time::Duration = std::time::Duration::from_secs(300);

/// The backlog of every store: (store, rows, age of the oldest).
async fn backlogs(stores: &[souk_store::Store]) -> Vec<(String, u64, std::time::Duration)> {
    let now = time::OffsetDateTime::now_utc();
    let mut out = Vec::new();
    for store in stores {
        match souk_events::relay::outbox_backlog(store, now).await {
            Ok(backlog) => out.push((
                store.service().to_owned(),
                backlog.rows,
                backlog.oldest_age.unwrap_or_default(),
            )),
            Err(error) => {
                tracing::warn!(store = store.service(), %error, "cannot read the outbox backlog")
            }
        }
    }
    out
}

/// The router with `/healthz`, `/readyz` and `/metrics`.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    if !state.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n".to_owned());
    }
    let mut body = String::from("ready\n");
    let mut stale = false;
    for (store, rows, age) in backlogs(&state.stores).await {
        stale |= age > STALE_OUTBOX;
        body.push_str(&format!(
            "outbox {store}: {rows} unpublished, oldest {} s\n",
            age.as_secs()
        ));
    }
    if stale {
        body.replace_range(..5, "stale");
        return (StatusCode::SERVICE_UNAVAILABLE, body);
    }
    (StatusCode::OK, body)
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    for (store, rows, age) in backlogs(&state.stores).await {
        state
            .metrics
            .set_outbox_backlog(&store, rows, age.as_secs_f64());
    }
    let failures = state.authenticator.failure_counts();
    for (reason, count) in [
        ("missing", failures.missing),
        ("malformed", failures.malformed),
        ("unknown", failures.unknown),
        ("revoked", failures.revoked),
        ("expired", failures.expired),
        ("unavailable", failures.unavailable),
    ] {
        state.metrics.set_auth_failures(reason, count);
    }
    for parked in &state.parked {
        for (route, reason, count) in parked.counts() {
            state.metrics.set_notifications_parked(route, reason, count);
        }
    }
    if let Some(metering) = &state.metering {
        metering_metrics(&state.metrics, metering).await;
    }
    match state.metrics.encode() {
        Ok(body) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Binds `addr` (failing start-up when it is busy).
pub async fn bind(addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|error| {
        anyhow::Error::new(error).context(format!("cannot listen for HTTP on {addr}"))
    })
}

/// Serves `router` on `listener` until `shutdown`, over TLS when `tls` is given.
pub async fn serve_listener(
    listener: tokio::net::TcpListener,
    router: Router,
    tls: Option<souk_service::tls::Tls>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    match tls {
        Some(tls) => {
            let listener = souk_service::tls::TlsListener::new(listener, tls.rustls_config()?);
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.wait())
                .await?;
        }
        None => {
            axum::serve(listener, router)
                .with_graceful_shutdown(shutdown.wait())
                .await?;
        }
    }
    Ok(())
}

/// The metering backlog (records per status, age of the oldest unsent hour) and what the
/// shipping loop did since start.
async fn metering_metrics(metrics: &Metrics, metering: &souk_metering::MeteringApp) {
    use souk_metering::domain::model::RecordStatus;
    match metering.backlog().await {
        Ok(counts) => {
            let now = metering.metering().now();
            for status in RecordStatus::ALL {
                let n: i64 = counts.iter().filter_map(|c| c.by_status.get(&status)).sum();
                metrics.set_metering_records(status.as_str(), n);
            }
            let oldest = souk_metering::domain::ports::oldest_unsent(&counts);
            let age = oldest.map_or(0.0, |hour| (now - hour).as_seconds_f64().max(0.0));
            metrics.set_metering_oldest_unsent_age(age);
        }
        Err(error) => tracing::warn!(%error, "cannot read the metering backlog"),
    }
    let totals = metering.ship_totals();
    metrics.set_metering_calls(totals.calls, totals.throttled);
    for (result, count) in [
        ("sent", totals.sent),
        ("held", totals.held),
        ("failed", totals.failed),
        ("retried", totals.retried),
    ] {
        metrics.set_metering_settled(result, count);
    }
}
