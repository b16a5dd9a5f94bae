//! Catalog updates (admin): `PUT /v1/products`, `DELETE /v1/products/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{ApiError, AppState, blocking, body_error};

/// Largest product update body.
pub const MAX_PRODUCTS_BODY_BYTES: usize = 16 << 20;

/// Upserts a JSON array of products; `200` once they are searchable.
pub async fn upsert(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = body.map_err(|r| body_error(r, MAX_PRODUCTS_BODY_BYTES))?;
    let upserted = blocking(&state, move |engine| engine.upsert_products(&body))
        .await
        .map_err(|mut e| {
            if e.code == "invalid_config" {
                e.code = "invalid_products".into();
                e.message = format!(
                    "the batch was rejected whole: {} problem(s)",
                    e.problems.len()
                );
            }
            e
        })?;
    Ok(Json(json!({ "upserted": upserted })))
}

/// Removes a product; `204`, or `404` when there is none.
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state, move |engine| engine.delete_product(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
