//! Bounds on every request: engine slots, rate limits, body and head sizes, timeouts.
//!
//! [`Gate`] is built once from the `[limits]` and `[rate_limit]` settings and shared by
//! the middleware here:
//!
//! * [`admit`] guards the endpoints that do engine work: an optional token bucket per
//!   key (the bearer key, else the client address) answers `429` when a key is over
//!   its rate; then a request takes one of a fixed number of engine slots, waiting at
//!   most `queue_wait`, or gets `503` with `Retry-After`. A heavy search (see
//!   [`is_heavy`]) first takes one of fewer heavy slots, so costly requests can never
//!   occupy every core, and runs on the [`HeavyPool`]'s lower-priority threads, so
//!   ordinary queries keep their latency;
//! * [`bound_request`] runs first on every request: JSON `414`/`431` for over-long
//!   URIs and headers, JSON `400` for a path or a query parameter that is not UTF-8
//!   once decoded (on every endpoint, naming the parameter), and the
//!   whole body read within a time limit (`408` when a client stops sending), so a
//!   cut-off body never holds a handler until the request timeout.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::admin::presented_key;
use super::heavy_pool::HeavyPool;
use super::params::percent_decode;
use super::{ApiError, AppState};
use crate::settings::{Limits, RateLimit};

/// Longest request URI (path and query) accepted.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most request headers, and their total size.
pub const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Largest body any endpoint takes (each route has its own, smaller or equal, limit).
pub const MAX_ANY_BODY_BYTES: usize = 16 << 20;
/// Keys the rate limiter remembers at most; full buckets are forgotten first.
pub const MAX_RATE_KEYS: usize = 100_000;

/// The shared limits of a running server.
pub struct Gate {
    slots: Arc<Semaphore>,
    pub capacity: usize,
    heavy: Arc<Semaphore>,
    pub heavy_capacity: usize,
    /// Runs the searches that hold a heavy slot, at a lower CPU priority.
    pub heavy_pool: HeavyPool,
    queue_wait: Duration,
    pub request_timeout: Duration,
    pub search_deadline: Duration,
    /// A request's body must arrive within this.
    pub body_timeout: Duration,
    rate: Option<RateLimiter>,
}

impl Gate {
    pub fn new(limits: &Limits, rate: &RateLimit) -> Gate {
        let capacity = limits.concurrency();
        let heavy_capacity = limits.heavy_concurrency();
        Gate {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity,
            heavy: Arc::new(Semaphore::new(heavy_capacity)),
            heavy_capacity,
            heavy_pool: HeavyPool::new(heavy_capacity),
            queue_wait: Duration::from_millis(limits.queue_wait_ms),
            request_timeout: limits.request_timeout(),
            search_deadline: limits.search_deadline(),
            body_timeout: Duration::from_millis(limits.header_read_timeout_ms),
            rate: (rate.per_second > 0.0).then(|| RateLimiter::new(rate.per_second, rate.burst)),
        }
    }
}

impl Default for Gate {
    fn default() -> Gate {
        Gate::new(&Limits::default(), &RateLimit::default())
    }
}

/// Rate limit, then an engine slot; see the module comment.
pub async fn admit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let gate = &state.gate;
    if let Some(rate) = &gate.rate {
        let key = match presented_key(request.headers()) {
            Some(k) => format!("key:{k}"),
            None => match request.extensions().get::<ConnectInfo<SocketAddr>>() {
                Some(ConnectInfo(peer)) => format!("ip:{}", peer.ip()),
                None => "ip:unknown".to_string(),
            },
        };
        if !rate.allow(&key, Instant::now()) {
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "more than {} requests per second from this key; slow down and retry",
                    rate.per_second
                ),
            )
            .into_response();
        }
    }
    let waited_until = tokio::time::Instant::now() + gate.queue_wait;
    let heavy = match is_heavy(&request) {
        true => {
            match tokio::time::timeout_at(waited_until, gate.heavy.clone().acquire_owned()).await {
                Ok(Ok(permit)) => Some(permit),
                _ => return busy(gate.heavy_capacity, "heavy-search"),
            }
        }
        false => None,
    };
    request.extensions_mut().insert(match heavy {
        Some(_) => Lane::Heavy,
        None => Lane::Light,
    });
    let permit = tokio::time::timeout_at(waited_until, gate.slots.clone().acquire_owned()).await;
    match permit {
        Ok(Ok(permit)) => {
            let response = next.run(request).await;
            drop(permit);
            drop(heavy);
            response
        }
        _ => busy(gate.capacity, "engine"),
    }
}

/// How [`admit`] classed a request ([`is_heavy`]); handlers find it in the request's
/// extensions and pick where to run the engine work by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Light,
    Heavy,
}

fn busy(capacity: usize, kind: &str) -> Response {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "overloaded",
        format!("all {capacity} {kind} slots are busy; retry in a moment"),
    )
    .into_response()
}

/// Query words, filters or facets above which a search counts as heavy.
pub const HEAVY_WORDS: usize = 4;
pub const HEAVY_FILTERS: usize = 4;
pub const HEAVY_FACETS: usize = 4;
/// Results reached (`page × per_page`) above which a search counts as heavy.
pub const HEAVY_WINDOW: usize = 500;
/// A POST search body longer than this counts as heavy.
pub const HEAVY_BODY_BYTES: u64 = 256;

