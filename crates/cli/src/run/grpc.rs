//! The gRPC server of a Souk process: the given services plus `grpc.health.v1` and reflection,
//! behind the metrics and authentication layers, with graceful shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;

use super::metrics::{Metrics, MetricsLayer};
use super::shutdown::Shutdown;

/// Health reporting for the services a process serves.
pub struct Health {
    reporter: tonic_health::server::HealthReporter,
    names: Vec<&'static str>,
}

impl Health {
    /// Marks every served service as SERVING (call once start-up is complete).
    pub async fn serving(&self) {
        for name in &self.names {
            self.reporter
                .set_service_status(*name, tonic_health::ServingStatus::Serving)
                .await;
        }
        self.reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
    }

    /// Marks every served service as NOT_SERVING (during shutdown, so load balancers drain).
    pub async fn not_serving(&self) {
        for name in &self.names {
            self.reporter
                .set_service_status(*name, tonic_health::ServingStatus::NotServing)
                .await;
        }
        self.reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    }
}

/// Adds health and reflection to `routes`; `names` are the fully qualified service names served.
pub fn with_health_and_reflection(
    mut routes: Routes,
    names: Vec<&'static str>,
) -> anyhow::Result<(Routes, Health)> {
    let (reporter, health_service) = tonic_health::server::health_reporter();
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(souk_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    routes = routes.add_service(health_service).add_service(reflection);
    Ok((routes, Health { reporter, names }))
}

/// Binds `addr` now (so a busy port fails start-up), returning the listener and its real address.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<(tokio::net::TcpListener, SocketAddr)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen for gRPC on {addr}: {error}"))?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves `routes` on `listener` until `shutdown`, authenticating with `auth`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    routes: Routes,
    auth: souk_auth::AuthLayer,
    metrics: Arc<Metrics>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    tonic::transport::Server::builder()
        .layer(MetricsLayer::new(metrics))
        .layer(auth)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.wait())
        .await?;
    Ok(())
}
