//! `POST /events` (an EventBridge API destination) and `POST /events/sns` (an SNS HTTPS
//! subscription): authenticate, parse, deliver, and answer so the sender retries exactly when
//! a retry can help. EventBridge retries 429, 5xx and time-outs for up to 24 hours and 185
//! attempts, and never other 4xx:
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html>.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::deliver::{Delivered, DeliveryError, Notifier};
use super::event::{self, Incoming};
use super::sns::{SnsError, SnsMessage, SnsVerifier};
use crate::metrics::Metrics;
use crate::redact::excerpt;
use crate::slack::web_api::ApiError;

/// Longest quote of the sender's input in an error body.
const MAX_QUOTED: usize = 200;
/// EventBridge's largest event.
pub const MAX_EVENT_BYTES: usize = 256 * 1024;
/// EventBridge waits 5 s for an answer; we keep the rest as margin for the network.
pub const DELIVERY_BUDGET: Duration = Duration::from_millis(4_000);
/// How soon to ask for a retry after a Slack configuration error: long enough not to spin,
/// short enough that events flow soon after someone fixes it.
const CONFIG_RETRY: Duration = Duration::from_secs(60);
/// A post that outlived the budget is usually done within seconds.
const STILL_POSTING_RETRY: Duration = Duration::from_secs(5);
/// A store outage (throttling, a timeout) is usually short.
const STORE_RETRY: Duration = Duration::from_secs(5);

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

/// What every notification route delivers with.
#[derive(Clone)]
pub struct Delivery {
    pub notifier: Arc<Notifier>,
    pub metrics: Metrics,
}

#[derive(Clone)]
struct EventsState {
    keys: Arc<ApiKeys>,
    delivery: Delivery,
}

#[derive(Clone)]
struct SnsState {
    verifier: Arc<SnsVerifier>,
    delivery: Delivery,
}

/// `POST /events` when there are API keys, `POST /events/sns` when there are SNS topics;
/// a route without its configuration is not mounted (404).
pub fn router(delivery: Delivery, keys: Option<ApiKeys>, sns: Option<Arc<SnsVerifier>>) -> Router {
    let mut router = Router::new();
    if let Some(keys) = keys {
        let state = EventsState {
            keys: Arc::new(keys),
            delivery: delivery.clone(),
        };
        router = router.merge(
            Router::new()
                .route(
                    "/events",
                    post(eventbridge).layer(DefaultBodyLimit::max(MAX_EVENT_BYTES)),
                )
                .with_state(state),
        );
    }
    if let Some(verifier) = sns {
        let state = SnsState { verifier, delivery };
        router = router.merge(
            Router::new()
                .route(
                    "/events/sns",
                    // The SNS envelope wraps the event as an escaped string: allow for the growth.
                    post(sns_message).layer(DefaultBodyLimit::max(2 * MAX_EVENT_BYTES)),
                )
                .with_state(state),
        );
    }
    router
}

/// Why an event was not delivered, and what its sender is told.
#[derive(Debug)]
pub enum EventError {
    /// No key, or a wrong one: 401.
    Unauthorized,
    /// Not an event we can read: 400 with the reason.
    Malformed(String),
    /// Refused or unverifiable SNS message.
    Sns(SnsError),
    /// Slack (or our pacing) said not now: 503 or 500 with `Retry-After`.
    NotDelivered { kind: String, error: DeliveryError },
}

impl IntoResponse for EventError {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthorized => reply(
                StatusCode::UNAUTHORIZED,
                json!({"error": "missing or wrong API key"}),
            ),
            Self::Malformed(why) => reply(
                StatusCode::BAD_REQUEST,
                json!({"error": excerpt(&why, MAX_QUOTED)}),
            ),
            Self::Sns(e) => e.into_response(),
            Self::NotDelivered { kind, error } => retry_later(&error, &kind),
        }
    }
}

/// The answer to an event that was handled.
pub struct Handled(pub serde_json::Value);

