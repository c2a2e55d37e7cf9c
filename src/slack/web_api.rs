//! Slack's Web API, the calls the app makes: `chat.postMessage`, `chat.update`, the two-step
//! file upload and `auth.test`. One attempt per call; the caller decides about retries
//! ([`super::retry`]), because only it knows how much of its sender's deadline is left.
//! Errors: <https://api.slack.com/methods/chat.postMessage#errors>.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use super::blocks::Block;
use crate::metrics::Metrics;

/// A bot token. `Debug` never shows it.
#[derive(Clone)]
pub struct BotToken(SecretString);

impl BotToken {
    pub fn new(token: &str) -> Self {
        Self(SecretString::from(token.to_owned()))
    }
}

impl std::fmt::Debug for BotToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BotToken([redacted])")
    }
}

#[derive(Clone, Debug)]
pub struct SlackApi {
    http: reqwest::Client,
    base_url: String,
    token: BotToken,
    metrics: Metrics,
}

/// A message for a channel (or a thread in it).
#[derive(Debug, Clone, Serialize)]
pub struct ChannelMessage {
    pub channel: String,
    pub text: String,
    pub blocks: Vec<Block>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_ts: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reply_broadcast: bool,
    pub unfurl_links: bool,
    pub unfurl_media: bool,
}

impl ChannelMessage {
    /// A top-level message; links and media are not unfurled (a notification's link is a
    /// button, and previews would crowd the channel).
    pub fn new(channel: &str, text: String, blocks: Vec<Block>) -> Self {
        Self {
            channel: channel.to_owned(),
            text,
            blocks,
            thread_ts: None,
            reply_broadcast: false,
            unfurl_links: false,
            unfurl_media: false,
        }
    }

    /// The same message as a reply in the thread `thread_ts`, when there is one; `broadcast`
    /// also shows the reply in the channel.
    pub fn in_thread(self, thread_ts: Option<String>, broadcast: bool) -> Self {
        Self {
            reply_broadcast: thread_ts.is_some() && broadcast,
            thread_ts,
            ..self
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// Why Slack did not take a call, sorted by what to do about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// HTTP 429 (or `ratelimited`): try again after this long.
    #[error("rate limited by Slack (retry after {0:?})")]
    RateLimited(Duration),
    /// The app's setup is wrong; retrying only helps once someone fixes it.
    #[error("Slack refused: {error}. {fix}")]
    Config { error: String, fix: &'static str },
    /// Slack or the network failed; worth retrying.
    #[error("Slack unavailable: {0}")]
    Transient(String),
    /// Slack rejected this message itself (e.g. `invalid_blocks`).
    #[error("Slack rejected the message: {0}")]
    Rejected(String),
}

/// What to fix for each configuration error, for the one ERROR line the operator reads.
fn config_fix(error: &str) -> Option<&'static str> {
    Some(match error {
        "channel_not_found" => "Check SLACK_CHANNEL (and the per-kind channels): use a channel ID like C0123ABCD, and make sure the channel exists.",
        "not_in_channel" => "Invite the bot to the channel (/invite @Marketplace Activity), or add the chat:write.public scope for public channels.",
        "is_archived" => "The channel is archived: unarchive it or point SLACK_CHANNEL elsewhere.",
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive" => {
            "SLACK_BOT_TOKEN is not valid: reinstall the app and set the Bot User OAuth Token (xoxb-…)."
        }
        "missing_scope" | "not_allowed_token_type" => "The token lacks a scope: add chat:write (and files:write for CSV exports) to the app's bot scopes and reinstall it.",
        "restricted_action" => "The workspace restricts posting in that channel: allow the app or choose another channel.",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct Reply {
    ok: bool,
    error: Option<String>,
    channel: Option<String>,
    ts: Option<String>,
    upload_url: Option<String>,
    file_id: Option<String>,
}

/// How a call's arguments are sent: JSON for most methods; a form for the files methods,
/// which don't take JSON.
enum Body<'a> {
    Json(serde_json::Value),
    Form(&'a [(&'a str, &'a str)]),
}

impl SlackApi {
    pub fn new(http: reqwest::Client, base_url: &str, token: BotToken, metrics: Metrics) -> Self {
        Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            token,
            metrics,
        }
    }

    pub async fn post_message(
        &self,
        message: &ChannelMessage,
        timeout: Duration,
    ) -> Result<Posted, ApiError> {
        let reply = self.call("chat.postMessage", message, timeout).await?;
        match reply.ts {
            Some(ts) => Ok(Posted {
                channel: reply.channel.unwrap_or_else(|| message.channel.clone()),
                ts,
            }),
            None => Err(ApiError::Transient(
                "chat.postMessage answered ok without ts".into(),
            )),
        }
    }

    /// Replaces a message's content (`chat.update`).
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &[Block],
        timeout: Duration,
    ) -> Result<(), ApiError> {
        #[derive(Serialize)]
        struct Update<'a> {
            channel: &'a str,
            ts: &'a str,
            text: &'a str,
            blocks: &'a [Block],
        }
        self.call(
            "chat.update",
            &Update {
                channel,
                ts,
                text,
                blocks,
            },
            timeout,
        )
        .await
        .map(drop)
    }

    /// Uploads `bytes` as a file to `channel` with Slack's two-step flow:
    /// `files.getUploadURLExternal`, the bytes to the URL it returns, then
    /// `files.completeUploadExternal` (scope `files:write`).
    pub async fn upload_file(
        &self,
        channel: &str,
        filename: &str,
        title: &str,
        comment: &str,
        bytes: Vec<u8>,
        timeout: Duration,
    ) -> Result<(), ApiError> {
        let length = bytes.len().to_string();
        let reply = self
            .call_form(
                "files.getUploadURLExternal",
                &[("filename", filename), ("length", &length)],
                timeout,
            )
            .await?;
        let (Some(url), Some(file_id)) = (reply.upload_url, reply.file_id) else {
            return Err(ApiError::Transient(
                "files.getUploadURLExternal answered without upload_url".into(),
            ));
        };
        let sent = self
            .http
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ApiError::Transient(crate::redact::error_chain(&e)))?;
        if !sent.status().is_success() {
            self.metrics.slack_call("file_upload", "transient");
            return Err(ApiError::Transient(format!(
                "file upload answered HTTP {}",
                sent.status()
            )));
        }
        self.metrics.slack_call("file_upload", "ok");
        let files = serde_json::json!([{ "id": file_id, "title": title }]).to_string();
        self.call_form(
            "files.completeUploadExternal",
            &[
                ("files", &files),
                ("channel_id", channel),
                ("initial_comment", comment),
            ],
            timeout,
        )
        .await
        .map(drop)
    }

