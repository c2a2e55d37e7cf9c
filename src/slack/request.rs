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

use super::signature::{Signature, SigningSecrets};

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
///
/// Keyed by the signature's bytes ([`Signature`], the MAC that matched), so a replay is caught
/// however its headers are spelled. Split in [`Replays::SHARDS`] parts by one byte of the MAC,
/// each with its own lock and its share of the capacity (oldest first within a part), so
/// requests on different threads seldom wait for each other; the MAC is uniformly
/// distributed, so the parts fill evenly. It is also its own hash ([`MacHash`]): an attacker
/// can't choose it without the signing secret, so it can't be used to collide entries.
pub struct Replays {
    shards: [std::sync::Mutex<Shard>; Self::SHARDS],
}

impl Default for Replays {
    fn default() -> Self {
        Self {
            shards: std::array::from_fn(|_| std::sync::Mutex::default()),
        }
    }
}

#[derive(Default)]
struct Shard {
    set: std::collections::HashSet<Signature, std::hash::BuildHasherDefault<MacHash>>,
    order: std::collections::VecDeque<(Signature, i64)>,
}

impl std::hash::Hash for Signature {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// The hasher for [`Signature`]s: their first 8 bytes, as they are (see [`Replays`]).
#[derive(Default)]
struct MacHash(u64);

impl std::hash::Hasher for MacHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (Signature's Hash); anything else is folded in all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
}

impl Replays {
    pub const CAPACITY: usize = 100_000;
    pub const SHARDS: usize = 16;

    /// Records `signature` (accepted at `now`); false when it was accepted before.
    pub fn first_time(&self, signature: Signature, now: i64) -> bool {
        let shard = &self.shards[usize::from(signature.0[31]) % Self::SHARDS];
        let mut shard = crate::sync::lock(shard);
        // Forget what the signature window would refuse anyway.
        while let Some((old, at)) = shard.order.front().copied() {
            if at >= now - super::signature::MAX_SKEW_SECS * 2
                && shard.order.len() < Self::CAPACITY / Self::SHARDS
            {
                break;
            }
            shard.order.pop_front();
            shard.set.remove(&old);
        }
        if !shard.set.insert(signature) {
            return false;
        }
        shard.order.push_back((signature, now));
        true
    }
}

/// A request Slack signed, with its body (at most `MAX` bytes, the route's limit) as a form.
#[derive(Debug)]
pub struct SlackRequest<const MAX: usize> {
    pub body: Bytes,
    /// When it was verified; the command's window is pinned to this time.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// Why a request was refused before its handler ran.
#[derive(Debug)]
pub enum Refused {
    /// The body is larger than the route takes (413).
    TooLarge,
    /// The body could not be read: the connection failed or the body was late (400; the body
    /// deadline turns the late one into a 408, `server::BodyDeadline`).
    Unreadable,
    Signature,
    NotAForm,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::TooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response()
            }
            Self::Unreadable => (
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            )
                .into_response(),
            Self::Signature => (StatusCode::UNAUTHORIZED, "invalid signature").into_response(),
            Self::NotAForm => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected application/x-www-form-urlencoded",
            )
                .into_response(),
        }
    }
}

/// The whole body, refused past `max` bytes. A body that came in one piece (most do) is kept
/// as it came, without a copy. The route's limit is read here rather than set with axum's
/// `DefaultBodyLimit` layer, which wraps the route in one more boxed service per request.
async fn read_body(body: axum::body::Body, max: usize) -> Result<Bytes, Refused> {
    use futures_util::StreamExt as _;
    let mut chunks = body.into_data_stream();
    let mut first: Option<Bytes> = None;
    let mut joined: Option<Vec<u8>> = None;
    let mut size = 0;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| Refused::Unreadable)?;
        size += chunk.len();
        if size > max {
            return Err(Refused::TooLarge);
        }
        match (&first, &mut joined) {
            (None, _) => first = Some(chunk),
            (Some(first), None) => {
                let mut all = Vec::with_capacity(size);
                all.extend_from_slice(first);
                all.extend_from_slice(&chunk);
                joined = Some(all);
            }
            (Some(_), Some(all)) => all.extend_from_slice(&chunk),
        }
    }
    Ok(joined.map(Bytes::from).or(first).unwrap_or_default())
}

