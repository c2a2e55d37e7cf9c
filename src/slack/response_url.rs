//! Delivering an answer to a slash command's `response_url`. The URL lets anyone post into the
//! conversation for 30 minutes, so it is a secret: [`ResponseUrl`] never prints it.
//! See <https://api.slack.com/interactivity/handling#message_responses>.

use std::time::Duration;

use super::blocks::Message;
use super::retry::Retry;
use crate::metrics::Metrics;

/// Slack accepts up to 5 posts per `response_url`; we use at most this many for one answer.
const ATTEMPTS: u32 = 3;
/// The posts Slack accepts per `response_url`
/// (<https://api.slack.com/interactivity/handling#message_responses>).
pub const USES: u32 = 5;
/// Longest we wait between attempts, even if Slack asks for more.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// A checked `response_url` (http or https). `Debug` hides it.
#[derive(Clone)]
pub struct ResponseUrl(reqwest::Url);

impl ResponseUrl {
    pub fn parse(raw: &str) -> Option<Self> {
        let url = reqwest::Url::parse(raw).ok()?;
        matches!(url.scheme(), "https" | "http").then_some(Self(url))
    }
}

impl std::fmt::Debug for ResponseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResponseUrl([redacted])")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error("Slack answered {status}: {body}")]
    Rejected {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    #[error("could not reach response_url: {0}")]
    Transport(String),
}

/// POSTs `message` to `url`, retrying network errors, 429 (after `Retry-After`) and 5xx.
pub async fn send(
    http: &reqwest::Client,
    metrics: &Metrics,
    url: &ResponseUrl,
    message: &Message,
) -> Result<(), ResponseError> {
    send_within(http, metrics, url, message, ATTEMPTS).await
}

/// One post, no retry: for progress, which the next update or the answer makes good.
pub async fn send_once(
    http: &reqwest::Client,
    metrics: &Metrics,
    url: &ResponseUrl,
    message: &Message,
) -> Result<(), ResponseError> {
    let result = post(http, url, message).await;
    metrics.slack_call(
        "response_url",
        if result.is_ok() { "ok" } else { "transient" },
    );
    result
}

/// [`send`] in at most `attempts` posts (what is left of the URL's uses).
pub async fn send_within(
    http: &reqwest::Client,
    metrics: &Metrics,
    url: &ResponseUrl,
    message: &Message,
    attempts: u32,
) -> Result<(), ResponseError> {
    let result = Retry::attempts(attempts.clamp(1, ATTEMPTS))
        .max_wait(MAX_WAIT)
        .run(
            || post(http, url, message),
            |err, attempt| match err {
                ResponseError::Rejected {
                    status,
                    retry_after,
                    ..
                } if *status >= 500 || *status == 429 => Some(retry_after.unwrap_or(backoff(attempt))),
                ResponseError::Rejected { .. } => None,
                ResponseError::Transport(_) => Some(backoff(attempt)),
            },
            |err, wait| tracing::warn!(error = %err, wait_ms = wait.as_millis() as u64, "response_url post failed; retrying"),
        )
        .await;
    metrics.slack_call(
        "response_url",
        if result.is_ok() { "ok" } else { "transient" },
    );
    result
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 * 2u64.pow(attempt))
}

async fn post(
    http: &reqwest::Client,
    url: &ResponseUrl,
    message: &Message,
) -> Result<(), ResponseError> {
    let resp = http
        .post(url.0.clone())
        .json(message)
        .send()
        .await
        // reqwest's message names the URL, a secret here: keep only what went wrong.
        .map_err(|e| ResponseError::Transport(crate::redact::error_chain(&e)))?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let retry_after = super::web_api::retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    Err(ResponseError::Rejected {
        status: status.as_u16(),
        body: body.chars().take(200).collect(),
        retry_after,
    })
}
