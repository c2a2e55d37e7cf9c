//! Building and running the HTTP application, so `main` and the tests run the same thing.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::task::TaskTracker;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::aws::ActivitySource;
use crate::config::ServeSettings;
use crate::slack::access::AccessPolicy;
use crate::slack::commands;
use crate::slack::signature::SigningSecrets;

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
    pub query_timeout: Duration,
}

/// The bound, not yet running, application.
pub struct Application {
    listener: TcpListener,
    router: Router,
    tasks: TaskTracker,
    drain_timeout: Duration,
}

impl Application {
    pub async fn build(settings: ServeSettings, source: ActivitySource) -> std::io::Result<Self> {
        let listener = TcpListener::bind(settings.listen_addr).await?;
        let tasks = TaskTracker::new();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("marketplace-activity/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(std::io::Error::other)?;
        let state = AppState {
            signing: settings.signing_secrets,
            access: Arc::new(settings.access),
            source,
            http,
            tasks: tasks.clone(),
            query_timeout: settings.query_timeout,
        };
        Ok(Self {
            listener,
            router: router(state),
            tasks,
            drain_timeout: settings.drain_timeout,
        })
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

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route(
            "/slack/commands",
            post(commands::handle).layer(DefaultBodyLimit::max(commands::MAX_BODY_BYTES)),
        )
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
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
