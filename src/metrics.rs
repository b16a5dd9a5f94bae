//! Prometheus metrics: request counts and latencies, search outcomes, index size.
//!
//! Handlers record into [`Metrics`]; `GET /metrics` renders the registry in the
//! Prometheus text format.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

/// Every metric clerk exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RequestLabels, Histogram>,
    pub search_seconds: Histogram,
    pub zero_results: Counter,
    pub relaxed_queries: Counter,
    pub documents: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("clerk");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        let request_seconds = Family::<RequestLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route and status",
            request_seconds.clone(),
        );
        let search_seconds = Histogram::new(exponential_buckets(0.00005, 2.0, 18));
        registry.register(
            "search_duration_seconds",
            "Time spent in the search pipeline",
            search_seconds.clone(),
        );
        let zero_results = Counter::default();
        registry.register(
            "search_zero_results",
            "Searches that found nothing",
            zero_results.clone(),
        );
        let relaxed_queries = Counter::default();
        registry.register(
            "search_relaxed",
            "Searches answered by dropping words",
            relaxed_queries.clone(),
        );
        let documents = Gauge::default();
        registry.register("documents", "Searchable products", documents.clone());
        Metrics {
            registry,
            requests,
            request_seconds,
            search_seconds,
            zero_results,
            relaxed_queries,
            documents,
        }
    }

    /// The registry in Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}
