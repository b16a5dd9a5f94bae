//! Bounds on every request: engine slots, rate limits, body and head sizes, timeouts.
//!
//! [`Gate`] is built once from the `[limits]` and `[rate_limit]` settings and shared by
//! the middleware here:
//!
//! * [`rate_limit`] runs first on the endpoints that do engine work, before their key
//!   check (so requests refused with `401` count too, and key guessing is slowed): an
//!   optional token bucket per [`RateKey`] answers `429` when it is empty. The bucket
//!   is the client's address (an IPv6 client's /64), whatever key it presents; only a
//!   request bearing the configured admin key gets the admin key's own bucket (kept
//!   under a SHA-256 of the key, never the key). So a fresh random bearer value per
//!   request buys no fresh bucket, every browser presenting the one public search key
//!   does not share one bucket, and the map holds at most [`MAX_RATE_KEYS`] small
//!   fixed-size keys;
//! * [`admit`] then takes one of a fixed number of engine slots, waiting at
//!   most `queue_wait`, or gets `503` with `Retry-After`. A heavy search (see
//!   [`is_heavy`]) first takes one of fewer heavy slots, so costly requests can never
//!   occupy every core, and runs on the [`HeavyPool`]'s lower-priority threads, so
//!   ordinary queries keep their latency;
//! * [`bound_request`] runs first on every request: JSON `414`/`431` for over-long
//!   URIs and headers, JSON `400` for raw non-ASCII bytes in the URI (those hyper lets
//!   through; see `parse_errors` for the rest), for a path or a query parameter that is not UTF-8
//!   once decoded (on every endpoint, naming the parameter), and the
//!   whole body read within a time limit (`408` when a client stops sending), so a
//!   cut-off body never holds a handler until the request timeout.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use super::admin::presented_key;
use super::heavy_pool::HeavyPool;
use super::params::percent_decode;
use super::{ApiError, AppState};
use crate::settings::{Limits, RateLimit};
use crate::tokens::constant_time_eq;
use sha2::{Digest, Sha256};

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

/// The token bucket of the request's [`RateKey`]; see the module comment.
pub async fn rate_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(rate) = &state.gate.rate else {
        return next.run(request).await;
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let key = RateKey::of(state.admin_key.as_deref(), request.headers(), peer);
    if rate.allow(key, Instant::now()) {
        return next.run(request).await;
    }
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        format!(
            "more than {} requests per second from {}; slow down and retry",
            rate.per_second,
            key.describe()
        ),
    )
    .into_response()
}

/// The client an address stands for: itself, or for IPv6 its /64 network (one host
/// usually holds a whole /64); IPv4-mapped IPv6 addresses count as IPv4.
pub fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(network))
        }
        IpAddr::V6(v6) => v6.to_canonical(),
        v4 => v4,
    }
}

/// Whose bucket a request takes a token from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateKey {
    /// A request bearing the configured admin key: SHA-256 of the key.
    Admin([u8; 32]),
    /// Everyone else, by client address (IPv6: the /64 network).
    Addr(IpAddr),
    /// No client address known (only in tests that skip the listener).
    Unknown,
}

impl RateKey {
    /// The admin key's bucket when the bearer is the configured admin key, else the
    /// client's address: a search key, a wrong key or none do not pick the bucket.
    pub fn of(admin_key: Option<&str>, headers: &HeaderMap, peer: Option<IpAddr>) -> RateKey {
        let presented = presented_key(headers);
        if let (Some(admin), Some(given)) = (admin_key, presented)
            && constant_time_eq(given.as_bytes(), admin.as_bytes())
        {
            return RateKey::Admin(Sha256::digest(admin.as_bytes()).into());
        }
        match peer {
            Some(ip) => RateKey::Addr(client_of(ip)),
            None => RateKey::Unknown,
        }
    }

    /// For the `429` message.
    fn describe(&self) -> String {
        match self {
            RateKey::Admin(_) => "the admin key".to_string(),
            RateKey::Addr(IpAddr::V6(net)) => format!("the network {net}/64"),
            RateKey::Addr(ip) => format!("the address {ip}"),
            RateKey::Unknown => "this client".to_string(),
        }
    }
}

