//! A request body that is not the RPC's protobuf message is the caller's fault: tonic answers
//! INTERNAL "failed to decode Protobuf message"; [`caller_fault`] turns that into
//! INVALID_ARGUMENT with the same message, so clients do not retry it as a server failure.

use tonic::{Code, Status};

/// What tonic says when the request message does not decode.
const DECODE_FAILURE: &str = "failed to decode Protobuf message";

/// The layer; add it to the gRPC stack.
pub fn layer<B>() -> tower::util::MapResponseLayer<fn(http::Response<B>) -> http::Response<B>> {
    tower::util::MapResponseLayer::new(caller_fault::<B>)
}

/// `response` with a decoding failure reported as INVALID_ARGUMENT.
pub fn caller_fault<B>(mut response: http::Response<B>) -> http::Response<B> {
    if let Some(status) = Status::from_header_map(response.headers())
        && status.code() == Code::Internal
        && status.message().starts_with(DECODE_FAILURE)
    {
        let fixed = Status::invalid_argument(status.message());
        // Only the status headers change; an encoding failure keeps the original.
        let _ = fixed.add_header(response.headers_mut());
    }
    response
}
