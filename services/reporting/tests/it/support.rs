//! The in-process emulator with a seller role registered in its STS and its Seller Data Feeds
//! generated, a `RoleAssumer` pointed at it, and the integrations' feed sources (the
//! integration service's in production) given by [`Feeds`].

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use serde_json::{Value, json};
use souk_auth::{IntegrationRole, RoleAssumer, RoleAssumerOptions};
use souk_core::Id;
use souk_emulator::{EmulatorConfig, RunningEmulator};
use souk_reporting::aws::{FeedSource, IntegrationFeeds};
use souk_reporting::domain::ports::Acting;
use tower::ServiceExt as _;

pub const ROLE_ARN: &str = "arn:aws:iam::111122223333:role/SoukReportingTest";

/// The integrations' feed sources.
#[derive(Default)]
pub struct Feeds(pub Mutex<HashMap<Id, FeedSource>>);

#[async_trait]
impl IntegrationFeeds for Feeds {
    async fn feed_source(
        &self,
        _organization_id: &Id,
        integration_id: &Id,
    ) -> Result<Option<FeedSource>, String> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(integration_id)
            .cloned())
    }
}

/// A direct answer of the emulator's S3 (through its router, not the SDK).
#[derive(Debug, Clone)]
pub struct Direct {
    pub status: u16,
    pub etag: Option<String>,
    pub body: Vec<u8>,
}

pub struct Emu {
    pub emulator: RunningEmulator,
    pub assumer: RoleAssumer,
    pub feeds: Arc<Feeds>,
    pub role: IntegrationRole,
    pub organization_id: Id,
    /// The integration whose source is the emulator's feed bucket.
    pub integration_id: Id,
    /// The emulator's feed bucket.
    pub bucket: String,
    /// The emulator's feed directory (what its S3 serves).
    pub directory: String,
    /// The generated keys.
    pub keys: Vec<String>,
}

impl Emu {
    /// The emulator with the seller's role and generated feeds; one integration reads them.
    pub async fn start() -> Self {
        let emulator = souk_emulator::spawn(EmulatorConfig::default())
            .await
            .expect("emulator starts");
        let external_id = Id::generate("ext").to_string();
        let integration_id = Id::generate("int");
        let role = IntegrationRole {
            integration_id: integration_id.to_string(),
            role_arn: ROLE_ARN.into(),
            external_id: external_id.clone(),
            region: "us-east-1".into(),
        };
        let assumer = RoleAssumer::with_static_credentials(
            "AKIDSOUKREPORTINGTEST",
            "base-secret",
            RoleAssumerOptions {
                endpoint_url: Some(emulator.url.clone()),
                ..RoleAssumerOptions::default()
            },
        );
        let mut emu = Self {
            emulator,
            assumer,
            feeds: Arc::new(Feeds::default()),
            role,
            organization_id: Id::generate("org"),
            integration_id,
            bucket: String::new(),
            directory: String::new(),
            keys: Vec::new(),
        };
        emu.control(
            "POST",
            "/_souk/sts/roles",
            json!({"role_arn": ROLE_ARN, "external_id": external_id}),
        )
        .await;
        let generated = emu
            .control("POST", "/_souk/feeds/generate", Value::Null)
            .await;
        emu.bucket = generated["bucket"].as_str().expect("bucket").to_owned();
        emu.directory = generated["directory"]
            .as_str()
            .expect("directory")
            .to_owned();
        emu.keys = generated["files"]
            .as_array()
            .expect("files")
            .iter()
            .map(|f| f["key"].as_str().expect("key").to_owned())
            .collect();
        let source = FeedSource {
            role: emu.role.clone(),
            bucket: emu.bucket.clone(),
        };
        emu.set_source(&emu.integration_id.clone(), Some(source));
        emu
    }

    /// Sets (or removes) the feed source of `integration_id`.
    pub fn set_source(&self, integration_id: &Id, source: Option<FeedSource>) {
        let mut sources = self.feeds.0.lock().unwrap_or_else(|e| e.into_inner());
        match source {
            Some(source) => sources.insert(integration_id.clone(), source),
            None => sources.remove(integration_id),
        };
    }

    /// Acting for the integration that reads the emulator's feeds.
    pub fn acting(&self) -> Acting {
        self.acting_for(&self.integration_id)
    }

