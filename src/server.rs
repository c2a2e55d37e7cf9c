//! The HTTP/1 server: our own accept loop around hyper, so hostile clients cannot hold it and
//! shutdown keeps its budget.
//!
//! With `axum::serve` a client that sends nothing, or a byte now and then, kept its
//! connection forever (it has no header timeout). Here the same app (the [`axum::Router`] in
//! its layers) is served on hyper's HTTP/1 connections with:
//! - **a header timeout** ([`HttpSettings::header_timeout`]): a connection with no request in
//!   progress (accepted and waiting for its first request head, a head trickling in, or
//!   kept alive after a response) is closed once it has waited that long. So it is also the
//!   idle keep-alive timeout; there is no separate one. It runs from when the wait starts, so
//!   bytes trickling in do not extend it. A sweep checks every connection's wait a few times
//!   per timeout ([`sweep_every`]) from the times the connections keep anyway for the cap
//!   below, rather than hyper's own header timer
//!   (<https://docs.rs/hyper/1/hyper/server/conn/http1/struct.Builder.html#method.header_read_timeout>),
//!   which arms and cancels a timer on every request: about 5 % of the server's time
//!   acknowledging a slash command under load (README, Performance). A connection is closed
//!   between the timeout and a quarter of it later (at most one second later).
//! - **a body timeout** ([`BodyDeadline`], set on each body as hyper hands it over and
//!   answered by the app inside its counter and trace, so the 408 is traced and counted like
//!   any answer): the whole body must arrive within [`HttpSettings::body_timeout`] of the
//!   headers.
//! - **a connection cap** ([`HttpSettings::max_connections`], under the open-file limit): when
//!   a connection arrives at the cap, the open connection that has waited longest without a
//!   request in progress (a silent or slow socket, an idle keep-alive) is closed to make room.
//!   A connection with a request in progress is never closed for this; when every connection
//!   has one, the new connection waits until one finishes.
//! - **a shutdown budget**: on shutdown the listener is closed, every connection is asked to
//!   finish (hyper's `graceful_shutdown`, which closes idle ones at once), and requests in
//!   flight plus the caller's background work share one budget; whatever is still open then
//!   is dropped.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use crate::metrics::{ClosedLabels, Metrics};
use crate::sync::lock;

/// Connection limits (`HTTP_HEADER_TIMEOUT_SECS`, `HTTP_BODY_TIMEOUT_SECS`, `MAX_CONNECTIONS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// A request's headers must arrive within this; also how long an idle keep-alive
    /// connection stays open (see the module docs).
    pub header_timeout: Duration,
    /// A request's whole body must arrive within this of its headers.
    pub body_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(DEFAULT_HEADER_TIMEOUT_SECS),
            body_timeout: Duration::from_secs(DEFAULT_BODY_TIMEOUT_SECS),
            max_connections: default_max_connections(),
        }
    }
}

pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 10;
/// `MAX_CONNECTIONS` when the open-file limit leaves room for it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Descriptors kept out of the connection budget: outbound calls (CloudTrail, Slack, SNS),
/// the state store's files, the listener, stdio and the runtime's own.
pub const RESERVED_DESCRIPTORS: u64 = 64;

/// How long to wait after an accept error that is not about one connection (out of
/// descriptors, out of memory) before accepting again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// At most one log line per this long about accept errors or evictions.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// [`DEFAULT_MAX_CONNECTIONS`], lowered to what the soft open-file limit leaves after
/// [`RESERVED_DESCRIPTORS`].
pub fn default_max_connections() -> usize {
    connections_room(open_file_limit())
}

/// Connections that fit under an open-file limit (`None`: unlimited or unknown).
pub fn connections_room(limit: Option<u64>) -> usize {
    let Some(limit) = limit else {
        return DEFAULT_MAX_CONNECTIONS;
    };
    let room = if limit > 2 * RESERVED_DESCRIPTORS {
        limit - RESERVED_DESCRIPTORS
    } else {
        limit / 2
    };
    usize::try_from(room)
        .unwrap_or(usize::MAX)
        .clamp(1, DEFAULT_MAX_CONNECTIONS)
}

