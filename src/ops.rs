//! The operations routes: `/healthz` (liveness), `/readyz` (readiness, and where the notifier
//! keeps its state) and `/metrics` (Prometheus / OpenMetrics text).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::metrics::Metrics;
use crate::notify::queue::QueueStatus;
use crate::slack::socket::SocketStatus;
use crate::state::StateStore;

/// What the operations routes read.
#[derive(Clone)]
pub struct OpsState {
    pub metrics: Metrics,
    /// Set once shutdown starts, so `/readyz` tells load balancers to stop sending.
    pub shutting_down: Arc<AtomicBool>,
    /// The notifier's and the digest's store, when either is on.
    pub store: Option<StateStore>,
    /// The SQS queue's reading, when EVENTS_QUEUE_URL is set.
    pub queue: Option<Arc<QueueStatus>>,
    /// Socket Mode's connections and how many are wanted, when SLACK_APP_TOKEN is set.
    pub socket: Option<(Arc<SocketStatus>, usize)>,
}

pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// Ready to take traffic: not shutting down. Says which state store is in use and whether it
/// answers; an unreachable store does not make the replica unready, since slash commands
/// don't need it and `/events` answers 503 (retry later) on its own until it is back. With
/// EVENTS_QUEUE_URL, `queue` says whether the last ReceiveMessage worked; with Socket Mode,
/// `socket_mode` how many connections are open (and why not, when fewer than wanted). Neither
/// makes the replica unready: both recover by themselves, and the HTTP routes still work.
async fn readyz(State(state): State<OpsState>) -> Response {
    if state.shutting_down.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "shutting down"})),
        )
            .into_response();
    }
    let mut report = json!({"ready": true});
    if let Some(queue) = &state.queue {
        report["queue"] = queue.report();
    }
    if let Some((socket, wanted)) = &state.socket {
        report["socket_mode"] = socket.report(state.metrics.socket_connections.get(), *wanted);
    }
    let Some(store) = &state.store else {
        report["state_store"] = json!("off");
        return Json(report).into_response();
    };
    let probe = tokio::time::timeout(PROBE_TIMEOUT, store.probe()).await;
    let (reachable, problem) = match probe {
        Ok(Ok(())) => (true, None),
        Ok(Err(e)) => (false, Some(e.fix())),
        Err(_) => (false, Some("the store did not answer in time".to_owned())),
    };
    report["state_store"] = json!(store.kind().to_string());
    report["state_store_reachable"] = json!(reachable);
    report["state_store_problem"] = json!(problem);
    report["state_store_recovered"] = json!(store.recovered());
    Json(report).into_response()
}

/// How long `/readyz` waits for the store's probe.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

async fn metrics_text(State(state): State<OpsState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