    pub fn acting_for(&self, integration_id: &Id) -> Acting {
        Acting {
            organization_id: self.organization_id.clone(),
            integration_id: integration_id.clone(),
        }
    }

    /// Calls the emulator's control API; panics unless it answers 2xx.
    pub async fn control(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        };
        let request = axum::http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json")
            .body(body)
            .expect("request");
        let (status, _, bytes) = self.call(request).await;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {value}"
        );
        value
    }

    /// `GET /<bucket>/<key>` on the emulator's S3, unsigned.
    pub async fn direct_get(&self, key: &str) -> Direct {
        let request = axum::http::Request::builder()
            .method("GET")
            .uri(format!("/{}/{key}", self.bucket))
            .body(Body::empty())
            .expect("request");
        let (status, headers, body) = self.call(request).await;
        Direct {
            status,
            etag: headers
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .map(|e| e.trim_matches('"').to_owned()),
            body,
        }
    }

    async fn call(
        &self,
        request: axum::http::Request<Body>,
    ) -> (u16, axum::http::HeaderMap, Vec<u8>) {
        let response = self
            .emulator
            .emulator
            .router()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, headers, bytes.to_vec())
    }

    /// Adds a fault rule for S3 `operation`.
    pub async fn fault(&self, operation: &str, kind: &str, count: Option<u32>) {
        let mut rule = json!({"operation": operation, "service": "s3", "kind": kind});
        if let Some(count) = count {
            rule["count"] = json!(count);
        }
        self.control("POST", "/_souk/faults", rule).await;
    }

    /// The faults still in force.
    pub async fn faults(&self) -> Vec<Value> {
        let faults = self.control("GET", "/_souk/faults", Value::Null).await;
        faults
            .as_array()
            .or_else(|| faults["faults"].as_array())
            .cloned()
            .unwrap_or_default()
    }

    /// A `RoleAssumer` whose calls go to `endpoint_url` instead of the emulator.
    pub fn assumer_at(&self, endpoint_url: &str) -> RoleAssumer {
        RoleAssumer::with_static_credentials(
            "AKIDSOUKREPORTINGTEST",
            "base-secret",
            RoleAssumerOptions {
                endpoint_url: Some(endpoint_url.to_owned()),
                ..RoleAssumerOptions::default()
            },
        )
    }

    /// A front of the emulator that answers the next `count` S3 requests with S3's own
    /// throttling error and passes everything else on.
    pub async fn slow_down_front(&self, count: u32) -> SlowDownFront {
        let remaining = Arc::new(AtomicU32::new(count));
        let throttled = Arc::new(AtomicU32::new(0));
        let router = self.emulator.emulator.router();
        let front = {
            let remaining = Arc::clone(&remaining);
            let throttled = Arc::clone(&throttled);
            axum::Router::new().fallback(move |request: axum::extract::Request| {
                let router = router.clone();
                let remaining = Arc::clone(&remaining);
                let throttled = Arc::clone(&throttled);
                async move {
                    let s3 = request.method() == axum::http::Method::GET
                        && !request.uri().path().starts_with("/_souk");
                    let throttle = s3
                        && remaining
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok();
                    if throttle {
                        throttled.fetch_add(1, Ordering::SeqCst);
                        return axum::http::Response::builder()
                            .status(503)
                            .header("content-type", "application/xml")
                            .body(Body::from(
                                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                                 <Message>Please reduce your request rate.</Message>\
                                 <RequestId>front</RequestId></Error>",
                            ))
                            .expect("response");
                    }
                    match router.oneshot(request).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                }
            })
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, front).await;
        });
        SlowDownFront {
            url,
            throttled,
            task,
        }
    }

    /// The path of `key` in the emulator's feed directory.
    pub fn file(&self, key: &str) -> std::path::PathBuf {
        let mut path = std::path::PathBuf::from(&self.directory);
        path.extend(key.split('/'));
        path
    }
}

/// An HTTP front of the emulator answering S3's `503 SlowDown` a given number of times.
pub struct SlowDownFront {
    /// Its endpoint URL.
    pub url: String,
    throttled: Arc<AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl SlowDownFront {
    /// How many requests it throttled.
    pub fn throttled(&self) -> u32 {
        self.throttled.load(Ordering::SeqCst)
    }
}

impl Drop for SlowDownFront {
    fn drop(&mut self) {
        self.task.abort();
    }
}
