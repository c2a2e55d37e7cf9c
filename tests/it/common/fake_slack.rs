//! A fake Slack on loopback: `response_url` endpoints and the Web API methods the app uses
//! (`chat.postMessage`, `chat.update`, `auth.test`). It records what arrives and fails on
//! demand the way Slack does: HTTP 500, 429 with Retry-After, `{"ok":false,"error":…}`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;

pub const BOT_TOKEN: &str = "xoxb-test-token";
/// The app-level token `apps.connections.open` accepts (Socket Mode).
pub const APP_TOKEN: &str = "xapp-1-A0001-1-test-app-token";

/// One scripted answer of the Web API, used before answering normally again.
#[derive(Clone, Debug)]
pub enum ApiFault {
    Status(u16),
    RateLimited { retry_after_secs: u64 },
    Error(&'static str),
}

/// A message as Slack stored it.
#[derive(Clone, Debug)]
pub struct Post {
    pub channel: String,
    pub ts: String,
    pub text: String,
    pub blocks: Value,
    pub thread_ts: Option<String>,
    pub reply_broadcast: bool,
    pub at: std::time::Instant,
    /// Set by chat.update.
    pub updates: usize,
}

/// A file uploaded with files.getUploadURLExternal + files.completeUploadExternal.
#[derive(Clone, Debug)]
pub struct Upload {
    pub file_id: String,
    pub filename: String,
    pub length: usize,
    pub bytes: Vec<u8>,
    /// Set by files.completeUploadExternal.
    pub channel: Option<String>,
    pub title: Option<String>,
    pub comment: Option<String>,
}

#[derive(Default)]
struct Inner {
    uploads: Vec<Upload>,
    posts: Vec<Post>,
    api_faults: Vec<ApiFault>,
    api_calls: usize,
    /// (path id, message) in arrival order.
    received: Vec<(String, Value)>,
    /// Statuses to answer before succeeding again.
    fail_with: Vec<u16>,
    attempts: usize,
    /// Scripted by [`FakeSlack::net_faults`], for either route.
    net_faults: Vec<NetFault>,
    /// Scripted by [`FakeSlack::slow_answers`]: the next posts are taken, then answered late.
    post_delays: Vec<Duration>,
    faulted: usize,
}

#[derive(Clone)]
pub struct FakeSlack {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
    /// Socket Mode: the WebSocket side.
    pub socket: super::fake_socket::FakeSocket,
}

impl FakeSlack {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let socket = super::fake_socket::FakeSocket::start().await;
        let app = Router::new()
            .route("/commands/{id}", post(response_url))
            .route(
                "/api/apps.connections.open",
                post(connections_open).with_state(socket.clone()),
            )
            .route("/api/{method}", post(web_api))
            .route("/upload/{file_id}", post(upload_bytes))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner, socket }
    }

    /// The Web API base URL (`SLACK_API_URL`).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.url)
    }

    /// The next Web API calls answer with these faults, in order.
    pub fn api_faults(&self, faults: &[ApiFault]) {
        self.inner.lock().unwrap().api_faults = faults.to_vec();
    }

    /// Files whose upload was completed.
    pub fn uploads(&self) -> Vec<Upload> {
        self.inner.lock().unwrap().uploads.clone()
    }

    pub fn posts(&self) -> Vec<Post> {
        self.inner.lock().unwrap().posts.clone()
    }

    pub fn api_calls(&self) -> usize {
        self.inner.lock().unwrap().api_calls
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

/// `apps.connections.open`: the app-level token only (a bot token is `not_allowed_token_type`,
/// as Slack answers), then a `ws://` URL of the fake's WebSocket listener.
async fn connections_open(
    State(socket): State<super::fake_socket::FakeSocket>,
    headers: axum::http::HeaderMap,
) -> Response {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    let answer = match auth.and_then(|a| a.strip_prefix("Bearer ")) {
        Some(APP_TOKEN) => {
            let url = socket.open();
            serde_json::json!({"ok": true, "url": url})
        }
        Some(BOT_TOKEN) => serde_json::json!({"ok": false, "error": "not_allowed_token_type"}),
        _ => serde_json::json!({"ok": false, "error": "invalid_auth"}),
    };
    Json(answer).into_response()
}

async fn response_url(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(id): Path<String>,
    Json(message): Json<Value>,
) -> Response {
    if let Some(fault) = take_net_fault(&inner) {
        return fault.answer().await;
    }
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

async fn web_api(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(method): Path<String>,
    headers: axum::http::HeaderMap,
    raw: axum::body::Bytes,
) -> Response {
    // Slack takes JSON for most methods and a form for the files methods; so does the fake.
    let form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let body: Value = if form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&raw).unwrap_or_default();
        Value::Object(
            pairs
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect(),
        )
    } else {
        match serde_json::from_slice(&raw) {
            Ok(v) => v,
            Err(_) => {
                return Json(serde_json::json!({"ok": false, "error": "invalid_json"}))
                    .into_response()
            }
        }
    };
    if method.starts_with("files.") && !form {
        return Json(serde_json::json!({"ok": false, "error": "invalid_form_data"}))
            .into_response();
    }
    if let Some(fault) = take_net_fault(&inner) {
        return fault.answer().await;
    }
    let delay = {
        let mut inner = inner.lock().unwrap();
        (method == "chat.postMessage" && !inner.post_delays.is_empty())
            .then(|| inner.post_delays.remove(0))
    };
    let answer = answer_api(&inner, &method, &headers, &body);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    answer
}