/// The process's soft `RLIMIT_NOFILE`, read from `/proc/self/limits` (Linux; `None` elsewhere
/// or when unlimited).
pub fn open_file_limit() -> Option<u64> {
    parse_open_file_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// The soft limit from `/proc/<pid>/limits` text: `Max open files  1024  4096  files`.
fn parse_open_file_limit(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How the server stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// Connections, and background work, all finished within the budget.
    pub in_time: bool,
    /// Connections still open when the budget ran out, dropped.
    pub dropped: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops accepting, asks every
/// connection to finish, and gives them, then `background` (polled only once they have all
/// finished, since a request in flight may start background work), one `budget` together
/// before dropping whatever connection is still open.
pub async fn serve<S, B>(
    listener: TcpListener,
    app: S,
    settings: HttpSettings,
    metrics: Metrics,
    shutdown: impl Future<Output = ()>,
    budget: Duration,
    background: impl Future<Output = ()>,
) -> Stopped
where
    S: Service<Request, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let room = connections_room(open_file_limit());
    if settings.max_connections > room {
        tracing::warn!(
            max_connections = settings.max_connections,
            room,
            "MAX_CONNECTIONS is above what the open-file limit leaves for connections; raise the limit (ulimit -n) or lower MAX_CONNECTIONS"
        );
    }
    tracing::info!(
        header_timeout_secs = settings.header_timeout.as_secs_f64(),
        body_timeout_secs = settings.body_timeout.as_secs_f64(),
        max_connections = settings.max_connections,
        "http limits"
    );
    let http = hyper::server::conn::http1::Builder::new();
    let body_timeout = settings.body_timeout;
    let open = Connections::default();
    // Stopped when `serve` returns or is dropped.
    let sweeper = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(sweep(
        open.clone(),
        settings.header_timeout,
    )));
    let graceful = CancellationToken::new();
    let mut tasks = JoinSet::new();
    let mut accept_errors = Throttled::default();
    let mut evictions = Throttled::default();
    let mut shutdown = std::pin::pin!(shutdown);

    'accept: loop {
        let stream = tokio::select! {
            () = &mut shutdown => break 'accept,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors (EMFILE/ENFILE) or memory: free what an idle
                    // connection holds, wait a little, and go on.
                    if let Some(n) = accept_errors.due() {
                        tracing::warn!(error = %e, errors = n, "accept failed; backing off");
                    }
                    open.evict_longest_waiting();
                    tokio::select! {
                        () = &mut shutdown => break 'accept,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                    }
                }
            },
        };
        // At the cap: close the connection waiting longest without a request in progress,
        // or, when every one has a request in progress, wait for one to finish.
        while open.len() >= settings.max_connections {
            if open.evict_longest_waiting() {
                if let Some(n) = evictions.due() {
                    tracing::warn!(
                        max_connections = settings.max_connections,
                        evicted = n,
                        "at MAX_CONNECTIONS: closing connections that have no request in progress"
                    );
                }
                break;
            }
            tokio::select! {
                () = &mut shutdown => break 'accept,
                () = open.changed.notified() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        let _ = stream.set_nodelay(true);
        let (slot, evict) = open.add();
        let activity = slot.activity.clone();
        let service = {
            let open = open.clone();
            let app = app.clone();
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let in_progress = open.request_started(&activity);
                let request = BodyDeadline::attach(request, body_timeout, &activity);
                let mut app = app.clone();
                async move {
                    // The app is always ready; asking first is the `Service` contract.
                    std::future::poll_fn(|cx| app.poll_ready(cx)).await?;
                    let response = app.call(request).await?;
                    Ok::<_, Infallible>(response.map(|body| UntilSent {
                        body,
                        _in_progress: in_progress,
                    }))
                }
            })
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let graceful = graceful.clone();
        let metrics = metrics.clone();
        tasks.spawn(async move {
            // Declared first, dropped last: the socket is closed before its place is given
            // back, whether the task ends, panics or is aborted at shutdown. (An evicted
            // connection's place is taken back at once; its socket closes a moment later.)
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            let mut asked = false;
            let closed_by_us = loop {
                tokio::select! {
                    result = connection.as_mut() => break match result {
                        Ok(()) => None,
                        Err(e) => {
                            tracing::debug!(error = %e, "connection ended with an error");
                            None
                        }
                    },
                    () = graceful.cancelled(), if !asked => {
                        connection.as_mut().graceful_shutdown();
                        asked = true;
                    }
                    () = evict.cancelled() => break Some(
                        if _slot.activity.timed_out.load(Ordering::Acquire) {
                            "header_timeout"
                        } else {
                            "evicted"
                        }
                    ),
                }
            };
            if let Some(reason) = closed_by_us {
                metrics
                    .http_connections_closed
                    .get_or_create(&ClosedLabels { reason })
                    .inc();
            }
        });
    }

    drop(listener);
    // The sweep goes on while connections finish: a head still trickling in is closed at its
    // timeout rather than held until the budget runs out.
    graceful.cancel();
    let deadline = Instant::now() + budget;
    // Connections first: a request in flight may still start background work.
    let in_time = tokio::time::timeout_at(deadline, async {
        while tasks.join_next().await.is_some() {}
        background.await;
    })
    .await
    .is_ok();
    let dropped = tasks.len();
    if dropped > 0 {
        tracing::warn!(
            connections = dropped,
            "shutdown: budget spent, dropping connections still open"
        );
    }
    tasks.shutdown().await;
    drop(sweeper);
    Stopped { in_time, dropped }
}