/// Whether a search request is costly by its shape (read from the URI, or the
/// body's length for POST): many words, filters or facets, a deep page, explain.
pub fn is_heavy(request: &Request) -> bool {
    if request.uri().path() != "/v1/search" {
        return false;
    }
    if request.method() == axum::http::Method::POST {
        let length = axum::body::HttpBody::size_hint(request.body()).upper();
        return length.is_none_or(|n| n > HEAVY_BODY_BYTES);
    }
    let (mut filters, mut facets, mut words) = (0, 0, 0);
    let (mut page, mut per_page) = (1usize, 20usize);
    let query = request.uri().query().unwrap_or("");
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "q" => words += value.split_whitespace().count(),
            "filter" => filters += 1,
            "facets" => facets += value.split(',').count(),
            "page" => page = value.parse().unwrap_or(1),
            "per_page" => per_page = value.parse().unwrap_or(20),
            "explain" => return value == "true",
            _ => {}
        }
    }
    words > HEAVY_WORDS
        || filters > HEAVY_FILTERS
        || facets > HEAVY_FACETS
        || page.saturating_mul(per_page) > HEAVY_WINDOW
}

/// Head bounds, a UTF-8 path, and the body read in time; see the module comment.
pub async fn bound_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(problem) = head_problem(&request) {
        return problem.into_response();
    }
    let (parts, body) = request.into_parts();
    let timeout = state.gate.body_timeout;
    let bytes = match tokio::time::timeout(timeout, axum::body::to_bytes(body, MAX_ANY_BODY_BYTES))
        .await
    {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => return body_read_error(&e).into_response(),
        Err(_) => {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} ms; send the whole body (as long as Content-Length says)",
                    timeout.as_millis()
                ),
            )
            .into_response();
        }
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn head_problem(request: &Request) -> Option<ApiError> {
    let uri_len = request.uri().to_string().len();
    if uri_len > MAX_URI_BYTES {
        return Some(ApiError::new(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            format!(
                "the URI is {uri_len} bytes; at most {MAX_URI_BYTES} (send long searches as POST /v1/search)"
            ),
        ));
    }
    let headers = request.headers();
    let header_bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if headers.len() > MAX_HEADERS || header_bytes > MAX_HEADER_BYTES {
        return Some(ApiError::new(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers_too_large",
            format!(
                "{} headers of {header_bytes} bytes; at most {MAX_HEADERS} headers of {MAX_HEADER_BYTES} bytes",
                headers.len()
            ),
        ));
    }
    if std::str::from_utf8(&percent_decode(request.uri().path().as_bytes())).is_err() {
        return Some(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_path",
            "the path is not valid UTF-8 once percent-decoded",
        ));
    }
    let query = request.uri().query().unwrap_or("");
    super::params::check_query_encoding(query)
        .err()
        .map(ApiError::from)
}

fn body_read_error(error: &axum::Error) -> ApiError {
    let too_large = std::error::Error::source(error)
        .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        || error.to_string().contains("length limit");
    if too_large {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {MAX_ANY_BODY_BYTES} bytes"),
        )
    } else {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_body",
            format!("the request body could not be read ({error}); it may have been cut off"),
        )
    }
}

/// Token buckets per key.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket; false when it is empty.
    pub fn allow(&self, key: &str, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() >= MAX_RATE_KEYS && !buckets.contains_key(key) {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
            if buckets.len() >= MAX_RATE_KEYS {
                return false;
            }
        }
        let (tokens, at) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_allow_the_burst_then_the_rate() {
        let limiter = RateLimiter::new(10.0, 3);
        let start = Instant::now();
        assert!((0..3).all(|_| limiter.allow("a", start)));
        assert!(!limiter.allow("a", start));
        assert!(limiter.allow("b", start), "keys are separate");
        assert!(limiter.allow("a", start + Duration::from_millis(110)));
        assert!(!limiter.allow("a", start + Duration::from_millis(120)));
    }

    #[test]
    fn heavy_searches_are_told_by_their_shape() {
        let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
        assert!(!is_heavy(&get("/v1/search?q=grey+sofa&facets=brand,price")));
        assert!(is_heavy(&get("/v1/search?q=a+b+c+d+e")));
        assert!(is_heavy(&get("/v1/search?q=&page=30&per_page=20")));
        assert!(is_heavy(&get(
            "/v1/search?facets=brand,price,category,color,material"
        )));
        assert!(!is_heavy(&get("/v1/autocomplete?q=a+b+c+d+e+f")));
        let post = |body: &str| {
            Request::builder()
                .method("POST")
                .uri("/v1/search")
                .body(Body::from(body.to_string()))
                .unwrap()
        };
        assert!(!is_heavy(&post(r#"{"q":"sofa"}"#)));
        assert!(is_heavy(&post(&format!(
            r#"{{"q":"{}"}}"#,
            "w ".repeat(200)
        ))));
    }

    #[test]
    fn percent_decoding_finds_invalid_utf8() {
        assert_eq!(percent_decode(b"/v1/shoppers/a%20b"), b"/v1/shoppers/a b");
        assert!(std::str::from_utf8(&percent_decode(b"/v1/shoppers/%ff")).is_err());
        assert_eq!(percent_decode(b"%zz%4"), b"%zz%4");
    }
}
