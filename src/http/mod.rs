//! The HTTP API (axum): routes, shared state, limits, metrics and shutdown.
//!
//! [`router`] builds the whole API from an [`AppState`], so tests can drive it with
//! `tower::ServiceExt::oneshot` and no socket; [`serve`] binds it to an address and
//! stops gracefully on SIGTERM or Ctrl-C. Handlers live one file per endpoint group;
//! errors become SPEC's JSON shape in [`error`] only.

pub mod access;
mod admin;
mod analytics;
mod autocomplete;
pub mod conn;
pub mod error;
mod heavy_pool;
pub mod limits;
mod observe;
pub mod openapi;
pub mod params;
pub mod parse_errors;
mod products;
mod recommendations;
mod search;
pub mod server;
mod shoppers;
mod status;
mod storefront;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

use crate::engine::Engine;
use crate::metrics::Metrics;
use crate::settings::Limits;
use crate::tokens::ShopperSecret;
pub use error::ApiError;
pub use limits::Gate;

/// Largest request body accepted by the search endpoints.
pub const MAX_SEARCH_BODY_BYTES: usize = 64 * 1024;
/// How often the server checks whether `clerk index` activated a new index.
pub const INDEX_WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub engine: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    /// When set, admin and write endpoints require `Authorization: Bearer <key>`.
    pub admin_key: Option<Arc<str>>,
    /// When set, search, autocomplete, events and profiles require it (or the admin key).
    pub search_key: Option<Arc<str>>,
    /// When set, shopper values must be tokens signed with it.
    pub shopper_secret: Option<Arc<ShopperSecret>>,
    /// Engine slots, rate limits and timeouts.
    pub gate: Arc<Gate>,
}

impl AppState {
    /// State without an admin key (admin endpoints open, as on a developer machine).
    pub fn new(engine: Arc<Engine>) -> AppState {
        AppState {
            engine,
            metrics: Arc::new(Metrics::new()),
            admin_key: None,
            search_key: None,
            shopper_secret: None,
            gate: Arc::new(Gate::default()),
        }
    }

    /// The same state requiring `key` for the browser-facing endpoints (empty = open).
    pub fn with_search_key(mut self, key: Option<String>) -> AppState {
        self.search_key = key.filter(|k| !k.is_empty()).map(Arc::from);
        self
    }

    /// The same state requiring shopper tokens signed with `secret`.
    pub fn with_shopper_secret(mut self, secret: Option<ShopperSecret>) -> AppState {
        self.shopper_secret = secret.map(Arc::new);
        self
    }

    /// The same state with the limits of `gate`.
    pub fn with_gate(mut self, gate: Gate) -> AppState {
        self.gate = Arc::new(gate);
        self
    }

    /// Keys and secrets from the environment: `CLERK_ADMIN_KEY`, `CLERK_SEARCH_KEY`,
    /// `CLERK_SHOPPER_SECRET`.
    pub fn with_env_keys(self) -> AppState {
        self.with_admin_key(std::env::var("CLERK_ADMIN_KEY").ok())
            .with_search_key(std::env::var("CLERK_SEARCH_KEY").ok())
            .with_shopper_secret(ShopperSecret::from_env())
    }

    /// The same state guarding admin endpoints with `key` (empty = no guard).
    pub fn with_admin_key(mut self, key: Option<String>) -> AppState {
        self.admin_key = key.filter(|k| !k.is_empty()).map(Arc::from);
        self
    }
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let admit = || middleware::from_fn_with_state(state.clone(), limits::admit);
    // Outermost of each group (a route layer added later runs earlier): every
    // request takes a token before its key is checked, so refused ones count too.
    let rate_limit = || middleware::from_fn_with_state(state.clone(), limits::rate_limit);
    let admin = Router::new()
        .route("/v1/admin/reload", post(admin::reload))
        .route("/v1/admin/analytics", get(analytics::analytics))
        .route("/v1/admin/learned", get(analytics::learned))
        .route("/v1/admin/shopper-tokens", post(admin::shopper_token))
        .route("/v1/shoppers/{id}", delete(shoppers::forget))
        .route(
            "/v1/products",
            put(products::upsert).layer(DefaultBodyLimit::max(products::MAX_PRODUCTS_BODY_BYTES)),
        )
        .route("/v1/products/{id}", delete(products::delete))
        .route_layer(admit())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            admin::require_admin,
        ))
        .route_layer(rate_limit());
    let browser = Router::new()
        .route(
            "/v1/events",
            post(shoppers::events).layer(DefaultBodyLimit::max(shoppers::MAX_EVENTS_BODY_BYTES)),
        )
        .route("/v1/shoppers/{id}", get(shoppers::profile))
        .route("/v1/shoppers/{id}/opt-out", post(shoppers::opt_out))
        .route("/v1/shoppers/{id}/opt-in", post(shoppers::opt_in))
        .route("/v1/autocomplete", get(autocomplete::autocomplete))
        .route("/v1/recommendations", get(recommendations::recommendations))
        .route(
            "/v1/search",
            get(search::search_get)
                .post(search::search_post)
                .layer(DefaultBodyLimit::max(MAX_SEARCH_BODY_BYTES)),
        )
        .route_layer(admit())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            access::require_search,
        ))
        .route_layer(rate_limit());
    Router::new()
        .merge(admin)
        .merge(browser)
        .merge(storefront::routes())
        .route("/openapi.json", get(openapi::openapi_json))
        .route("/health", get(status::health))
        .route("/metrics", get(status::metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::bound_request,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), time_limit))
        .with_state(state)
}

