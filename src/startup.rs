//! Building and running the HTTP application, so `main`, the demo and the tests run the same
//! thing. Each feature owns its router and state (`slack::router`, `notify::routes::router`,
//! `ops::router`); this module builds them from the settings and merges them.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{
    DefaultOnBodyChunk, DefaultOnEos, DefaultOnFailure, DefaultOnRequest, DefaultOnResponse,
    MakeSpan, Trace, TraceLayer,
};
use tower_layer::Layer as _;
use tower_service::Service;
use tracing::Level;

use crate::aws::agreements::Agreements;
use crate::aws::reports::Reporter;
use crate::aws::ActivitySource;
use crate::config::{DigestSettings, NotifySettings, ServeSettings, StateSettings};
use crate::digest::{self, Clock, DigestJob, SystemClock};
use crate::metrics::Metrics;
use crate::notify;
use crate::notify::deliver::{Memory, Notifier, SlackOut};
use crate::notify::queue::{QueueSettings, QueueStatus};
use crate::notify::routes::Delivery;
use crate::notify::sns::SnsVerifier;
use crate::ops::{self, OpsState};
use crate::server::{self, HttpSettings};
use crate::slack::socket::{SocketSettings, SocketStatus};
use crate::slack::{self, web_api::SlackApi, SlackContext, SlackState};
use crate::state::{OpenError, StateStore};

/// The bound, not yet running, application.
pub struct Application {
    listener: TcpListener,
    app: RequestIds,
    tasks: TaskTracker,
    drain_timeout: Duration,
    http: HttpSettings,
    metrics: Metrics,
    shutting_down: Arc<AtomicBool>,
    digest: Option<Digest>,
    /// The SQS queue to read events from, with the delivery they go through, when
    /// EVENTS_QUEUE_URL is set; the client comes with [`Application::with_queue_client`].
    queue: Option<(QueueSettings, Delivery, Arc<QueueStatus>)>,
    queue_client: Option<aws_sdk_sqs::Client>,
    /// Socket Mode, when SLACK_APP_TOKEN is set: its settings and the state the Slack routes
    /// use (the same allow-lists, answer slots and tasks).
    socket: Option<(SocketSettings, SlackState, Arc<SocketStatus>)>,
    clock: Arc<dyn Clock>,
    /// When the app was built, by `clock`: the digest schedule counts from here.
    started_at: chrono::DateTime<chrono::Utc>,
}

/// What the digest job is built from once the clock is known.
struct Digest {
    settings: DigestSettings,
    reports: Reporter,
    api: SlackApi,
    store: StateStore,
}

impl Application {
    /// Builds the application. `store` is where notifications and digests keep their state
    /// ([`open_state`] opens the one the settings ask for).
    pub async fn build(
        settings: ServeSettings,
        source: ActivitySource,
        agreements: Option<Agreements>,
        metrics: Metrics,
        store: StateStore,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen_addr).await?;
        let tasks = TaskTracker::new();
        let http = http_client()?;
        let reports = Reporter::new(source, agreements);
        let shutting_down = Arc::<AtomicBool>::default();
        let slack_api = settings
            .bot
            .map(|b| SlackApi::new(http.clone(), &b.api_url, b.token, metrics.clone()));

