//! The tower layer that authenticates every gRPC request.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tower::{Layer, Service};

use crate::authenticator::Authenticator;

/// Path prefixes served without an API key: health checks and reflection.
pub const EXEMPT_PATH_PREFIXES: &[&str] = &["/grpc.health.v1.", "/grpc.reflection."];

/// Authenticates every request from its `authorization: Bearer souk_…` header and puts the
/// [`Caller`](crate::Caller) into the request extensions; refuses with `UNAUTHENTICATED`
/// otherwise. Requests under [`EXEMPT_PATH_PREFIXES`] pass untouched.
///
/// Works with `tonic::transport::Server::builder().layer(auth.layer())`.
#[derive(Debug, Clone)]
pub struct AuthLayer {
    authenticator: Authenticator,
}

impl AuthLayer {
    /// A layer using `authenticator`.
    pub fn new(authenticator: Authenticator) -> Self {
        Self { authenticator }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Debug, Clone)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Authenticator,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for AuthService<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: Default + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<ReqBody>) -> Self::Future {
        // The clone is the service that was made ready; keep it and leave a fresh clone behind.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            let path = request.uri().path();
            if EXEMPT_PATH_PREFIXES
                .iter()
                .any(|prefix| path.starts_with(prefix))
            {
                return inner.call(request).await;
            }
            let header = request.headers().get(http::header::AUTHORIZATION);
            let outcome = match header.map(|v| v.to_str()) {
                None => authenticator.authenticate_header(None).await,
                Some(Ok(value)) => authenticator.authenticate_header(Some(value)).await,
                Some(Err(_)) => Err(crate::AuthError::Malformed),
            };
            match outcome {
                Ok(caller) => {
                    request.extensions_mut().insert(caller);
                    inner.call(request).await
                }
                Err(error) => {
                    authenticator.record_failure(&error, path);
                    Ok(error.to_status().into_http())
                }
            }
        })
    }
}
