//! `GET /v1/search` and `POST /v1/search`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, RawQuery, State};

use axum::http::{HeaderMap, StatusCode};

use super::access::shopper_id;
use super::admin::is_admin;
use super::limits::{self, Lane};
use super::params::{pairs_from_json, pairs_from_query, search_request};
use super::{ApiError, AppState, INLINE_MAX_PRODUCTS, MAX_SEARCH_BODY_BYTES, body_error};
use crate::search::{SearchRequest, SearchResponse};

/// Search (SPEC): the query string carries the parameters.
#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    params(super::openapi::SearchQuery),
    security((), ("admin_key" = [])),
    responses(
        (status = 200, description = "Results, facets and messages", body = SearchResponse),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn search_get(
    State(state): State<AppState>,
    lane: Option<Extension<Lane>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<SearchResponse>, ApiError> {
    let mut request = search_request(pairs_from_query(query.as_deref().unwrap_or(""))?)?;
    check_preview(&state, &headers, &request)?;
    request.shopper = verified_shopper(&state, &headers, request.shopper)?;
    run(state, lane.map(|Extension(lane)| lane), request).await
}

/// Search (SPEC) with the same parameters in a JSON object.
#[utoipa::path(
    post,
    path = "/v1/search",
    tag = "search",
    request_body = Option<super::openapi::SearchBody>,
    security((), ("admin_key" = [])),
    responses(
        (status = 200, description = "Results, facets and messages", body = SearchResponse),
        (status = 400, description = "Bad request: the message says what to fix", body = super::error::ErrorBody),
        (status = 401, description = "The admin key is missing or wrong", body = super::error::ErrorBody),
        (status = 413, description = "The body is too large", body = super::error::ErrorBody),
        (status = 503, description = "Timed out or no index", body = super::error::ErrorBody)
    )
)]
pub async fn search_post(
    State(state): State<AppState>,
    lane: Option<Extension<Lane>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let body = body.map_err(|r| body_error(r, MAX_SEARCH_BODY_BYTES))?;
    let mut request = search_request(pairs_from_json(&body)?)?;
    check_preview(&state, &headers, &request)?;
    request.shopper = verified_shopper(&state, &headers, request.shopper)?;
    run(state, lane.map(|Extension(lane)| lane), request).await
}

/// `rules=off` and `personalization=off` are merchandiser previews: admin only.
fn check_preview(
    state: &AppState,
    headers: &HeaderMap,
    request: &SearchRequest,
) -> Result<(), ApiError> {
    if (request.apply_rules && request.personalize) || is_admin(state, headers) {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "rules=off and personalization=off are previews for merchandisers: send `Authorization: Bearer <CLERK_ADMIN_KEY>`",
    ))
}

/// The shopper id behind the `shopper` parameter (a token when a secret is set).
fn verified_shopper(
    state: &AppState,
    headers: &HeaderMap,
    shopper: Option<String>,
) -> Result<Option<String>, ApiError> {
    shopper
        .map(|value| shopper_id(state, headers, &value))
        .transpose()
}

/// Runs the search within the search deadline and records its metrics.
///
/// Where it runs: a light search (the [`Lane`] [`limits::admit`] gave it) on a catalog
/// of at most [`INLINE_MAX_PRODUCTS`] takes about a millisecond, and runs right on the
/// async worker that received it. Handing it to the blocking pool costs two thread
/// wake-ups, which on this 2-core machine cost more than the search: inline, Icecat
/// throughput at 4 clients went from ~1,400 to ~2,500 requests/s and p99 from 8 to
/// 4 ms (`benches/icecat_load.sh`). Heavy searches, searches on large catalogs,
/// searches that read a profile from Redis (a network call) and requests that came
/// without a lane still go to the blocking pool, so a long or waiting search never
/// holds up the connections the worker serves; heavy ones run on the gate's
/// lower-priority threads ([`super::heavy_pool`]), so they give way to ordinary
/// searches when both want a core.
///
/// [`limits::admit`]: super::limits::admit
async fn run(
    state: AppState,
    lane: Option<Lane>,
    request: SearchRequest,
) -> Result<Json<SearchResponse>, ApiError> {
    let engine = state.engine.clone();
    let budget = state.gate.search_deadline;
    // A POST body short enough to pass as light can still carry a costly query.
    let heavy = lane == Some(Lane::Heavy) || limits::is_heavy_query(&request.q);
    let inline = lane == Some(Lane::Light)
        && !heavy
        && engine.documents() <= INLINE_MAX_PRODUCTS
        && !(request.shopper.is_some() && engine.shopper_store_is_remote());
    let response = if inline {
        crate::deadline::within(budget, || engine.search(&request))?
    } else if heavy {
        state
            .gate
            .heavy_pool
            .run(move || crate::deadline::within(budget, || engine.search(&request)))
            .await
            .map_err(|e| {
                ApiError::from(crate::Error::Internal(format!("search task failed: {e}")))
            })??
    } else {
        tokio::task::spawn_blocking(move || {
            crate::deadline::within(budget, || engine.search(&request))
        })
        .await
        .map_err(|e| ApiError::from(crate::Error::Internal(format!("search task failed: {e}"))))??
    };
    state
        .metrics
        .search_seconds
        .observe(response.took_ms / 1000.0);
    state.metrics.observe_stages(&response.timings);
    if response.total == 0 {
        state.metrics.zero_results.inc();
    }
    if response.relaxed.is_some() {
        state.metrics.relaxed_queries.inc();
    }
    Ok(Json(response))
}
