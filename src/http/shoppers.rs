//! Shopper endpoints: `POST /v1/events`, `GET`/`DELETE /v1/shoppers/{id}`, and
//! `POST /v1/shoppers/{id}/opt-out` / `opt-in`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::access::{resolver, shopper_id};
use super::{ApiError, AppState, blocking, body_error};
use crate::engine::ProfileView;

/// Largest event batch body.
pub const MAX_EVENTS_BODY_BYTES: usize = 2 << 20;

/// Records a batch; `202` once it is durable, `400` naming every bad event.
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = body.map_err(|r| body_error(r, MAX_EVENTS_BODY_BYTES))?;
    let resolve = resolver(&state, &headers);
    let accepted = blocking(&state, move |engine| {
        engine.record_events_as(&body, &resolve)
    })
    .await
    .map_err(|mut e| {
        if e.code == "invalid_config" {
            e.code = "invalid_events".into();
            e.message = format!(
                "the batch was rejected whole: {} problem(s)",
                e.problems.len()
            );
        }
        e
    })?;
    Ok((StatusCode::ACCEPTED, Json(json!({ "accepted": accepted }))))
}

/// The verified shopper of a `/v1/shoppers/{id}` path.
fn path_shopper(
    state: &AppState,
    headers: &HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<String, ApiError> {
    let Path(value) = path.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_path",
            format!("the shopper in the path could not be read: {e}"),
        )
    })?;
    shopper_id(state, headers, &value)
}

pub async fn profile(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<ProfileView>, ApiError> {
    let id = path_shopper(&state, &headers, path)?;
    blocking(&state, move |engine| engine.profile_view(&id))
        .await
        .map(Json)
}

/// Forgets the shopper; `204` whether or not anything was stored.
pub async fn forget(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = path_shopper(&state, &headers, path)?;
    blocking(&state, move |engine| engine.forget_shopper(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn opt_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    set_opted_out(state, headers, path, true).await
}

pub async fn opt_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    set_opted_out(state, headers, path, false).await
}

async fn set_opted_out(
    state: AppState,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    opted_out: bool,
) -> Result<Json<Value>, ApiError> {
    let id = path_shopper(&state, &headers, path)?;
    let shopper = id.clone();
    blocking(&state, move |engine| engine.set_opted_out(&id, opted_out)).await?;
    Ok(Json(json!({"shopper": shopper, "opted_out": opted_out})))
}
