//! One connection's socket, as hyper sees it: idle and header-read timeouts, and JSON
//! instead of hyper's empty parse-error answers.
//!
//! [`GuardedIo`] wraps the TCP stream handed to hyper; [`Tracker`] is shared with the
//! connection's service, which calls [`Tracker::begin`] for every request that
//! reaches it and holds the returned [`InFlight`] until the response body is done
//! (see [`TrackedBody`]). From those two signals the wrapper knows the phase:
//!
//! * **idle**: no request in flight and no byte of a new one yet. After
//!   `idle_timeout` without a byte read or written, reading reports end-of-stream and
//!   hyper closes the connection quietly (hyper's own `header_read_timeout` cannot do
//!   this: its clock starts when it begins waiting for a head, so it also closes idle
//!   keep-alive connections, and it is turned off);
//! * **head**: a byte of a new request arrived. The whole head must arrive within
//!   `header_read_timeout` of it, else reading fails with `TimedOut` and the connection
//!   is closed (slow-loris clients);
//! * **in flight**: the service has the request; no timeout here (the request,
//!   body-read and search deadlines in the middleware bound it).
//!
//! Parse errors: hyper answers a head it cannot parse by itself, before the service,
//! with an empty body (`parse_errors` says which and how they look). The wrapper keeps
//! the bytes read since the last write (at most [`RECEIVED_KEEP`]) and, when a write
//! ends with hyper's refusal, writes the JSON answer in its place. Normal responses pay
//! a four-byte compare at the end of each write and no copy; requests a copy of their
//! first [`RECEIVED_KEEP`] bytes (the head, for a search). Both are within the noise of
//! `wrk` against `/v1/search` (see docs/performance.md).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::parse_errors::{find_refusal, json_refusal};

/// Bytes of a request kept for diagnosing a parse error (its head, in practice).
pub const RECEIVED_KEEP: usize = 32 * 1024;

/// What the service tells the socket: requests started, and those not yet answered.
#[derive(Debug, Default)]
pub struct Tracker {
    started: AtomicU64,
    in_flight: AtomicUsize,
}

impl Tracker {
    /// A request reached the service; in flight until the guard is dropped.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.clone())
    }
}

/// A request between reaching the service and the end of its response body.
#[derive(Debug)]
pub struct InFlight(Arc<Tracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that keeps its request [`InFlight`] until hyper drops it (after
/// the last frame). Frames pass through untouched.
pub struct TrackedBody<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B> TrackedBody<B> {
    pub fn new(inner: B, in_flight: InFlight) -> TrackedBody<B> {
        TrackedBody {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: Body + Unpin> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The connection timeouts [`GuardedIo`] enforces.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub idle: Duration,
    pub header_read: Duration,
}

/// A socket with the connection's timeouts and parse-error answers; see the module.
pub struct GuardedIo<T> {
    inner: T,
    tracker: Arc<Tracker>,
    timeouts: Timeouts,
    /// Last byte read or written.
    last_activity: Instant,
    /// When the first byte of a request not yet in the service arrived.
    head_started: Option<Instant>,
    /// `tracker.started` when last looked at.
    seen_started: u64,
    timer: Option<Pin<Box<Sleep>>>,
    /// Bytes read since the last write, at most [`RECEIVED_KEEP`].
    received: Vec<u8>,
    wrote_since_read: bool,
    /// The JSON answer replacing hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl<T> GuardedIo<T> {
    pub fn new(inner: T, tracker: Arc<Tracker>, timeouts: Timeouts) -> GuardedIo<T> {
        GuardedIo {
            inner,
            tracker,
            timeouts,
            last_activity: Instant::now(),
            head_started: None,
            seen_started: 0,
            timer: None,
            received: Vec::new(),
            wrote_since_read: false,
            replacement: None,
        }
    }

    fn on_read(&mut self, bytes: &[u8]) {
        let now = Instant::now();
        self.last_activity = now;
        if self.wrote_since_read {
            self.received.clear();
            self.wrote_since_read = false;
        }
        let room = RECEIVED_KEEP.saturating_sub(self.received.len());
        self.received
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.note_requests();
        if self.head_started.is_none() && self.tracker.in_flight.load(Ordering::Relaxed) == 0 {
            self.head_started = Some(now);
        }
    }

    fn on_write(&mut self) {
        self.last_activity = Instant::now();
        self.wrote_since_read = true;
    }

    /// A request reached the service since last time: its head is complete.
    fn note_requests(&mut self) {
        let started = self.tracker.started.load(Ordering::Relaxed);
        if started != self.seen_started {
            self.seen_started = started;
            self.head_started = None;
        }
    }

    /// The current phase, and when it times out (for a request in flight, when to
    /// look again at the latest: the service gives no wake-up when its response is
    /// done).
    fn deadline(&mut self, now: Instant) -> (Phase, Instant) {
        self.note_requests();
        if self.tracker.in_flight.load(Ordering::Relaxed) > 0 {
            return (Phase::InFlight, now + self.timeouts.idle);
        }
        match self.head_started {
            Some(at) => (Phase::Head, at + self.timeouts.header_read),
            None => (Phase::Idle, self.last_activity + self.timeouts.idle),
        }
    }

    /// Called when a read would block: ends the read when the phase's time is up.
    ///
    /// The timer is lazy: it is moved only when it would fire too late (or has
    /// fired), never for every request; firing early just means looking again. So a
    /// busy keep-alive connection re-arms it about once per idle timeout.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            let now = Instant::now();
            let (phase, due) = self.deadline(now);
            if due <= now {
                match phase {
                    Phase::InFlight => {}
                    Phase::Head => {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "request headers did not arrive in time",
                        )));
                    }
                    // End of stream: hyper closes an idle connection quietly.
                    Phase::Idle => return Poll::Ready(Ok(())),
                }
            }
            let timer = self
                .timer
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
            if timer.deadline() > due || timer.is_elapsed() {
                timer.as_mut().reset(due);
            }
            ready!(timer.as_mut().poll(cx));
        }
    }
}

