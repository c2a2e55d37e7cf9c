//! Slack Socket Mode: the app opens WebSocket connections to Slack and receives slash commands
//! and button clicks over them, so it needs no public HTTP endpoint.
//! See <https://api.slack.com/apis/socket-mode>.
//!
//! - `apps.connections.open` (with the app-level token, `xapp-…`) answers a `wss://` URL for
//!   one connection; [`CONNECTIONS`] are kept open at once (Slack allows up to ten per app and
//!   spreads envelopes over them), each by its own loop, so one dropping loses nothing.
//! - Envelopes: `hello`; `slash_commands` and `interactive` go through exactly the code the
//!   HTTP routes use after verification ([`super::commands::run`],
//!   [`super::interactions::act`]); `events_api` is acknowledged and ignored. Every envelope is
//!   acknowledged at once with `{"envelope_id": …}` (a slash command's with its immediate
//!   answer as `payload`); the answer itself goes through `response_url` from a tracked task.
//! - An envelope id already handled (Slack retries an envelope it saw no acknowledgement for,
//!   possibly on another connection) is acknowledged again and not handled twice.
//! - `disconnect` (`refresh_requested`, `warning`, `link_disabled`): a fresh connection is
//!   opened at once while the old one keeps reading until Slack closes it.
//! - A connection on which nothing arrives for [`STALE_AFTER`] (the app pings every third of
//!   that, so a live Slack always answers) is presumed dead and replaced; repeated failures
//!   back off exponentially with jitter.
//! - On shutdown every connection is closed and its loop ends (they are tracked tasks).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::command_request::{SlashCommand, SlashCommandForm};
use super::interactions::Interaction;
use super::SlackState;
use crate::redact;

/// Connections kept open at once.
pub const CONNECTIONS: usize = 2;
/// A connection on which no frame arrives for this long is presumed dead and replaced.
pub const STALE_AFTER: Duration = Duration::from_secs(30);
/// The first wait after a failure; doubled on each failure in a row, up to [`BACKOFF_MAX`].
pub const BACKOFF_FIRST: Duration = Duration::from_secs(1);
pub const BACKOFF_MAX: Duration = Duration::from_secs(120);
/// How many recent envelope ids are remembered to ignore a second delivery.
pub const SEEN_CAPACITY: usize = 10_000;
/// Largest frame accepted; envelopes are a few KiB (a click carries its message).
const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// `apps.connections.open` and the WebSocket handshake must each finish within this.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The app-level token (`xapp-…`, scope `connections:write`). `Debug` never shows it.
#[derive(Clone)]
pub struct AppToken(SecretString);

impl AppToken {
    pub fn new(token: &str) -> Self {
        Self(SecretString::from(token.to_owned()))
    }
}

impl std::fmt::Debug for AppToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppToken([redacted])")
    }
}

/// What Socket Mode runs with (SLACK_APP_TOKEN set).
#[derive(Debug, Clone)]
pub struct SocketSettings {
    pub token: AppToken,
    /// The Web API base URL (`SLACK_API_URL`) where `apps.connections.open` is called.
    pub api_url: String,
    pub connections: usize,
    pub stale_after: Duration,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
}

impl SocketSettings {
    /// The production settings: [`CONNECTIONS`], [`STALE_AFTER`], [`BACKOFF_FIRST`].
    pub fn new(token: AppToken, api_url: &str) -> Self {
        Self {
            token,
            api_url: api_url.trim_end_matches('/').to_owned(),
            connections: CONNECTIONS,
            stale_after: STALE_AFTER,
            backoff_first: BACKOFF_FIRST,
            backoff_max: BACKOFF_MAX,
        }
    }
}

/// Why a connection could not be opened. Never carries the token or the WebSocket URL (its
/// ticket lets anyone connect as the app for a while).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("apps.connections.open: {0}")]
    Transport(String),
    #[error("apps.connections.open answered HTTP {0}")]
    Status(u16),
    #[error("apps.connections.open answered `{0}`{fix}", fix = fix_for(.0).map(|f| format!(": {f}")).unwrap_or_default())]
    Slack(String),
    #[error("apps.connections.open answered no ws(s):// URL")]
    NoUrl,
    #[error("WebSocket handshake: {0}")]
    Handshake(String),
    #[error("timed out")]
    Timeout,
}

