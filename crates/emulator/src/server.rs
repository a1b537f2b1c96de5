//! The HTTP listener and protocol dispatch.
//!
//! One listener serves every protocol:
//!
//! | request | goes to |
//! |---|---|
//! | `POST /service/AWSMPEntitlementService/operation/<Op>` (rpcv2Cbor) | [`crate::entitlement::handle_cbor`] |
//! | `POST /service/AWSMPCommerceService_v20200301/operation/<Op>` (rpcv2Cbor, the Rust SDK) | `crate::agreement::handle_cbor` |
//! | `X-Amz-Target: AWSMPMeteringService.<Op>` | [`crate::metering::handle`] |
//! | `X-Amz-Target: AWSMPEntitlementService.<Op>` | [`crate::entitlement::handle_json`] |
//! | `X-Amz-Target: AWSMPCommerceService_v20200301.<Op>` | [`crate::agreement::handle`] |
//! | `X-Amz-Target: AmazonSQS.<Op>` | [`crate::sqs::handle`] |
//! | form `Action=AssumeRole\|GetCallerIdentity` | [`crate::sts::handle`] |
//! | any other form `Action=` | [`crate::sqs::handle_query`] |
//! | catalog restJson1 paths, `/_souk/...` | the catalog, notification and control routers |
//! | any other `GET`/`HEAD` | [`crate::s3::handle`] |
//!
//! Every AWS operation runs inside [`crate::faults::guarded`] (injected faults and per-role
//! denials). Signatures are never verified: any `Authorization` header is accepted and only its
//! access key id is read (to identify assumed-role sessions).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;

use crate::Emulator;
use crate::faults::{CallContext, guarded};
use crate::wire::query::{form_value, parse_form};
use crate::wire::{ApiError, Protocol, sigv4};

/// The Agreement API's service name (awsJson1_0 target prefix and rpcv2Cbor path segment).
const AGREEMENT_SERVICE: &str = "AWSMPCommerceService_v20200301";

/// The full router (AWS protocols, catalog, notifications, control API), with state.
pub fn router(emulator: Emulator) -> Router {
    Router::new()
        // `GET /` is S3 ListBuckets; POST / carries the AWS JSON and query protocols.
        .route("/", post(aws_post).get(fallback).head(fallback))
        .route(
            "/service/{service}/operation/{operation}",
            post(rpc_v2_cbor),
        )
        // Every router of every service, side by side: the whole route tree is here.
        .merge(crate::catalog::router())
        .merge(crate::notify::router())
        .merge(crate::control::router())
        .merge(crate::catalog::control_router())
        .merge(crate::agreement::control::router())
        .merge(crate::notify::control_router())
        .merge(crate::feeds::control_router())
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(
            emulator.clone(),
            housekeeping,
        ))
        .with_state(emulator)
}

/// Before every request, whatever its protocol: move the world to the emulator's "now"
/// ([`crate::advance::advance`]), so no handler sees a deadline that has passed without its
/// effect. After every request (a GET may change the world too, e.g. an SNS confirmation or a
/// transition): journal what changed when a state file is configured, before the response
/// leaves, so an acknowledged change survives a kill -9.
async fn housekeeping(State(emulator): State<Emulator>, request: Request, next: Next) -> Response {
    emulator.advance_world();
    let response = next.run(request).await;
    if emulator.config().state_file.is_some()
        && let Err(err) = crate::persist::save(&emulator).await
    {
        tracing::error!(error = %err, "could not persist the emulator state");
    }
    response
}

