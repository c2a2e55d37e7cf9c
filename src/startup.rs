//! Building and running the HTTP application, so `main` and the tests run the same thing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{header, HeaderName, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnFailure, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::aws::agreements::Agreements;
use crate::aws::ActivitySource;
use crate::config::{DigestSettings, ServeSettings};
use crate::digest::{self, Clock, SystemClock};
use crate::metrics::{HttpLabels, Metrics};
use crate::notify;
use crate::notify::deliver::Notifier;
use crate::notify::routes::ApiKeys;
use crate::notify::sns::SnsVerifier;
use crate::notify::store::Store;
use crate::slack::access::AccessPolicy;
use crate::slack::commands;
use crate::slack::signature::SigningSecrets;
use crate::slack::web_api::SlackApi;
use tokio_util::sync::CancellationToken;

/// Everything a handler needs, built once at start-up. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub signing: SigningSecrets,
    pub access: Arc<AccessPolicy>,
    pub source: ActivitySource,
    /// One HTTP client for every call to Slack.
    pub http: reqwest::Client,
    /// Background answers; closed and drained on shutdown.
    pub tasks: TaskTracker,
    /// Room for answers being prepared. A flood of commands must not queue lookups without
    /// bound (each waits for CloudTrail's 2 calls per second): past this, callers are asked to
    /// try again.
    pub answer_slots: Arc<tokio::sync::Semaphore>,
    pub query_timeout: Duration,
    /// Channel notifications; `None` when neither EVENTS_API_KEY nor SNS_TOPIC_ARNS is set.
    pub notifier: Option<Arc<Notifier>>,
    pub events_keys: Option<ApiKeys>,
    pub sns: Option<Arc<SnsVerifier>>,
    pub metrics: Metrics,
    /// Agreement details (DescribeAgreement); `None` for sources that aren't AWS (the demo).
    pub agreements: Option<Agreements>,
    /// The Web API with the bot token, when SLACK_BOT_TOKEN is set (CSV exports, digests).
    pub slack_api: Option<SlackApi>,
    /// Set once shutdown starts, so `/readyz` tells load balancers to stop sending.
    pub shutting_down: Arc<AtomicBool>,
}

/// The bound, not yet running, application.
pub struct Application {
    listener: TcpListener,
    router: Router,
    tasks: TaskTracker,
    drain_timeout: Duration,
    shutting_down: Arc<AtomicBool>,
    state: AppState,
    digest: Option<DigestSettings>,
    clock: Arc<dyn Clock>,
    /// When the app was built, by `clock`: the digest schedule counts from here.
    started_at: chrono::DateTime<chrono::Utc>,
}

impl Application {
    pub async fn build(
        settings: ServeSettings,
        source: ActivitySource,
        agreements: Option<Agreements>,
        metrics: Metrics,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen_addr).await?;
        let tasks = TaskTracker::new();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("marketplace-activity/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(std::io::Error::other)?;
        let (notifier, events_keys, sns) = match settings.notify {
            Some(notify) => {
                let store = open_store(notify.state_dir.as_deref()).await;
                let api =
                    SlackApi::new(http.clone(), &notify.api_url, notify.token, metrics.clone());
                let notifier = Arc::new(Notifier::new(
                    api,
                    notify.routes,
                    store,
                    metrics.clone(),
                    agreements.clone(),
                    source.accounts(),
                ));
                let sns = (!notify.sns_topic_arns.is_empty()).then(|| {
                    Arc::new(SnsVerifier::new(
                        http.clone(),
                        notify.sns_topic_arns,
                        notify.sns_cert_rule,
                    ))
                });
                match &notify.events_keys {
                    Some(keys) => {
                        tracing::info!(header = %keys.header(), "POST /events is served (EventBridge API destination)")
                    }
                    None => tracing::info!("EVENTS_API_KEY is not set: POST /events is not served"),
                }
                if sns.is_none() {
                    tracing::info!("SNS_TOPIC_ARNS is not set: POST /events/sns is not served");
                }
                (Some(notifier), notify.events_keys, sns)
            }
            None => {
                tracing::info!("EVENTS_API_KEY and SNS_TOPIC_ARNS are not set: channel notifications are off (POST /events is not served)");
                (None, None, None)
            }
        };
        let slack_api = settings
            .bot
            .map(|b| SlackApi::new(http.clone(), &b.api_url, b.token, metrics.clone()));
        let state = AppState {
            signing: settings.signing_secrets,
            access: Arc::new(settings.access),
            source,
            http,
            tasks: tasks.clone(),
            answer_slots: Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_ANSWERS)),
            query_timeout: settings.query_timeout,
            notifier,
            events_keys,
            sns,
            slack_api,
            metrics,
            agreements,
            shutting_down: Arc::default(),
        };
        let shutting_down = state.shutting_down.clone();
        if let Some(d) = &settings.digest {
            tracing::info!(channel = %d.channel, "digests on");
        }
        Ok(Self {
            listener,
            router: router(state.clone()),
            tasks,
            drain_timeout: settings.drain_timeout,
            shutting_down,
            state,
            digest: settings.digest,
            clock: Arc::new(SystemClock),
            started_at: chrono::Utc::now(),
        })
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

    /// Serves until `shutdown` resolves, then stops accepting, finishes in-flight requests,
    /// and waits (up to the drain timeout) for background answers to be delivered.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = CancellationToken::new();
        if let Some(d) = self.digest {
            self.tasks.spawn(digest::run(
                self.state.clone(),
                d.schedule,
                d.channel,
                self.clock.clone(),
                self.started_at,
                stop.clone(),
            ));
        }
        let flag = self.shutting_down.clone();
        let shutdown = async move {
            shutdown.await;
            flag.store(true, Ordering::SeqCst);
            stop.cancel();
        };
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await?;
        self.tasks.close();
        if tokio::time::timeout(self.drain_timeout, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                pending = self.tasks.len(),
                "shutdown: gave up waiting for background answers"
            );
        }
        Ok(())
    }
}

