//! Client subcommands: talk to a running Souk over gRPC with an API key.

pub mod billing_events;
pub mod contracts;
pub mod customers;
pub mod entitlements;
pub mod events;
pub mod fulfilment;
pub mod integration;
pub mod keys;
pub mod meters;
pub mod offer_file;
pub mod offers;
pub mod org;
pub mod output;
pub mod plans;
pub mod reconciliation;
pub mod report_page;
pub mod reports;
pub mod resale;
pub mod resale_file;
pub mod sandbox;
pub mod usage;
pub mod usage_report;

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
    let (channel, auth) = authenticated_channel(args).await?;
    Ok(IntegrationServiceClient::with_interceptor(channel, auth))
}

/// A channel to the server named in `args` (TLS for `https://`) and the resolved API key as an
/// interceptor: what every service's client is built from.
pub async fn authenticated_channel<F>(args: &ClientArgs<F>) -> anyhow::Result<(Channel, BearerAuth)>
where
    F: clap::ValueEnum + Clone + Send + Sync + 'static,
{
    let key = resolve_api_key(args.api_key.as_deref(), &args.data_dir)?;
    let header = format!("Bearer {key}").parse().map_err(|_| {
        Failure::new(
            Kind::Auth,
            "the API key contains characters not allowed in a header",
        )
    })?;
    let endpoint = Endpoint::from_shared(args.server.clone())
        .map_err(|_| Failure::new(Kind::Usage, format!("invalid --server {:?}", args.server)))?;
    let endpoint = with_tls(endpoint, args)?;
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
    Ok((channel, BearerAuth { header }))
}

/// TLS for an `https://` server: the system's roots plus `--ca-cert`, and a client certificate
/// for servers that require one. The key is never sent to an `https://` server over plaintext.
fn with_tls<F>(endpoint: Endpoint, args: &ClientArgs<F>) -> anyhow::Result<Endpoint>
where
    F: clap::ValueEnum + Clone + Send + Sync + 'static,
{
    use tonic::transport::{Certificate, ClientTlsConfig, Identity};
    let https = args.server.starts_with("https://");
    if !https {
        if args.ca_cert.is_some() || args.client_cert.is_some() {
            return Err(Failure::new(
                Kind::Usage,
                "--ca-cert and --client-cert need an https:// --server",
            )
            .into());
        }
        return Ok(endpoint);
    }
    let read = |path: &Path, what: &str| {
        std::fs::read(path).map_err(|error| {
            Failure::new(
                Kind::Usage,
                format!("cannot read the {what} {}: {error}", path.display()),
            )
        })
    };
    souk_service::tls::install_crypto_provider();
    let mut tls = ClientTlsConfig::new().with_native_roots();
    if let Some(path) = &args.ca_cert {
        tls = tls.ca_certificate(Certificate::from_pem(read(path, "CA certificate")?));
    }
    match (&args.client_cert, &args.client_key) {
        (Some(cert), Some(key)) => {
            tls = tls.identity(Identity::from_pem(
                read(cert, "client certificate")?,
                read(key, "client key")?,
            ));
        }
        (None, None) => {}
        _ => {
            return Err(
                Failure::new(Kind::Usage, "--client-cert and --client-key go together").into(),
            );
        }
    }
    Ok(endpoint
        .tls_config(tls)
        .map_err(|error| Failure::new(Kind::Usage, format!("invalid TLS settings: {error}")))?)
}

/// Every item of a paged list: `fetch(token)` returns one page and the next token (empty on the
/// last page).
pub async fn all_pages<T, F, Fut>(mut fetch: F) -> anyhow::Result<Vec<T>>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<(Vec<T>, String)>>,
{
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = fetch(token).await?;
        all.extend(items);
        if next.is_empty() {
            return Ok(all);
        }
        token = next;
    }
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