impl<S, const MAX: usize> FromRequest<S> for SlackRequest<MAX>
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
        let body = read_body(request.into_body(), MAX).await?;
        let now = chrono::Utc::now();
        let verifier = Verifier::from_ref(state);
        let timestamp = timestamp.as_ref().map(header::HeaderValue::as_bytes);
        let signature = signature.as_ref().map(header::HeaderValue::as_bytes);
        let signature = match verifier
            .secrets
            .verify(timestamp, signature, &body, now.timestamp())
        {
            Ok(signature) => signature,
            Err(reason) => {
                verifier.failures.inc();
                tracing::warn!(%reason, "refused slash command: bad signature");
                return Err(Refused::Signature);
            }
        };
        if !verifier.seen.first_time(signature, now.timestamp()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(chunks: &[&'static str]) -> axum::body::Body {
        let chunks: Vec<Result<Bytes, std::io::Error>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect();
        axum::body::Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[tokio::test]
    async fn a_body_is_read_whole_in_one_piece_or_several_and_refused_past_its_limit() {
        let one = read_body(axum::body::Body::from("text=help"), 9)
            .await
            .unwrap();
        assert_eq!(one, "text=help");
        let three = read_body(chunked(&["text", "=", "help"]), 9).await.unwrap();
        assert_eq!(three, "text=help");
        assert_eq!(read_body(chunked(&[]), 9).await.unwrap(), "");
        assert!(matches!(
            read_body(axum::body::Body::from("text=help!"), 9).await,
            Err(Refused::TooLarge)
        ));
        assert!(matches!(
            read_body(chunked(&["text=", "help!"]), 9).await,
            Err(Refused::TooLarge)
        ));
        let failing = axum::body::Body::from_stream(futures_util::stream::iter(vec![
            Ok(Bytes::from_static(b"text=")),
            Err(std::io::Error::other("connection reset")),
        ]));
        assert!(matches!(
            read_body(failing, 9).await,
            Err(Refused::Unreadable)
        ));
    }

    /// Distinct signatures, spread over every shard as MACs are.
    fn signature(n: u32) -> Signature {
        use sha2::Digest;
        Signature(sha2::Sha256::digest(n.to_le_bytes()).into())
    }

    #[test]
    fn a_signature_is_accepted_once() {
        let seen = Replays::default();
        assert!(seen.first_time(signature(1), 1_000));
        assert!(seen.first_time(signature(2), 1_000));
        assert!(!seen.first_time(signature(1), 1_000));
        assert!(!seen.first_time(signature(1), 1_001));
    }

    #[test]
    fn the_window_and_the_capacity_bound_what_is_kept() {
        let seen = Replays::default();
        let now = 1_000_000;
        assert!(seen.first_time(signature(0), now));
        // Past twice the signature window it is forgotten (the window refuses it anyway).
        let later = now + 2 * super::super::signature::MAX_SKEW_SECS + 1;
        for n in 1..=Replays::SHARDS as u32 * 4 {
            assert!(seen.first_time(signature(n), later));
        }
        assert!(
            seen.first_time(signature(0), later),
            "forgotten after the window"
        );

        // A flood within the window: at most CAPACITY kept, the oldest dropped first.
        let seen = Replays::default();
        let flood = Replays::CAPACITY as u32 * 2;
        for n in 0..flood {
            assert!(seen.first_time(signature(n), now));
        }
        let kept: usize = seen
            .shards
            .iter()
            .map(|s| crate::sync::lock(s).set.len())
            .sum();
        assert!(
            kept <= Replays::CAPACITY && kept > Replays::CAPACITY * 9 / 10,
            "{kept}"
        );
        assert!(
            !seen.first_time(signature(flood - 1), now),
            "the newest is kept"
        );
        assert!(seen.first_time(signature(0), now), "the oldest was dropped");
    }
}