/// What to do about an error `apps.connections.open` answered, when it is the token's.
pub fn fix_for(error: &str) -> Option<&'static str> {
    match error {
        "invalid_auth" | "not_authed" | "not_allowed_token_type" | "token_revoked" => Some(
            "Set SLACK_APP_TOKEN to the app-level token (xapp-…) from Basic Information → App-Level Tokens, with the connections:write scope.",
        ),
        "missing_scope" => Some("Give the app-level token the connections:write scope."),
        _ => None,
    }
}

/// Envelope ids already handled, with the acknowledgement sent for each; bounded, the oldest
/// forgotten first.
#[derive(Default)]
pub struct Seen {
    inner: Mutex<SeenInner>,
}

#[derive(Default)]
struct SeenInner {
    acks: HashMap<String, Option<Arc<str>>>,
    order: VecDeque<String>,
}

impl Seen {
    /// `None` the first time `id` is seen (it is then recorded); otherwise `Some` with the
    /// acknowledgement sent for it (`None` inside while the first delivery is being handled).
    fn claim(&self, id: &str) -> Option<Option<Arc<str>>> {
        let mut inner = crate::sync::lock(&self.inner);
        if let Some(ack) = inner.acks.get(id) {
            return Some(ack.clone());
        }
        while inner.order.len() >= SEEN_CAPACITY {
            if let Some(old) = inner.order.pop_front() {
                inner.acks.remove(&old);
            }
        }
        inner.acks.insert(id.to_owned(), None);
        inner.order.push_back(id.to_owned());
        None
    }

    fn acknowledged(&self, id: &str, ack: Arc<str>) {
        if let Some(slot) = crate::sync::lock(&self.inner).acks.get_mut(id) {
            *slot = Some(ack);
        }
    }
}

/// How Socket Mode is doing, for `/readyz`: connections open, and why connecting fails when it
/// does.
/// (How many are open is the `socket_mode_connections` gauge.)
#[derive(Default)]
pub struct SocketStatus {
    /// Why the last attempt to connect failed; cleared by the next `hello`.
    problem: Mutex<Option<String>>,
    /// Slack sent `link_disabled`: Socket Mode is off in the app's settings.
    disabled: AtomicBool,
}

impl SocketStatus {
    /// `{"connections": …, "wanted": …, "problem": …}`, with `open` read from the gauge.
    pub fn report(&self, open: i64, wanted: usize) -> Value {
        let problem = crate::sync::lock(&self.problem).clone();
        let problem = if self.disabled.load(Ordering::Relaxed) {
            Some(LINK_DISABLED.to_owned())
        } else {
            problem
        };
        json!({
            "connections": open,
            "wanted": wanted,
            "problem": problem,
        })
    }

    fn failed(&self, why: String) {
        *crate::sync::lock(&self.problem) = Some(why);
    }
}

/// What Slack's `link_disabled` means, and what to do.
const LINK_DISABLED: &str = "Slack closed the connection with link_disabled: Socket Mode is turned off in the app's settings. Turn it on (Socket Mode, at https://api.slack.com/apps), or unset SLACK_APP_TOKEN to use request URLs";

/// A connection counted as open from its `hello` until it ends.
struct OpenConnection<'a>(&'a Shared);

impl<'a> OpenConnection<'a> {
    fn new(shared: &'a Shared) -> Self {
        shared.status.disabled.store(false, Ordering::Relaxed);
        *crate::sync::lock(&shared.status.problem) = None;
        shared.state.metrics.socket_connections.inc();
        Self(shared)
    }
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.0.state.metrics.socket_connections.dec();
    }
}

/// What every connection loop shares.
struct Shared {
    settings: SocketSettings,
    state: SlackState,
    seen: Seen,
    tls: Option<Arc<rustls::ClientConfig>>,
    status: Arc<SocketStatus>,
}