/// How often [`sweep`] looks: a quarter of the header timeout, between 50 ms and 1 s.
pub fn sweep_every(header_timeout: Duration) -> Duration {
    (header_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
}

/// The header timeout: closes every connection that has waited longer than `timeout` without
/// a request in progress, every [`sweep_every`], until aborted.
async fn sweep(open: Connections, timeout: Duration) {
    let mut every = tokio::time::interval(sweep_every(timeout));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        open.close_waiting_longer_than(timeout);
    }
}

/// Errors about one connection that was gone before we took it; nothing to wait for.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

/// Counts occurrences and says when one should be logged (at most once per [`LOG_EVERY`]).
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    since: u64,
}

impl Throttled {
    /// `Some(count since the last log)` when it is time to log again.
    fn due(&mut self) -> Option<u64> {
        self.since += 1;
        let now = Instant::now();
        if self.last.is_some_and(|t| now < t + LOG_EVERY) {
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.since))
    }
}

/// The open connections and whether each has a request in progress.
#[derive(Clone)]
struct Connections {
    inner: Arc<Mutex<Table>>,
    /// Signalled when a connection closes or its request finishes: room may be made.
    changed: Arc<Notify>,
    /// What [`Activity::waiting_since`] counts from.
    started: Instant,
}

impl Default for Connections {
    fn default() -> Self {
        Self {
            inner: Arc::default(),
            changed: Arc::default(),
            started: Instant::now(),
        }
    }
}

#[derive(Default)]
struct Table {
    next_id: u64,
    open: HashMap<u64, Slot>,
}

struct Slot {
    activity: Arc<Activity>,
    evict: CancellationToken,
}

/// A connection's requests in progress, kept by the connection's own service without taking
/// the table's lock (a request starts and ends without touching anything another connection
/// uses, except `changed`).
struct Activity {
    /// Requests whose response is not yet fully sent; [`EVICTED`] set once the connection is
    /// chosen for eviction (only ever from 0, so never while a request is in progress).
    in_progress: AtomicUsize,
    /// Since when it has had no request in progress (accepted, or its last response sent), in
    /// nanoseconds from [`Connections::started`].
    waiting_since: AtomicU64,
    /// Closed by the header timeout (rather than evicted to make room).
    timed_out: AtomicBool,
    /// The request in progress had a body that missed its deadline ([`BodyDeadline`]).
    body_late: AtomicBool,
    changed: Arc<Notify>,
    started: Instant,
}

const EVICTED: usize = 1 << (usize::BITS - 1);

impl Activity {
    fn now(&self) -> u64 {
        nanos_since(self.started)
    }

