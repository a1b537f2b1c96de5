use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use souk_auth::{
    ApiKeySecret, Authenticator, Caller, KeyHash, KeyRevocations, KeyStore, Scope, StoredKey,
};
use souk_core::Id;
use time::OffsetDateTime;
use tower::{Layer, ServiceExt};

#[derive(Default)]
struct Keys {
    keys: Mutex<HashMap<KeyHash, StoredKey>>,
    revocations: KeyRevocations,
}

#[async_trait]
impl KeyStore for Keys {
    async fn find_by_hash(&self, hash: &KeyHash) -> Result<Option<StoredKey>, souk_core::Error> {
        Ok(self.keys.lock().unwrap().get(hash).cloned())
    }
    async fn record_use(&self, _: &Id, _: OffsetDateTime) -> Result<(), souk_core::Error> {
        Ok(())
    }
    fn revocations(&self) -> Option<KeyRevocations> {
        Some(self.revocations.clone())
    }
}

/// The wrapped service answers 200 with the caller's key id in a header.
fn echo_caller() -> impl tower::Service<
    http::Request<tonic::body::Body>,
    Response = http::Response<tonic::body::Body>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(|req: http::Request<tonic::body::Body>| async move {
        let mut response = http::Response::new(tonic::body::Body::default());
        if let Some(caller) = req.extensions().get::<Caller>() {
            response
                .headers_mut()
                .insert("x-key-id", caller.key_id.as_str().parse().unwrap());
        }
        Ok::<_, Infallible>(response)
    })
}

fn request(path: &str, authorization: Option<&str>) -> http::Request<tonic::body::Body> {
    let mut builder = http::Request::builder()
        .method("POST")
        .uri(format!("http://localhost{path}"));
    if let Some(value) = authorization {
        builder = builder.header("authorization", value);
    }
    builder.body(tonic::body::Body::default()).unwrap()
}

