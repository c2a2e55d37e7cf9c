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
use crate::notify::store::Store;

/// What the operations routes read.
#[derive(Clone)]
pub struct OpsState {
    pub metrics: Metrics,
    /// Set once shutdown starts, so `/readyz` tells load balancers to stop sending.
    pub shutting_down: Arc<AtomicBool>,
    /// The notifier's store, when notifications are on.
    pub store: Option<Store>,
}

pub fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// Ready to take traffic: not shutting down. Says where the notifier keeps its state.
async fn readyz(State(state): State<OpsState>) -> Response {
    let store = match &state.store {
        None => "off",
        Some(s) if s.is_persistent() => "disk",
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
