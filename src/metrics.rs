//! Prometheus metrics: request counts and latencies, search stages, search outcomes,
//! index size.
//!
//! Handlers record into [`Metrics`]; `GET /metrics` renders the registry in the
//! Prometheus text format. Label values are bounded so a caller cannot grow the
//! registry: routes are axum's matched templates (`/v1/shoppers/{id}`) or
//! `unmatched`, methods one of [`METHODS`] or `other`, stages [`StageTimings::NAMES`].
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `clerk_http_requests_total` | counter | method, route, status |
//! | `clerk_http_request_duration_seconds` | histogram | method, route, status |
//! | `clerk_search_duration_seconds` | histogram | |
//! | `clerk_search_stage_duration_seconds` | histogram | stage |
//! | `clerk_search_zero_results_total`, `clerk_search_relaxed_total` | counter | |
//! | `clerk_documents` | gauge | |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::stages::StageTimings;

/// HTTP methods exported by name; any other is `other`.
pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"];

/// `method` as a bounded label value.
pub fn method_label(method: &str) -> &'static str {
    METHODS
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

/// Labels of a search stage.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StageLabels {
    pub stage: &'static str,
}

/// Labels of an HTTP request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: &'static str,
    pub route: String,
    pub status: u16,
}

/// Every metric clerk exports.
pub struct Metrics {
    registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub request_seconds: Family<RequestLabels, Histogram>,
    pub search_seconds: Histogram,
    pub stage_seconds: Family<StageLabels, Histogram>,
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
        let stage_seconds = Family::<StageLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.00001, 2.0, 20))
        });
        registry.register(
            "search_stage_duration_seconds",
            "Time per search stage: analysis, retrieval, ranking, facets, page",
            stage_seconds.clone(),
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
            stage_seconds,
            zero_results,
            relaxed_queries,
            documents,
        }
    }

    /// Records one search's stage timings.
    pub fn observe_stages(&self, timings: &StageTimings) {
        for (stage, spent) in timings.stages() {
            self.stage_seconds
                .get_or_create(&StageLabels { stage })
                .observe(spent.as_secs_f64());
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn methods_are_bounded() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("DELETE"), "DELETE");
        assert_eq!(method_label("BREW"), "other");
        assert_eq!(method_label("get"), "other");
    }

    #[test]
    fn every_stage_is_exported() {
        let metrics = Metrics::new();
        metrics.observe_stages(&StageTimings {
            ranking: Duration::from_millis(1),
            ..StageTimings::default()
        });
        let text = metrics.render();
        for stage in StageTimings::NAMES {
            assert!(
                text.contains(&format!(
                    "clerk_search_stage_duration_seconds_count{{stage=\"{stage}\"}} 1"
                )),
                "{stage} missing in:\n{text}"
            );
        }
    }
}
