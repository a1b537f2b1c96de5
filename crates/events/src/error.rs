//! The error type of this crate.

/// What went wrong while building, publishing, relaying or consuming events.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The event or one of its subject tokens is malformed; retrying will not help.
    #[error("invalid event: {0}")]
    InvalidEvent(String),
    /// A payload is not a protobuf `souk.events.v1.Event`.
    #[error("malformed event payload: {0}")]
    Decode(#[from] prost::DecodeError),
    /// The broker refused the call or could not be reached; retrying may help.
    #[error("broker unavailable: {0}")]
    Broker(String),
    /// The store refused the call or could not be reached.
    #[error("store: {0}")]
    Store(#[from] souk_core::Error),
    /// An external call did not answer in time; retrying may help.
    #[error("{0} timed out")]
    Timeout(&'static str),
    /// The in-process bus stayed full for longer than the publish timeout.
    #[error("in-process bus is full")]
    BusFull,
}

impl Error {
    /// Whether retrying the same call later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::InvalidEvent(_) | Error::Decode(_) => false,
            Error::Store(err) => err.code != souk_core::ErrorCode::InvalidArgument,
            Error::Broker(_) | Error::Timeout(_) | Error::BusFull => true,
        }
    }
}

impl From<Error> for souk_core::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::InvalidEvent(reason) => souk_core::Error::invalid_field("event", reason),
            Error::Decode(_) => souk_core::Error::internal(err.to_string()),
            Error::Store(err) => err,
            Error::Broker(_) | Error::Timeout(_) | Error::BusFull => {
                souk_core::Error::new(souk_core::ErrorCode::Unavailable, err.to_string())
            }
        }
    }
}
