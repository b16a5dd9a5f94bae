//! `GET /v1/autocomplete?q=PREFIX&limit=8`.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::{Value, json};

use super::params::pairs_from_query;
use super::{ApiError, AppState, blocking};
use crate::autocomplete::MAX_LIMIT;
use crate::error::Error;

/// Suggestions returned when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 8;

pub async fn autocomplete(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let mut typed = String::new();
    let mut limit = DEFAULT_LIMIT;
    for (key, value) in pairs_from_query(query.as_deref().unwrap_or("")) {
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
    let suggestions =
        blocking(&state, move |engine| Ok(engine.autocomplete(&typed, limit))).await?;
    Ok(Json(json!({ "suggestions": suggestions })))
}
