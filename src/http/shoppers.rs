//! Shopper endpoints: `POST /v1/events`, `GET`/`DELETE /v1/shoppers/{id}`, and
//! `POST /v1/shoppers/{id}/opt-out` / `opt-in`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;

use super::access::{resolver, shopper_id};
use super::{ApiError, AppState, blocking, body_error};
use crate::engine::ProfileView;

/// Largest event batch body.
pub const MAX_EVENTS_BODY_BYTES: usize = 2 << 20;

/// `POST /v1/events` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    pub accepted: usize,
}

/// Opt-out state after `opt-out` / `opt-in`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct OptOutState {
    pub shopper: String,
    pub opted_out: bool,
}

/// Records a batch; `202` once it is durable, `400` naming every bad event.
#[utoipa::path(
    post,
    path = "/v1/events",
    tag = "shoppers",
    request_body(
        content = Vec<super::openapi::EventInput>,
        example = json!([
            {"type": "view", "shopper": "s-42", "product": "p-1001"},
            {"type": "search", "shopper": "s-42", "query": "linen sofa"}
        ])
    ),
    responses(
        (status = 202, description = "Recorded durably", body = Accepted),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "Missing search key, or a shopper value that is not a valid token", body = super::error::ErrorBody),
        (status = 413, description = "The body is too large", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
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
    Ok((StatusCode::ACCEPTED, Json(Accepted { accepted })))
}

/// The verified shopper of a `/v1/shoppers/{id}` path (a token when
/// `CLERK_SHOPPER_SECRET` is set).
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

/// The shopper's profile: top affinities, event counts, opt-out.
#[utoipa::path(
    get,
    path = "/v1/shoppers/{id}",
    tag = "shoppers",
    params(("id" = String, Path, description = "Shopper id")),
    responses(
        (status = 200, description = "The profile", body = ProfileView),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 404, description = "Not found", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
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
#[utoipa::path(
    delete,
    path = "/v1/shoppers/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "Shopper id")),
    security(("admin_key" = [])),
    responses(
        (status = 204, description = "Forgotten: profile and events"),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn forget(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let id = path_shopper(&state, &headers, path)?;
    blocking(&state, move |engine| engine.forget_shopper(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stops personalizing the shopper (and learning from them).
#[utoipa::path(
    post,
    path = "/v1/shoppers/{id}/opt-out",
    tag = "shoppers",
    params(("id" = String, Path, description = "Shopper id")),
    responses(
        (status = 200, description = "Opted out", body = OptOutState),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn opt_out(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<OptOutState>, ApiError> {
    let id = path_shopper(&state, &headers, path)?;
    let shopper = id.clone();
    blocking(&state, move |engine| engine.set_opted_out(&id, true)).await?;
    Ok(Json(OptOutState {
        shopper,
        opted_out: true,
    }))
}

/// Personalizes the shopper again.
#[utoipa::path(
    post,
    path = "/v1/shoppers/{id}/opt-in",
    tag = "shoppers",
    params(("id" = String, Path, description = "Shopper id")),
    responses(
        (status = 200, description = "Opted in", body = OptOutState),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn opt_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<OptOutState>, ApiError> {
    let id = path_shopper(&state, &headers, path)?;
    let shopper = id.clone();
    blocking(&state, move |engine| engine.set_opted_out(&id, false)).await?;
    Ok(Json(OptOutState {
        shopper,
        opted_out: false,
    }))
}
