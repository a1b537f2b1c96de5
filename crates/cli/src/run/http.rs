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
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
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
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen for HTTP on {addr}: {error}"))
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