async fn rpc_v2_cbor(
    State(emulator): State<Emulator>,
    Path((service, operation)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if service == AGREEMENT_SERVICE {
        let ctx = CallContext {
            service: "agreement",
            operation: &operation,
            protocol: Protocol::RpcV2Cbor,
            access_key_id: sigv4::access_key_id(&headers),
        };
        return guarded(&emulator, ctx, || async {
            crate::agreement::handle_cbor(&emulator, &operation, &body)
        })
        .await;
    }
    if service != crate::entitlement::SERVICE {
        return ApiError::unknown_operation(&format!("{service}.{operation}"))
            .into_response(Protocol::RpcV2Cbor);
    }
    let ctx = CallContext {
        service: "entitlement",
        operation: &operation,
        protocol: Protocol::RpcV2Cbor,
        access_key_id: sigv4::access_key_id(&headers),
    };
    guarded(&emulator, ctx, || async {
        crate::entitlement::handle_cbor(&emulator, &operation, &body)
    })
    .await
}

async fn aws_post(State(emulator): State<Emulator>, headers: HeaderMap, body: Bytes) -> Response {
    dispatch_post(&emulator, &headers, body).await
}

async fn fallback(
    State(emulator): State<Emulator>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The control API's namespace never falls through to an AWS protocol: an unknown route
    // there is a mistake in the caller's URL, answered in the control API's error shape.
    let path = uri.path();
    if path == "/_souk" || path.starts_with("/_souk/") {
        return crate::wire::rest::not_found(format!(
            "no control route {method} {path} (see docs/emulator.md)"
        ));
    }
    // S3 bucket names are lower-case, so a capitalized first segment is a restJson1 operation
    // (Catalog's `/DescribeAssessment`, ...) the emulator does not serve: say so in that
    // protocol instead of answering S3's NoSuchBucket or an awsJson error.
    let first = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    if first.starts_with(|c: char| c.is_ascii_uppercase()) {
        return ApiError::unknown_operation(first).into_response(Protocol::RestJson1);
    }
    match method {
        Method::POST => dispatch_post(&emulator, &headers, body).await,
        Method::GET | Method::HEAD => {
            let path = uri.path();
            let segments = path.split('/').filter(|s| !s.is_empty()).count();
            let operation = match (segments, method == Method::HEAD) {
                (0, _) => "ListBuckets",
                (1, false) => "ListObjectsV2",
                (1, true) => "HeadBucket",
                (_, false) => "GetObject",
                (_, true) => "HeadObject",
            };
            let ctx = CallContext {
                service: "s3",
                operation,
                protocol: Protocol::RestXml,
                access_key_id: sigv4::access_key_id(&headers),
            };
            guarded(&emulator, ctx, || async {
                crate::s3::handle(&emulator, &method, path, uri.query())
            })
            .await
        }
        _ => ApiError::with_status(
            http::StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "method not allowed",
        )
        .into_response(Protocol::RestJson1),
    }
}

/// Dispatches a `POST` by `X-Amz-Target` (JSON protocols) or form `Action` (awsQuery).
async fn dispatch_post(emulator: &Emulator, headers: &HeaderMap, body: Bytes) -> Response {
    let access_key_id = sigv4::access_key_id(headers);
    let region = sigv4::region(headers);
    if let Some(target) = headers.get("x-amz-target") {
        let target = target.to_str().unwrap_or_default();
        let (prefix, operation) = target.split_once('.').unwrap_or((target, ""));
        let (service, protocol) = match prefix {
            crate::metering::TARGET_PREFIX => ("metering", Protocol::AwsJson1_1),
            crate::entitlement::SERVICE => ("entitlement", Protocol::AwsJson1_1),
            AGREEMENT_SERVICE => ("agreement", Protocol::AwsJson1_0),
            "AmazonSQS" => ("sqs", Protocol::AwsJson1_0),
            _ => return ApiError::unknown_operation(target).into_response(Protocol::AwsJson1_1),
        };
        let ctx = CallContext {
            service,
            operation,
            protocol,
            access_key_id: access_key_id.clone(),
        };
        return guarded(emulator, ctx, || async {
            match service {
                "metering" => crate::metering::handle(
                    emulator,
                    operation,
                    &body,
                    access_key_id.as_deref(),
                    region.as_deref(),
                ),
                "entitlement" => crate::entitlement::handle_json(emulator, operation, &body),
                "agreement" => crate::agreement::handle(emulator, operation, body.clone()),
                _ => crate::sqs::handle(emulator, operation, body.clone()),
            }
        })
        .await;
    }
    let is_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.contains("json") || ct.contains("cbor"));
    if is_json {
        return ApiError::client("UnknownOperationException", "missing X-Amz-Target header")
            .into_response(Protocol::AwsJson1_1);
    }
    let form = match parse_form(&body) {
        Ok(form) => form,
        Err(err) => return err.into_response(Protocol::AwsQuery),
    };
    let Some(action) = form_value(&form, "Action").map(str::to_owned) else {
        return ApiError::client(
            "MissingAction",
            "The request must contain the parameter Action.",
        )
        .into_response(Protocol::AwsQuery);
    };
    let service = if matches!(action.as_str(), "AssumeRole" | "GetCallerIdentity") {
        "sts"
    } else {
        "sqs"
    };
    let ctx = CallContext {
        service,
        operation: &action,
        protocol: Protocol::AwsQuery,
        access_key_id: access_key_id.clone(),
    };
    guarded(emulator, ctx, || async {
        if service == "sts" {
            crate::sts::handle(
                emulator,
                &action,
                &form,
                access_key_id.as_deref(),
                region.as_deref(),
            )
        } else {
            crate::sqs::handle_query(emulator, form.clone())
        }
    })
    .await
}

impl Emulator {
    /// The HTTP router serving every protocol and the control API.
    pub fn router(&self) -> axum::Router {
        router(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes, with the notification delivery task
    /// running alongside; drains in-flight requests before returning.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let watcher = tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let mut delivery_stop = stop_rx.clone();
        let delivery = crate::notify::start_delivery(self.clone(), async move {
            let _ = delivery_stop.wait_for(|stop| *stop).await;
        });
        let mut server_stop = stop_rx;
        let result = axum::serve(listener, self.router())
            .with_graceful_shutdown(async move {
                let _ = server_stop.wait_for(|stop| *stop).await;
            })
            .await;
        watcher.abort();
        delivery.abort();
        // Changes made outside requests (notification deliveries) since the last one.
        if let Err(err) = crate::persist::save(&self).await {
            tracing::error!(error = %err, "could not persist the emulator state");
        }
        result
    }
}

/// An emulator serving on a loopback port, for tests; shuts down when dropped.
#[derive(Debug)]
pub struct RunningEmulator {
    /// `http://127.0.0.1:<port>`: the endpoint URL for every SDK client.
    pub url: String,
    /// The emulator, for driving state directly.
    pub emulator: Emulator,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningEmulator {
    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts an emulator (restored from `config.state_file` when set) on `127.0.0.1:0`.
pub async fn spawn(config: crate::EmulatorConfig) -> std::io::Result<RunningEmulator> {
    let emulator = Emulator::load(config)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    crate::notify::set_public_url(&emulator, &url);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = emulator.clone();
    let task = tokio::spawn(server.serve(listener, async move {
        let _ = rx.await;
    }));
    Ok(RunningEmulator {
        url,
        emulator,
        shutdown: Some(tx),
        task: Some(task),
    })
}