        let uses_store = settings.notify.is_some() || settings.digest.is_some();
        let (notify, queue) = match settings.notify {
            Some(n) => {
                let memory = Memory {
                    store: store.clone(),
                    lease: n.lease,
                    tasks: tasks.clone(),
                };
                notifications(n, memory, &reports, &http, &metrics)
            }
            None => {
                tracing::info!("EVENTS_API_KEY, SNS_TOPIC_ARNS and EVENTS_QUEUE_URL are not set: channel notifications are off (POST /events is not served)");
                (Router::new(), None)
            }
        };
        let digest = settings
            .digest
            .zip(slack_api.clone())
            .map(|(settings, api)| {
                tracing::info!(channel = %settings.channel, "digests on");
                Digest {
                    settings,
                    reports: reports.clone(),
                    api,
                    store: store.clone(),
                }
            });
        if settings.signing_secrets.is_empty() {
            tracing::info!("SLACK_SIGNING_SECRET is not set: /slack/commands and /slack/interactions are not served (Socket Mode only)");
        }
        let slack_state = SlackState::new(SlackContext {
            signing: Arc::new(settings.signing_secrets),
            replays: Arc::default(),
            access: Arc::new(settings.access),
            reports,
            http,
            tasks: tasks.clone(),
            answer_slots: Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_ANSWERS)),
            query_timeout: settings.query_timeout,
            metrics: metrics.clone(),
            slack_api,
        });
        let socket = settings
            .socket
            .map(|s| (s, slack_state.clone(), Arc::<SocketStatus>::default()));
        let queue = queue.map(|(q, d)| (q, d, Arc::<QueueStatus>::default()));
        let slack = slack::router(slack_state);
        let ops = ops::router(OpsState {
            metrics: metrics.clone(),
            shutting_down: shutting_down.clone(),
            store: uses_store.then_some(store),
            queue: queue.as_ref().map(|(_, _, status)| status.clone()),
            socket: socket
                .as_ref()
                .map(|(s, _, status)| (status.clone(), s.connections)),
        });
        Ok(Self {
            listener,
            app: with_layers(slack.merge(notify).merge(ops), metrics.clone()),
            tasks,
            drain_timeout: settings.drain_timeout,
            http: settings.http,
            metrics,
            shutting_down,
            digest,
            queue,
            queue_client: None,
            socket,
            clock: Arc::new(SystemClock),
            started_at: chrono::Utc::now(),
        })
    }

    /// The SQS client that reads EVENTS_QUEUE_URL (built from the SDK configuration, so
    /// `AWS_ENDPOINT_URL_SQS` is honoured).
    pub fn with_queue_client(mut self, client: aws_sdk_sqs::Client) -> Self {
        self.queue_client = Some(client);
        self
    }

    /// Replaces the clock the digest schedule follows (tests drive it by hand).
    pub fn set_clock(&mut self, clock: Arc<dyn Clock>) {
        self.started_at = clock.now();
        self.clock = clock;
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` resolves, then stops accepting (and `/readyz` says so), asks
    /// every connection to finish, and gives requests in flight and background answers one
    /// budget together (the drain timeout, `SHUTDOWN_TIMEOUT_SECS`); connections still open
    /// then are dropped, so this returns within the budget whatever the clients do.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        if let Some(d) = self.digest {
            let job = DigestJob {
                reports: d.reports,
                api: d.api,
                channel: d.settings.channel,
                schedule: d.settings.schedule,
                clock: self.clock.clone(),
                started_at: self.started_at,
                store: d.store,
            };
            self.tasks.spawn(digest::run(job, stop.clone()));
        }
        match (self.queue, self.queue_client) {
            (Some((queue, delivery, status)), Some(client)) => {
                self.tasks.spawn(notify::queue::run(
                    client,
                    queue,
                    delivery,
                    status,
                    stop.clone(),
                ));
            }
            (Some(_), None) => {
                tracing::error!(
                    "EVENTS_QUEUE_URL is set but no SQS client was given: the queue is not read"
                );
            }
            _ => {}
        }
        if let Some((settings, state, status)) = self.socket {
            slack::socket::start(settings, state, status, stop.clone());
        }
        let flag = self.shutting_down.clone();
        let shutdown = async move {
            shutdown.await;
            flag.store(true, Ordering::SeqCst);
            stop.cancel();
        };
        let tasks = self.tasks.clone();
        let background = async move {
            tasks.close();
            tasks.wait().await;
        };
        let stopped = server::serve(
            self.listener,
            self.app,
            self.http,
            self.metrics,
            shutdown,
            self.drain_timeout,
            background,
        )
        .await;
        if !stopped.in_time && !self.tasks.is_empty() {
            tracing::warn!(
                pending = self.tasks.len(),
                "shutdown: gave up waiting for background answers"
            );
        }
        Ok(())
    }
}

/// One HTTP client for every call to Slack and SNS. Without a trust root every call over
/// TLS (Slack, SNS, AWS) would fail, so that stops the start with what to fix.
fn http_client() -> std::io::Result<reqwest::Client> {
    crate::http::trust_roots().map_err(std::io::Error::other)?;
    crate::http::client_builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("marketplace-activity/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(std::io::Error::other)
}

/// The notification routes, and the queue to read with the delivery behind them.
fn notifications(
    settings: NotifySettings,
    memory: Memory,
    reports: &Reporter,
    http: &reqwest::Client,
    metrics: &Metrics,
) -> (Router, Option<(QueueSettings, Delivery)>) {
    let api = SlackApi::new(
        http.clone(),
        &settings.api_url,
        settings.token,
        metrics.clone(),
    );
    let out = SlackOut {
        api,
        routes: settings.routes,
        post_interval: settings.post_interval,
    };
    let notifier = Notifier::new(
        out,
        memory,
        metrics.clone(),
        reports.agreements().cloned(),
        {
            let reports = reports.clone();
            Arc::new(move || reports.accounts())
        },
    );
    let sns = (!settings.sns_topic_arns.is_empty()).then(|| {
        Arc::new(SnsVerifier::new(
            http.clone(),
            settings.sns_topic_arns,
            settings.sns_cert_rule,
        ))
    });
    match &settings.events_keys {
        Some(keys) => {
            tracing::info!(header = %keys.header(), "POST /events is served (EventBridge API destination)")
        }
        None => tracing::info!("EVENTS_API_KEY is not set: POST /events is not served"),
    }
    if sns.is_none() {
        tracing::info!("SNS_TOPIC_ARNS is not set: POST /events/sns is not served");
    }
    let delivery = Delivery {
        notifier: Arc::new(notifier),
        metrics: metrics.clone(),
    };
    let queue = settings.queue.map(|q| (q, delivery.clone()));
    (
        notify::routes::router(delivery, settings.events_keys, sns),
        queue,
    )
}

/// Opens the state store the settings ask for, when notifications or the digest need one.
/// Durability asked for is durability given: a STATE_DIR or STATE_TABLE that can't be used
/// stops start-up with one line naming the cause and the fix. Memory only when neither is
/// set (said once, since threads and de-duplication then don't survive a restart).
pub async fn open_state(
    settings: &ServeSettings,
    sdk: &aws_config::SdkConfig,
) -> Result<StateStore, OpenError> {
    if settings.notify.is_none() && settings.digest.is_none() {
        return Ok(StateStore::memory());
    }
    let store = match &settings.state {
        StateSettings::Memory => {
            tracing::warn!("neither STATE_DIR nor STATE_TABLE is set: threads and de-duplication are kept in memory and lost on restart (one replica only)");
            return Ok(StateStore::memory());
        }
        StateSettings::Dir(dir) => {
            let store = StateStore::open_redb_recovering(dir)?;
            if let Some(what) = store.recovered() {
                tracing::error!("state store: {what}");
            }
            store
        }
        StateSettings::Table(table) => StateStore::open_dynamodb(sdk, table).await?,
    };
    match store.prune_expired().await {
        Ok(n) => tracing::info!(store = %store.kind(), pruned = n, "state store ready"),
        Err(e) => tracing::warn!(error = %e, "could not prune expired state"),
    }
    Ok(store)
}

/// Answers prepared at once; each holds little, but lookups queue behind CloudTrail's pacing.
pub const MAX_PENDING_ANSWERS: usize = 64;

/// What every route gets: a request id (kept from the request when it has one, else a new
/// UUID), one INFO line per request, the request counter, and the body deadline (innermost,
/// so its 408 is traced and counted).
///
/// All of it wraps the router once, outside it: a layer added with `Router::layer` wraps each
/// route in one more boxed service, and every request clones the boxes of its route, so it
/// costs allocations per request there. The counter's label is the route's pattern, known
/// outside the router because every route is a literal path (no `{parameter}`: a test holds
/// them to that) and the fallback marks what no route matched.
fn with_layers(router: Router, metrics: Metrics) -> RequestIds {
    let counted = Counted {
        routes: router.fallback(unmatched),
        metrics,
    };
    // The trace only when its span (which gives every line logged for a request its
    // request_id) or its INFO line would be recorded: RUST_LOG is read once, at start-up, and
    // with both off the layer would still time every request.
    let on = tracing::enabled!(Level::INFO)
        || tracing::enabled!(target: "tower_http::trace::on_response", Level::INFO);
    RequestIds {
        inner: if on {
            Traced::On(
                TraceLayer::new_for_http()
                    // One INFO line per request with its status and latency. Our handlers log
                    // why they answered 4xx/5xx, so tower-http's own ERROR for a 503 would be
                    // noise.
                    .on_response(DefaultOnResponse::new().level(Level::INFO))
                    .on_failure(DefaultOnFailure::new().level(Level::DEBUG))
                    .make_span_with(RequestSpan)
                    .layer(counted),
            )
        } else {
            Traced::Off(counted)
        },
    }
}

/// The answer when no route matched (axum's own: 404, no body), marked for the counter.
async fn unmatched() -> impl axum::response::IntoResponse {
    (
        axum::http::StatusCode::NOT_FOUND,
        axum::Extension(Unmatched),
    )
}

/// On a response: no route matched its request.
#[derive(Clone, Copy)]
struct Unmatched;

/// The routes with the trace layer, or without it when INFO is off.
#[derive(Clone)]
enum Traced {
    On(
        Trace<
            Counted,
            SharedClassifier<ServerErrorsAsFailures>,
            RequestSpan,
            DefaultOnRequest,
            DefaultOnResponse,
            DefaultOnBodyChunk,
            DefaultOnEos,
            DefaultOnFailure,
        >,
    ),
    Off(Counted),
}

/// The `request` span: method, path and request id. With INFO off, the span is not built and
/// none of its fields are looked up.
#[derive(Clone, Copy)]
struct RequestSpan;

impl<B> MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, req: &Request<B>) -> tracing::Span {
        tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %RequestIdField(req.extensions().get::<RequestId>()))
    }
}

/// The routes, each request counted by its route (the pattern, not the raw path) and status,
/// the body deadline's 408 answered inside the count (so it is counted; the server set the
/// deadline, `server::BodyDeadline`).
#[derive(Clone)]
struct Counted {
    routes: Router,
    metrics: Metrics,
}

impl Counted {
    fn answer(&mut self, request: Request<Body>) -> impl Future<Output = Response> + Send {
        // The path shares the request's buffer: no copy.
        let uri = request.uri().clone();
        let deadline = server::BodyDeadline::of(&request);
        let answer = self.routes.call(request);
        let metrics = self.metrics.clone();
        async move {
            let Ok(response) = answer.await;
            let response = match deadline {
                Some(deadline) => deadline.answer(response),
                None => response,
            };
            let route = match response.extensions().get::<Unmatched>() {
                Some(Unmatched) => "unmatched",
                // Every route is a literal path: the one matched is the path asked for.
                None => uri.path(),
            };
            metrics.http_request(route, response.status().as_u16());
            response
        }
    }
}

impl Service<Request<Body>> for Counted {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // A Router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let answer = self.answer(request);
        Box::pin(async move { Ok(answer.await) })
    }
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A request's id, in its extensions for the trace span.
#[derive(Clone)]
struct RequestId(HeaderValue);

/// Gives every request an id, the `x-request-id` it came with or else a new random UUID
/// ([`new_request_id`]), and every response the same `x-request-id` (unless the route set
/// one). This is what tower-http's `SetRequestId` and `PropagateRequestId` did, except that a
/// new id is not written into the request's headers: hyper sizes that map for the headers that
/// came, so adding one grew it on every request, which cost more than the rest of the two
/// layers together. The trace span reads the id from the request's extensions instead.
#[derive(Clone)]
struct RequestIds {
    inner: Traced,
}

impl Service<Request<Body>> for RequestIds {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        match &mut self.inner {
            Traced::On(traced) => Service::<Request<Body>>::poll_ready(traced, cx),
            Traced::Off(counted) => Service::<Request<Body>>::poll_ready(counted, cx),
        }
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        let id = match request.headers().get(X_REQUEST_ID) {
            Some(id) => id.clone(),
            None => new_request_id(),
        };
        let with_id = |mut response: Response, id| {
            response.headers_mut().entry(X_REQUEST_ID).or_insert(id);
            Ok(response)
        };
        match &mut self.inner {
            Traced::On(traced) => {
                // For the span (only built here, with the trace on).
                request.extensions_mut().insert(RequestId(id.clone()));
                let answer = traced.call(request);
                Box::pin(async move {
                    let Ok(response) = answer.await;
                    with_id(response.map(Body::new), id)
                })
            }
            Traced::Off(counted) => {
                // Counted's future inside this one: one box per request, not two.
                let answer = counted.answer(request);
                Box::pin(async move { with_id(answer.await, id) })
            }
        }
    }
}

/// A new request id: a random (version 4) UUID, as tower-http's `MakeRequestUuid` makes them.
/// Made 256 at a time per thread: one `getrandom` call for their random bytes instead of one
/// system call per request, and their text in one shared buffer that each id's header value
/// points into, instead of one allocation per request (measured: README, Performance). Should
/// the OS random source ever fail, the ids are made from a process-wide counter and the clock:
/// still unique within the process, which is all a request id is for, and never a panic.
fn new_request_id() -> HeaderValue {
    const BATCH: usize = 256;
    const LENGTH: usize = uuid::fmt::Hyphenated::LENGTH;
    thread_local! {
        static IDS: RefCell<(axum::body::Bytes, usize)> =
            const { RefCell::new((axum::body::Bytes::new(), 0)) };
    }
    let refill = || {
        let mut random = [0; BATCH * 16];
        let random_ok = getrandom::fill(&mut random).is_ok();
        let mut text = vec![0; BATCH * LENGTH];
        for (n, out) in text.chunks_exact_mut(LENGTH).enumerate() {
            let mut bytes = [0; 16];
            if random_ok {
                bytes.copy_from_slice(&random[n * 16..n * 16 + 16]);
            } else {
                bytes = fallback_id_bytes();
            }
            encode_id(bytes, out);
        }
        axum::body::Bytes::from(text)
    };
    IDS.try_with(|ids| {
        let (text, used) = &mut *ids.borrow_mut();
        if *used == text.len() {
            *text = refill();
            *used = 0;
        }
        let id = text.slice(*used..*used + LENGTH);
        *used += LENGTH;
        HeaderValue::from_maybe_shared(id).ok()
    })
    .ok()
    .flatten()
    .unwrap_or_else(|| {
        // The thread is going away (its pool is gone): one id, made on its own.
        let mut text = [0; LENGTH];
        HeaderValue::from_str(encode_id(fallback_id_bytes(), &mut text))
            .unwrap_or_else(|_| HeaderValue::from_static("-"))
    })
}

/// A version 4 UUID from `bytes`, written as lower-case hyphenated text into `out` (36 bytes).
fn encode_id(bytes: [u8; 16], out: &mut [u8]) -> &str {
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .encode_lower(out)
}

/// Id bytes without the OS random source: a counter and the time since the epoch.
fn fallback_id_bytes() -> [u8; 16] {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut bytes = [0; 16];
    bytes[..8].copy_from_slice(&nanos.to_be_bytes());
    bytes[8..].copy_from_slice(&count.to_be_bytes());
    bytes
}

/// The request's id as a span field; formatted only when the span is recorded.
struct RequestIdField<'a>(Option<&'a RequestId>);

impl std::fmt::Display for RequestIdField<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self.0.and_then(|RequestId(v)| v.to_str().ok());
        f.write_str(id.unwrap_or("-"))
    }
}

/// Resolves on SIGTERM or Ctrl-C. The handlers are installed when this is called, not when the
/// future is first polled, so a signal that comes once the port is open but before the server
/// waits on it still stops the server cleanly (call it before binding).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let term = async {
                match term.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            let int = async {
                match int.as_mut() {
                    Some(s) => drop(s.recv().await),
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = term => {},
                () = int => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown signal received");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The request counter labels a request with the path it asked for once a route matched
    /// it ([`Counted`]): right only while every route is a literal path. A `{parameter}` or
    /// `{*wildcard}` route would make one label per value asked for.
    #[test]
    fn every_route_is_a_literal_path() {
        fn sources(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    sources(&path, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    out.push((path, text));
                }
            }
        }
        let mut files = Vec::new();
        sources(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut files,
        );
        let mut routes = Vec::new();
        for (path, text) in &files {
            // The demo's console is a Slack stand-in of its own, not served by the app.
            if path.ends_with("cli/demo.rs") {
                continue;
            }
            for (at, _) in text.match_indices(".route(") {
                if text[..at].ends_with('"') {
                    continue; // this test's own search string
                }
                let rest = text[at + 7..].trim_start();
                let Some(literal) = rest.strip_prefix('"') else {
                    panic!("{}: a route whose path is not a literal", path.display());
                };
                let pattern = &literal[..literal.find('"').unwrap()];
                assert!(
                    pattern.starts_with('/') && !pattern.contains(['{', '}', '*', ':']),
                    "{}: route {pattern:?} is not a literal path",
                    path.display()
                );
                routes.push(pattern.to_owned());
            }
        }
        // The scan found the routes (it would pass vacuously otherwise).
        for known in [
            "/slack/commands",
            "/events",
            "/events/sns",
            "/healthz",
            "/metrics",
        ] {
            assert!(
                routes.iter().any(|r| r == known),
                "{known} not in {routes:?}"
            );
        }
    }

    #[test]
    fn request_ids_are_distinct_v4_uuids_across_pool_refills() {
        let ids: Vec<HeaderValue> = (0..1000).map(|_| new_request_id()).collect();
        let unique: std::collections::HashSet<&[u8]> =
            ids.iter().map(HeaderValue::as_bytes).collect();
        assert_eq!(unique.len(), ids.len());
        for id in &ids {
            let uuid = uuid::Uuid::parse_str(id.to_str().unwrap()).unwrap();
            assert_eq!(uuid.get_version_num(), 4, "{id:?}");
            assert_eq!(id.len(), 36);
        }
    }
}