/// The Web API's answer (the call is recorded as it arrives, before any slow answer).
fn answer_api(
    inner: &Mutex<Inner>,
    method: &str,
    headers: &axum::http::HeaderMap,
    body: &Value,
) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.api_calls += 1;
    if !inner.api_faults.is_empty() {
        match inner.api_faults.remove(0) {
            ApiFault::Status(s) => {
                return (
                    StatusCode::from_u16(s).unwrap(),
                    "<html>upstream error</html>",
                )
                    .into_response()
            }
            ApiFault::RateLimited { retry_after_secs } => {
                return (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", retry_after_secs.to_string())],
                    Json(serde_json::json!({"ok": false, "error": "ratelimited"})),
                )
                    .into_response()
            }
            ApiFault::Error(e) => {
                return Json(serde_json::json!({"ok": false, "error": e})).into_response()
            }
        }
    }
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok());
    if auth != Some(&format!("Bearer {BOT_TOKEN}")) {
        return Json(serde_json::json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_owned);
    match method {
        "auth.test" => {
            Json(serde_json::json!({"ok": true, "team": "Acme", "user": "marketplace_activity"}))
                .into_response()
        }
        "chat.postMessage" => {
            let (Some(channel), Some(msg_text)) = (text("channel"), text("text")) else {
                return Json(serde_json::json!({"ok": false, "error": "no_text"})).into_response();
            };
            let n = inner.posts.len() + 1;
            let ts = format!("1800000000.{n:06}");
            inner.posts.push(Post {
                channel: channel.clone(),
                ts: ts.clone(),
                text: msg_text,
                blocks: body.get("blocks").cloned().unwrap_or(Value::Null),
                thread_ts: text("thread_ts"),
                reply_broadcast: body
                    .get("reply_broadcast")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                at: std::time::Instant::now(),
                updates: 0,
            });
            Json(serde_json::json!({"ok": true, "channel": channel, "ts": ts})).into_response()
        }
        "files.getUploadURLExternal" => {
            let (Some(filename), Some(length)) = (
                text("filename"),
                text("length").and_then(|l| l.parse().ok()),
            ) else {
                return Json(serde_json::json!({"ok": false, "error": "invalid_arguments"}))
                    .into_response();
            };
            let file_id = format!("F{:06}", inner.uploads.len() + 1);
            inner.uploads.push(Upload {
                file_id: file_id.clone(),
                filename,
                length,
                bytes: Vec::new(),
                channel: None,
                title: None,
                comment: None,
            });
            let upload_url = format!(
                "http://{}/upload/{file_id}",
                headers
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("127.0.0.1")
            );
            Json(serde_json::json!({"ok": true, "upload_url": upload_url, "file_id": file_id}))
                .into_response()
        }
        "files.completeUploadExternal" => {
            let files: Vec<Value> = text("files")
                .and_then(|f| serde_json::from_str(&f).ok())
                .unwrap_or_default();
            let Some(id) = files
                .first()
                .and_then(|f| f["id"].as_str())
                .map(str::to_owned)
            else {
                return Json(serde_json::json!({"ok": false, "error": "invalid_arguments"}))
                    .into_response();
            };
            let (channel, comment) = (text("channel_id"), text("initial_comment"));
            let Some(upload) = inner.uploads.iter_mut().find(|u| u.file_id == id) else {
                return Json(serde_json::json!({"ok": false, "error": "file_not_found"}))
                    .into_response();
            };
            if upload.bytes.len() != upload.length {
                return Json(
                    serde_json::json!({"ok": false, "error": "file_upload_size_mismatch"}),
                )
                .into_response();
            }
            upload.channel = channel;
            upload.title = files[0]["title"].as_str().map(str::to_owned);
            upload.comment = comment;
            Json(serde_json::json!({"ok": true, "files": [{"id": id}]})).into_response()
        }
        "chat.update" => {
            let (channel, ts) = (text("channel"), text("ts"));
            let Some(post) = inner
                .posts
                .iter_mut()
                .find(|p| Some(&p.channel) == channel.as_ref() && Some(&p.ts) == ts.as_ref())
            else {
                return Json(serde_json::json!({"ok": false, "error": "message_not_found"}))
                    .into_response();
            };
            post.text = text("text").unwrap_or_default();
            post.blocks = body.get("blocks").cloned().unwrap_or(Value::Null);
            post.updates += 1;
            Json(serde_json::json!({"ok": true, "channel": channel, "ts": ts})).into_response()
        }
        _ => Json(serde_json::json!({"ok": false, "error": "unknown_method"})).into_response(),
    }
}