    /// Checks the token (`auth.test`).
    pub async fn auth_test(&self, timeout: Duration) -> Result<(), ApiError> {
        self.call("auth.test", &serde_json::json!({}), timeout)
            .await
            .map(drop)
    }

    async fn call<B: Serialize + ?Sized>(
        &self,
        method: &'static str,
        body: &B,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let body = serde_json::to_value(body).map_err(|e| ApiError::Rejected(e.to_string()))?;
        self.call_with(method, Body::Json(body), timeout).await
    }

    async fn call_form(
        &self,
        method: &'static str,
        form: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        self.call_with(method, Body::Form(form), timeout).await
    }

    async fn call_with(
        &self,
        method: &'static str,
        body: Body<'_>,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let result = self.call_once(method, body, timeout).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ApiError::RateLimited(_)) => "rate_limited",
            Err(ApiError::Config { .. }) => "config_error",
            Err(ApiError::Transient(_)) => "transient",
            Err(ApiError::Rejected(_)) => "rejected",
        };
        self.metrics.slack_call(method, outcome);
        result
    }

    async fn call_once(
        &self,
        method: &str,
        body: Body<'_>,
        timeout: Duration,
    ) -> Result<Reply, ApiError> {
        let request = self
            .http
            .post(format!("{}/{method}", self.base_url))
            .bearer_auth(self.token.0.expose_secret())
            .timeout(timeout);
        let request = match body {
            Body::Json(v) => request.json(&v),
            Body::Form(f) => request.form(f),
        };
        let resp = request
            .send()
            .await
            .map_err(|e| ApiError::Transient(crate::redact::error_chain(&e)))?;
        let status = resp.status();
        let retry_after = retry_after(resp.headers());
        if status.as_u16() == 429 {
            return Err(ApiError::RateLimited(
                retry_after.unwrap_or(Duration::from_secs(1)),
            ));
        }
        if status.is_server_error() {
            return Err(ApiError::Transient(format!("HTTP {status}")));
        }
        let reply: Reply = match resp.json().await {
            Ok(r) => r,
            Err(e) => {
                return Err(ApiError::Transient(format!(
                    "HTTP {status}, unreadable body: {}",
                    crate::redact::error_chain(&e)
                )))
            }
        };
        if reply.ok {
            return Ok(reply);
        }
        let error = reply.error.unwrap_or_else(|| "unknown_error".into());
        Err(match error.as_str() {
            "ratelimited" | "rate_limited" => {
                ApiError::RateLimited(retry_after.unwrap_or(Duration::from_secs(1)))
            }
            "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" => {
                ApiError::Transient(error)
            }
            e => match config_fix(e) {
                Some(fix) => ApiError::Config { error, fix },
                None => ApiError::Rejected(error),
            },
        })
    }
}

/// Slack's `Retry-After` (seconds), when a response has one.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}