/// The notifier's store: on disk under `STATE_DIR` when it can be, else in memory (said once
/// at start-up, since threads and de-duplication then don't survive a restart).
async fn open_store(state_dir: Option<&std::path::Path>) -> Store {
    let store = match state_dir {
        None => {
            tracing::warn!("STATE_DIR is not set: threads and de-duplication are kept in memory and lost on restart");
            return Store::memory();
        }
        Some(dir) => match Store::open(dir) {
            Ok(store) => store,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "STATE_DIR is not usable: threads and de-duplication are kept in memory and lost on restart");
                return Store::memory();
            }
        },
    };
    let cutoff = chrono::Utc::now().timestamp() - SEEN_KEPT_SECS;
    match store.prune_seen(cutoff).await {
        Ok(n) => tracing::info!(pruned = n, "state store ready"),
        Err(e) => tracing::warn!(error = %e, "could not prune old delivery ids"),
    }
    store
}

/// Answers prepared at once; each holds little, but lookups queue behind CloudTrail's pacing.
pub const MAX_PENDING_ANSWERS: usize = 64;

/// Delivery ids are remembered a week: EventBridge retries for at most 24 hours.
const SEEN_KEPT_SECS: i64 = 7 * 24 * 3600;

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let mut router = Router::new()
        .route(
            "/slack/commands",
            post(commands::handle).layer(DefaultBodyLimit::max(commands::MAX_BODY_BYTES)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text));
    if state.events_keys.is_some() {
        router = router.route(
            "/events",
            post(notify::routes::eventbridge)
                .layer(DefaultBodyLimit::max(notify::routes::MAX_EVENT_BYTES)),
        );
    }
    if state.sns.is_some() {
        router = router.route(
            "/events/sns",
            // The SNS envelope wraps the event as an escaped string: allow for the growth.
            post(notify::routes::sns)
                .layer(DefaultBodyLimit::max(2 * notify::routes::MAX_EVENT_BYTES)),
        );
    }
    router
        .layer(middleware::from_fn_with_state(state.clone(), count_requests))
        .with_state(state)
        .layer(
            TraceLayer::new_for_http()
                // One INFO line per request with its status and latency. Our handlers log why
                // they answered 4xx/5xx, so tower-http's own ERROR for a 503 would be noise.
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                .on_failure(DefaultOnFailure::new().level(Level::DEBUG))
                .make_span_with(|req: &Request<_>| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Ready to take traffic: not shutting down. Says where the notifier keeps its state.
async fn readyz(State(state): State<AppState>) -> Response {
    let store = match &state.notifier {
        None => "off",
        Some(n) if n.store().is_persistent() => "disk",
        Some(_) => "memory",
    };
    if state.shutting_down.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "shutting down"})),
        )
            .into_response();
    }
    Json(json!({"ready": true, "state_store": store})).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Counts every request by its route (the pattern, not the raw path) and status.
async fn count_requests(
    State(state): State<AppState>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let response = next.run(request).await;
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            route,
            status: response.status().as_u16(),
        })
        .inc();
    response
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown signal received");
}
