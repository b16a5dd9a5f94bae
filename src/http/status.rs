//! `GET /health` and `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde::Serialize;

use super::AppState;

/// `GET /health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok` when the server answers.
    pub status: String,
    /// Searchable products.
    pub documents: u64,
}

/// Content type of `/metrics`.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "The server is up", body = Health),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok".to_string(),
        documents: state.engine.documents(),
    })
}

/// Prometheus metrics: requests by route and status, search stage latencies.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses(
        (status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.documents.set(state.engine.documents() as i64);
    (
        [(header::CONTENT_TYPE, METRICS_CONTENT_TYPE)],
        state.metrics.render(),
    )
}
