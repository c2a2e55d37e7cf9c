//! [`SlackRequest`]: the extractor in front of every Slack route. It reads the raw body,
//! checks Slack's signature on those bytes before anything parses them, then checks that the
//! body is a form. A handler that takes a `SlackRequest` only ever sees verified bytes.
//! See <https://api.slack.com/authentication/verifying-requests-from-slack>.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use std::sync::Arc;

use prometheus_client::metrics::counter::Counter;

use super::signature::SigningSecrets;

/// What the extractor checks with: the signing secrets, the signatures already accepted, and
/// the counter of refusals. Cheap to clone (reference counts), since it is taken from the
/// state on every request.
#[derive(Clone)]
pub struct Verifier {
    pub secrets: Arc<SigningSecrets>,
    pub seen: Arc<Replays>,
    pub failures: Counter,
}

/// Signatures accepted within the signature window. Slack never sends a request twice (a slash
/// command or a click is not retried), so a second delivery of an accepted signature is a
/// replay: a captured request sent again. Kept per replica, in memory; bounded, dropping the
/// oldest first, so a flood can't grow it (past the bound, a replay older than the newest
/// [`Replays::CAPACITY`] requests is no longer caught, though still refused after the window).
/// See <https://api.slack.com/authentication/verifying-requests-from-slack>.
#[derive(Default)]
pub struct Replays {
    inner: std::sync::Mutex<ReplaysInner>,
}

#[derive(Default)]
struct ReplaysInner {
    set: std::collections::HashSet<[u8; 32]>,
    order: std::collections::VecDeque<([u8; 32], i64)>,
}

impl Replays {
    pub const CAPACITY: usize = 100_000;

    /// Records `signature` (accepted at `now`); false when it was accepted before.
    fn first_time(&self, signature: &[u8], now: i64) -> bool {
        use sha2::Digest;
        let key: [u8; 32] = sha2::Sha256::digest(signature).into();
        let mut inner = crate::sync::lock(&self.inner);
        // Forget what the signature window would refuse anyway.
        while let Some((old, at)) = inner.order.front().copied() {
            if at >= now - super::signature::MAX_SKEW_SECS * 2 && inner.order.len() < Self::CAPACITY
            {
                break;
            }
            inner.order.pop_front();
            inner.set.remove(&old);
        }
        if !inner.set.insert(key) {
            return false;
        }
        inner.order.push_back((key, now));
        true
    }
}

/// A request Slack signed, with its body as a form.
#[derive(Debug)]
pub struct SlackRequest {
    pub body: Bytes,
    /// When it was verified; the command's window is pinned to this time.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// Why a request was refused before its handler ran.
#[derive(Debug)]
pub enum Refused {
    /// The body could not be read (too large: 413; otherwise 400).
    Body(Response),
    Signature,
    NotAForm,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::Body(response) => response,
            Self::Signature => (StatusCode::UNAUTHORIZED, "invalid signature").into_response(),
            Self::NotAForm => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected application/x-www-form-urlencoded",
            )
                .into_response(),
        }
    }
}

impl<S> FromRequest<S> for SlackRequest
where
    S: Send + Sync,
    Verifier: FromRef<S>,
{
    type Rejection = Refused;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let headers = request.headers();
        // Kept past the body read; a header value shares the request's buffer, so no copy.
        let (timestamp, signature) = (
            headers.get("x-slack-request-timestamp").cloned(),
            headers.get("x-slack-signature").cloned(),
        );
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|ct| ct.split(';').next())
            .is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|e| Refused::Body(e.into_response()))?;
        let now = chrono::Utc::now();
        let verifier = Verifier::from_ref(state);
        let timestamp = timestamp.as_ref().map(header::HeaderValue::as_bytes);
        let signature = signature.as_ref().map(header::HeaderValue::as_bytes);
        if let Err(reason) = verifier
            .secrets
            .verify(timestamp, signature, &body, now.timestamp())
        {
            verifier.failures.inc();
            tracing::warn!(%reason, "refused slash command: bad signature");
            return Err(Refused::Signature);
        }
        if !verifier
            .seen
            .first_time(signature.unwrap_or_default(), now.timestamp())
        {
            verifier.failures.inc();
            tracing::warn!("refused Slack request: a replay of a request already accepted");
            return Err(Refused::Signature);
        }
        if !form {
            return Err(Refused::NotAForm);
        }
        Ok(Self {
            body,
            received_at: now,
        })
    }
}