/// Starts the connection loops as tracked tasks (in `state.tasks`); they end when `stop` is
/// cancelled. `status` is kept up to date for `/readyz`.
pub fn start(
    settings: SocketSettings,
    state: SlackState,
    status: Arc<SocketStatus>,
    stop: CancellationToken,
) {
    let connections = settings.connections.max(1);
    tracing::info!(
        connections,
        "Socket Mode: slash commands and clicks arrive over WebSocket connections to Slack"
    );
    let shared = Arc::new(Shared {
        settings,
        state,
        seen: Seen::default(),
        tls: {
            match crate::http::tls_config() {
                Ok(tls) => Some(tls),
                Err(e) => {
                    tracing::error!(error = %e, "Socket Mode: no TLS; wss:// URLs will fail");
                    None
                }
            }
        },
        status,
    });
    for n in 0..connections {
        let span = tracing::info_span!("socket_mode", slot = n);
        shared
            .state
            .tasks
            .spawn(keep_open(shared.clone(), stop.clone()).instrument(span));
    }
}

/// How a connection ended, as its loop learns it.
enum End {
    /// Slack asked for a new connection (`disconnect`); the old one is still draining.
    Refresh,
    /// Slack closed the link for good (`link_disabled`: Socket Mode was turned off for the
    /// app); trying again is useful only once someone turns it back on.
    Disabled,
    /// Closed, broken or silent; `hello` tells whether it had been working.
    Lost { hello: bool },
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One of the connections: open it, hand it to a session, and open the next one when the
/// session asks (at once) or ends (after a backoff when things keep failing).
async fn keep_open(shared: Arc<Shared>, stop: CancellationToken) {
    let mut failures: u32 = 0;
    let mut generation: u64 = 0;
    while !stop.is_cancelled() {
        let opened = tokio::select! {
            () = stop.cancelled() => return,
            opened = connect(&shared) => opened,
        };
        let end = match opened {
            Ok(socket) => {
                shared
                    .state
                    .metrics
                    .socket_connects
                    .get_or_create(&crate::metrics::OutcomeLabels { outcome: "ok" })
                    .inc();
                generation += 1;
                let (tx, rx) = oneshot::channel();
                let span = tracing::info_span!("connection", generation);
                shared
                    .state
                    .tasks
                    .spawn(session(socket, shared.clone(), tx, stop.clone()).instrument(span));
                rx.await.unwrap_or(End::Lost { hello: false })
            }
            Err(e) => {
                tracing::warn!(error = %e, failures = failures + 1, "Socket Mode: could not connect");
                shared
                    .state
                    .metrics
                    .socket_connects
                    .get_or_create(&crate::metrics::OutcomeLabels { outcome: "failed" })
                    .inc();
                shared.status.failed(e.to_string());
                End::Lost { hello: false }
            }
        };
        match end {
            End::Refresh => failures = 0,
            End::Disabled => {
                // Reconnecting at once would only be refused again; try now and then, so the
                // app comes back by itself once Socket Mode is turned on again.
                failures = failures.saturating_add(1);
                let wait = shared.settings.backoff_max;
                tracing::error!(
                    wait_ms = wait.as_millis() as u64,
                    "Socket Mode: {LINK_DISABLED}"
                );
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
            End::Lost { hello } => {
                failures = if hello { 1 } else { failures.saturating_add(1) };
                let wait = backoff(&shared.settings, failures);
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    "Socket Mode: reconnecting"
                );
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => {}
                }
            }
        }
    }
}

/// The wait before attempt `failures + 1`: exponential from `backoff_first`, capped, with
/// jitter (between half and all of it) so replicas don't reconnect in step.
fn backoff(settings: &SocketSettings, failures: u32) -> Duration {
    let exp = settings
        .backoff_first
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(settings.backoff_max);
    exp.mul_f64(0.5 + 0.5 * random_fraction())
}

/// A number in [0, 1), random enough for jitter (std's per-map random hash keys).
fn random_fraction() -> f64 {
    use std::hash::BuildHasher;
    let r = std::collections::hash_map::RandomState::new().hash_one(std::time::Instant::now());
    (r % 1_000_000) as f64 / 1_000_000.0
}

