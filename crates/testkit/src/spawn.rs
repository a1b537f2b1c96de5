//! Spawning Souk services and the AWS Marketplace emulator on `127.0.0.1:0` for tests.
//!
//! [`grpc`] serves services through the same server stack as `souk dev` and `souk serve`
//! (tracing, metrics, authentication, health, reflection) on a fresh port until the returned
//! guard drops. [`service`] serves one service behind an in-memory key store with one
//! organisation, so a service's tests need not boot the integration service. [`emulator`]
//! starts the emulator. Whole processes (`souk dev`, `souk serve`) are spawned by the
//! end-to-end tests in `tests/`.

use std::net::SocketAddr;
use std::sync::Arc;

use souk_emulator::{EmulatorConfig, RunningEmulator};
use souk_service::ServiceParts;
use souk_service::metrics::Metrics;
use souk_service::server::GrpcServer;
use tokio::sync::oneshot;

pub use crate::keys::MemoryKeyStore;

/// A gRPC server on a loopback port; shuts down when dropped.
pub struct SpawnedServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// `http://<addr>`, for tonic clients.
    pub url: String,
    /// The server's metrics.
    pub metrics: Arc<Metrics>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for SpawnedServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpawnedServer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
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

/// Serves `services` through the shared server stack behind `auth` on `127.0.0.1:0`, every
/// service SERVING.
pub async fn grpc(
    services: Vec<ServiceParts>,
    auth: souk_auth::AuthLayer,
) -> anyhow::Result<SpawnedServer> {
    let served = souk_service::parts::combine(services);
    let (server, health) = GrpcServer::new(served.routes, served.names)?;
    health.serving().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let metrics = Arc::new(Metrics::new());
    let serving = server.serve(listener, auth, Arc::clone(&metrics), None, async {
        let _ = rx.await;
    });
    tokio::spawn(async move {
        if let Err(error) = serving.await {
            eprintln!("test gRPC server failed: {error}");
        }
    });
    Ok(SpawnedServer {
        addr,
        url: format!("http://{addr}"),
        metrics,
        shutdown: Some(tx),
    })
}

/// One service with its own keys: the server and an in-memory key store holding one
/// organisation (add keys with [`MemoryKeyStore::add_key`]).
pub struct SpawnedService {
    /// The server.
    pub server: SpawnedServer,
    /// The keys it accepts.
    pub keys: MemoryKeyStore,
}

/// Serves `parts` behind an in-memory key store on `127.0.0.1:0`.
pub async fn service(parts: ServiceParts) -> anyhow::Result<SpawnedService> {
    let keys = MemoryKeyStore::default();
    let authenticator = souk_auth::Authenticator::new(Arc::new(keys.clone()));
    let server = grpc(vec![parts], authenticator.layer()).await?;
    Ok(SpawnedService { server, keys })
}

/// The AWS Marketplace emulator with default settings on `127.0.0.1:0`.
pub async fn emulator() -> anyhow::Result<RunningEmulator> {
    emulator_with(EmulatorConfig::default()).await
}

/// The emulator with `config` on `127.0.0.1:0`.
pub async fn emulator_with(config: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
    Ok(souk_emulator::spawn(config).await?)
}
