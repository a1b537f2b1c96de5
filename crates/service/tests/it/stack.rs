use souk_auth::Scope;
use souk_proto::reporting::GetUsageReportRequest;
use souk_proto::reporting::reporting_service_client::ReportingServiceClient;
use souk_proto::reporting::reporting_service_server::{ReportingService, ReportingServiceServer};
use souk_service::ServiceParts;
use tonic::{Code, Request};

/// A contract whose every RPC answers UNIMPLEMENTED, served through the kit as a service's
/// first draft is.
struct Draft;

impl ReportingService for Draft {}

fn draft() -> ServiceParts {
    ServiceParts::new(ReportingServiceServer::new(Draft))
}

fn authed<T>(secret: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {secret}").parse().expect("ascii header"),
    );
    request
}

#[tokio::test]
async fn a_draft_service_is_served_with_auth_health_reflection_and_metrics() {
    let spawned = souk_testkit::spawn::service(draft())
        .await
        .expect("service starts");
    let secret = spawned.keys.add_key(&[Scope::ReadOnly]);
    let channel = spawned.server.channel().await.expect("connect");
    let mut client = ReportingServiceClient::new(channel.clone());

    let refused = client
        .get_usage_report(GetUsageReportRequest::default())
        .await
        .expect_err("no key");
    assert_eq!(refused.code(), Code::Unauthenticated);
    let draft = client
        .get_usage_report(authed(&secret, GetUsageReportRequest::default()))
        .await
        .expect_err("draft");
    assert_eq!(draft.code(), Code::Unimplemented);

    let mut health = tonic_health::pb::health_client::HealthClient::new(channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "souk.reporting.v1.ReportingService".into(),
        })
        .await
        .expect("health without a key")
        .into_inner()
        .status;
    assert_eq!(status, 1, "SERVING");

    let mut v1 = souk_testkit::reflection::reflected_services(&spawned.server.url)
        .await
        .expect("reflection v1");
    v1.sort();
    assert_eq!(
        v1,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "souk.reporting.v1.ReportingService"
        ]
    );
    let mut v1alpha = souk_testkit::reflection::reflected_services_v1alpha(&spawned.server.url)
        .await
        .expect("reflection v1alpha");
    v1alpha.sort();
    assert_eq!(
        v1alpha,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
            "souk.reporting.v1.ReportingService"
        ]
    );

    // Junk method names share one `unknown` series instead of one series each.
    for n in 0..50 {
        let path = format!("/souk.reporting.v1.ReportingService/Junk{n}");
        let mut grpc = tonic::client::Grpc::new(channel.clone());
        grpc.ready().await.expect("ready");
        let _ = grpc
            .unary::<_, GetUsageReportRequest, _>(
                authed(&secret, GetUsageReportRequest::default()),
                path.parse().expect("path"),
                tonic_prost::ProstCodec::<GetUsageReportRequest, GetUsageReportRequest>::default(),
            )
            .await;
    }
    let exposition = spawned.server.metrics.encode().expect("metrics");
    assert!(!exposition.contains("Junk"), "{exposition}");
    assert!(exposition.contains("method=\"unknown\""), "{exposition}");
    assert!(
        exposition.contains("method=\"/souk.reporting.v1.ReportingService/GetUsageReport\""),
        "{exposition}"
    );
}

/// Sends raw bytes as the request message, as a broken client would.
#[derive(Debug, Clone, Default)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Self::Item,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), Self::Error> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Self::Item>, Self::Error> {
        use bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawDecoder
    }
}

#[tokio::test]
async fn a_malformed_request_message_is_invalid_argument() {
    let spawned = souk_testkit::spawn::service(draft())
        .await
        .expect("service starts");
    let secret = spawned.keys.add_key(&[Scope::ReadOnly]);
    let channel = spawned.server.channel().await.expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    // Field 1 with wire type 7, which does not exist: no protobuf message decodes from it.
    let status = grpc
        .unary::<Vec<u8>, Vec<u8>, _>(
            authed(&secret, vec![0x0f, 0xff, 0xff]),
            "/souk.reporting.v1.ReportingService/GetUsageReport"
                .parse()
                .expect("path"),
            RawCodec,
        )
        .await
        .expect_err("malformed");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("failed to decode Protobuf message"),
        "{status:?}"
    );
}