/// `apps.connections.open`, then the WebSocket handshake.
async fn connect(shared: &Shared) -> Result<Socket, OpenError> {
    let url = open(shared).await?;
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES));
    let connector = match &shared.tls {
        Some(tls) => Connector::Rustls(tls.clone()),
        None => Connector::Plain,
    };
    let handshake = tokio_tungstenite::connect_async_tls_with_config(
        url.as_str(),
        Some(config),
        true,
        Some(connector),
    );
    match tokio::time::timeout(CONNECT_TIMEOUT, handshake).await {
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(e)) => Err(OpenError::Handshake(redact::error_chain(&e))),
        Err(_) => Err(OpenError::Timeout),
    }
}

#[derive(Deserialize)]
struct Opened {
    ok: bool,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// Asks Slack for a WebSocket URL. See <https://api.slack.com/methods/apps.connections.open>.
async fn open(shared: &Shared) -> Result<String, OpenError> {
    open_with(&shared.settings, &shared.state.http).await
}

/// `apps.connections.open` alone, for `check`: proves the token and that Socket Mode is on for
/// the app, without connecting (the URL it answers is single-use and simply expires).
pub async fn probe(settings: &SocketSettings, http: &reqwest::Client) -> Result<(), OpenError> {
    open_with(settings, http).await.map(drop)
}

async fn open_with(settings: &SocketSettings, http: &reqwest::Client) -> Result<String, OpenError> {
    let call = http
        .post(format!("{}/apps.connections.open", settings.api_url))
        .bearer_auth(settings.token.0.expose_secret())
        .header("content-type", "application/x-www-form-urlencoded")
        .timeout(CONNECT_TIMEOUT)
        .send();
    let response = call
        .await
        .map_err(|e| OpenError::Transport(redact::error_chain(&e)))?;
    if !response.status().is_success() {
        return Err(OpenError::Status(response.status().as_u16()));
    }
    let opened: Opened = response
        .json()
        .await
        .map_err(|e| OpenError::Transport(redact::error_chain(&e)))?;
    if !opened.ok {
        return Err(OpenError::Slack(redact::excerpt(
            &opened.error.unwrap_or_default(),
            60,
        )));
    }
    opened
        .url
        .filter(|u| u.starts_with("wss://") || u.starts_with("ws://"))
        .ok_or(OpenError::NoUrl)
}

/// What a text frame asked of the session.
enum Next {
    Continue,
    Hello,
    Disconnect,
    /// `disconnect` with reason `link_disabled`.
    Disabled,
}

/// Reads one connection until it closes, goes silent, or the app stops; acknowledges each
/// envelope as it is handled. `ended` tells the loop when to open the next connection: at
/// `disconnect` (the old one keeps reading until Slack closes it), or when this one ends.
async fn session(
    mut socket: Socket,
    shared: Arc<Shared>,
    ended: oneshot::Sender<End>,
    stop: CancellationToken,
) {
    let stale_after = shared.settings.stale_after;
    let mut ended = Some(ended);
    let mut hello = false;
    let mut counted: Option<OpenConnection<'_>> = None;
    let mut last_frame = Instant::now();
    // After `disconnect`, the old connection gets this long to be closed by Slack.
    let mut retire_by: Option<Instant> = None;
    let mut ping = tokio::time::interval(stale_after / 3);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let why = loop {
        let deadline = retire_by.map_or(last_frame + stale_after, |r| {
            r.min(last_frame + stale_after)
        });
        tokio::select! {
            () = stop.cancelled() => {
                let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                break "shutting down";
            }
            () = tokio::time::sleep_until(deadline) => {
                if retire_by.is_some_and(|r| r <= Instant::now()) {
                    let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
                    break "retired after disconnect";
                }
                tracing::warn!(silent_for = ?stale_after, "Socket Mode: no frame from Slack; connection presumed dead");
                break "silent";
            }
            _ = ping.tick() => {
                if let Err(e) = socket.send(Frame::Ping(Default::default())).await {
                    tracing::warn!(error = %redact::error_chain(&e), "Socket Mode: ping failed");
                    break "ping failed";
                }
            }
            frame = socket.next() => {
                last_frame = Instant::now();
                match frame {
                    None => break "closed",
                    Some(Err(e)) => {
                        tracing::warn!(error = %redact::error_chain(&e), "Socket Mode: connection broken");
                        break "broken";
                    }
                    Some(Ok(Frame::Text(text))) => match envelope(&shared, &mut socket, text.as_str()).await {
                        Ok(Next::Continue) => {}
                        Ok(Next::Hello) => {
                            hello = true;
                            counted.get_or_insert_with(|| OpenConnection::new(&shared));
                        }
                        Ok(Next::Disconnect) => {
                            if let Some(tx) = ended.take() {
                                let _ = tx.send(End::Refresh);
                            }
                            retire_by.get_or_insert(Instant::now() + stale_after);
                        }
                        Ok(Next::Disabled) => {
                            shared.status.disabled.store(true, Ordering::Relaxed);
                            if let Some(tx) = ended.take() {
                                let _ = tx.send(End::Disabled);
                            }
                            retire_by.get_or_insert(Instant::now() + stale_after);
                        }
                        Err(e) => {
                            tracing::warn!(error = %redact::error_chain(&e), "Socket Mode: could not acknowledge");
                            break "broken";
                        }
                    },
                    // tungstenite queued the pong while reading; send it now, not with the
                    // next acknowledgement.
                    Some(Ok(Frame::Ping(_))) => {
                        if socket.flush().await.is_err() {
                            break "broken";
                        }
                    }
                    // Close: tungstenite answers it; the next read ends the stream.
                    Some(Ok(_)) => {}
                }
            }
        }
    };
    tracing::debug!(why, "Socket Mode: connection ended");
    drop(counted);
    if let Some(tx) = ended.take() {
        let _ = tx.send(End::Lost { hello });
    }
}

/// A Socket Mode message. See <https://api.slack.com/apis/socket-mode#events>.
#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    envelope_id: Option<String>,
    #[serde(default)]
    payload: Option<Value>,
    #[serde(default)]
    accepts_response_payload: bool,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    num_connections: Option<u64>,
    #[serde(default)]
    retry_attempt: Option<u64>,
}

