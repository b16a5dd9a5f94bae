//! The listening loop: connections accepted with bounds that axum's `serve` lacks.
//!
//! A bounded number of connections are open at once (more wait in the kernel's
//! backlog); each is served by hyper's HTTP/1 over a [`GuardedIo`] socket, which closes
//! a keep-alive connection idle for `idle_timeout_ms`, cuts a request whose head takes
//! longer than `header_read_timeout_ms` from its first byte (so slow-loris clients and
//! idle sockets cannot pile up), and answers the requests hyper refuses before the API
//! with the API's JSON errors. Each request carries the client address
//! (`ConnectInfo`), for the rate limiter. On shutdown, the listener closes and open
//! connections finish their requests for at most [`DRAIN_TIMEOUT`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::conn::{GuardedIo, Timeouts, TrackedBody, Tracker};
use crate::settings::Limits;

/// How long open connections may finish their requests after shutdown begins.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    app: Router,
    limits: &Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let timeouts = Timeouts {
        idle: Duration::from_millis(limits.idle_timeout_ms),
        header_read: Duration::from_millis(limits.header_read_timeout_ms),
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper's header-read timeout runs from the end of the previous response, so it
    // would also close idle keep-alive connections: GuardedIo keeps both clocks.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(None)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let tracker = Arc::new(Tracker::default());
        let service = service(app.clone(), peer, tracker.clone());
        let io = GuardedIo::new(stream, tracker, timeouts);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN_TIMEOUT) => {
            tracing::warn!("connections still open after {}s; stopping anyway", DRAIN_TIMEOUT.as_secs());
        }
    }
    Ok(())
}

/// The API for one connection's requests: each marked in flight (for [`GuardedIo`]'s
/// timeouts) until its response body is done, and given the client address.
fn service(
    app: Router,
    peer: SocketAddr,
    tracker: Arc<Tracker>,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = hyper::Response<TrackedBody<axum::body::Body>>,
    Error = Infallible,
    Future = impl Future<Output = Result<hyper::Response<TrackedBody<axum::body::Body>>, Infallible>>
             + Send,
> + Clone {
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = tracker.begin();
        let mut request = request.map(axum::body::Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let answer = app.clone().oneshot(request);
        async move {
            let response = answer.await?;
            Ok(response.map(|body| TrackedBody::new(body, in_flight)))
        }
    })
}
