//! `souk report page`: asks the server's HTTP port for a signed link to an integration's revenue
//! page (`POST /reports/links` with the API key) and prints it, to open in a browser. The link
//! works without the key until it expires; the key itself never goes into it.

use souk_reporting::web::auth::query_escape;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use serde_json::{Value, json};
use tokio_rustls::rustls;

use super::resolve_api_key;
use crate::args::{ClientArgs, OutputFormat, ReportPageArgs};
use crate::exit::{Failure, Kind};

/// How long asking for the link may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest a link may work (the server's limit).
const MAX_LIFETIME_SECONDS: u64 = 24 * 3600;

/// The largest answer read (the answer is a line of JSON).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Runs `souk report page`.
pub async fn run(request: ReportPageArgs) -> anyhow::Result<()> {
    let client = &request.client;
    let base = base_url(&request.http_url)?;
    if !(1..=MAX_LIFETIME_SECONDS).contains(&request.expires_in) {
        return Err(Failure::new(
            Kind::Usage,
            "--expires-in must be from 1s to 24h: the link cannot be revoked before it expires",
        )
        .into());
    }
    let key = resolve_api_key(client.api_key.as_deref(), &client.data_dir)?;
    let answer = post(&base, &links_path(&request), &key, client).await?;
    let path = answer["path"]
        .as_str()
        .filter(|p| p.starts_with("/reports?"))
        .ok_or_else(|| Failure::new(Kind::Failure, format!("unexpected answer: {answer}")))?;
    let url = format!("{base}{path}");
    let expire_time = answer["expire_time"].as_str().unwrap_or_default();
    match client.output {
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "url": url,
                "integration_id": request.integration,
                "expire_time": expire_time,
            }))
            .unwrap_or_default()
        ),
        OutputFormat::Table => {
            println!("{url}");
            eprintln!(
                "works until {expire_time} for whoever has it, without an API key: share it \
                 only with who may see this revenue"
            );
        }
    }
    Ok(())
}

/// `--http-url` without a trailing `/`; a usage error unless `http://` or `https://` with a host.
pub fn base_url(raw: &str) -> anyhow::Result<String> {
    let base = raw.trim_end_matches('/').to_owned();
    let uri: Option<http::Uri> = base.parse().ok();
    let valid = uri.is_some_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.authority().is_some()
            && uri.path().trim_end_matches('/').is_empty()
    });
    if !valid {
        return Err(Failure::new(
            Kind::Usage,
            format!(
                "invalid --http-url {raw:?}: expected the HTTP port's base URL, e.g. \
                 http://127.0.0.1:8080"
            ),
        )
        .into());
    }
    Ok(base)
}

/// The path and query of the link request.
pub fn links_path(request: &ReportPageArgs) -> String {
    let mut pairs = vec![
        ("integration_id", request.integration.clone()),
        ("expires_in", request.expires_in.to_string()),
    ];
    if let Some(start) = &request.start {
        pairs.push(("start", start.clone()));
    }
    if let Some(end) = &request.end {
        pairs.push(("end", end.clone()));
    }
    let query: Vec<String> = pairs
        .into_iter()
        .map(|(name, value)| format!("{name}={}", query_escape(&value)))
        .collect();
    format!("/reports/links?{}", query.join("&"))
}

/// POSTs `path` to `base` with the API key and returns the JSON answer, or the failure its
/// status says.
async fn post(base: &str, path: &str, key: &str, args: &ClientArgs) -> anyhow::Result<Value> {
    let client: Client<_, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector(args)?);
    let request = Request::builder()
        .method(Method::POST)
        .uri(format!("{base}{path}"))
        .header(header::AUTHORIZATION, format!("Bearer {key}"))
        .header(header::ACCEPT, "application/json")
        .body(Empty::new())?;
    let exchange = async {
        let response = client.request(request).await.map_err(|error| {
            Failure::new(
                Kind::Unavailable,
                format!("cannot reach Souk's HTTP port at {base} (is `souk dev` running? --http-url names it): {error}"),
            )
        })?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|error| {
                Failure::new(
                    Kind::Unavailable,
                    format!("reading the answer failed: {error}"),
                )
            })?
            .to_bytes();
        Ok::<_, anyhow::Error>((status, body))
    };
    let (status, body) = tokio::time::timeout(CALL_TIMEOUT, exchange)
        .await
        .map_err(|_| {
            Failure::new(
                Kind::Unavailable,
                format!("{base} did not answer within {} s", CALL_TIMEOUT.as_secs()),
            )
        })??;
    let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(value);
    }
    let message = value["error"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{base}{} answered {status}", path_only(path)));
    let kind = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Kind::Auth,
        StatusCode::BAD_REQUEST => Kind::Invalid,
        StatusCode::NOT_FOUND => Kind::NotFound,
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => Kind::Unavailable,
        _ => Kind::Failure,
    };
    let message = if status == StatusCode::NOT_FOUND && value["error"].is_null() {
        format!(
            "{message}: is --http-url the HTTP port of a server that serves the reporting service?"
        )
    } else {
        message
    };
    Err(Failure::new(kind, message).into())
}

fn path_only(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

/// Plain HTTP, or HTTPS trusting the system's roots, or only `--ca-cert` when given.
fn connector(args: &ClientArgs) -> anyhow::Result<HttpsConnector<HttpConnector>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = match &args.ca_cert {
        None => HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|error| {
                Failure::new(
                    Kind::Failure,
                    format!("no system root certificates (give --ca-cert): {error}"),
                )
            })?,
        Some(path) => {
            let pem = std::fs::read(path).map_err(|error| {
                Failure::new(
                    Kind::Usage,
                    format!("cannot read the CA certificate {}: {error}", path.display()),
                )
            })?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let added = cert
                    .map_err(|error| error.to_string())
                    .and_then(|cert| roots.add(cert).map_err(|error| error.to_string()));
                if let Err(error) = added {
                    return Err(Failure::new(
                        Kind::Usage,
                        format!("{} is not a PEM certificate: {error}", path.display()),
                    )
                    .into());
                }
            }
            let tls = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|error| {
                    Failure::new(Kind::Failure, format!("TLS configuration: {error}"))
                })?
                .with_root_certificates(roots)
                .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(tls)
        }
    };
    Ok(builder.https_or_http().enable_http1().build())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_link_request_carries_the_range_and_lifetime_escaped() {
        use clap::Parser as _;

        use crate::args::{Cli, Command, ReportCommand};
        let cli = Cli::try_parse_from([
            "souk",
            "report",
            "page",
            "--integration",
            "int_0123",
            "--start",
            "2026-01-01",
            "--end",
            "2026 07&x",
        ])
        .unwrap();
        let Command::Report(ReportCommand::Page(request)) = cli.command else {
            panic!("not report page");
        };
        assert_eq!(
            links_path(&request),
            "/reports/links?integration_id=int_0123&expires_in=3600&start=2026-01-01&end=2026%2007%26x"
        );
    }

    #[test]
    fn the_http_url_is_a_base_url() {
        assert_eq!(
            base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            base_url("https://souk.example.com").unwrap(),
            "https://souk.example.com"
        );
        for bad in ["127.0.0.1:8080", "ftp://x", "http://x/reports", ""] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }
}
