//! Prometheus metrics for the gRPC surface: requests by method and status, and latency.
//!
//! Series are labelled only with methods the server serves; every other path counts as
//! `unknown`, so junk requests cannot grow the exposition without bound.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::future::BoxFuture;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of a gRPC request metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// `/package.Service/Method`.
    pub method: String,
    /// The gRPC status code name (`OK`, `InvalidArgument`, …).
    pub code: String,
}

/// Labels of a per-store metric.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StoreLabels {
    /// The store (service) name.
    pub store: String,
}

/// Labels of an authentication failure count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    /// Why the request was refused (`missing`, `unknown`, `revoked`, …).
    pub reason: String,
}

/// Labels of a parked notification count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ParkedLabels {
    /// How it arrived (`sns`, `eventbridge`, `sqs`).
    pub route: String,
    /// Why it was parked (`bad_signature`, `unknown_topic`, `stale`, …).
    pub reason: String,
}

/// Labels of a metering record count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    /// The record status (`open`, `pending`, `sent`, …).
    pub status: String,
}

/// Labels of a settled-records count.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    /// How records were settled (`sent`, `held`, `failed`, `retried`).
    pub result: String,
}

/// The process's metrics registry.
pub struct Metrics {
    registry: Registry,
    requests: Family<RpcLabels, Counter>,
    latency: Family<RpcLabels, Histogram>,
    outbox_rows: Family<StoreLabels, Gauge>,
    outbox_oldest: Family<StoreLabels, Gauge<f64, AtomicU64>>,
    auth_failures: Family<ReasonLabels, Gauge>,
    notifications_parked: Family<ParkedLabels, Gauge>,
    metering_records: Family<StatusLabels, Gauge>,
    metering_oldest_unsent: Gauge<f64, AtomicU64>,
    metering_calls: Gauge,
    metering_throttles: Gauge,
    metering_settled: Family<ResultLabels, Gauge>,
}

