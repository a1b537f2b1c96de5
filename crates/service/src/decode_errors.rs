//! A request body that is not the RPC's protobuf message is the caller's fault: tonic answers
//! INTERNAL "failed to decode Protobuf message"; this layer turns that into INVALID_ARGUMENT
//! with the same message, so clients do not retry it as a server failure.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::{Code, Status};

/// What tonic says when the request message does not decode.
const DECODE_FAILURE: &str = "failed to decode Protobuf message";

/// The layer; add it outermost of the gRPC stack.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeErrorsLayer;

impl<S> tower::Layer<S> for DecodeErrorsLayer {
    type Service = DecodeErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DecodeErrors { inner }
    }
}

/// The service [`DecodeErrorsLayer`] wraps.
#[derive(Debug, Clone)]
pub struct DecodeErrors<S> {
    inner: S,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for DecodeErrors<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let future = self.inner.call(request);
        Box::pin(async move {
            let mut response = future.await?;
            if let Some(status) = Status::from_header_map(response.headers())
                && status.code() == Code::Internal
                && status.message().starts_with(DECODE_FAILURE)
            {
                let fixed = Status::invalid_argument(status.message());
                // Only the status headers change; an encoding failure keeps the original.
                let _ = fixed.add_header(response.headers_mut());
            }
            Ok(response)
        })
    }
}