    /// Claims a connection with no request in progress for closing (0 → [`EVICTED`]); false
    /// when a request has started in the meantime.
    fn claim_idle(&self) -> bool {
        self.in_progress
            .compare_exchange(0, EVICTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }
}

/// Nanoseconds from `started` to now (the unit of [`Activity::waiting_since`]).
fn nanos_since(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Connections {
    fn len(&self) -> usize {
        lock(&self.inner).open.len()
    }

    /// A new connection; it leaves the table when the returned [`Place`] is dropped.
    fn add(&self) -> (Place, CancellationToken) {
        let mut table = lock(&self.inner);
        let id = table.next_id;
        table.next_id += 1;
        let evict = CancellationToken::new();
        let activity = Arc::new(Activity {
            in_progress: AtomicUsize::new(0),
            waiting_since: AtomicU64::new(0),
            timed_out: AtomicBool::new(false),
            body_late: AtomicBool::new(false),
            changed: self.changed.clone(),
            started: self.started,
        });
        activity
            .waiting_since
            .store(activity.now(), Ordering::Relaxed);
        table.open.insert(
            id,
            Slot {
                activity: activity.clone(),
                evict: evict.clone(),
            },
        );
        (
            Place {
                open: self.clone(),
                id,
                activity,
            },
            evict,
        )
    }

    fn remove(&self, id: u64) {
        if lock(&self.inner).open.remove(&id).is_some() {
            self.changed.notify_one();
        }
    }

    /// Closes the connection that has waited longest without a request in progress; false
    /// when every connection has one.
    fn evict_longest_waiting(&self) -> bool {
        let mut table = lock(&self.inner);
        loop {
            let Some(id) = table
                .open
                .iter()
                .filter(|(_, s)| s.activity.in_progress.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, s)| s.activity.waiting_since.load(Ordering::Acquire))
                .map(|(id, _)| *id)
            else {
                return false;
            };
            let slot = &table.open[&id];
            // A request may have started since the scan: then look again.
            if slot.activity.claim_idle() {
                if let Some(slot) = table.open.remove(&id) {
                    slot.evict.cancel();
                }
                return true;
            }
        }
    }

    /// Closes every connection that has had no request in progress for longer than `limit`
    /// (the header timeout); returns how many.
    fn close_waiting_longer_than(&self, limit: Duration) -> usize {
        let now = nanos_since(self.started);
        let limit = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        let mut table = lock(&self.inner);
        let mut closed = 0;
        table.open.retain(|_, slot| {
            let a = &slot.activity;
            let waited = now.saturating_sub(a.waiting_since.load(Ordering::Acquire));
            // A connection whose request has started in the meantime stays.
            if waited <= limit || !a.claim_idle() {
                return true;
            }
            a.timed_out.store(true, Ordering::Release);
            slot.evict.cancel();
            closed += 1;
            false
        });
        if closed > 0 {
            self.changed.notify_one();
        }
        closed
    }

    fn request_started(&self, activity: &Arc<Activity>) -> InProgress {
        activity.in_progress.fetch_add(1, Ordering::AcqRel);
        InProgress {
            activity: activity.clone(),
        }
    }
}

/// A connection's place in the table, given back on drop.
struct Place {
    open: Connections,
    id: u64,
    activity: Arc<Activity>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.open.remove(self.id);
    }
}

/// A request in progress on a connection, from its head to the end of its response.
struct InProgress {
    activity: Arc<Activity>,
}

impl Drop for InProgress {
    fn drop(&mut self) {
        let a = &self.activity;
        // The wait starts now: written before the count drops, so a sweep that sees no
        // request in progress never pairs that with the time the previous wait started.
        // (HTTP/1: one request at a time per connection.)
        a.waiting_since.store(a.now(), Ordering::Release);
        if a.in_progress.fetch_sub(1, Ordering::AcqRel) == 1 {
            a.changed.notify_one();
        }
    }
}

/// A response body that keeps its request counted as in progress until hyper has sent it
/// (or dropped it).
struct UntilSent<B> {
    body: B,
    _in_progress: InProgress,
}

impl<B: HttpBody<Data = Bytes> + Unpin> HttpBody for UntilSent<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// The whole request body must arrive within `limit` of the headers, else the answer is 408 and
/// the connection is closed. Route body limits still apply inside it and answer 413.
/// [`serve`] wraps each request's body as hyper hands it over ([`BodyDeadline::attach`]) and
/// leaves the deadline in the request's extensions; [`BodyDeadline::answer`] turns the route's
/// response into the 408 when the body was late. (`startup` answers it inside the request
/// counter and the trace, so the 408 is counted and logged.) The "late" mark is the
/// connection's: HTTP/1.1 carries one request at a time, and a late body closes it.
#[derive(Clone)]
pub struct BodyDeadline {
    limit: Duration,
    connection: Arc<Activity>,
}

impl BodyDeadline {
    /// The request with its body under the deadline, and the deadline in its extensions. A
    /// request without a body gets neither.
    fn attach(
        request: hyper::Request<Incoming>,
        limit: Duration,
        connection: &Arc<Activity>,
    ) -> Request {
        if request.body().is_end_stream() {
            return request.map(Body::new);
        }
        let at = Instant::now() + limit;
        let (mut parts, body) = request.into_parts();
        // The first extension: the map it allocates is the one the router's own would.
        parts.extensions.insert(Self {
            limit,
            connection: connection.clone(),
        });
        let body = Body::new(Deadline {
            body,
            at,
            sleep: None,
            connection: connection.clone(),
        });
        Request::from_parts(parts, body)
    }

    /// The deadline [`serve`] gave this request's body, if it has one.
    pub fn of<B>(request: &Request<B>) -> Option<Self> {
        request.extensions().get::<Self>().cloned()
    }