impl Metrics {
    /// A registry with the gRPC metrics registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("souk");
        let requests = Family::<RpcLabels, Counter>::default();
        let latency = Family::<RpcLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("grpc_requests", "gRPC requests handled", requests.clone());
        registry.register(
            "grpc_request_duration_seconds",
            "gRPC request latency",
            latency.clone(),
        );
        let outbox_rows = Family::<StoreLabels, Gauge>::default();
        let outbox_oldest = Family::<StoreLabels, Gauge<f64, AtomicU64>>::default();
        let auth_failures = Family::<ReasonLabels, Gauge>::default();
        let notifications_parked = Family::<ParkedLabels, Gauge>::default();
        registry.register(
            "outbox_unpublished_rows",
            "Events committed but not yet published, per store",
            outbox_rows.clone(),
        );
        registry.register(
            "outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished event, per store (0 when none)",
            outbox_oldest.clone(),
        );
        registry.register(
            "auth_failures",
            "Refused authentications since start, by reason",
            auth_failures.clone(),
        );
        registry.register(
            "notifications_parked",
            "AWS notifications refused and parked since start, by route and reason",
            notifications_parked.clone(),
        );
        let metering_records = Family::<StatusLabels, Gauge>::default();
        let metering_oldest_unsent = Gauge::<f64, AtomicU64>::default();
        let metering_calls = Gauge::default();
        let metering_throttles = Gauge::default();
        let metering_settled = Family::<ResultLabels, Gauge>::default();
        registry.register(
            "metering_records",
            "Hourly usage records per status (open, pending, sent, held, failed, carried)",
            metering_records.clone(),
        );
        registry.register(
            "metering_oldest_unsent_hour_age_seconds",
            "Age of the oldest sealed hour not sent to AWS yet (0 when none)",
            metering_oldest_unsent.clone(),
        );
        registry.register(
            "metering_calls",
            "BatchMeterUsage calls since start",
            metering_calls.clone(),
        );
        registry.register(
            "metering_throttles",
            "BatchMeterUsage calls answered ThrottlingException since start",
            metering_throttles.clone(),
        );
        registry.register(
            "metering_records_settled",
            "Usage records settled since start, by result (sent, held, failed, retried)",
            metering_settled.clone(),
        );
        Self {
            registry,
            requests,
            latency,
            outbox_rows,
            outbox_oldest,
            auth_failures,
            notifications_parked,
            metering_records,
            metering_oldest_unsent,
            metering_calls,
            metering_throttles,
            metering_settled,
        }
    }

    /// Records how many hourly usage records are in `status`.
    pub fn set_metering_records(&self, status: &str, count: i64) {
        self.metering_records
            .get_or_create(&StatusLabels {
                status: status.to_owned(),
            })
            .set(count);
    }

    /// Records the age of the oldest sealed hour not sent yet.
    pub fn set_metering_oldest_unsent_age(&self, seconds: f64) {
        self.metering_oldest_unsent.set(seconds);
    }

    /// Records the BatchMeterUsage calls and throttled calls since start.
    pub fn set_metering_calls(&self, calls: u64, throttled: u64) {
        self.metering_calls
            .set(i64::try_from(calls).unwrap_or(i64::MAX));
        self.metering_throttles
            .set(i64::try_from(throttled).unwrap_or(i64::MAX));
    }

    /// Records how many usage records were settled with `result` since start.
    pub fn set_metering_settled(&self, result: &str, count: u64) {
        self.metering_settled
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Records the outbox backlog of `store`: unpublished rows and the oldest one's age.
    pub fn set_outbox_backlog(&self, store: &str, rows: u64, oldest_age_seconds: f64) {
        let labels = StoreLabels {
            store: store.to_owned(),
        };
        self.outbox_rows
            .get_or_create(&labels)
            .set(i64::try_from(rows).unwrap_or(i64::MAX));
        self.outbox_oldest
            .get_or_create(&labels)
            .set(oldest_age_seconds);
    }

    /// Records the count of authentications refused for `reason` since start.
    pub fn set_auth_failures(&self, reason: &str, count: u64) {
        self.auth_failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_owned(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Records the count of notifications parked on `route` for `reason` since start.
    pub fn set_notifications_parked(&self, route: &str, reason: &str, count: u64) {
        self.notifications_parked
            .get_or_create(&ParkedLabels {
                route: route.to_owned(),
                reason: reason.to_owned(),
            })
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    fn observe(&self, labels: RpcLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The label of a path that is not a served method.
pub const UNKNOWN_METHOD: &str = "unknown";

/// The `/package.Service/Method` paths a server serves.
#[derive(Debug, Clone, Default)]
pub struct KnownMethods(Arc<HashSet<String>>);

impl KnownMethods {
    /// Every method of `services` (fully qualified names) found in the encoded descriptor sets.
    pub fn of(services: &[&str], descriptor_sets: &[&[u8]]) -> Self {
        use prost::Message;
        let mut methods = HashSet::new();
        for encoded in descriptor_sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*encoded) else {
                continue;
            };
            for file in &set.file {
                let package = file.package();
                for service in &file.service {
                    let name = if package.is_empty() {
                        service.name().to_owned()
                    } else {
                        format!("{package}.{}", service.name())
                    };
                    if services.contains(&name.as_str()) {
                        methods.extend(
                            service
                                .method
                                .iter()
                                .map(|m| format!("/{name}/{}", m.name())),
                        );
                    }
                }
            }
        }
        Self(Arc::new(methods))
    }

    /// Adds `paths` (served by services without a descriptor here).
    pub fn add(&mut self, paths: impl IntoIterator<Item = String>) {
        Arc::make_mut(&mut self.0).extend(paths);
    }

    /// The metric label of `path`: itself when served, [`UNKNOWN_METHOD`] otherwise.
    pub fn label(&self, path: &str) -> String {
        if self.0.contains(path) {
            path.to_owned()
        } else {
            UNKNOWN_METHOD.to_owned()
        }
    }
}

/// A tower layer recording every gRPC request.
#[derive(Clone)]
pub struct MetricsLayer {
    metrics: Arc<Metrics>,
    methods: KnownMethods,
}

impl MetricsLayer {
    /// Records into `metrics`, labelling by `methods`.
    pub fn new(metrics: Arc<Metrics>, methods: KnownMethods) -> Self {
        Self { metrics, methods }
    }
}

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            metrics: self.metrics.clone(),
            methods: self.methods.clone(),
        }
    }
}

/// The service [`MetricsLayer`] wraps around the gRPC router.
#[derive(Clone)]
pub struct MetricsService<S> {
    inner: S,
    metrics: Arc<Metrics>,
    methods: KnownMethods,
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for MetricsService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>> + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let method = self.methods.label(request.uri().path());
        let metrics = self.metrics.clone();
        let started = Instant::now();
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let code = tonic::Status::from_header_map(response.headers())
                .map_or_else(|| "OK".to_owned(), |status| format!("{:?}", status.code()));
            metrics.observe(RpcLabels { method, code }, started.elapsed().as_secs_f64());
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_notifications_are_exposed_by_route_and_reason() {
        let metrics = Metrics::new();
        metrics.set_notifications_parked("sns", "bad_signature", 3);
        let text = metrics.encode().expect("encodes");
        assert!(
            text.contains("souk_notifications_parked{route=\"sns\",reason=\"bad_signature\"} 3"),
            "{text}"
        );
    }

    #[test]
    fn only_served_methods_get_their_own_label() {
        let methods = KnownMethods::of(
            &["souk.integration.v1.IntegrationService"],
            &[souk_proto::FILE_DESCRIPTOR_SET],
        );
        assert_eq!(
            methods.label("/souk.integration.v1.IntegrationService/ListIntegrations"),
            "/souk.integration.v1.IntegrationService/ListIntegrations"
        );
        assert_eq!(
            methods.label("/souk.integration.v1.IntegrationService/Junk1"),
            UNKNOWN_METHOD
        );
        assert_eq!(
            methods.label("/souk.metering.v1.MeteringService/RecordUsage"),
            UNKNOWN_METHOD
        );
    }
}
