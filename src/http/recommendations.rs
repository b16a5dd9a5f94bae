//! `GET /v1/recommendations?product=ID&kind=also_viewed|bought_together&limit=N` and
//! `GET /v1/recommendations?shopper=ID` ("for you"); `filter` repeats as in search.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;

use super::params::pairs_from_query;
use super::{ApiError, AppState, blocking};
use crate::crowd::recommend::{DEFAULT_LIMIT, MAX_LIMIT, RecommendationRequest, Recommendations};
use crate::error::{Error, Result};

/// Products next to a product, or "for you".
#[utoipa::path(
    get,
    path = "/v1/recommendations",
    tag = "search",
    params(super::openapi::RecommendationsQuery),
    responses(
        (status = 200, description = "Recommendations, each with why", body = Recommendations),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "A search key or a valid shopper token is needed", body = super::error::ErrorBody),
        (status = 404, description = "No such product", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn recommendations(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<Recommendations>, ApiError> {
    let mut request = parse(query.as_deref().unwrap_or(""))?;
    // With a shopper secret, `shopper` is a token minted for that shopper.
    if let Some(value) = request.shopper.take() {
        request.shopper = Some(super::access::shopper_id(&state, &headers, &value)?);
    }
    let response = blocking(&state, move |engine| engine.recommendations(&request)).await?;
    Ok(Json(response))
}

/// The request from its query string; unknown or repeated names are errors.
fn parse(query: &str) -> Result<RecommendationRequest> {
    let mut request = RecommendationRequest {
        product: None,
        shopper: None,
        kind: None,
        limit: DEFAULT_LIMIT,
        filters: Vec::new(),
    };
    for (key, value) in pairs_from_query(query)? {
        let slot = match key.as_str() {
            "product" => &mut request.product,
            "shopper" => &mut request.shopper,
            "kind" => &mut request.kind,
            "filter" => {
                request.filters.push(value);
                continue;
            }
            "limit" => {
                request.limit = value.trim().parse::<usize>().map_err(|_| {
                    Error::bad_request(
                        "bad_limit",
                        format!(
                            "limit must be a number between 1 and {MAX_LIMIT}, got \"{value}\""
                        ),
                    )
                })?;
                continue;
            }
            other => {
                return Err(Error::bad_request(
                    "unknown_parameter",
                    format!(
                        "unknown parameter \"{other}\"; recommendations take product, kind, shopper, limit and filter"
                    ),
                ));
            }
        };
        if slot.is_some() {
            return Err(Error::bad_request(
                "repeated_parameter",
                format!("{key} is given twice; give it once"),
            ));
        }
        if value.trim().is_empty() {
            return Err(Error::bad_request(
                "empty_parameter",
                format!("{key} is empty; give an id"),
            ));
        }
        *slot = Some(value);
    }
    Ok(request)
}
