//! The one mapping from domain errors to gRPC statuses.

souk_service::status_from_service_error!(crate::domain::Error);
