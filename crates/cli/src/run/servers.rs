//! The listening side of a Souk process, shared by `souk dev` and `souk serve`: the gRPC server
//! (services, health, reflection, metrics, auth) and the HTTP server (health, readiness,
//! metrics), their readiness, and an orderly drain on Ctrl-C / SIGTERM or when a server fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use souk_service::metrics::Metrics;
use souk_service::server::{GrpcServer, Health};

use super::assembly::Assembly;
use super::http::{self, HttpState};
use super::shutdown::{self, Shutdown, ShutdownTrigger};

/// Background tasks of a process; each ends with its outcome.
pub type Tasks = JoinSet<anyhow::Result<()>>;

/// Running servers; [`Servers::run_until_stopped`] drains them.
pub struct Servers {
    tasks: Tasks,
    health: Health,
    ready: Arc<AtomicBool>,
    trigger: ShutdownTrigger,
}

/// Starts both servers on their (already bound) listeners next to `tasks`, over TLS when `tls`
/// is given, then reports the process SERVING and ready. The services' parts are taken out of
/// `assembly`.
pub async fn start(
    assembly: &mut Assembly,
    grpc_listener: TcpListener,
    http_listener: TcpListener,
    (trigger, shutdown): (ShutdownTrigger, Shutdown),
    tls: Option<souk_service::tls::Tls>,
    mut tasks: Tasks,
) -> anyhow::Result<Servers> {
    let metrics = Arc::new(Metrics::new());
    let ready = Arc::new(AtomicBool::new(false));
    let http_state = HttpState {
        ready: Arc::clone(&ready),
        metrics: Arc::clone(&metrics),
        stores: assembly.stores.clone(),
        authenticator: assembly.authenticator.clone(),
        parked: assembly
            .entitlement
            .iter()
            .map(|app| app.parked().clone())
            .collect(),
        metering: assembly.metering.clone(),
    };
    let served = souk_service::parts::combine(std::mem::take(&mut assembly.services));
    let (server, health) = GrpcServer::new(served.routes, served.names)?;
    tasks.spawn(server.serve(
        grpc_listener,
        assembly.authenticator.layer(),
        metrics,
        tls.clone(),
        shutdown.clone().wait(),
    ));
    tasks.spawn(http::serve_listener(
        http_listener,
        http::router(http_state).merge(served.http),
        tls,
        shutdown,
    ));
    health.serving().await;
    ready.store(true, Ordering::Release);
    Ok(Servers {
        tasks,
        health,
        ready,
        trigger,
    })
}

impl Servers {
    /// Waits for Ctrl-C / SIGTERM or for a server to stop on its own, then reports NOT_SERVING,
    /// stops every listener and waits for in-flight requests. A server that stopped on its own
    /// is an error.
    pub async fn run_until_stopped(mut self) -> anyhow::Result<()> {
        let mut failure = None;
        tokio::select! {
            () = shutdown::os_signal() => tracing::info!("shutting down"),
            Some(result) = self.tasks.join_next() => {
                failure = Some(outcome(result).and(Err(anyhow::anyhow!("a server stopped unexpectedly"))));
            }
        }
        self.health.not_serving().await;
        self.ready.store(false, Ordering::Release);
        self.trigger.trigger();
        while let Some(result) = self.tasks.join_next().await {
            if let Err(error) = outcome(result) {
                tracing::error!(error = %format!("{error:#}"), "server task failed while draining");
            }
        }
        failure.unwrap_or(Ok(()))
    }
}

fn outcome(result: Result<anyhow::Result<()>, tokio::task::JoinError>) -> anyhow::Result<()> {
    result
        .map_err(|error| anyhow::anyhow!("a server task failed: {error}"))
        .and_then(|r| r)
}