/// Handles one text frame; acknowledges it when it is an envelope.
async fn envelope(
    shared: &Shared,
    socket: &mut Socket,
    text: &str,
) -> Result<Next, tokio_tungstenite::tungstenite::Error> {
    let envelope: Envelope = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "Socket Mode: unreadable message; ignored");
            return Ok(Next::Continue);
        }
    };
    let kind: &'static str = match envelope.kind.as_str() {
        "hello" => "hello",
        "disconnect" => "disconnect",
        "slash_commands" => "slash_commands",
        "interactive" => "interactive",
        "events_api" => "events_api",
        _ => "other",
    };
    shared
        .state
        .metrics
        .socket_envelopes
        .get_or_create(&crate::metrics::KindLabels { kind })
        .inc();
    match envelope.kind.as_str() {
        "hello" => {
            tracing::info!(
                num_connections = envelope.num_connections,
                "Socket Mode: connected"
            );
            return Ok(Next::Hello);
        }
        "disconnect" => {
            let reason = envelope.reason.as_deref().unwrap_or("unknown");
            if reason == "link_disabled" {
                return Ok(Next::Disabled);
            }
            tracing::info!(
                reason,
                "Socket Mode: Slack asked to reconnect; opening a new connection first"
            );
            return Ok(Next::Disconnect);
        }
        _ => {}
    }
    let Some(id) = envelope.envelope_id.clone() else {
        tracing::debug!(kind = %envelope.kind, "Socket Mode: message without an envelope id; ignored");
        return Ok(Next::Continue);
    };
    if let Some(ack) = shared.seen.claim(&id) {
        tracing::info!(kind = %envelope.kind, retry_attempt = envelope.retry_attempt, "Socket Mode: envelope already handled; acknowledged again");
        let ack = ack.map_or_else(|| plain_ack(&id), |a| a.to_string());
        socket.send(Frame::text(ack)).await?;
        return Ok(Next::Continue);
    }
    let ack = handle(shared, &id, envelope).await;
    shared.seen.acknowledged(&id, Arc::from(ack.as_str()));
    socket.send(Frame::text(ack)).await?;
    Ok(Next::Continue)
}

