//! Malformed requests get AWS's protocol errors, never a panic or a hang.

use crate::support::*;

#[tokio::test]
async fn json_protocol_errors() {
    let env = env().await;
    seed(&env.emu.url).await;
    let url = &env.emu.url;
    let cases: [(&str, &[u8], &str); 8] = [
        (
            "AWSMPMeteringService.BatchMeterUsage",
            b"{not json",
            "SerializationException",
        ),
        (
            "AWSMPMeteringService.BatchMeterUsage",
            b"[1,2]",
            "SerializationException",
        ),
        (
            "AWSMPMeteringService.BatchMeterUsage",
            br#"{"ProductCode":5,"UsageRecords":[]}"#,
            "SerializationException",
        ),
        (
            "AWSMPMeteringService.BatchMeterUsage",
            br#"{"ProductCode":"prod-saas-1","UsageRecords":[{"Dimension":"users"}]}"#,
            "ValidationException",
        ),
        (
            "AWSMPMeteringService.BatchMeterUsage",
            br#"{"ProductCode":"prod-saas-1"}"#,
            "ValidationException",
        ),
        (
            "AWSMPMeteringService.Nope",
            b"{}",
            "UnknownOperationException",
        ),
        ("SomethingElse.Op", b"{}", "UnknownOperationException"),
        (
            "AWSMPEntitlementService.GetEntitlements",
            br#"{"ProductCode":"prod-saas-1","MaxResults":"ten"}"#,
            "SerializationException",
        ),
    ];
    for (target, body, code) in cases {
        let response = aws_json(url, target, body).await;
        assert_eq!(response.status, 400, "{target} {}", response.text());
        assert_eq!(
            response.json()["__type"],
            code,
            "{target} {}",
            response.text()
        );
        assert_eq!(response.header("x-amzn-errortype"), Some(code));
        assert!(response.header("x-amzn-requestid").is_some());
    }
    let response = aws_json(
        url,
        "AWSMPEntitlementService.GetEntitlements",
        br#"{"Filter":{}}"#,
    )
    .await;
    assert_eq!(response.json()["__type"], "InvalidParameterException");
}

#[tokio::test]
async fn cbor_protocol_errors() {
    let env = env().await;
    let path = "/service/AWSMPEntitlementService/operation/GetEntitlements";
    let headers = [
        ("content-type", "application/cbor"),
        ("smithy-protocol", "rpc-v2-cbor"),
    ];
    for body in [
        &b"\xff\x00garbage"[..],
        b"\xbf",
        b"\x9f\xff",
        b"{\"json\":1}",
    ] {
        let response = raw(&env.emu.url, "POST", path, &headers, body).await;
        assert_eq!(response.status, 400);
        assert_eq!(
            response.header("x-amzn-errortype"),
            Some("SerializationException")
        );
        let decoded: Result<ciborium::Value, _> =
            ciborium::de::from_reader(response.body.as_slice());
        assert!(decoded.is_ok(), "CBOR error body");
    }
    let response = raw(
        &env.emu.url,
        "POST",
        "/service/AWSMPEntitlementService/operation/Nope",
        &headers,
        b"\xa0",
    )
    .await;
    assert_eq!(
        response.header("x-amzn-errortype"),
        Some("UnknownOperationException")
    );
}

#[tokio::test]
async fn query_protocol_errors() {
    let env = env().await;
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let response = raw(&env.emu.url, "POST", "/", &form, b"Version=2011-06-15").await;
    assert_eq!(response.status, 400);
    assert!(response.text().contains("<Code>MissingAction</Code>"));
    let response = raw(
        &env.emu.url,
        "POST",
        "/",
        &form,
        b"Action=AssumeRole&Version=2011-06-15",
    )
    .await;
    assert_eq!(response.status, 400);
    assert!(
        response.text().contains("<Code>ValidationError</Code>"),
        "{}",
        response.text()
    );
    assert!(response.text().contains("<Type>Sender</Type>"));
}

#[tokio::test]
async fn signed_requests_are_accepted_without_verification() {
    let env = env().await;
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "AWSMPMeteringService.ResolveCustomer"),
        (
            "authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDBOTO/20261122/us-east-1/aws-marketplace/aws4_request, SignedHeaders=host, Signature=00",
        ),
        ("x-amz-date", "20261122T000000Z"),
    ];
    let response = raw(
        &env.emu.url,
        "POST",
        "/",
        &headers,
        br#"{"RegistrationToken":"nope"}"#,
    )
    .await;
    assert_eq!(response.json()["__type"], "InvalidTokenException");
}