fn grpc_status(response: &http::Response<tonic::body::Body>) -> Option<(String, String)> {
    let status = response
        .headers()
        .get("grpc-status")?
        .to_str()
        .ok()?
        .to_owned();
    let raw = response
        .headers()
        .get("grpc-message")
        .and_then(|m| m.to_str().ok())
        .unwrap_or("");
    Some((status, percent_decode(raw)))
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&raw[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn layer_authenticates_refuses_and_exempts_health() {
    let keys = Arc::new(Keys::default());
    let secret = ApiKeySecret::generate();
    let key_id = Id::generate("key");
    keys.keys.lock().unwrap().insert(
        secret.hash(),
        StoredKey {
            key_id: key_id.clone(),
            organization_id: Id::generate("org"),
            scopes: vec![Scope::ReadOnly],
            expires_at: None,
            revoked_at: None,
        },
    );
    let auth = Authenticator::new(keys.clone());
    let service = auth.layer().layer(echo_caller());
    let path = "/souk.integration.v1.IntegrationService/GetIntegration";

    let ok = service
        .clone()
        .oneshot(request(path, Some(&format!("Bearer {}", secret.expose()))))
        .await
        .unwrap();
    assert_eq!(ok.headers().get("x-key-id").unwrap(), key_id.as_str());

    let missing = service.clone().oneshot(request(path, None)).await.unwrap();
    let (code, message) = grpc_status(&missing).unwrap();
    assert_eq!(code, "16");
    assert!(message.contains("missing api key"), "{message}");

    let unknown = format!("Bearer {}", ApiKeySecret::generate().expose());
    let (code, message) = grpc_status(
        &service
            .clone()
            .oneshot(request(path, Some(&unknown)))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(code, "16");
    assert_eq!(message, "unknown api key");

    let health = service
        .clone()
        .oneshot(request("/grpc.health.v1.Health/Check", None))
        .await
        .unwrap();
    assert!(grpc_status(&health).is_none(), "health checks need no key");

    keys.keys
        .lock()
        .unwrap()
        .get_mut(&secret.hash())
        .unwrap()
        .revoked_at = Some(OffsetDateTime::now_utc());
    keys.revocations.revoked(&key_id);
    let revoked = service
        .oneshot(request(path, Some(&format!("Bearer {}", secret.expose()))))
        .await
        .unwrap();
    let (code, message) = grpc_status(&revoked).unwrap();
    assert_eq!(code, "16");
    assert_eq!(message, "api key revoked");
}

/// Collects every event's message and fields as one line, for asserting on logs.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<String>>>);

struct LineVisitor<'a>(&'a mut String);

impl tracing::field::Visit for LineVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={value:?}", field.name()));
    }
}

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut line = event.metadata().level().to_string();
        event.record(&mut LineVisitor(&mut line));
        self.0.lock().unwrap().push(line);
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[tokio::test]
async fn failed_authentications_are_logged_without_the_key_and_counted() {
    let keys = Arc::new(Keys::default());
    let revoked = ApiKeySecret::generate();
    keys.keys.lock().unwrap().insert(
        revoked.hash(),
        StoredKey {
            key_id: Id::generate("key"),
            organization_id: Id::generate("org"),
            scopes: vec![Scope::Full],
            expires_at: None,
            revoked_at: Some(OffsetDateTime::now_utc()),
        },
    );
    let auth = Authenticator::new(keys);
    let service = auth.layer().layer(echo_caller());
    let path = "/souk.integration.v1.IntegrationService/ListIntegrations";
    let guessed = ApiKeySecret::generate();
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.clone());

    for header in [
        None,
        Some("Basic dXNlcjpwYXNz".to_owned()),
        Some(format!("Bearer {}", guessed.expose())),
        Some(format!("Bearer {}", guessed.expose())),
        Some(format!("Bearer {}", revoked.expose())),
    ] {
        let response = service
            .clone()
            .oneshot(request(path, header.as_deref()))
            .await
            .unwrap();
        assert_eq!(grpc_status(&response).unwrap().0, "16");
    }
    let health = service
        .clone()
        .oneshot(request("/grpc.health.v1.Health/Check", None))
        .await
        .unwrap();
    assert!(grpc_status(&health).is_none());

    let counts = auth.failure_counts();
    assert_eq!(
        counts.by_reason(),
        [
            ("missing", 1),
            ("malformed", 1),
            ("unknown", 2),
            ("revoked", 1),
            ("expired", 0),
            ("unavailable", 0),
        ]
    );
    assert_eq!(counts.total(), 5);

    let lines = captured.0.lock().unwrap().clone();
    let failures: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("request not authenticated"))
        .collect();
    assert_eq!(failures.len(), 5, "{lines:#?}");
    for line in &failures {
        assert!(line.starts_with("WARN"), "{line}");
        assert!(line.contains(path), "{line}");
    }
    assert!(failures.iter().any(|l| l.contains("reason=\"unknown\"")));
    for secret in [&guessed, &revoked] {
        let key = secret.expose();
        assert!(
            lines
                .iter()
                .all(|l| !l.contains(key) && !l.contains(&key[5..15])),
            "a log line carries the key: {lines:#?}"
        );
    }
    assert!(
        lines.iter().all(|l| !l.contains("dXNlcjpwYXNz")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn a_flood_of_failures_is_counted_in_full_but_logged_at_a_bounded_rate() {
    let auth = Authenticator::new(Arc::new(Keys::default()));
    let service = auth.layer().layer(echo_caller());
    let path = "/souk.integration.v1.IntegrationService/ListIntegrations";
    let captured = Captured::default();
    let _guard = tracing::subscriber::set_default(captured.clone());
    let junk = format!("Bearer {}", ApiKeySecret::generate().expose());
    let start = std::time::Instant::now();
    for _ in 0..100 {
        let response = service
            .clone()
            .oneshot(request(path, Some(&junk)))
            .await
            .unwrap();
        assert_eq!(grpc_status(&response).unwrap().0, "16");
    }
    assert!(
        start.elapsed() < std::time::Duration::from_secs(1),
        "too slow to test the rate"
    );
    assert_eq!(auth.failure_counts().unknown, 100);
    let logged = |lines: &[String]| {
        lines
            .iter()
            .filter(|l| l.contains("request not authenticated"))
            .count()
    };
    assert_eq!(
        logged(&captured.0.lock().unwrap()),
        souk_auth::authenticator::MAX_FAILURE_LOGS_PER_SECOND as usize
    );

    // The next second's first line says how many were left out.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    service
        .clone()
        .oneshot(request(path, Some(&junk)))
        .await
        .unwrap();
    let lines = captured.0.lock().unwrap().clone();
    let last = lines.last().unwrap();
    assert!(last.contains("suppressed=80"), "{last}");
    assert_eq!(auth.failure_counts().unknown, 101);
}