    pub fn answer(self, response: Response) -> Response {
        if !self.connection.body_late.swap(false, Ordering::AcqRel) {
            return response;
        }
        tracing::info!(
            limit_secs = self.limit.as_secs_f64(),
            "request body not received in time"
        );
        (
            StatusCode::REQUEST_TIMEOUT,
            [(header::CONNECTION, "close")],
            "the request body did not arrive in time\n",
        )
            .into_response()
    }
}

/// A request body that fails once its deadline passes while it waits for more data. The timer
/// is set only when the body first has to wait: a body that came with its headers (most do)
/// costs none.
struct Deadline {
    body: Incoming,
    at: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    connection: Arc<Activity>,
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body)
            .poll_frame(cx)
            .map_err(axum::Error::new)
        {
            Poll::Pending
                if this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(this.at)))
                    .as_mut()
                    .poll(cx)
                    .is_ready() =>
            {
                this.connection.body_late.store(true, Ordering::Release);
                Poll::Ready(Some(Err(axum::Error::new(BodyTimedOut))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_is_read_from_proc_limits() {
        let text = "Limit                     Soft Limit           Hard Limit           Units     \n\
                    Max processes             63438                63438                processes \n\
                    Max open files            256                  4096                 files     \n";
        assert_eq!(parse_open_file_limit(text), Some(256));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(parse_open_file_limit(unlimited), None);
    }

    #[test]
    fn connections_leave_room_under_the_open_file_limit() {
        assert_eq!(connections_room(None), 1024);
        assert_eq!(connections_room(Some(1_048_576)), 1024);
        assert_eq!(connections_room(Some(1024)), 960);
        assert_eq!(connections_room(Some(256)), 192);
        assert_eq!(connections_room(Some(100)), 50);
        assert_eq!(connections_room(Some(1)), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn the_header_timeout_closes_connections_waiting_too_long_and_never_a_busy_one() {
        let open = Connections::default();
        let (a, evict_a) = open.add();
        let (b, evict_b) = open.add();
        tokio::time::advance(Duration::from_millis(1500)).await;
        let busy = open.request_started(&a.activity);
        assert_eq!(open.close_waiting_longer_than(Duration::from_secs(1)), 1);
        assert!(evict_b.is_cancelled() && b.activity.timed_out.load(Ordering::Acquire));
        assert!(
            !evict_a.is_cancelled(),
            "a request in progress is never timed out"
        );
        assert_eq!(open.len(), 1);
        // `a` finishes its request: its wait starts then.
        tokio::time::advance(Duration::from_secs(5)).await;
        drop(busy);
        tokio::time::advance(Duration::from_millis(900)).await;
        assert_eq!(open.close_waiting_longer_than(Duration::from_secs(1)), 0);
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(open.close_waiting_longer_than(Duration::from_secs(1)), 1);
        assert!(evict_a.is_cancelled() && a.activity.timed_out.load(Ordering::Acquire));
        assert_eq!(open.len(), 0);
        assert_eq!(sweep_every(Duration::from_secs(10)), Duration::from_secs(1));
        assert_eq!(
            sweep_every(Duration::from_secs(1)),
            Duration::from_millis(250)
        );
        assert_eq!(
            sweep_every(Duration::from_millis(100)),
            Duration::from_millis(50)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_longest_waiting_connection_without_a_request_goes_first() {
        let open = Connections::default();
        let (a, evict_a) = open.add();
        tokio::time::advance(Duration::from_secs(1)).await;
        let (b, evict_b) = open.add();
        tokio::time::advance(Duration::from_secs(1)).await;
        let (_c, evict_c) = open.add();
        // `a` is oldest but busy; `b` then waits longest.
        let busy = open.request_started(&a.activity);
        assert!(open.evict_longest_waiting());
        assert!(evict_b.is_cancelled() && !evict_a.is_cancelled());
        assert_eq!(open.len(), 2);
        drop(b);
        assert_eq!(open.len(), 2, "an evicted place is already given back");
        // `a` finishes its request: it now waits since later than `c`.
        tokio::time::advance(Duration::from_secs(1)).await;
        drop(busy);
        assert!(open.evict_longest_waiting());
        assert!(evict_c.is_cancelled() && !evict_a.is_cancelled());
        let _busy = open.request_started(&a.activity);
        assert!(
            !open.evict_longest_waiting(),
            "a request in progress is never evicted"
        );
        drop(a);
        assert_eq!(open.len(), 0);
    }
}
