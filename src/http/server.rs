//! The listening loop: connections accepted with bounds that axum's `serve` lacks.
//!
//! A bounded number of connections are open at once (more wait in the kernel's
//! backlog), and one client address holds at most `max_connections_per_client` of them
//! (more are answered `503` and closed, so one client cannot take every slot); each is
//! served by hyper's HTTP/1 over a [`GuardedIo`] socket, which closes
//! a keep-alive connection idle for `idle_timeout_ms`, cuts a request whose head takes
//! longer than `header_read_timeout_ms` from its first byte (so slow-loris clients and
//! idle sockets cannot pile up), and answers the requests hyper refuses before the API
//! with the API's JSON errors. Each request carries the client address
//! (`ConnectInfo`), for the rate limiter. On shutdown, the listener closes and open
//! connections finish their requests for at most [`DRAIN_TIMEOUT`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

use super::conn::{GuardedIo, Timeouts, TrackedBody, Tracker};
use super::error::{ErrorBody, ErrorDetail};
use super::limits::client_of;
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
    let per_client = PerClient::new(limits.max_connections_per_client);
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
        let Some(held) = per_client.admit(peer.ip()) else {
            tokio::spawn(refuse(stream, per_client.cap));
            continue;
        };
        let tracker = Arc::new(Tracker::default());
        let service = service(app.clone(), peer, tracker.clone());
        let io = GuardedIo::new(stream, tracker, timeouts);
        let connection = builder.serve_connection(TokioIo::new(io), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = watched.await;
            drop(held);
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

/// Open connections per client address, capped.
#[derive(Clone)]
struct PerClient {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection counted against its client; uncounted when dropped.
struct Held {
    client: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerClient {
    fn new(cap: usize) -> PerClient {
        PerClient {
            cap,
            open: Arc::default(),
        }
    }

    /// Counts a new connection from `ip`, unless its client already holds `cap`
    /// (`Some` without counting when there is no cap).
    fn admit(&self, ip: IpAddr) -> Option<Option<Held>> {
        if self.cap == 0 {
            return Some(None);
        }
        let client = client_of(ip);
        let mut open = self.open.lock().ok()?;
        let count = open.entry(client).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Some(Held {
            client,
            open: self.open.clone(),
        }))
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock()
            && let Some(count) = open.get_mut(&self.client)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// Answers a connection over its client's cap with a JSON `503` and closes it.
async fn refuse(mut stream: TcpStream, cap: usize) {
    let body = ErrorBody {
        error: ErrorDetail {
            code: "too_many_connections".to_string(),
            message: format!(
                "this client already holds {cap} open connections (limits.max_connections_per_client); reuse them or close some"
            ),
            problems: None,
        },
    };
    let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
    let head = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n",
        json.len()
    );
    let answer = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&json).await?;
        stream.shutdown().await?;
        // Read what the client sent until it closes, so closing does not reset the
        // connection before the client has read the answer.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), answer).await;
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
