//! A fake Slack on loopback: `response_url` endpoints that record every message posted to them,
//! and can fail on demand (HTTP 500, or 429 with Retry-After) like the real service.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

#[derive(Default)]
struct Inner {
    /// (path id, message) in arrival order.
    received: Vec<(String, Value)>,
    /// Statuses to answer before succeeding again.
    fail_with: Vec<u16>,
    attempts: usize,
}

#[derive(Clone)]
pub struct FakeSlack {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/commands/{id}", post(response_url))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    /// A `response_url` for one command.
    pub fn response_url(&self, id: &str) -> String {
        format!("{}/commands/{id}", self.url)
    }

    /// The next posts fail with these statuses, in order.
    pub fn fail_next(&self, statuses: &[u16]) {
        self.inner.lock().unwrap().fail_with = statuses.to_vec();
    }

    pub fn received(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().received.clone()
    }

    pub fn attempts(&self) -> usize {
        self.inner.lock().unwrap().attempts
    }

    /// Waits until `n` messages have arrived (or panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<(String, Value)> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {timeout:?} for {n} messages, got {}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn response_url(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    Json(message): Json<Value>,
) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.attempts += 1;
    if !inner.fail_with.is_empty() {
        let status = inner.fail_with.remove(0);
        let status = StatusCode::from_u16(status).unwrap();
        return if status == StatusCode::TOO_MANY_REQUESTS {
            (status, [("retry-after", "1")], "rate_limited").into_response()
        } else {
            (status, "internal_error").into_response()
        };
    }
    inner.received.push((id, message));
    "ok".into_response()
}
