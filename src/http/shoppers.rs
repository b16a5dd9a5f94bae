//! Shopper endpoints: `POST /v1/events`, `GET`/`DELETE /v1/shoppers/{id}`, and
//! `POST /v1/shoppers/{id}/opt-out` / `opt-in`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{ApiError, AppState, blocking, body_error};
use crate::engine::ProfileView;

/// Largest event batch body.
pub const MAX_EVENTS_BODY_BYTES: usize = 2 << 20;

/// Records a batch; `202` once it is durable, `400` naming every bad event.
pub async fn events(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = body.map_err(|r| body_error(r, MAX_EVENTS_BODY_BYTES))?;
    let accepted = blocking(&state, move |engine| engine.record_events(&body))
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

pub async fn profile(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProfileView>, ApiError> {
    blocking(&state, move |engine| engine.profile_view(&id))
        .await
        .map(Json)
}

/// Forgets the shopper; `204` whether or not anything was stored.
pub async fn forget(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state, move |engine| engine.forget_shopper(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn opt_out(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let shopper = id.clone();
    blocking(&state, move |engine| engine.set_opted_out(&id, true)).await?;
    Ok(Json(json!({"shopper": shopper, "opted_out": true})))
}

pub async fn opt_in(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let shopper = id.clone();
    blocking(&state, move |engine| engine.set_opted_out(&id, false)).await?;
    Ok(Json(json!({"shopper": shopper, "opted_out": false})))
}