/// Catalogs up to this size run short engine work (light searches, autocomplete) on
/// the async worker itself: it takes about a millisecond there, less than handing it
/// to the blocking pool and back (two thread wake-ups). See `search::run`.
pub const INLINE_MAX_PRODUCTS: u64 = crate::parallel::MIN_DOCS;

/// Runs short engine work inline when the catalog is small enough (see
/// [`INLINE_MAX_PRODUCTS`]), else like [`blocking`].
pub async fn quick<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&crate::engine::Engine) -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    if state.engine.documents() <= INLINE_MAX_PRODUCTS {
        return work(&state.engine).map_err(ApiError::from);
    }
    blocking(state, work).await
}

/// Runs blocking engine work off the async threads.
pub async fn blocking<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&crate::engine::Engine) -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let engine = state.engine.clone();
    tokio::task::spawn_blocking(move || work(&engine))
        .await
        .map_err(|e| ApiError::from(crate::Error::Internal(format!("task failed: {e}"))))?
        .map_err(ApiError::from)
}

/// A body that could not be read: larger than `limit`, or cut off.
pub fn body_error(rejection: axum::extract::rejection::BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!("the request body is larger than {limit} bytes"),
        )
    } else {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_body", rejection.body_text())
    }
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see README.md for the API (e.g. GET /v1/search?q=sofa)",
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Answers 503 when a request runs past the request timeout.
async fn time_limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit = state.gate.request_timeout;
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "timeout",
            format!(
                "the request took longer than {} ms; try a narrower query",
                limit.as_millis()
            ),
        )
        .into_response(),
    }
}

/// Serves the API on `addr` until `shutdown` completes; reports the bound address.
pub async fn serve(
    addr: SocketAddr,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    serve_with(addr, state, &Limits::default(), shutdown, on_bound).await
}

/// The same with connection limits and timeouts from `limits`.
pub async fn serve_with(
    addr: SocketAddr,
    state: AppState,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_bound: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    // Poll the shutdown future once so its signal handlers are installed before
    // anyone learns the address (a SIGTERM right after must stop us gracefully).
    let mut shutdown = Box::pin(shutdown);
    let mut signalled = false;
    std::future::poll_fn(|cx| {
        signalled = shutdown.as_mut().poll(cx).is_ready();
        std::task::Poll::Ready(())
    })
    .await;
    let shutdown = async move {
        if !signalled {
            shutdown.await
        }
    };
    on_bound(listener.local_addr()?);
    let watcher = tokio::spawn(watch_index(state.engine.clone()));
    let hangups = tokio::spawn(reload_on_hangup(state.engine.clone()));
    let learner = tokio::spawn(learn_continuously(state.engine.clone()));
    let result = server::run(listener, router(state), limits, shutdown).await;
    watcher.abort();
    hangups.abort();
    learner.abort();
    result
}

/// How often the crowd's new events are folded into the learned signals.
pub const LEARN_INTERVAL: Duration = Duration::from_secs(1);

/// Keeps the crowd's learned signals current (`crate::learning`).
async fn learn_continuously(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(LEARN_INTERVAL);
    loop {
        tick.tick().await;
        let engine = engine.clone();
        match tokio::task::spawn_blocking(move || engine.learn()).await {
            Ok(Err(e)) => tracing::warn!("learning from events failed: {e}"),
            Err(e) => tracing::warn!("learner failed: {e}"),
            Ok(Ok(_)) => {}
        }
    }
}

/// Reloads synonyms and rules on SIGHUP, as `POST /v1/admin/reload` does.
async fn reload_on_hangup(engine: Arc<Engine>) {
    #[cfg(unix)]
    {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            let engine = engine.clone();
            match tokio::task::spawn_blocking(move || engine.reload_config()).await {
                Ok(Ok(report)) => tracing::info!("SIGHUP: configuration reloaded: {report:?}"),
                Ok(Err(e)) => {
                    tracing::warn!("SIGHUP: configuration refused, the old one keeps serving: {e}")
                }
                Err(e) => tracing::warn!("SIGHUP: reload failed: {e}"),
            }
        }
    }
    #[cfg(not(unix))]
    let _ = engine;
}

/// Follows `clerk index` runs: switches to a newly activated index.
async fn watch_index(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(INDEX_WATCH_INTERVAL);
    loop {
        tick.tick().await;
        let engine = engine.clone();
        match tokio::task::spawn_blocking(move || engine.follow_current()).await {
            Ok(Err(e)) => tracing::warn!("could not open the new index: {e}"),
            Err(e) => tracing::warn!("index watcher failed: {e}"),
            Ok(Ok(_)) => {}
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
