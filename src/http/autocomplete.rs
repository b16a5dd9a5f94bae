//! `GET /v1/autocomplete?q=PREFIX&limit=8`.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::Serialize;

use super::params::pairs_from_query;
use super::{ApiError, AppState, quick};
use crate::autocomplete::{MAX_LIMIT, Suggestion};
use crate::error::Error;

/// Suggestions returned when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 8;

/// `GET /v1/autocomplete`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Suggestions {
    pub suggestions: Vec<Suggestion>,
}

/// Completions for what a shopper has typed, best first.
#[utoipa::path(
    get,
    path = "/v1/autocomplete",
    tag = "search",
    params(super::openapi::AutocompleteQuery),
    responses(
        (status = 200, description = "Suggestions", body = Suggestions),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn autocomplete(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Suggestions>, ApiError> {
    let mut typed = String::new();
    let mut limit = DEFAULT_LIMIT;
    for (key, value) in pairs_from_query(query.as_deref().unwrap_or(""))? {
        match key.as_str() {
            "q" => typed = value,
            "limit" => {
                limit = value
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|l| (1..=MAX_LIMIT).contains(l))
                    .ok_or_else(|| {
                        Error::bad_request(
                            "bad_limit",
                            format!("limit must be between 1 and {MAX_LIMIT}, got \"{value}\""),
                        )
                    })?
            }
            other => {
                return Err(Error::bad_request(
                    "unknown_parameter",
                    format!("unknown parameter \"{other}\"; autocomplete takes q and limit"),
                )
                .into());
            }
        }
    }
    let suggestions = quick(&state, move |engine| Ok(engine.autocomplete(&typed, limit))).await?;
    Ok(Json(Suggestions { suggestions }))
}
