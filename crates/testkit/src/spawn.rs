//! Spawning Souk services and the AWS Marketplace emulator on `127.0.0.1:0` for tests.
//!
//! Service crates build their tonic routes; [`grpc`] serves them behind the real
//! authentication layer with `grpc.health.v1`, on a fresh port, until the returned guard drops.
//! [`emulator`] starts the emulator the same way. Whole processes (`souk dev`, `souk serve`) are
//! spawned by the end-to-end tests in `tests/`.

use std::net::SocketAddr;

use souk_emulator::{EmulatorConfig, RunningEmulator};
use tokio::sync::oneshot;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;

/// A gRPC server on a loopback port; shuts down when dropped.
#[derive(Debug)]
pub struct SpawnedServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://<addr>`, for tonic clients.
    pub url: String,
    /// Marks services SERVING / NOT_SERVING.
    pub health: tonic_health::server::HealthReporter,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl SpawnedServer {
    /// A channel to the server.
    pub async fn channel(&self) -> anyhow::Result<tonic::transport::Channel> {
        Ok(tonic::transport::Endpoint::from_shared(self.url.clone())?
            .connect()
            .await?)
    }
}

/// Serves `routes` (plus `grpc.health.v1`, with the whole server SERVING) behind `auth` on
/// `127.0.0.1:0`.
pub async fn grpc(routes: Routes, auth: souk_auth::AuthLayer) -> anyhow::Result<SpawnedServer> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let server = tonic::transport::Server::builder()
        .layer(auth)
        .add_routes(routes.add_service(health_service))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
            let _ = rx.await;
        });
    tokio::spawn(async move {
        if let Err(error) = server.await {
            eprintln!("test gRPC server failed: {error}");
        }
    });
    Ok(SpawnedServer {
        addr,
        url: format!("http://{addr}"),
        health,
        shutdown: Some(tx),
    })
}

/// The AWS Marketplace emulator with default settings on `127.0.0.1:0`.
pub async fn emulator() -> anyhow::Result<RunningEmulator> {
    emulator_with(EmulatorConfig::default()).await
}

/// The emulator with `config` on `127.0.0.1:0`.
pub async fn emulator_with(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    Ok(souk_emulator::spawn(config).await?)
}
