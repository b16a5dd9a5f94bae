//! Who may call what: the search key, and shopper identity from signed tokens.
//!
//! Keys come from the environment only. With `CLERK_SEARCH_KEY` set, the browser-facing
//! endpoints (search, autocomplete, events, a shopper's own profile, opt-out and
//! opt-in) need `Authorization: Bearer <search or admin key>`; [`require_search`] is
//! the one place that checks it. With `CLERK_SHOPPER_SECRET` set, every shopper value
//! a request carries must be a token minted for that shopper (see [`crate::tokens`]);
//! [`shopper_id`] turns the presented value into the verified id, or refuses it.
//! Requests with the admin key may name any shopper by its bare id.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::admin::presented_key;
use super::{ApiError, AppState};
use crate::tokens::{MAX_SHOPPER_ID_BYTES, MAX_TOKEN_BYTES, TokenError, constant_time_eq};

/// Rejects requests without the search (or admin) key, when a search key is set.
pub async fn require_search(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let Some(search_key) = state.search_key.as_deref() else {
        return next.run(request).await;
    };
    let allowed = presented_key(request.headers()).is_some_and(|given| {
        constant_time_eq(given.as_bytes(), search_key.as_bytes())
            || state
                .admin_key
                .as_deref()
                .is_some_and(|admin| constant_time_eq(given.as_bytes(), admin.as_bytes()))
    });
    if allowed {
        return next.run(request).await;
    }
    let message = match presented_key(request.headers()) {
        Some(_) => "the key is wrong: send the search key (CLERK_SEARCH_KEY) or the admin key",
        None => "this endpoint needs the header `Authorization: Bearer <CLERK_SEARCH_KEY>`",
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", message).into_response()
}

/// Whether the request carries the configured admin key (false when none is set:
/// then nobody is privileged over shopper identity).
pub fn has_admin_key(state: &AppState, headers: &HeaderMap) -> bool {
    match (state.admin_key.as_deref(), presented_key(headers)) {
        (Some(key), Some(given)) => constant_time_eq(given.as_bytes(), key.as_bytes()),
        _ => false,
    }
}

/// The verified shopper id behind a presented value: the value itself without a
/// shopper secret; the id inside a valid token with one; for admins, also a bare id.
pub fn shopper_id(state: &AppState, headers: &HeaderMap, value: &str) -> Result<String, ApiError> {
    let admin = state.shopper_secret.is_some() && has_admin_key(state, headers);
    resolve(state, admin, value)
        .map_err(|e| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", e.to_string()))
        .and_then(|id| check_length(&id).map(|_| id))
}

/// The same as [`shopper_id`] for many values (an event batch), as a plain closure:
/// `Err` holds the reason, for the batch's problem list.
pub fn resolver(
    state: &AppState,
    headers: &HeaderMap,
) -> impl Fn(&str) -> Result<String, String> + Send + Sync + 'static {
    let admin = state.shopper_secret.is_some() && has_admin_key(state, headers);
    let state = state.clone();
    move |value: &str| resolve(&state, admin, value).map_err(|e| e.to_string())
}

fn resolve(state: &AppState, admin: bool, value: &str) -> Result<String, TokenError> {
    let Some(secret) = state.shopper_secret.as_deref() else {
        return Ok(value.to_string());
    };
    let now = chrono::Utc::now().timestamp();
    match secret.verify(value, now) {
        Ok(id) => Ok(id),
        Err(_) if admin => Ok(value.to_string()),
        Err(e) => Err(e),
    }
}

fn check_length(id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_shopper",
            "the shopper id is empty",
        ));
    }
    if id.len() > MAX_SHOPPER_ID_BYTES {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_shopper",
            format!(
                "the shopper id is {} bytes; at most {MAX_SHOPPER_ID_BYTES} are accepted",
                id.len()
            ),
        ));
    }
    Ok(())
}

/// Longest shopper value accepted before verification (a token wraps the id).
pub const MAX_PRESENTED_SHOPPER_BYTES: usize = MAX_TOKEN_BYTES;
