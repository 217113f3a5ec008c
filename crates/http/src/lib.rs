//! Hardened HTTP listeners: the one accept loop every podpass listener uses.
//!
//! `axum::serve` keeps a connection open for as long as the client likes: one that sends `G`
//! and nothing more, or nothing at all, holds a socket and a task forever, and enough of them
//! exhaust the process's file descriptors (slowloris). [`serve`] drives hyper-util's
//! HTTP/1.1 + h2 connection itself, as `axum::serve` does, and adds:
//!
//! - a **header-read timeout**: a request head (request line and headers) must arrive whole
//!   within [`ServeOptions::header_read_timeout`] of its first byte (hyper's own
//!   `header_read_timeout`, with a timer that starts counting at the head's first byte, so that
//!   the wait for a keep-alive connection's next request is the idle timeout's business);
//! - an **idle timeout**: a connection closes after [`ServeOptions::idle_timeout`] without a byte
//!   read or written, unless a request is being handled (a handler may think for longer than
//!   that). This covers a connection that never sends a byte, a keep-alive connection waiting
//!   for its next request, an h2 connection with no streams, a request body that stalls, and a
//!   response the client stops reading (a write blocked that long);
//! - a **cap on concurrent connections** ([`ServeOptions::max_connections`]): at the cap the
//!   loop stops accepting, so new connections wait in the kernel's listen backlog (and are
//!   served as soon as a slot frees, which the timeouts above guarantee) rather than being
//!   accepted and closed: a legitimate client waits instead of failing, and the server spends
//!   nothing on connections it cannot serve;
//! - `TCP_NODELAY` on every connection, and axum's `ConnectInfo<SocketAddr>` in every request;
//! - **graceful shutdown**: stop accepting, let in-flight requests finish for up to
//!   [`ServeOptions::shutdown_timeout`], then close what is left.
//!
//! [`serve_tls`] is the same loop over TLS: each connection's handshake runs in its own task
//! and must complete within the header-read timeout, so a client that stalls mid-handshake
//! holds nothing but its own slot until then.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::Service;

/// Default of [`ServeOptions::header_read_timeout`].
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default of [`ServeOptions::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default of [`ServeOptions::max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default of [`ServeOptions::shutdown_timeout`].
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(20);

/// Pause after a failed `accept` (e.g. out of file descriptors) before trying again.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);
/// How long an idle connection may take to close after being told to.
const IDLE_CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Least time between two "connection limit reached" warnings of one listener.
const LIMIT_WARNING_INTERVAL: Duration = Duration::from_secs(60);

/// Limits of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeOptions {
    /// Longest a request head may take to arrive, from its first byte.
    pub header_read_timeout: Duration,
    /// Longest a connection may go without a byte read or written while no request is being
    /// handled (or while the handler waits for the request body).
    pub idle_timeout: Duration,
    /// Most connections open at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Longest in-flight requests may run once shutdown starts.
    pub shutdown_timeout: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// Serves `router` on `listener` with the limits of `options` until `shutdown` completes, then
/// stops accepting and lets open connections finish their requests for up to
/// `options.shutdown_timeout`. Accept errors are logged and retried, so this returns `Ok` once
/// drained; the `io::Result` matches `axum::serve`'s.
pub async fn serve<F>(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    accept_loop(listener, None, router, options, shutdown).await
}

/// [`serve`] over TLS with `tls` (its ALPN protocols choose between HTTP/1.1 and h2).
pub async fn serve_tls<F>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    options: ServeOptions,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    accept_loop(listener, Some(acceptor), router, options, shutdown).await
}

