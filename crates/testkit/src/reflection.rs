//! Listing the services of a gRPC server through server reflection, in both protocol versions
//! Souk serves (`grpc.reflection.v1` and `v1alpha`).

use anyhow::{Context, bail};

/// A ListServices call through the reflection protocol version `$version`.
macro_rules! list_services {
    ($version:ident, $grpc_url:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

        let channel = tonic::transport::Endpoint::from_shared($grpc_url.to_owned())?
            .connect()
            .await?;
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut responses = ServerReflectionClient::new(channel)
            .server_reflection_info(tokio_stream::once(request))
            .await?
            .into_inner();
        let response = responses
            .message()
            .await?
            .context("the reflection stream ended without an answer")?;
        match response.message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                Ok(list.service.into_iter().map(|s| s.name).collect())
            }
            other => bail!("unexpected reflection answer: {other:?}"),
        }
    }};
}

/// The services the server lists through gRPC reflection (v1), as `grpcurl list` would.
pub async fn reflected_services(grpc_url: &str) -> anyhow::Result<Vec<String>> {
    list_services!(v1, grpc_url)
}

/// The services listed by `grpc.reflection.v1alpha` (what Python's reflection client and several
/// GUI tools speak).
pub async fn reflected_services_v1alpha(grpc_url: &str) -> anyhow::Result<Vec<String>> {
    list_services!(v1alpha, grpc_url)
}
