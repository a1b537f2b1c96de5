//! Client subcommands: talk to a running Souk over gRPC with an API key.

pub mod integration;
pub mod keys;
pub mod org;
pub mod output;

use std::path::Path;

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::transport::{Channel, Endpoint};

use souk_proto::integration::integration_service_client::IntegrationServiceClient;

use crate::args::ClientArgs;
use crate::exit::{Failure, Kind};

/// Name of the file in the data directory where `souk dev` saves its first API key.
pub const DEV_KEY_FILE: &str = "api-key";

/// Adds `authorization: Bearer <key>` to every request.
#[derive(Clone)]
pub struct BearerAuth {
    header: MetadataValue<tonic::metadata::Ascii>,
}

impl Interceptor for BearerAuth {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        request
            .metadata_mut()
            .insert("authorization", self.header.clone());
        Ok(request)
    }
}

/// An authenticated client of the integration service.
pub type IntegrationClient =
    IntegrationServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerAuth>>;

/// Connects to the server named in `args` with the resolved API key.
pub async fn integration_client(args: &ClientArgs) -> anyhow::Result<IntegrationClient> {
    let key = resolve_api_key(args.api_key.as_deref(), &args.data_dir)?;
    let header = format!("Bearer {key}").parse().map_err(|_| {
        Failure::new(
            Kind::Auth,
            "the API key contains characters not allowed in a header",
        )
    })?;
    let endpoint = Endpoint::from_shared(args.server.clone())
        .map_err(|_| Failure::new(Kind::Usage, format!("invalid --server {:?}", args.server)))?;
    let channel = endpoint
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(60))
        .connect()
        .await
        .map_err(|error| {
            Failure::new(
                Kind::Unavailable,
                format!(
                    "cannot reach Souk at {} (is `souk dev` running?): {error}",
                    args.server
                ),
            )
        })?;
    Ok(IntegrationServiceClient::with_interceptor(
        channel,
        BearerAuth { header },
    ))
}

/// The key from `--api-key`/`SOUK_API_KEY`, else the one `souk dev` saved in `data_dir`.
pub fn resolve_api_key(explicit: Option<&str>, data_dir: &Path) -> anyhow::Result<String> {
    if let Some(key) = explicit.filter(|k| !k.is_empty()) {
        return Ok(key.to_owned());
    }
    let path = data_dir.join(DEV_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(key) if !key.trim().is_empty() => Ok(key.trim().to_owned()),
        _ => Err(Failure::new(
            Kind::Auth,
            format!(
                "no API key: pass --api-key or set SOUK_API_KEY (souk dev saves its first key in {})",
                path.display()
            ),
        )
        .into()),
    }
}

/// Runs a client call, converting its status into a [`Failure`] (exit code, JSON error).
pub async fn call<T>(
    future: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> anyhow::Result<T> {
    match future.await {
        Ok(response) => Ok(response.into_inner()),
        Err(status) => Err(Failure::from_status(&status).into()),
    }
}

/// A fresh idempotency key for one CLI invocation.
pub fn idempotency_key() -> String {
    uuid::Uuid::now_v7().to_string()
}
