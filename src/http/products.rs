//! Catalog updates (admin): `PUT /v1/products`, `DELETE /v1/products/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;

use super::{ApiError, AppState, blocking, body_error};

/// Largest product update body.
pub const MAX_PRODUCTS_BODY_BYTES: usize = 16 << 20;

/// `PUT /v1/products` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Upserted {
    pub upserted: usize,
}

/// Upserts a JSON array of products; `200` once they are searchable.
#[utoipa::path(
    put,
    path = "/v1/products",
    tag = "admin",
    request_body(
        content = Vec<super::openapi::ProductInput>,
        description = "Products in the catalog's JSON shape (the schema says which fields exist; `id` and the title are required)",
        example = json!([{"id": "p-example-1", "title": "Linen 3-seat sofa", "brand": "Nordby", "price": 499.0, "in_stock": true}])
    ),
    security(("admin_key" = [])),
    responses(
        (status = 200, description = "Searchable now", body = Upserted),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 413, description = "The body is too large", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn upsert(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Upserted>, ApiError> {
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
    Ok(Json(Upserted { upserted }))
}

/// Removes a product; `204`, or `404` when there is none.
#[utoipa::path(
    delete,
    path = "/v1/products/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    security(("admin_key" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 404, description = "Not found", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    blocking(&state, move |engine| engine.delete_product(&id)).await?;
    Ok(StatusCode::NO_CONTENT)
}