async fn accept_loop<F>(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    router: Router,
    options: ServeOptions,
    shutdown: F,
) -> io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The timer is per connection (see `HeaderTimer`); the timeout is the same for all.
    builder
        .http1()
        .header_read_timeout(options.header_read_timeout);
    let limit = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    let address = listener.local_addr().ok();
    let mut last_warning: Option<Instant> = None;
    loop {
        // Reap finished connections so the set stays as small as the open connections.
        while connections.try_join_next().is_some() {}
        let permit = match limit.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if last_warning.is_none_or(|at| at.elapsed() >= LIMIT_WARNING_INTERVAL) {
                    last_warning = Some(Instant::now());
                    tracing::warn!(
                        listener = ?address,
                        max_connections = options.max_connections,
                        "connection limit reached: new connections wait in the listen backlog"
                    );
                }
                tokio::select! {
                    permit = limit.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(serve_connection(
                        tcp,
                        peer,
                        tls.clone(),
                        builder.clone(),
                        router.clone(),
                        options,
                        stopped.clone(),
                        permit,
                    ));
                }
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    stop.send_replace(true);
    let drained = tokio::time::timeout(options.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            listener = ?address,
            open = connections.len(),
            "closing connections still open after the shutdown timeout"
        );
        connections.shutdown().await;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn serve_connection(
    tcp: TcpStream,
    peer: SocketAddr,
    tls: Option<tokio_rustls::TlsAcceptor>,
    builder: auto::Builder<TokioExecutor>,
    router: Router,
    options: ServeOptions,
    mut stopped: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    // Small responses must not wait for the client's delayed ACK (Nagle): ~40 ms each.
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::warn!(%error, "cannot set TCP_NODELAY");
    }
    let activity = Arc::new(Activity::new());
    let tracked = Tracked {
        io: tcp,
        activity: activity.clone(),
    };
    let Some(acceptor) = tls else {
        return serve_http(tracked, peer, activity, builder, router, options, stopped).await;
    };
    let handshake = tokio::time::timeout(options.header_read_timeout, acceptor.accept(tracked));
    let handshake = tokio::select! {
        handshake = handshake => handshake,
        // Nothing was requested yet: a connection still in its handshake is simply dropped.
        _ = stopped.wait_for(|stop| *stop) => return,
    };
    match handshake {
        Ok(Ok(tls)) => serve_http(tls, peer, activity, builder, router, options, stopped).await,
        Ok(Err(error)) => tracing::debug!(%peer, %error, "TLS handshake failed"),
        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
    }
}

/// Serves HTTP/1.1 or h2 on `io` (the connection, or TLS over it) under the idle and
/// header-read timeouts.
async fn serve_http<I>(
    io: I,
    peer: SocketAddr,
    activity: Arc<Activity>,
    mut builder: auto::Builder<TokioExecutor>,
    router: Router,
    options: ServeOptions,
    mut stopped: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    builder.http1().timer(HeaderTimer {
        activity: activity.clone(),
    });
    let io = TokioIo::new(io);
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |request: Request<Incoming>| {
            let activity = activity.clone();
            let mut router = router.clone();
            async move {
                let in_flight = InFlight::start(&activity);
                let (parts, body) = request.into_parts();
                let mut request = Request::from_parts(parts, TrackedBody::new(body, &activity));
                request.extensions_mut().insert(ConnectInfo(peer));
                std::future::poll_fn(|cx| {
                    <Router as Service<Request<TrackedBody>>>::poll_ready(&mut router, cx)
                })
                .await?;
                let response: Response<axum::body::Body> = router.call(request).await?;
                // The request stays in flight until its response body is sent.
                Ok::<_, Infallible>(response.map(|body| ResponseBody {
                    inner: body,
                    _in_flight: Some(in_flight),
                }))
            }
        }
    });
    let connection = builder.serve_connection_with_upgrades(io, service);
    let mut connection = std::pin::pin!(connection);
    let check = tokio::time::sleep(options.idle_timeout);
    let mut check = std::pin::pin!(check);
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            () = check.as_mut() => match activity.idle_deadline(options.idle_timeout) {
                Some(next) => check.as_mut().reset(next),
                None => {
                    tracing::debug!(%peer, "closing an idle connection");
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(IDLE_CLOSE_GRACE, connection.as_mut()).await;
                    return;
                }
            },
            () = async {
                let _ = stopped.wait_for(|stop| *stop).await;
            } => {
                // Idle connections close at once; in-flight requests finish (the accept loop
                // bounds how long).
                connection.as_mut().graceful_shutdown();
                let _ = connection.as_mut().await;
                return;
            }
        }
    }
}

/// "Never": no byte read yet while waiting for a request head.
const NONE: u64 = u64::MAX;

/// What a connection has been doing, shared by its I/O, its timer and its requests.
struct Activity {
    origin: Instant,
    /// Last byte read or written, in nanoseconds since `origin`.
    last_io: AtomicU64,
    /// First byte read since the connection started waiting for its current request head
    /// (`NONE` if none yet).
    head_first_read: AtomicU64,
    /// Since when writes have been blocked on a full socket buffer (`NONE` if they are not).
    write_blocked_since: AtomicU64,
    /// Requests received so far.
    requests: AtomicU64,
    /// Requests whose response has not been sent whole yet.
    in_flight: AtomicUsize,
    /// Request bodies not read to their end yet.
    open_bodies: AtomicUsize,
}