fn plain_ack(id: &str) -> String {
    json!({ "envelope_id": id }).to_string()
}

/// Runs an envelope through the same code as the HTTP routes; returns its acknowledgement.
async fn handle(shared: &Shared, id: &str, envelope: Envelope) -> String {
    let payload = envelope.payload.unwrap_or(Value::Null);
    match envelope.kind.as_str() {
        "slash_commands" => {
            let command = SlashCommandForm::from_json(payload)
                .map_err(|e| e.to_string())
                .and_then(|form| SlashCommand::try_from(form).map_err(|e| e.to_string()));
            let command = match command {
                Ok(command) => command,
                Err(e) => {
                    tracing::warn!(error = %e, "Socket Mode: refused: not a slash command");
                    return plain_ack(id);
                }
            };
            let response_url = command.response_url.clone();
            let message = super::commands::run(shared.state.clone(), command, chrono::Utc::now())
                .await
                .into_message();
            if envelope.accepts_response_payload {
                json!({ "envelope_id": id, "payload": message }).to_string()
            } else {
                // Not expected for slash commands; the immediate answer goes the other way.
                let state = shared.state.clone();
                shared.state.tasks.spawn(async move {
                    if let Err(e) = super::response_url::send(
                        &state.http,
                        &state.metrics,
                        &response_url,
                        &message,
                    )
                    .await
                    {
                        tracing::warn!(error = %e, "could not deliver the immediate answer");
                    }
                });
                plain_ack(id)
            }
        }
        "interactive" => {
            match Interaction::from_json(payload) {
                Ok(interaction) => super::interactions::act(&shared.state, interaction),
                Err(e) => tracing::warn!(error = %e, "Socket Mode: unreadable interaction payload"),
            }
            plain_ack(id)
        }
        "events_api" => {
            tracing::debug!("Socket Mode: an Events API event; acknowledged, not used");
            plain_ack(id)
        }
        other => {
            tracing::debug!(
                kind = other,
                "Socket Mode: an envelope type the app doesn't handle; acknowledged"
            );
            plain_ack(id)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_never_prints() {
        let token = AppToken::new("xapp-1-A0-123-secret");
        let settings = SocketSettings::new(token, "https://slack.com/api/");
        let shown = format!("{settings:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert_eq!(settings.api_url, "https://slack.com/api");
    }

    #[test]
    fn seen_ids_are_remembered_with_their_ack_and_bounded() {
        let seen = Seen::default();
        assert!(seen.claim("a").is_none());
        assert_eq!(seen.claim("a"), Some(None));
        seen.acknowledged("a", Arc::from("ack-a"));
        assert_eq!(seen.claim("a").flatten().as_deref(), Some("ack-a"));
        for n in 0..SEEN_CAPACITY {
            seen.claim(&n.to_string());
        }
        assert!(seen.claim("a").is_none(), "the oldest is forgotten");
        assert!(crate::sync::lock(&seen.inner).order.len() <= SEEN_CAPACITY);
    }

    #[test]
    fn backoff_grows_is_capped_and_jittered() {
        let s = SocketSettings::new(AppToken::new("xapp-x"), "http://x");
        for failures in 1..40 {
            let exp = BACKOFF_FIRST
                .saturating_mul(1 << (failures - 1).min(16))
                .min(BACKOFF_MAX);
            let wait = backoff(&s, failures);
            assert!(wait >= exp / 2 && wait <= exp, "{failures}: {wait:?}");
        }
    }

    #[test]
    fn an_auth_error_says_which_token() {
        let e = OpenError::Slack("invalid_auth".into()).to_string();
        assert!(e.contains("xapp-"), "{e}");
    }
}
