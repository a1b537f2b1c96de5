//! The reporting service's failures, in the caller's vocabulary.

souk_core::service_error!("reporting");