/// An engine slot (and a heavy one for heavy searches); see the module comment.
pub async fn admit(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let gate = &state.gate;
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
/// A query text longer than this (in bytes) counts as heavy: long words cost typo
/// lookups whatever their number.
pub const HEAVY_QUERY_BYTES: usize = 40;

/// Whether a query text is costly by itself (see [`HEAVY_WORDS`], [`HEAVY_QUERY_BYTES`]).
pub fn is_heavy_query(q: &str) -> bool {
    q.len() > HEAVY_QUERY_BYTES || q.split_whitespace().count() > HEAVY_WORDS
}

/// Whether a search request is costly by its shape (read from the URI, or the
/// body's length for POST): many or long words, many filters or facets, a deep page,
/// explain.
pub fn is_heavy(request: &Request) -> bool {
    if request.uri().path() != "/v1/search" {
        return false;
    }
    if request.method() == axum::http::Method::POST {
        let length = axum::body::HttpBody::size_hint(request.body()).upper();
        return length.is_none_or(|n| n > HEAVY_BODY_BYTES);
    }
    let (mut filters, mut facets, mut heavy_query) = (0, 0, false);
    let (mut page, mut per_page) = (1usize, 20usize);
    let query = request.uri().query().unwrap_or("");
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "q" => heavy_query |= is_heavy_query(&value),
            "filter" => filters += 1,
            "facets" => facets += value.split(',').count(),
            "page" => page = value.parse().unwrap_or(1),
            "per_page" => per_page = value.parse().unwrap_or(20),
            "explain" => return value == "true",
            _ => {}
        }
    }
    heavy_query
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
    let target = request.uri().path_and_query().map_or("", |t| t.as_str());
    if let Some((code, message)) = super::parse_errors::raw_byte_problem(target.as_bytes()) {
        return Some(ApiError::new(StatusCode::BAD_REQUEST, code, message));
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

/// Token buckets per [`RateKey`], at most [`MAX_RATE_KEYS`] of them.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<RateKey, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: u32) -> RateLimiter {
        RateLimiter {
            per_second,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token from `key`'s bucket; false when it is empty. When the map is
    /// full, buckets that have refilled are forgotten; when none has, a new key is
    /// refused (the map never grows past [`MAX_RATE_KEYS`]).
    pub fn allow(&self, key: RateKey, now: Instant) -> bool {
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() >= MAX_RATE_KEYS && !buckets.contains_key(&key) {
            let (rate, burst) = (self.per_second, self.burst);
            buckets.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * rate < burst
            });
            if buckets.len() >= MAX_RATE_KEYS {
                return false;
            }
        }
        let (tokens, at) = buckets.entry(key).or_insert((self.burst, now));
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

    /// Buckets remembered now.
    pub fn len(&self) -> usize {
        self.buckets.lock().map_or(0, |b| b.len())
    }

    /// Whether no bucket is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(ip: &str) -> RateKey {
        RateKey::Addr(ip.parse().unwrap())
    }

    #[test]
    fn buckets_allow_the_burst_then_the_rate() {
        let limiter = RateLimiter::new(10.0, 3);
        let start = Instant::now();
        let (a, b) = (addr("10.0.0.1"), addr("10.0.0.2"));
        assert!((0..3).all(|_| limiter.allow(a, start)));
        assert!(!limiter.allow(a, start));
        assert!(limiter.allow(b, start), "keys are separate");
        assert!(limiter.allow(a, start + Duration::from_millis(110)));
        assert!(!limiter.allow(a, start + Duration::from_millis(120)));
    }

    #[test]
    fn only_the_admin_key_picks_its_own_bucket() {
        let headers = |bearer: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                axum::http::header::AUTHORIZATION,
                format!("Bearer {bearer}").parse().unwrap(),
            );
            h
        };
        let peer = Some("192.0.2.7".parse().unwrap());
        let of = |bearer: &str| RateKey::of(Some("admin-1"), &headers(bearer), peer);
        assert_eq!(of("random-1"), addr("192.0.2.7"));
        assert_eq!(of("search-key"), addr("192.0.2.7"));
        assert_eq!(
            RateKey::of(Some("admin-1"), &HeaderMap::new(), peer),
            addr("192.0.2.7")
        );
        assert!(matches!(of("admin-1"), RateKey::Admin(_)));
        assert_eq!(
            RateKey::of(None, &headers("admin-1"), peer),
            addr("192.0.2.7"),
            "no admin key configured: no key is special"
        );
        let v6 = |ip: &str| RateKey::of(None, &HeaderMap::new(), Some(ip.parse().unwrap()));
        assert_eq!(
            v6("2001:db8::1"),
            v6("2001:db8::ffff:1"),
            "one /64, one bucket"
        );
        assert_ne!(v6("2001:db8::1"), v6("2001:db8:0:1::1"));
        assert_eq!(v6("::ffff:192.0.2.7"), addr("192.0.2.7"));
    }

    #[test]
    fn the_bucket_map_stays_bounded() {
        let limiter = RateLimiter::new(1.0, 2);
        let now = Instant::now();
        let key = |i: u32| RateKey::Addr(IpAddr::V4(std::net::Ipv4Addr::from(i)));
        for i in 0..MAX_RATE_KEYS as u32 {
            assert!(limiter.allow(key(i), now));
        }
        assert!(
            !limiter.allow(key(u32::MAX), now),
            "full of unrefilled buckets"
        );
        assert_eq!(limiter.len(), MAX_RATE_KEYS);
        let later = now + Duration::from_secs(5);
        assert!(
            limiter.allow(key(u32::MAX), later),
            "refilled ones are forgotten"
        );
        assert_eq!(limiter.len(), 1);
    }

    #[test]
    fn heavy_searches_are_told_by_their_shape() {
        let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
        assert!(!is_heavy(&get("/v1/search?q=grey+sofa&facets=brand,price")));
        assert!(is_heavy(&get("/v1/search?q=a+b+c+d+e")));
        assert!(is_heavy(&get(&format!(
            "/v1/search?q={}+{}",
            "x".repeat(31),
            "y".repeat(31)
        ))));
        assert!(!is_heavy(&get("/v1/search?q=hp+laserjet+black+toner")));
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
