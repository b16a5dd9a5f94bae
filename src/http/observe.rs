//! Per-request observation: metrics, a request id and one structured log line.
//!
//! Every request passes [`observe`] on its way in and out. It counts the request and
//! times it by method, route template and status (labels bounded, see
//! [`crate::metrics`]), gives it an id (the caller's `x-request-id` when that is a
//! short token, else a fresh one) echoed in the response's `x-request-id` header, and
//! logs one `request` event with method, route, status, latency and id. With
//! `CLERK_LOG_FORMAT=json` the binary's subscriber writes those events as JSON lines.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use crate::metrics::{RequestLabels, method_label};

/// The request id header, read and written.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest caller-supplied request id kept.
const MAX_REQUEST_ID: usize = 64;

/// Counts and times every request by route and status, and logs it.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method().as_str());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let id = request_id(
        request
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok()),
    );
    let mut response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    tracing::info!(
        target: "clerk::request",
        method,
        route = route.as_str(),
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = id.as_str(),
        "request"
    );
    let labels = RequestLabels {
        method,
        route,
        status,
    };
    state.metrics.requests.get_or_create(&labels).inc();
    state
        .metrics
        .request_seconds
        .get_or_create(&labels)
        .observe(elapsed.as_secs_f64());
    response
}

/// The caller's id when it is a short token of letters, digits, `-`, `_`, `.`;
/// otherwise a new one, unique within this process.
fn request_id(given: Option<&str>) -> String {
    if let Some(given) = given
        && !given.is_empty()
        && given.len() <= MAX_REQUEST_ID
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return given.to_string();
    }
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static PROCESS: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let process = *PROCESS.get_or_init(rand::random::<u32>);
    format!("{process:08x}-{:08x}", NEXT.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_when_safe_and_made_otherwise() {
        assert_eq!(request_id(Some("abc-123")), "abc-123");
        let made = request_id(Some("bad id\nwith newline"));
        assert_ne!(made, "bad id\nwith newline");
        assert_eq!(made.len(), 17);
        assert_ne!(request_id(None), request_id(None));
        assert_ne!(request_id(Some(&"x".repeat(65))), "x".repeat(65));
    }
}
