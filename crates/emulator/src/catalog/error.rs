//! Catalog API errors: HTTP status from the model's `@httpError`, header `x-amzn-ErrorType` and
//! body `{"Message": "..."}` (restJson1, capital `Message`).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A synchronous Catalog API error, named as AWS names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// 422: the request failed schema validation.
    #[error("ValidationException: {0}")]
    Validation(String),
    /// 404: an entity, change set or product does not exist.
    #[error("ResourceNotFoundException: {0}")]
    NotFound(String),
    /// 403: the caller may not act on the resource.
    #[error("AccessDeniedException: {0}")]
    AccessDenied(String),
    /// 402: too many open change sets.
    #[error("ServiceQuotaExceededException: {0}")]
    QuotaExceeded(String),
    /// 423: an entity is locked by a running change set, or the change set can't be cancelled.
    #[error("ResourceInUseException: {0}")]
    InUse(String),
    /// 429: request rate exceeded (injected).
    #[error("ThrottlingException: {0}")]
    Throttling(String),
    /// 415: the entity type can't be described.
    #[error("ResourceNotSupportedException: {0}")]
    NotSupported(String),
    /// 500: injected server fault.
    #[error("InternalServiceException: {0}")]
    Internal(String),
}

impl CatalogError {
    /// The AWS error type name (`x-amzn-ErrorType`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Validation(_) => "ValidationException",
            Self::NotFound(_) => "ResourceNotFoundException",
            Self::AccessDenied(_) => "AccessDeniedException",
            Self::QuotaExceeded(_) => "ServiceQuotaExceededException",
            Self::InUse(_) => "ResourceInUseException",
            Self::Throttling(_) => "ThrottlingException",
            Self::NotSupported(_) => "ResourceNotSupportedException",
            Self::Internal(_) => "InternalServiceException",
        }
    }

    /// The HTTP status the model binds to the error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::AccessDenied(_) => StatusCode::FORBIDDEN,
            Self::QuotaExceeded(_) => StatusCode::PAYMENT_REQUIRED,
            Self::InUse(_) => StatusCode::LOCKED,
            Self::Throttling(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::NotSupported(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn message(&self) -> &str {
        match self {
            Self::Validation(m)
            | Self::NotFound(m)
            | Self::AccessDenied(m)
            | Self::QuotaExceeded(m)
            | Self::InUse(m)
            | Self::Throttling(m)
            | Self::NotSupported(m)
            | Self::Internal(m) => m,
        }
    }

    /// Shorthand for a validation error.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::Validation(message.into())
    }
}

impl From<CatalogError> for crate::wire::ApiError {
    fn from(error: CatalogError) -> Self {
        crate::wire::ApiError::with_status(error.status(), error.type_name(), error.message())
    }
}

impl IntoResponse for CatalogError {
    fn into_response(self) -> Response {
        crate::wire::rest::error_response(&self.into())
    }
}

/// Result alias for synchronous catalog operations.
pub type CatalogResult<T> = Result<T, CatalogError>;
