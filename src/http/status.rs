//! `GET /health` and `GET /metrics`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::AppState;

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"status": "ok", "documents": state.engine.documents()}))
}

pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics.documents.set(state.engine.documents() as i64);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