/// A failure below Slack's API (a hung or broken connection, a body that is not JSON), used
/// once per call by [`FakeSlack::net_faults`]. The call is not recorded: Slack never got it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetFault {
    /// Reads the request and never answers.
    Hang,
    /// Answers 200 `application/json` with a body that is not JSON.
    InvalidJson,
    /// Sends the status line, headers and part of the body, then closes the connection.
    CloseMidResponse,
}

impl FakeSlack {
    /// The next `chat.postMessage` calls are taken (the message is in the channel at once) but
    /// answered only after these delays, in order: a slow Slack.
    pub fn slow_answers(&self, delays: &[Duration]) {
        self.inner.lock().unwrap().post_delays = delays.to_vec();
    }

    /// The next calls (Web API or `response_url`) fail this way, in order, then Slack answers
    /// normally again.
    pub fn net_faults(&self, faults: &[NetFault]) {
        self.inner.lock().unwrap().net_faults = faults.to_vec();
    }

    /// Calls that met a [`NetFault`].
    pub fn faulted(&self) -> usize {
        self.inner.lock().unwrap().faulted
    }
}

fn take_net_fault(inner: &Mutex<Inner>) -> Option<NetFault> {
    let mut inner = inner.lock().unwrap();
    if inner.net_faults.is_empty() {
        return None;
    }
    inner.faulted += 1;
    Some(inner.net_faults.remove(0))
}

impl NetFault {
    async fn answer(self) -> Response {
        match self {
            Self::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                StatusCode::GATEWAY_TIMEOUT.into_response()
            }
            Self::InvalidJson => (
                [("content-type", "application/json; charset=utf-8")],
                "{\"ok\": tru",
            )
                .into_response(),
            // A declared length the body never reaches: hyper ends the connection after the
            // bytes it has, so the client reads a truncated body.
            Self::CloseMidResponse => (
                [
                    ("content-type", "application/json; charset=utf-8"),
                    ("content-length", "200"),
                ],
                "{\"ok\": true, \"chan",
            )
                .into_response(),
        }
    }
}

async fn upload_bytes(
    State(inner): State<Arc<Mutex<Inner>>>,
    Path(file_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let mut inner = inner.lock().unwrap();
    match inner.uploads.iter_mut().find(|u| u.file_id == file_id) {
        Some(u) => {
            u.bytes = body.to_vec();
            "OK - 200".into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such upload").into_response(),
    }
}
