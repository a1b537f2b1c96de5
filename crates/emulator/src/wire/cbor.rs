//! Smithy RPC v2 CBOR: `POST /service/<Service>/operation/<Operation>`, CBOR bodies,
//! `smithy-protocol: rpc-v2-cbor` on requests and responses.
//!
//! Requests are decoded into a [`serde_json::Value`] (tag-1 timestamps become epoch-second
//! numbers, byte strings become base64 text) so one input parser serves the JSON and the CBOR
//! path of an operation. Responses are built from a JSON value plus the names of its timestamp
//! members, which are written as CBOR tag 1 (epoch seconds) as the protocol requires.
//! The decoder accepts definite and indefinite-length items and never panics on input.

use std::io::Cursor;

use axum::body::Body;
use axum::response::Response;
use base64::Engine as _;
use ciborium::value::{Integer, Value as Cbor};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value as Json;

use super::{ApiError, REQUEST_ID_HEADER, request_id};

/// Content type of rpcv2Cbor bodies.
pub const CONTENT_TYPE: &str = "application/cbor";
/// The protocol header (`smithy-protocol: rpc-v2-cbor`).
pub const PROTOCOL_HEADER: &str = "smithy-protocol";
/// Its value.
pub const PROTOCOL_VALUE: &str = "rpc-v2-cbor";

/// Decodes a request body into JSON. An empty body is `{}` (Smithy: operations without input
/// may send none). Anything but one CBOR map is `SerializationException`.
pub fn decode_request(body: &[u8]) -> Result<Json, ApiError> {
    if body.is_empty() {
        return Ok(Json::Object(serde_json::Map::new()));
    }
    let mut cursor = Cursor::new(body);
    let value: Cbor = ciborium::de::from_reader(&mut cursor).map_err(|err| {
        ApiError::serialization(format!("could not decode CBOR request body: {err}"))
    })?;
    if usize::try_from(cursor.position()).unwrap_or(usize::MAX) != body.len() {
        return Err(ApiError::serialization(
            "trailing bytes after the CBOR request body",
        ));
    }
    if !value.is_map() {
        return Err(ApiError::serialization(
            "the CBOR request body must be a map",
        ));
    }
    cbor_to_json(value)
}

/// Converts a decoded CBOR value to JSON (see the module docs for the mapping).
pub fn cbor_to_json(value: Cbor) -> Result<Json, ApiError> {
    Ok(match value {
        Cbor::Null => Json::Null,
        Cbor::Bool(b) => Json::Bool(b),
        Cbor::Integer(i) => integer_to_json(i),
        Cbor::Float(f) => serde_json::Number::from_f64(f)
            .map(Json::Number)
            .unwrap_or(Json::Null),
        Cbor::Text(s) => Json::String(s),
        Cbor::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Cbor::Array(items) => Json::Array(
            items
                .into_iter()
                .map(cbor_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Cbor::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                let Cbor::Text(key) = key else {
                    return Err(ApiError::serialization(
                        "CBOR map keys must be text strings",
                    ));
                };
                map.insert(key, cbor_to_json(value)?);
            }
            Json::Object(map)
        }
        // Tag 1 is an epoch-seconds timestamp; any other tag is read as its content.
        Cbor::Tag(1, inner) => match *inner {
            Cbor::Integer(i) => integer_to_json(i),
            Cbor::Float(f) => serde_json::Number::from_f64(f)
                .map(Json::Number)
                .unwrap_or(Json::Null),
            _ => return Err(ApiError::serialization("CBOR tag 1 must wrap a number")),
        },
        Cbor::Tag(_, inner) => cbor_to_json(*inner)?,
        _ => return Err(ApiError::serialization("unsupported CBOR item")),
    })
}

fn integer_to_json(i: Integer) -> Json {
    let wide = i128::from(i);
    if let Ok(v) = i64::try_from(wide) {
        Json::from(v)
    } else if let Ok(v) = u64::try_from(wide) {
        Json::from(v)
    } else {
        Json::from(wide as f64)
    }
}

/// Converts a JSON value to CBOR; numbers under a key listed in `timestamp_members` become
/// tag-1 timestamps.
pub fn json_to_cbor(value: &Json, timestamp_members: &[&str]) -> Cbor {
    match value {
        Json::Null => Cbor::Null,
        Json::Bool(b) => Cbor::Bool(*b),
        Json::Number(n) => number_to_cbor(n),
        Json::String(s) => Cbor::Text(s.clone()),
        Json::Array(items) => Cbor::Array(
            items
                .iter()
                .map(|item| json_to_cbor(item, timestamp_members))
                .collect(),
        ),
        Json::Object(map) => Cbor::Map(
            map.iter()
                .map(|(key, value)| {
                    let encoded = match value {
                        Json::Number(n) if timestamp_members.contains(&key.as_str()) => {
                            Cbor::Tag(1, Box::new(number_to_cbor(n)))
                        }
                        other => json_to_cbor(other, timestamp_members),
                    };
                    (Cbor::Text(key.clone()), encoded)
                })
                .collect(),
        ),
    }
}

