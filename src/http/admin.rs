//! Admin endpoints and their guard: `POST /v1/admin/reload`,
//! `POST /v1/admin/shopper-tokens`.
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
use serde_json::{Value, json};

use super::{ApiError, AppState};
use crate::config::LoadReport;
use crate::engine::ReloadBroadcast;

/// The bearer token of a request, if any.
pub fn presented_key(headers: &HeaderMap) -> Option<&str> {
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
    if state.admin_key.is_none() {
        tracing::warn!(
            "{} {} served without an admin key: set CLERK_ADMIN_KEY to protect admin endpoints",
            request.method(),
            request.uri().path()
        );
    }
    if is_admin(&state, request.headers()) {
        return next.run(request).await;
    }
    let message = match presented_key(request.headers()) {
        Some(_) => "the admin key is wrong",
        None => "this endpoint needs the header `Authorization: Bearer <CLERK_ADMIN_KEY>`",
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
}

use crate::tokens::constant_time_eq;

/// Longest a minted token may live, in seconds (`expires_in`); 0 means no expiry.
pub const MAX_TOKEN_LIFETIME_SECONDS: i64 = 10 * 365 * 86_400;

/// `{"shopper":"ID","expires_in":SECONDS?}` → `{"token":"…"}`: a token for the
/// shopper, signed with `CLERK_SHOPPER_SECRET`.
#[utoipa::path(
    post,
    path = "/v1/admin/shopper-tokens",
    tag = "admin",
    security(("admin_key" = [])),
    request_body(content = serde_json::Value, example = json!({"shopper": "s-42", "expires_in": 86400})),
    responses(
        (status = 200, description = "The token and its expiry (0 = never)", body = serde_json::Value),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 409, description = "No CLERK_SHOPPER_SECRET on this server", body = super::error::ErrorBody)
    )
)]
pub async fn shopper_token(
    State(state): State<AppState>,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, "bad_token_request", m);
    let Some(secret) = state.shopper_secret.as_deref() else {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "no_shopper_secret",
            "tokens need CLERK_SHOPPER_SECRET set on the server; without it, bare shopper ids are used",
        ));
    };
    let body = body.map_err(|r| super::body_error(r, 4096))?;
    let request: Value = serde_json::from_slice(&body).map_err(|e| {
        bad(format!(
            "the body must be JSON such as {{\"shopper\":\"s-42\"}}: {e}"
        ))
    })?;
    let Some(object) = request.as_object() else {
        return Err(bad(
            "the body must be a JSON object such as {\"shopper\":\"s-42\"}".into(),
        ));
    };
    if let Some(key) = object
        .keys()
        .find(|k| *k != "shopper" && *k != "expires_in")
    {
        return Err(bad(format!(
            "unknown key \"{key}\"; send shopper and optionally expires_in"
        )));
    }
    let shopper = match object.get("shopper").and_then(Value::as_str).map(str::trim) {
        Some(id) if !id.is_empty() && id.len() <= crate::tokens::MAX_SHOPPER_ID_BYTES => id,
        _ => {
            return Err(bad(format!(
                "\"shopper\" must be a non-empty string of at most {} bytes",
                crate::tokens::MAX_SHOPPER_ID_BYTES
            )));
        }
    };
    let expires = match object.get("expires_in") {
        None | Some(Value::Null) => 0,
        Some(v) => match v
            .as_i64()
            .filter(|s| (1..=MAX_TOKEN_LIFETIME_SECONDS).contains(s))
        {
            Some(seconds) => chrono::Utc::now().timestamp() + seconds,
            None => {
                return Err(bad(format!(
                    "\"expires_in\" must be whole seconds from 1 to {MAX_TOKEN_LIFETIME_SECONDS}, got {v}"
                )));
            }
        },
    };
    Ok(Json(
        json!({"token": secret.mint(shopper, expires), "expires": expires}),
    ))
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
