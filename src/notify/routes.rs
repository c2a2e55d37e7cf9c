//! `POST /events` (an EventBridge API destination) and `POST /events/sns` (an SNS HTTPS
//! subscription): authenticate, parse, deliver, and answer so the sender retries exactly when
//! a retry can help (DOMAIN.md 4.2: EventBridge retries 429, 5xx and time-outs for 24 hours,
//! never other 4xx).

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::deliver::{Delivered, DeliveryError};
use super::event::{self, Incoming};
use super::sns::SnsMessage;
use crate::slack::web_api::ApiError;
use crate::startup::AppState;

/// EventBridge's largest event.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// EventBridge waits 5 s for an answer; we keep the rest as margin for the network.
pub const DELIVERY_BUDGET: Duration = Duration::from_millis(4_000);
/// How soon to ask for a retry after a Slack configuration error: long enough not to spin,
/// short enough that events flow soon after someone fixes it.
const CONFIG_RETRY: Duration = Duration::from_secs(60);

/// The API key(s) an EventBridge connection sends. Only SHA-256 digests are kept, and they are
/// compared in constant time, so neither the keys nor their lengths leak.
#[derive(Clone)]
pub struct ApiKeys {
    header: HeaderName,
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ApiKeys({}, [{} redacted])",
            self.header,
            self.digests.len()
        )
    }
}

impl ApiKeys {
    /// `None` when `keys` has no key (the route is then not served).
    pub fn parse(
        keys: &str,
        header: &str,
    ) -> Result<Option<Self>, axum::http::header::InvalidHeaderName> {
        let digests: Vec<[u8; 32]> = keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| Sha256::digest(k.as_bytes()).into())
            .collect();
        if digests.is_empty() {
            return Ok(None);
        }
        let header = HeaderName::try_from(header.trim())?;
        Ok(Some(Self { header, digests }))
    }

    pub fn header(&self) -> &HeaderName {
        &self.header
    }

    fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers.get(&self.header) else {
            return false;
        };
        let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
        // Check every key (no early exit), so timing doesn't tell which one matched.
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |acc, d| acc | d.ct_eq(&given))
            .into()
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

pub async fn eventbridge(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(keys) = &state.events_keys else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !keys.allows(&headers) {
        tracing::warn!("refused event: missing or wrong API key");
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({"error": "missing or wrong API key"}),
        );
    }
    handle_event(&state, &body).await
}

pub async fn sns(State(state): State<AppState>, body: Bytes) -> Response {
    let Some(verifier) = &state.sns else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let message = match verifier.verify(&body).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "refused SNS message");
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            return reply(status, json!({"error": e.to_string()}));
        }
    };
    match message {
        SnsMessage::Notification {
            message,
            message_id,
            ..
        } => {
            tracing::debug!(%message_id, "SNS notification");
            handle_event(&state, message.as_bytes()).await
        }
        SnsMessage::SubscriptionConfirmation {
            topic_arn,
            subscribe_url,
        } => match verifier.confirm(&subscribe_url).await {
            Ok(()) => {
                tracing::info!(%topic_arn, "confirmed the SNS subscription");
                reply(StatusCode::OK, json!({"status": "confirmed"}))
            }
            Err(e) => {
                tracing::error!(%topic_arn, error = %e, "could not confirm the SNS subscription");
                let status =
                    StatusCode::from_u16(e.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                reply(status, json!({"error": e.to_string()}))
            }
        },
        SnsMessage::UnsubscribeConfirmation { topic_arn } => {
            tracing::warn!(%topic_arn, "SNS says this endpoint was unsubscribed");
            reply(StatusCode::OK, json!({"status": "noted"}))
        }
    }
}

async fn handle_event(state: &AppState, body: &[u8]) -> Response {
    let Some(notifier) = &state.notifier else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let deadline = tokio::time::Instant::now() + DELIVERY_BUDGET;
    let received = match event::parse(body) {
        Ok(Incoming::Activity(r)) => r,
        Ok(Incoming::Unrelated(why)) => {
            state.metrics.event("none", "ignored");
            let total = state.metrics.events_count("none", "ignored");
            tracing::info!(%why, ignored_total = total, "event not ours to post");
            return reply(StatusCode::OK, json!({"status": "ignored", "reason": why}));
        }
        Err(e) => {
            state.metrics.event("none", "malformed");
            tracing::warn!(error = %e, "malformed event");
            return reply(StatusCode::BAD_REQUEST, json!({"error": e.to_string()}));
        }
    };
    let kind = received.activity.kind.label().to_owned();
    let agreement = received.activity.agreement_id.clone();
    match notifier.deliver(*received, deadline).await {
        Ok(delivered) => {
            let (status, ts) = match &delivered {
                Delivered::Posted { ts, .. } => ("posted", Some(ts.as_str())),
                Delivered::Updated { ts, .. } => ("updated", Some(ts.as_str())),
                Delivered::Duplicate => ("duplicate", None),
                Delivered::Recorded => ("recorded", None),
            };
            tracing::info!(%kind, agreement = ?agreement.as_ref().map(|a| a.as_str()), status, "event delivered");
            state.metrics.event(&kind, status);
            reply(StatusCode::OK, json!({"status": status, "ts": ts}))
        }
        Err(e) => {
            let rejected = matches!(e, DeliveryError::Slack(ApiError::Rejected(_)));
            state
                .metrics
                .event(&kind, if rejected { "failed" } else { "retry_later" });
            retry_later(&e, &kind)
        }
    }
}

/// Answers so the sender retries: 503 with `Retry-After` for anything that will pass later,
/// 500 for a message Slack rejects (EventBridge still retries, then dead-letters it).
fn retry_later(e: &DeliveryError, kind: &str) -> Response {
    let (status, after) = match e {
        DeliveryError::RetryAfter(d) | DeliveryError::Slack(ApiError::RateLimited(d)) => {
            tracing::warn!(%kind, retry_after_ms = d.as_millis() as u64, "Slack is rate limiting this channel; asked the sender to retry");
            (StatusCode::SERVICE_UNAVAILABLE, *d)
        }
        DeliveryError::Slack(ApiError::Config { error, fix }) => {
            tracing::error!(%kind, slack_error = %error, "Slack refused the post: {fix} The event will be delivered once this is fixed (EventBridge retries for 24 hours).");
            (StatusCode::SERVICE_UNAVAILABLE, CONFIG_RETRY)
        }
        DeliveryError::Slack(ApiError::Transient(why)) => {
            tracing::warn!(%kind, %why, "Slack unavailable; asked the sender to retry");
            (StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(5))
        }
        DeliveryError::Slack(ApiError::Rejected(why)) => {
            tracing::error!(%kind, slack_error = %why, "Slack rejected the message; this is a bug in marketplace-activity, please report it");
            (StatusCode::INTERNAL_SERVER_ERROR, Duration::from_secs(60))
        }
    };
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    (
        status,
        [("retry-after", secs.max(1).to_string())],
        Json(json!({"error": e.to_string()})),
    )
        .into_response()
}
