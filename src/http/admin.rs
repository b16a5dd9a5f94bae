//! Admin endpoints and their guard: `POST /v1/admin/reload`.
//!
//! When the server has an admin key (`CLERK_ADMIN_KEY`), admin and write endpoints
//! require `Authorization: Bearer <key>`; [`require_admin`] is the one place that
//! checks it.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::{ApiError, AppState};
use crate::config::LoadReport;
use crate::engine::ReloadBroadcast;

/// The bearer token of a request, if any.
fn presented_key(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Whether the request may use admin features: no key is configured, or it sent it.
pub fn is_admin(state: &AppState, headers: &HeaderMap) -> bool {
    match state.admin_key.as_deref() {
        None => true,
        Some(key) => presented_key(headers)
            .is_some_and(|given| constant_time_eq(given.as_bytes(), key.as_bytes())),
    }
}

/// Rejects requests without the admin key, when one is configured.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if is_admin(&state, request.headers()) {
        return next.run(request).await;
    }
    let message = match presented_key(request.headers()) {
        Some(_) => "the admin key is wrong",
        None => "this endpoint needs the header `Authorization: Bearer <CLERK_ADMIN_KEY>`",
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
}

/// Compares secrets without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /v1/admin/reload` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Reloaded {
    pub reloaded: LoadReport,
    /// Whether the other replicas (sharing a Redis) were told to reload.
    pub replicas: ReloadBroadcast,
}

/// Re-reads `synonyms/` (and rules); refuses the whole set on any problem. With a
/// shared catalog feed, the other replicas are told to reload too (`replicas` says).
#[utoipa::path(
    post,
    path = "/v1/admin/reload",
    tag = "admin",
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "The new configuration serves", body = Reloaded),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn reload(State(state): State<AppState>) -> Result<Json<Reloaded>, ApiError> {
    let engine = state.engine.clone();
    let (report, replicas) = tokio::task::spawn_blocking(move || engine.reload_everywhere())
        .await
        .map_err(|e| {
            ApiError::from(crate::Error::Internal(format!("reload task failed: {e}")))
        })??;
    Ok(Json(Reloaded {
        reloaded: report,
        replicas,
    }))
}