impl Activity {
    fn new() -> Self {
        Activity {
            origin: Instant::now(),
            last_io: AtomicU64::new(0),
            head_first_read: AtomicU64::new(NONE),
            write_blocked_since: AtomicU64::new(NONE),
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            open_bodies: AtomicUsize::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(NONE - 1)
    }

    fn at(&self, nanos: u64) -> Instant {
        self.origin + Duration::from_nanos(nanos)
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        let _ =
            self.head_first_read
                .compare_exchange(NONE, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
        self.write_blocked_since.store(NONE, Ordering::Relaxed);
    }

    fn write_blocked(&self) {
        let _ = self.write_blocked_since.compare_exchange(
            NONE,
            self.now(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// hyper starts waiting for a request head. The first head's first bytes were read before
    /// (to tell HTTP/1 from h2), so only later heads start afresh.
    fn head_wait_begins(&self) {
        if self.requests.load(Ordering::Relaxed) > 0 {
            self.head_first_read.store(NONE, Ordering::Relaxed);
        }
    }

    /// When the connection turns idle, or `None` if it is idle now.
    fn idle_deadline(&self, idle: Duration) -> Option<Instant> {
        let now = self.now();
        let idle_nanos = u64::try_from(idle.as_nanos()).unwrap_or(NONE - 1);
        let blocked = self.write_blocked_since.load(Ordering::Relaxed);
        if blocked != NONE && now.saturating_sub(blocked) >= idle_nanos {
            // The client has not read the response for that long.
            return None;
        }
        let handling = self.in_flight.load(Ordering::Relaxed) > 0
            && self.open_bodies.load(Ordering::Relaxed) == 0;
        if handling {
            return Some(Instant::now() + idle);
        }
        let deadline = self
            .last_io
            .load(Ordering::Relaxed)
            .saturating_add(idle_nanos);
        (deadline > now).then(|| self.at(deadline))
    }
}

/// The TCP stream, noting every byte that passes.
struct Tracked {
    io: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Tracked {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.io).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.read();
        }
        result
    }
}

impl Tracked {
    fn note_write(&self, result: &Poll<io::Result<usize>>) {
        match result {
            Poll::Ready(Ok(written)) if *written > 0 => self.activity.wrote(),
            Poll::Pending => self.activity.write_blocked(),
            _ => {}
        }
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write(cx, buf);
        this.note_write(&result);
        result
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let result = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.note_write(&result);
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

/// hyper's HTTP/1 timer, used only for the header-read timeout: its sleeps start counting at
/// the first byte of the head they guard, not when hyper starts waiting for it, so that a
/// keep-alive connection between requests falls under the idle timeout instead.
#[derive(Clone)]
struct HeaderTimer {
    activity: Arc<Activity>,
}

impl hyper::rt::Timer for HeaderTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.activity.head_wait_begins();
        Box::pin(HeaderSleep {
            activity: self.activity.clone(),
            timeout: duration,
            sleep: None,
        })
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep(deadline.saturating_duration_since(std::time::Instant::now()))
    }
}

struct HeaderSleep {
    activity: Arc<Activity>,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Future for HeaderSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.sleep.is_none() {
            let first = self.activity.head_first_read.load(Ordering::Relaxed);
            if first == NONE {
                // Nothing of the head yet. hyper polls this again after every read, so no
                // wake-up is needed; a connection that sends nothing is the idle timeout's.
                return Poll::Pending;
            }
            let deadline = self.activity.at(first) + self.timeout;
            self.sleep = Some(Box::pin(tokio::time::sleep_until(deadline)));
        }
        match self.sleep.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

impl hyper::rt::Sleep for HeaderSleep {}

/// Counts a request from its head until its response body is sent.
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: &Arc<Activity>) -> Self {
        activity.requests.fetch_add(1, Ordering::Relaxed);
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Counts a request body until it is read to its end (or dropped).
struct OpenBody(Arc<Activity>);

impl Drop for OpenBody {
    fn drop(&mut self) {
        self.0.open_bodies.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A request body that tells the idle check whether the handler still waits for it.
struct TrackedBody {
    inner: Incoming,
    open: Option<OpenBody>,
}

impl TrackedBody {
    fn new(inner: Incoming, activity: &Arc<Activity>) -> Self {
        let open = (!inner.is_end_stream()).then(|| {
            activity.open_bodies.fetch_add(1, Ordering::Relaxed);
            OpenBody(activity.clone())
        });
        TrackedBody { inner, open }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None | Some(Err(_)))) || this.inner.is_end_stream() {
            this.open = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request in flight until it is sent (or dropped).
struct ResponseBody {
    inner: axum::body::Body,
    _in_flight: Option<InFlight>,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(frame, Poll::Ready(None | Some(Err(_)))) {
            this._in_flight = None;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
