//! `GET /v1/admin/analytics?days=N&limit=N` (admin): top queries, zero-result
//! queries, low click-through queries, click-through and conversion per variant; and
//! `GET /v1/admin/learned?q=QUERY&limit=N` (admin): what the crowd taught ranking.

use axum::Json;
use axum::extract::{RawQuery, State};

use super::params::pairs_from_query;
use super::{ApiError, AppState, blocking};
use crate::crowd::AnalyticsReport;
use crate::engine::{LearnedReport, MAX_ANALYTICS_DAYS, MAX_ANALYTICS_LIMIT, MAX_LEARNED_LIMIT};
use crate::error::Error;

/// Days covered when `days` is not given.
pub const DEFAULT_DAYS: u32 = 7;
/// Rows per list when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 20;

/// Query and variant figures for merchandisers.
#[utoipa::path(
    get,
    path = "/v1/admin/analytics",
    tag = "admin",
    security(("admin_key" = [])),
    params(super::openapi::AnalyticsQuery),
    responses(
        (status = 200, description = "The figures", body = AnalyticsReport),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn analytics(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<AnalyticsReport>, ApiError> {
    let (mut days, mut limit) = (DEFAULT_DAYS, DEFAULT_LIMIT);
    for (key, value) in pairs_from_query(query.as_deref().unwrap_or(""))? {
        match key.as_str() {
            "days" => {
                days = value.trim().parse().map_err(|_| {
                    Error::bad_request(
                        "bad_days",
                        format!("days must be a number between 1 and {MAX_ANALYTICS_DAYS}, got \"{value}\""),
                    )
                })?
            }
            "limit" => {
                limit = value.trim().parse().map_err(|_| {
                    Error::bad_request(
                        "bad_limit",
                        format!("limit must be a number between 1 and {MAX_ANALYTICS_LIMIT}, got \"{value}\""),
                    )
                })?
            }
            other => {
                return Err(Error::bad_request(
                    "unknown_parameter",
                    format!("unknown parameter \"{other}\"; analytics take days and limit"),
                )
                .into());
            }
        }
    }
    let report = blocking(&state, move |engine| engine.analytics(days, limit)).await?;
    Ok(Json(report))
}

/// What the crowd taught ranking: per query, the categories its shoppers chose, the
/// products they preferred and passed over, and its first page without and with
/// learning.
#[utoipa::path(
    get,
    path = "/v1/admin/learned",
    tag = "admin",
    security(("admin_key" = [])),
    params(super::openapi::LearnedQueryParams),
    responses(
        (status = 200, description = "What the crowd taught", body = LearnedReport),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn learned(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Json<LearnedReport>, ApiError> {
    let (mut q, mut limit) = (None, DEFAULT_LIMIT);
    for (key, value) in pairs_from_query(query.as_deref().unwrap_or(""))? {
        match key.as_str() {
            "q" => q = Some(value),
            "limit" => limit = value.trim().parse().map_err(|_| {
                Error::bad_request(
                    "bad_limit",
                    format!(
                        "limit must be a number between 1 and {MAX_LEARNED_LIMIT}, got \"{value}\""
                    ),
                )
            })?,
            other => {
                return Err(Error::bad_request(
                    "unknown_parameter",
                    format!("unknown parameter \"{other}\"; learned takes q and limit"),
                )
                .into());
            }
        }
    }
    let report = blocking(&state, move |engine| engine.learned(q.as_deref(), limit)).await?;
    Ok(Json(report))
}