impl IntoResponse for Handled {
    fn into_response(self) -> Response {
        reply(StatusCode::OK, self.0)
    }
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

async fn eventbridge(
    State(state): State<EventsState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Handled, EventError> {
    if !state.keys.allows(&headers) {
        tracing::warn!("refused event: missing or wrong API key");
        return Err(EventError::Unauthorized);
    }
    state.delivery.handle(&body).await
}

async fn sns_message(State(state): State<SnsState>, body: Bytes) -> Result<Handled, EventError> {
    let message = state.verifier.verify(&body).await.map_err(|e| {
        tracing::warn!(error = %e, "refused SNS message");
        EventError::Sns(e)
    })?;
    match message {
        SnsMessage::Notification {
            message,
            message_id,
            ..
        } => {
            tracing::debug!(%message_id, "SNS notification");
            state.delivery.handle(message.as_bytes()).await
        }
        SnsMessage::SubscriptionConfirmation {
            topic_arn,
            subscribe_url,
        } => {
            state.verifier.confirm(&subscribe_url).await.map_err(|e| {
                tracing::error!(%topic_arn, error = %e, "could not confirm the SNS subscription");
                EventError::Sns(e)
            })?;
            tracing::info!(%topic_arn, "confirmed the SNS subscription");
            Ok(Handled(json!({"status": "confirmed"})))
        }
        SnsMessage::UnsubscribeConfirmation { topic_arn } => {
            tracing::warn!(%topic_arn, "SNS says this endpoint was unsubscribed");
            Ok(Handled(json!({"status": "noted"})))
        }
    }
}

impl Delivery {
    /// Parses an event and delivers it within the sender's budget. The same for every way
    /// an event arrives (API destination, SNS, the SQS queue).
    pub async fn handle(&self, body: &[u8]) -> Result<Handled, EventError> {
        let deadline = tokio::time::Instant::now() + DELIVERY_BUDGET;
        let received = match event::parse(body) {
            Ok(Incoming::Activity(r)) => r,
            Ok(Incoming::Unrelated(why)) => {
                self.metrics.event("none", "ignored");
                let total = self.metrics.events_count("none", "ignored");
                tracing::info!(%why, ignored_total = total, "event not ours to post");
                return Ok(Handled(json!({"status": "ignored", "reason": why})));
            }
            Err(e) => {
                self.metrics.event("none", "malformed");
                tracing::warn!(error = %e, "malformed event");
                return Err(EventError::Malformed(e.to_string()));
            }
        };
        let kind = received.activity.kind.label().to_owned();
        let metric_kind = received.activity.kind.metric_label();
        let agreement = received.activity.agreement_id.clone();
        match self.notifier.deliver(*received, deadline).await {
            Ok(delivered) => {
                let (status, ts) = match &delivered {
                    Delivered::Posted { ts, .. } => ("posted", Some(ts.as_str())),
                    Delivered::Updated { ts, .. } => ("updated", Some(ts.as_str())),
                    Delivered::Duplicate => ("duplicate", None),
                    Delivered::Recorded => ("recorded", None),
                };
                tracing::info!(%kind, agreement = ?agreement.as_ref().map(|a| a.as_str()), status, "event delivered");
                self.metrics.event(metric_kind, status);
                Ok(Handled(json!({"status": status, "ts": ts})))
            }
            Err(error) => {
                let rejected = matches!(error, DeliveryError::Slack(ApiError::Rejected(_)));
                self.metrics
                    .event(metric_kind, if rejected { "failed" } else { "retry_later" });
                Err(EventError::NotDelivered { kind, error })
            }
        }
    }
}

/// Answers so the sender retries: 503 with `Retry-After` for anything that will pass later,
/// 500 for a message Slack rejects (EventBridge still retries, then dead-letters it).
fn retry_later(e: &DeliveryError, kind: &str) -> Response {
    let (status, after) = retry_after(e, kind);
    let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    (
        status,
        [("retry-after", secs.max(1).to_string())],
        Json(json!({"error": e.to_string()})),
    )
        .into_response()
}

/// How the sender should retry a delivery that failed, and the log line that says why: 503
/// and a wait for anything that passes later, 500 for a message Slack rejects.
pub fn retry_after(e: &DeliveryError, kind: &str) -> (StatusCode, Duration) {
    match e {
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
        DeliveryError::Busy(d) => {
            tracing::info!(%kind, retry_after_ms = d.as_millis() as u64, "another delivery for this agreement is in progress; asked the sender to retry");
            (StatusCode::SERVICE_UNAVAILABLE, *d)
        }
        DeliveryError::StillPosting => (StatusCode::SERVICE_UNAVAILABLE, STILL_POSTING_RETRY),
        DeliveryError::Store(e) if e.is_retryable() => {
            tracing::warn!(%kind, error = %e, "the state store is unavailable; nothing posted, asked the sender to retry");
            (StatusCode::SERVICE_UNAVAILABLE, STORE_RETRY)
        }
        DeliveryError::Store(e) => {
            tracing::error!(%kind, error = %e, "the state store refused: {} Nothing was posted; the event will be delivered once this is fixed (EventBridge retries for 24 hours).", e.fix());
            (StatusCode::SERVICE_UNAVAILABLE, CONFIG_RETRY)
        }
    }
}
