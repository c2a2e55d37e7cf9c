//! Delivering an answer to a slash command's `response_url`.

use std::time::Duration;

use super::blocks::Message;
use crate::metrics::Metrics;

/// Slack accepts up to 5 posts per `response_url`; we use at most this many for one answer.
const ATTEMPTS: u32 = 3;
/// Longest we wait between attempts, even if Slack asks for more.
const MAX_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ResponseError {
    #[error("response_url is not an http(s) URL")]
    BadUrl,
    #[error("Slack answered {status}: {body}")]
    Rejected { status: u16, body: String },
    #[error("could not reach response_url: {0}")]
    Transport(#[from] reqwest::Error),
}

/// POSTs `message` to `url`, retrying network errors, 429 (after `Retry-After`) and 5xx.
pub async fn send(
    http: &reqwest::Client,
    metrics: &Metrics,
    url: &str,
    message: &Message,
) -> Result<(), ResponseError> {
    let result = send_with_retries(http, url, message).await;
    metrics.slack_call(
        "response_url",
        if result.is_ok() { "ok" } else { "transient" },
    );
    result
}

async fn send_with_retries(
    http: &reqwest::Client,
    url: &str,
    message: &Message,
) -> Result<(), ResponseError> {
    let parsed = reqwest::Url::parse(url).map_err(|_| ResponseError::BadUrl)?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(ResponseError::BadUrl);
    }
    let mut attempt = 1;
    loop {
        let result = http.post(parsed.clone()).json(message).send().await;
        let (retry_after, err) = match result {
            Ok(resp) if resp.status().is_success() => return Ok(()),
            Ok(resp) => {
                let status = resp.status();
                let wait = super::web_api::retry_after(resp.headers());
                let body = resp.text().await.unwrap_or_default();
                let err = ResponseError::Rejected {
                    status: status.as_u16(),
                    body: body.chars().take(200).collect(),
                };
                if !(status.is_server_error() || status.as_u16() == 429) {
                    return Err(err);
                }
                (wait, err)
            }
            Err(e) => (None, ResponseError::Transport(e)),
        };
        if attempt >= ATTEMPTS {
            return Err(err);
        }
        let wait = retry_after.unwrap_or(Duration::from_millis(250 * 2u64.pow(attempt)));
        tracing::warn!(attempt, error = %err, wait_ms = wait.as_millis() as u64, "response_url post failed; retrying");
        tokio::time::sleep(wait.min(MAX_WAIT)).await;
        attempt += 1;
    }
}