/// Where a connection is between requests; see the module comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Head,
    InFlight,
}

impl<T: AsyncWrite + Unpin> GuardedIo<T> {
    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = self.replacement.as_mut() {
            if *written >= bytes.len() {
                return Poll::Ready(Ok(()));
            }
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
            self.last_activity = Instant::now();
        }
        Poll::Ready(Ok(()))
    }

    /// Takes over `written` (which ends with hyper's refusal at `start` 0) and starts
    /// writing the JSON answer instead; hyper is told it was all written.
    fn poll_replace(
        &mut self,
        cx: &mut Context<'_>,
        refusal: &super::parse_errors::Refusal,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        tracing::debug!(status = %refusal.status, "answering a request hyper could not parse");
        self.replacement = Some((json_refusal(refusal, &self.received), 0));
        ready!(self.poll_replacement(cx))?;
        Poll::Ready(Ok(len))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GuardedIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.on_read(&buf.filled()[before..]);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_timeout(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GuardedIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_some() {
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        let mut chunk = buf;
        if let Some(refusal) = this.refusal_in(buf) {
            if refusal.start == 0 {
                return this.poll_replace(cx, &refusal, buf.len());
            }
            chunk = &buf[..refusal.start]; // the earlier response first, as it is
        }
        let n = ready!(Pin::new(&mut this.inner).poll_write(cx, chunk))?;
        if n > 0 {
            this.on_write();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if this.replacement.is_some() {
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(total));
        }
        // hyper writes its refusal as the one head in its buffer, after which nothing
        // is queued: it ends the last non-empty slice.
        let last = bufs.iter().rposition(|b| !b.is_empty());
        let found = last.and_then(|i| this.refusal_in(&bufs[i]).map(|r| (i, r)));
        let n = match found {
            None => ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, bufs))?,
            Some((i, refusal)) => {
                let before: usize =
                    bufs[..i].iter().map(|b| b.len()).sum::<usize>() + refusal.start;
                if before == 0 {
                    return this.poll_replace(cx, &refusal, total);
                }
                let mut earlier: Vec<io::IoSlice<'_>> = bufs[..i].to_vec();
                earlier.push(io::IoSlice::new(&bufs[i][..refusal.start]));
                ready!(Pin::new(&mut this.inner).poll_write_vectored(cx, &earlier))?
            }
        };
        if n > 0 {
            this.on_write();
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_replacement(cx))?;
        ready!(Pin::new(&mut self.inner).poll_flush(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T> GuardedIo<T> {
    /// hyper's refusal at the end of `written`, for a request that never reached the
    /// service (none is in flight).
    fn refusal_in(&self, written: &[u8]) -> Option<super::parse_errors::Refusal> {
        if self.tracker.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        find_refusal(written)
    }
}
