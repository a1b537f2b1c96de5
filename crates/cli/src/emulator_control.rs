//! A client of the emulator's control API (`/_souk/…`, HTTP/JSON, see docs/emulator.md), for
//! `souk sandbox` and for wiring the sandbox in `souk dev`. Emulator errors (`{"Message"}` with
//! `x-amzn-ErrorType`) become [`Failure`]s with the exit code of their HTTP status; a refused
//! connection says how to start the emulator.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::exit::{Failure, Kind};

/// How long one control call may take, connection included.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest answer read (the control API's answers are small).
const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// A client of one emulator's control API.
pub struct EmulatorClient {
    /// The base URL without a trailing `/`.
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl EmulatorClient {
    /// A client of the emulator at `emulator_url` (`--emulator-url`) (plain `http://`, as the emulator serves).
    pub fn new(emulator_url: &str) -> anyhow::Result<Self> {
        let base = emulator_url.trim_end_matches('/').to_owned();
        let invalid = || {
            Failure::new(
                Kind::Usage,
                format!(
                    "invalid --emulator-url {:?}: expected http://HOST:PORT (the emulator speaks \
                     plain HTTP)",
                    emulator_url
                ),
            )
        };
        let uri: http::Uri = base.parse().map_err(|_| invalid())?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            return Err(invalid().into());
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { base, client })
    }

    /// Sends one control call and returns its JSON answer, or the failure its error describes.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let body = match body {
            Some(value) => Bytes::from(serde_json::to_vec(value)?),
            None => Bytes::new(),
        };
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json")
            .body(Full::new(body))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| self.unreachable(&error))?;
            let status = response.status();
            let bytes = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|error| {
                    Failure::new(
                        Kind::Unavailable,
                        format!(
                            "cannot read the emulator's answer from {}: {error}",
                            self.base
                        ),
                    )
                })?
                .to_bytes();
            anyhow::Ok((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                Failure::new(
                    Kind::Unavailable,
                    format!(
                        "the emulator at {} did not answer within {}s",
                        self.base,
                        CALL_TIMEOUT.as_secs()
                    ),
                )
            })??;
        answer(&self.base, status, &bytes)
    }

    /// The failure of a call that got no answer: a refused connection means no emulator runs
    /// there.
    fn unreachable(&self, error: &hyper_util::client::legacy::Error) -> Failure {
        let refused =
            std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .filter_map(|e| e.downcast_ref::<std::io::Error>())
            .any(|e| e.kind() == std::io::ErrorKind::ConnectionRefused);
        if refused {
            return Failure::new(Kind::Unavailable, not_running(&self.base));
        }
        Failure::new(
            Kind::Unavailable,
            format!(
                "cannot reach the emulator at {}: {}",
                self.base,
                error_chain(error)
            ),
        )
    }
}

/// What to say when nothing listens at `base`.
fn not_running(base: &str) -> String {
    format!(
        "the emulator is not running at {base}; start it with `souk dev --emulate-aws` or \
         `souk emulator` (or point --emulator-url / SOUK_EMULATOR_URL at it)"
    )
}

/// An error and its sources on one line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// The JSON answer of a successful call, or the failure an error answer describes: its
/// `Message`, with the exit code of its status.
fn answer(base: &str, status: StatusCode, bytes: &[u8]) -> anyhow::Result<Value> {
    let json = serde_json::from_slice::<Value>(bytes).ok();
    if status.is_success() {
        return json.ok_or_else(|| {
            Failure::new(
                Kind::Failure,
                format!("{base} answered something that is not JSON; is it the Souk emulator?"),
            )
            .into()
        });
    }
    let message = json
        .as_ref()
        .and_then(|v| v.get("Message").or_else(|| v.get("message")))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let body = String::from_utf8_lossy(bytes);
            let body = body.trim();
            if body.is_empty() {
                format!("the emulator at {base} answered {status}")
            } else {
                format!(
                    "the emulator at {base} answered {status}: {}",
                    body.chars().take(200).collect::<String>()
                )
            }
        });
    Err(Failure::new(kind_of_status(status), message).into())
}

/// The exit code of an emulator error status.
fn kind_of_status(status: StatusCode) -> Kind {
    match status.as_u16() {
        400 | 422 => Kind::Invalid,
        401 | 403 => Kind::Auth,
        404 => Kind::NotFound,
        409 | 423 => Kind::Conflict,
        429 | 502..=504 => Kind::Unavailable,
        _ => Kind::Failure,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn emulator_errors_keep_their_message_and_exit_code() {
        let cases = [
            (400, Kind::Invalid),
            (404, Kind::NotFound),
            (409, Kind::Conflict),
            (503, Kind::Unavailable),
            (500, Kind::Failure),
        ];
        for (code, kind) in cases {
            let status = StatusCode::from_u16(code).unwrap();
            let error = answer(
                "http://e",
                status,
                br#"{"Message":"product p does not exist"}"#,
            )
            .unwrap_err();
            assert_eq!(crate::exit::kind_of(&error), kind, "status {code}");
            assert_eq!(
                crate::exit::render_text(&error),
                "error: product p does not exist"
            );
        }
        let error = answer("http://e", StatusCode::BAD_GATEWAY, b"").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the emulator at http://e answered 502 Bad Gateway"
        );
        assert_eq!(
            answer("http://e", StatusCode::OK, br#"{"now":"x"}"#).unwrap(),
            json!({ "now": "x" })
        );
        assert!(answer("http://e", StatusCode::OK, b"<html>").is_err());
    }

    #[tokio::test]
    async fn a_refused_connection_says_how_to_start_the_emulator() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let error = EmulatorClient::new(&format!("http://127.0.0.1:{port}/"))
            .unwrap()
            .call(Method::GET, "/_souk/clock", None)
            .await
            .unwrap_err();
        assert_eq!(crate::exit::kind_of(&error), Kind::Unavailable);
        assert_eq!(
            error.to_string(),
            not_running(&format!("http://127.0.0.1:{port}"))
        );
        assert!(error.to_string().contains("souk dev --emulate-aws"));
    }

    #[test]
    fn only_plain_http_urls_are_accepted() {
        for url in ["https://127.0.0.1:4566", "127.0.0.1:4566", "not a url"] {
            let Err(error) = EmulatorClient::new(url) else {
                panic!("{url} was accepted");
            };
            assert_eq!(crate::exit::kind_of(&error), Kind::Usage);
        }
    }
}