fn number_to_cbor(n: &serde_json::Number) -> Cbor {
    if let Some(i) = n.as_i64() {
        Cbor::Integer(i.into())
    } else if let Some(u) = n.as_u64() {
        Cbor::Integer(u.into())
    } else {
        Cbor::Float(n.as_f64().unwrap_or(0.0))
    }
}

/// A 200 response whose body is `value` encoded as CBOR (timestamps per `timestamp_members`).
pub fn ok_response(value: &Json, timestamp_members: &[&str]) -> Response {
    response(
        StatusCode::OK,
        &json_to_cbor(value, timestamp_members),
        None,
    )
}

/// An rpcv2Cbor error: status per shape and a CBOR map `{"__type": Code, "message": ...}`.
pub fn error_response(error: &ApiError) -> Response {
    let mut entries = vec![
        (Cbor::Text("__type".into()), Cbor::Text(error.code.clone())),
        (
            Cbor::Text("message".into()),
            Cbor::Text(error.message.clone()),
        ),
    ];
    for (name, value) in &error.members {
        entries.push((Cbor::Text(name.clone()), json_to_cbor(value, &[])));
    }
    let body = Cbor::Map(entries);
    let mut response = response(error.status, &body, Some(&error.code));
    super::echo_request_id(&mut response, error);
    response
}

fn response(status: StatusCode, body: &Cbor, error_type: Option<&str>) -> Response {
    let mut bytes = Vec::new();
    if ciborium::ser::into_writer(body, &mut bytes).is_err() {
        bytes.clear();
    }
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(PROTOCOL_HEADER, HeaderValue::from_static(PROTOCOL_VALUE));
    if let Ok(id) = HeaderValue::from_str(&request_id()) {
        headers.insert(REQUEST_ID_HEADER, id);
    }
    if let Some(code) = error_type.and_then(|code| HeaderValue::from_str(code).ok()) {
        headers.insert("x-amzn-ErrorType", code);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_observed_indefinite_length_request() {
        // bf 6b "ProductCode" 65 "prod1" 66 "Filter" bf 77 "CUSTOMER_AWS_ACCOUNT_ID" 9f 6c
        // "123456789012" ff ff 6a "MaxResults" 0a ff
        let mut body = vec![0xbf, 0x6b];
        body.extend_from_slice(b"ProductCode");
        body.push(0x65);
        body.extend_from_slice(b"prod1");
        body.push(0x66);
        body.extend_from_slice(b"Filter");
        body.extend_from_slice(&[0xbf, 0x77]);
        body.extend_from_slice(b"CUSTOMER_AWS_ACCOUNT_ID");
        body.extend_from_slice(&[0x9f, 0x6c]);
        body.extend_from_slice(b"123456789012");
        body.extend_from_slice(&[0xff, 0xff, 0x6a]);
        body.extend_from_slice(b"MaxResults");
        body.extend_from_slice(&[0x0a, 0xff]);
        let json = decode_request(&body).map_err(|e| e.to_string());
        assert_eq!(
            json,
            Ok(serde_json::json!({
                "ProductCode": "prod1",
                "Filter": {"CUSTOMER_AWS_ACCOUNT_ID": ["123456789012"]},
                "MaxResults": 10
            }))
        );
    }

    #[test]
    fn timestamps_are_tagged() {
        let cbor = json_to_cbor(
            &serde_json::json!({"ExpirationDate": 1.5, "N": 2}),
            &["ExpirationDate"],
        );
        let Cbor::Map(entries) = cbor else {
            panic!("not a map")
        };
        assert!(entries.iter().any(|(_, v)| matches!(v, Cbor::Tag(1, _))));
        assert!(entries.iter().any(|(_, v)| matches!(v, Cbor::Integer(_))));
    }

    #[test]
    fn garbage_is_a_serialization_error() {
        for body in [
            &b"\xff"[..],
            b"\xbf",
            b"\x9f\xff",
            b"\xa1\x01\x02",
            b"{}",
            b"\xa0\x00",
        ] {
            let err = decode_request(body).err().map(|e| e.code);
            assert_eq!(err.as_deref(), Some("SerializationException"), "{body:?}");
        }
    }
}
