//! Amazon SNS HTTPS subscriptions: proving that a POSTed message was signed by SNS, for a topic
//! we accept, before anything trusts what it carries.
//! See <https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>.
//!
//! SNS signs each message with an RSA key and names the certificate for that key in the message
//! itself (`SigningCertURL`). Anyone can POST a message naming any URL, so the URL is checked
//! before it is fetched ([`CertUrlRule`]), and the fetched key is kept by URL so a busy topic
//! costs one fetch, not one per message.
//!
//! Trust in the certificate comes from where it was fetched (https on an SNS host), as in AWS's
//! own validators; its chain and dates are not checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::redact::error_chain;
use crate::sync::lock;
use aws_lc_rs::signature::{
    ParsedPublicKey, RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY, RSA_PKCS1_2048_8192_SHA256,
};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use reqwest::Url;
use serde::Deserialize;
use tokio::sync::OnceCell;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

/// Limit on a certificate fetch or a subscription confirmation. Short, because the request that
/// caused it is waiting; on timeout SNS gets a 503 and delivers again later.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// An SNS signing certificate is about 2 KiB; a body much larger than that is not one.
const MAX_CERT_BYTES: usize = 64 * 1024;

/// SNS rotates its signing certificate rarely, so a few URLs cover a long-running process. The
/// bound only matters if many distinct (allowed) URLs are sent to us on purpose.
const MAX_CACHED_CERTS: usize = 16;

/// Which URLs a message may make us fetch: its `SigningCertURL` ([`CertUrlRule::allows`]) and,
/// for a subscription, its `SubscribeURL` ([`SnsVerifier::confirm`]).
///
/// Deliberately not `Deserialize` or `FromStr`, and read from no environment variable or flag:
/// production code uses [`CertUrlRule::AmazonSns`], and only Rust code (the tests) can build a
/// looser rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertUrlRule {
    /// https on `sns.<region>.amazonaws.com` (or `sns.<region>.amazonaws.com.cn`), default port,
    /// no user info; a certificate URL must also be a `.pem` path with no query.
    AmazonSns,
    /// Any URL that starts with this prefix once normalised, such as `http://127.0.0.1:PORT/`
    /// for a fake certificate host. End it with `/` so that the host and port are fixed.
    Prefix(String),
}

impl CertUrlRule {
    /// Whether `url` may be fetched as a signing certificate.
    pub fn allows(&self, url: &str) -> bool {
        match self {
            Self::AmazonSns => sns_url(url).is_some_and(|url| {
                url.path().ends_with(".pem") && url.query().is_none() && url.fragment().is_none()
            }),
            Self::Prefix(prefix) => has_prefix(url, prefix),
        }
    }

    /// Whether `url` may be fetched to confirm a subscription: the same host check, any path,
    /// since a `SubscribeURL` is an API call with a query.
    fn allows_subscribe(&self, url: &str) -> bool {
        match self {
            Self::AmazonSns => sns_url(url).is_some(),
            Self::Prefix(prefix) => has_prefix(url, prefix),
        }
    }
}

/// `url`, parsed, if it is https on an SNS host with nothing that could send the request
/// elsewhere (user info, a port).
fn sns_url(url: &str) -> Option<Url> {
    let url = Url::parse(url).ok()?;
    let plain = url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none();
    (plain && url.host_str().is_some_and(is_sns_host)).then_some(url)
}

/// `sns.<region>.amazonaws.com` or `sns.<region>.amazonaws.com.cn`, the region being one label.
/// The host comes from [`Url`], so it is already lower case.
fn is_sns_host(host: &str) -> bool {
    let region = host.strip_prefix("sns.").and_then(|rest| {
        rest.strip_suffix(".amazonaws.com")
            .or_else(|| rest.strip_suffix(".amazonaws.com.cn"))
    });
    region.is_some_and(|region| {
        !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

/// Compared after parsing, so that `..` segments and the like cannot step out of the prefix.
fn has_prefix(url: &str, prefix: &str) -> bool {
    Url::parse(url).is_ok_and(|url| url.as_str().starts_with(prefix))
}

/// What a verified message is, for the route to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnsMessage {
    /// A message published to the topic; `message` is its body as sent (for EventBridge, the
    /// event as a JSON string).
    Notification {
        message_id: String,
        topic_arn: String,
        message: String,
    },
    /// SNS asks us to confirm the subscription by fetching `subscribe_url`
    /// ([`SnsVerifier::confirm`]).
    SubscriptionConfirmation {
        topic_arn: String,
        subscribe_url: String,
    },
    /// The subscription was removed.
    UnsubscribeConfirmation { topic_arn: String },
}

/// Why a message was refused, or a subscription not confirmed. [`SnsError::status`] is the HTTP
/// status SNS should get. The text is for the log: it holds no secret (certificates and
/// signatures are public, and no subscription token is included).
#[derive(Debug, thiserror::Error)]
pub enum SnsError {
    /// Not an SNS message: not JSON, a field missing or of the wrong type, an unknown `Type`.
    #[error("malformed SNS message: {0}")]
    Malformed(String),
    /// A message for a topic that is not in the accepted list.
    #[error("topic {0:?} is not an accepted topic")]
    WrongTopic(String),
    /// A URL the message asks us to fetch (its `SigningCertURL`, or the `SubscribeURL` given to
    /// [`SnsVerifier::confirm`]) is not allowed by the [`CertUrlRule`].
    #[error("URL is not an allowed SNS endpoint")]
    BadCertUrl,
    /// No signature, a `SignatureVersion` other than 1 or 2, a signature that is not base64,
    /// or one that does not verify.
    #[error("SNS signature is missing or does not verify")]
    BadSignature,
    /// SNS could not be reached, or answered with an error or with something that is not an
    /// RSA certificate. Transient: SNS delivers the message again later.
    #[error("could not fetch from SNS: {0}")]
    CertFetch(String),
}

impl SnsError {
    /// The HTTP status to answer SNS with: 400 for a malformed message, 403 for one we refuse to
    /// trust, 503 when we could not check it (SNS retries a 5xx).
    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::WrongTopic(_) | Self::BadCertUrl | Self::BadSignature => StatusCode::FORBIDDEN,
            Self::CertFetch(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl axum::response::IntoResponse for SnsError {
    fn into_response(self) -> axum::response::Response {
        // The message may quote the sender's input: a short, escaped excerpt only.
        let body = serde_json::json!({"error": crate::redact::excerpt(&self.to_string(), 200)});
        (self.status(), axum::Json(body)).into_response()
    }
}

/// Verifies SNS messages for a fixed set of topics. Built once at start-up and shared: it holds
/// the HTTP client and the cache of signing keys.
pub struct SnsVerifier {
    http: reqwest::Client,
    topic_arns: Vec<String>,
    rule: CertUrlRule,
    /// Signing keys by certificate URL. A cell is shared by every request that needs the same
    /// URL, so concurrent first uses make one fetch. The std `Mutex` is only held to look up
    /// or insert a cell, never across an `.await`.
    keys: Mutex<HashMap<String, Arc<OnceCell<SigningKey>>>>,
}

impl std::fmt::Debug for SnsVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SnsVerifier")
            .field("topic_arns", &self.topic_arns)
            .field("rule", &self.rule)
            .finish_non_exhaustive()
    }
}

impl SnsVerifier {
    /// A verifier that accepts messages for `topic_arns` (exact ARNs; an empty list accepts
    /// none) and fetches only what `rule` allows, with `http`.
    pub fn new(http: reqwest::Client, topic_arns: Vec<String>, rule: CertUrlRule) -> Self {
        Self {
            http,
            topic_arns,
            rule,
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// Parses and verifies a raw request body and says what it is.
    ///
    /// In order: JSON with the SNS fields and a known `Type`; `TopicArn` accepted;
    /// `SignatureVersion` 1 (SHA1withRSA) or 2 (SHA256withRSA); `SigningCertURL` allowed by the
    /// rule; `Signature` is base64; and the certificate's key verifies it over the
    /// string-to-sign. Nothing is fetched until every check that needs no network has passed.
    pub async fn verify(&self, body: &[u8]) -> Result<SnsMessage, SnsError> {
        let envelope = Envelope::parse(body)?;
        if !self.topic_arns.contains(&envelope.topic_arn) {
            return Err(SnsError::WrongTopic(envelope.topic_arn));
        }
        let (Some(version), Some(signature), Some(cert_url)) = (
            envelope.signature_version.as_deref(),
            envelope.signature.as_deref(),
            envelope.signing_cert_url.as_deref(),
        ) else {
            return Err(SnsError::BadSignature);
        };
        let version = SignatureVersion::parse(version).ok_or(SnsError::BadSignature)?;
        if !self.rule.allows(cert_url) {
            return Err(SnsError::BadCertUrl);
        }
        let signature = BASE64
            .decode(signature)
            .map_err(|_| SnsError::BadSignature)?;
        let signed = envelope.string_to_sign();
        self.with_key(cert_url, |key| {
            key.verify(version, signed.as_bytes(), &signature)
        })
        .await?;
        Ok(envelope.into_message())
    }

    /// Confirms a subscription by fetching its `SubscribeURL`, which must pass the rule's host
    /// check: https on an SNS host for [`CertUrlRule::AmazonSns`], the prefix for
    /// [`CertUrlRule::Prefix`]. Call it only with a URL from a verified
    /// [`SnsMessage::SubscriptionConfirmation`].
    pub async fn confirm(&self, subscribe_url: &str) -> Result<(), SnsError> {
        if !self.rule.allows_subscribe(subscribe_url) {
            return Err(SnsError::BadCertUrl);
        }
        // The URL carries the subscription token, so it stays out of the error text.
        let response = self
            .http
            .get(subscribe_url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| SnsError::CertFetch(error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SnsError::CertFetch(format!(
                "SubscribeURL answered {status}"
            )))
        }
    }

    /// Runs `check` with the signing key for `url`, fetching it on first use. A failed fetch is
    /// not kept, so the next message tries again.
    async fn with_key(
        &self,
        url: &str,
        check: impl FnOnce(&SigningKey) -> Result<(), SnsError>,
    ) -> Result<(), SnsError> {
        let cell = {
            // A panic elsewhere cannot leave the map half-changed, so a poisoned lock is usable.
            let mut keys = lock(&self.keys);
            if keys.len() >= MAX_CACHED_CERTS && !keys.contains_key(url) {
                keys.clear();
            }
            keys.entry(url.to_owned()).or_default().clone()
        };
        match cell.get_or_try_init(|| self.fetch_key(url)).await {
            Ok(key) => check(key),
            Err(e) => {
                let mut keys = lock(&self.keys);
                if keys
                    .get(url)
                    .is_some_and(|c| Arc::ptr_eq(c, &cell) && c.get().is_none())
                {
                    keys.remove(url);
                }
                Err(e)
            }
        }
    }

    async fn fetch_key(&self, url: &str) -> Result<SigningKey, SnsError> {
        let fetch_error = |e: reqwest::Error| SnsError::CertFetch(error_chain(&e));
        let mut response = self
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(fetch_error)?;
        // The client may follow redirects; where it ended up must be allowed too.
        if !self.rule.allows(response.url().as_str()) {
            return Err(SnsError::BadCertUrl);
        }
        let status = response.status();
        if !status.is_success() {
            return Err(SnsError::CertFetch(format!("{url} answered {status}")));
        }
        let mut pem = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
            if pem.len() + chunk.len() > MAX_CERT_BYTES {
                return Err(SnsError::CertFetch(format!(
                    "{url} sent more than {MAX_CERT_BYTES} bytes"
                )));
            }
            pem.extend_from_slice(&chunk);
        }
        let key = SigningKey::from_pem(&pem)
            .map_err(|why| SnsError::CertFetch(format!("{url}: {why}")))?;
        tracing::debug!(cert_url = %url, "fetched SNS signing certificate");
        Ok(key)
    }
}

/// A message's `SignatureVersion`: the digest SNS signed with (RSA PKCS #1 v1.5 either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignatureVersion {
    /// "1": SHA1withRSA, the default for a topic.
    Sha1,
    /// "2": SHA256withRSA, when the topic is set to it.
    Sha256,
}

impl SignatureVersion {
    fn parse(version: &str) -> Option<Self> {
        match version {
            "1" => Some(Self::Sha1),
            "2" => Some(Self::Sha256),
            _ => None,
        }
    }
}

/// The public key of an SNS signing certificate, parsed once for each signature version.
struct SigningKey {
    sha1: ParsedPublicKey,
    sha256: ParsedPublicKey,
}

impl SigningKey {
    fn from_pem(pem: &[u8]) -> Result<Self, &'static str> {
        let cert = Certificate::from_pem(pem).map_err(|_| "not a PEM X.509 certificate")?;
        let spki = cert
            .tbs_certificate
            .subject_public_key_info
            .to_der()
            .map_err(|_| "certificate key cannot be encoded")?;
        let parse = |algorithm| {
            ParsedPublicKey::new(algorithm, &spki).map_err(|_| "certificate key is not RSA")
        };
        Ok(Self {
            sha1: parse(&RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY)?,
            sha256: parse(&RSA_PKCS1_2048_8192_SHA256)?,
        })
    }

    fn verify(
        &self,
        version: SignatureVersion,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), SnsError> {
        let key = match version {
            SignatureVersion::Sha1 => &self.sha1,
            SignatureVersion::Sha256 => &self.sha256,
        };
        key.verify_sig(message, signature)
            .map_err(|_| SnsError::BadSignature)
    }
}

/// The `Type` of an SNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
enum Kind {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Notification => "Notification",
            Self::SubscriptionConfirmation => "SubscriptionConfirmation",
            Self::UnsubscribeConfirmation => "UnsubscribeConfirmation",
        }
    }
}

/// The JSON body SNS POSTs. Stays in this module: callers get an [`SnsMessage`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    #[serde(rename = "Type")]
    kind: Kind,
    message_id: String,
    topic_arn: String,
    message: String,
    timestamp: String,
    /// Notifications only, and signed only when present.
    subject: Option<String>,
    /// Confirmations only (checked by [`Envelope::parse`]).
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    /// Confirmations only (checked by [`Envelope::parse`]).
    token: Option<String>,
    // Optional here so that an unsigned message is refused as unsigned, not as malformed.
    signature_version: Option<String>,
    signature: Option<String>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<String>,
}

impl Envelope {
    fn parse(body: &[u8]) -> Result<Self, SnsError> {
        let envelope: Self =
            serde_json::from_slice(body).map_err(|e| SnsError::Malformed(e.to_string()))?;
        let confirmation_complete = envelope.subscribe_url.is_some() && envelope.token.is_some();
        if envelope.kind != Kind::Notification && !confirmation_complete {
            return Err(SnsError::Malformed(format!(
                "{} without SubscribeURL and Token",
                envelope.kind.as_str()
            )));
        }
        Ok(envelope)
    }

    /// What SNS signed: `key\nvalue\n` for each field in the documented order, leaving out the
    /// optional ones that are absent.
    fn string_to_sign(&self) -> String {
        let fields = match self.kind {
            Kind::Notification => vec![
                ("Message", Some(self.message.as_str())),
                ("MessageId", Some(&self.message_id)),
                ("Subject", self.subject.as_deref()),
                ("Timestamp", Some(&self.timestamp)),
                ("TopicArn", Some(&self.topic_arn)),
                ("Type", Some(self.kind.as_str())),
            ],
            Kind::SubscriptionConfirmation | Kind::UnsubscribeConfirmation => vec![
                ("Message", Some(self.message.as_str())),
                ("MessageId", Some(&self.message_id)),
                ("SubscribeURL", self.subscribe_url.as_deref()),
                ("Timestamp", Some(&self.timestamp)),
                ("Token", self.token.as_deref()),
                ("TopicArn", Some(&self.topic_arn)),
                ("Type", Some(self.kind.as_str())),
            ],
        };
        fields
            .into_iter()
            .filter_map(|(key, value)| value.map(|value| format!("{key}\n{value}\n")))
            .collect()
    }

    fn into_message(self) -> SnsMessage {
        match self.kind {
            Kind::Notification => SnsMessage::Notification {
                message_id: self.message_id,
                topic_arn: self.topic_arn,
                message: self.message,
            },
            Kind::SubscriptionConfirmation => SnsMessage::SubscriptionConfirmation {
                topic_arn: self.topic_arn,
                // Present: `parse` refuses a confirmation without it.
                subscribe_url: self.subscribe_url.unwrap_or_default(),
            },
            Kind::UnsubscribeConfirmation => SnsMessage::UnsubscribeConfirmation {
                topic_arn: self.topic_arn,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:marketplace-activity";

    fn envelope(json: serde_json::Value) -> Envelope {
        Envelope::parse(json.to_string().as_bytes()).expect("a valid envelope")
    }

    fn notification(subject: Option<&str>) -> serde_json::Value {
        let mut json = serde_json::json!({
            "Type": "Notification",
            "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
            "TopicArn": TOPIC,
            "Message": "{\"detail-type\":\"Purchase Agreement Created - Acceptor\"}",
            "Timestamp": "2026-11-02T15:47:04.123Z",
            "SignatureVersion": "2",
            "Signature": "c2ln",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
        });
        if let Some(subject) = subject {
            json["Subject"] = subject.into();
        }
        json
    }

    fn confirmation(kind: &str) -> serde_json::Value {
        serde_json::json!({
            "Type": kind,
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37fb687f5d51e6e2425f004a",
            "TopicArn": TOPIC,
            "Message": "You have chosen to subscribe to the topic.\nTo confirm, visit the SubscribeURL.",
            "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f",
            "Timestamp": "2026-11-02T15:40:00.000Z",
            "SignatureVersion": "1",
            "Signature": "c2ln",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0.pem",
        })
    }

    #[test]
    fn notification_string_to_sign_leaves_out_an_absent_subject() {
        let expected = "Message\n{\"detail-type\":\"Purchase Agreement Created - Acceptor\"}\n\
                        MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
                        Timestamp\n2026-11-02T15:47:04.123Z\n\
                        TopicArn\narn:aws:sns:us-east-1:111122223333:marketplace-activity\n\
                        Type\nNotification\n";
        assert_eq!(envelope(notification(None)).string_to_sign(), expected);

        let mut null_subject = notification(None);
        null_subject["Subject"] = serde_json::Value::Null;
        assert_eq!(envelope(null_subject).string_to_sign(), expected);
    }

    #[test]
    fn notification_string_to_sign_includes_a_subject_between_id_and_timestamp() {
        assert_eq!(
            envelope(notification(Some("Agreement created"))).string_to_sign(),
            "Message\n{\"detail-type\":\"Purchase Agreement Created - Acceptor\"}\n\
             MessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\n\
             Subject\nAgreement created\n\
             Timestamp\n2026-11-02T15:47:04.123Z\n\
             TopicArn\narn:aws:sns:us-east-1:111122223333:marketplace-activity\n\
             Type\nNotification\n"
        );
    }

    #[test]
    fn confirmation_strings_to_sign_include_subscribe_url_and_token() {
        for kind in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
            let expected = format!(
                "Message\nYou have chosen to subscribe to the topic.\nTo confirm, visit the SubscribeURL.\n\
                 MessageId\n165545c9-2a5c-472c-8df2-7ff2be2b3b1b\n\
                 SubscribeURL\nhttps://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f\n\
                 Timestamp\n2026-11-02T15:40:00.000Z\n\
                 Token\n2336412f37fb687f5d51e6e2425f004a\n\
                 TopicArn\narn:aws:sns:us-east-1:111122223333:marketplace-activity\n\
                 Type\n{kind}\n"
            );
            assert_eq!(
                envelope(confirmation(kind)).string_to_sign(),
                expected,
                "case {kind}"
            );
        }
    }

    #[test]
    fn messages_say_what_they_are() {
        assert_eq!(
            envelope(notification(None)).into_message(),
            SnsMessage::Notification {
                message_id: "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324".into(),
                topic_arn: TOPIC.into(),
                message: "{\"detail-type\":\"Purchase Agreement Created - Acceptor\"}".into(),
            }
        );
        assert_eq!(
            envelope(confirmation("SubscriptionConfirmation")).into_message(),
            SnsMessage::SubscriptionConfirmation {
                topic_arn: TOPIC.into(),
                subscribe_url:
                    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f"
                        .into(),
            }
        );
        assert_eq!(
            envelope(confirmation("UnsubscribeConfirmation")).into_message(),
            SnsMessage::UnsubscribeConfirmation {
                topic_arn: TOPIC.into()
            }
        );
    }

    #[test]
    fn malformed_messages_are_400() {
        let without = |field: &str, json: serde_json::Value| {
            let mut json = json;
            json.as_object_mut().unwrap().remove(field);
            json.to_string()
        };
        let mut unknown_type = notification(None);
        unknown_type["Type"] = "Unsubscribe".into();
        let mut numeric_message = notification(None);
        numeric_message["Message"] = 5.into();
        let cases = [
            ("not JSON", "Type=Notification".to_owned()),
            ("a JSON string", "\"Notification\"".to_owned()),
            ("unknown Type", unknown_type.to_string()),
            ("Message not a string", numeric_message.to_string()),
            ("no MessageId", without("MessageId", notification(None))),
            ("no TopicArn", without("TopicArn", notification(None))),
            ("no Timestamp", without("Timestamp", notification(None))),
            (
                "confirmation without SubscribeURL",
                without("SubscribeURL", confirmation("SubscriptionConfirmation")),
            ),
            (
                "confirmation without Token",
                without("Token", confirmation("UnsubscribeConfirmation")),
            ),
        ];
        for (name, body) in cases {
            match Envelope::parse(body.as_bytes()) {
                Err(e @ SnsError::Malformed(_)) => {
                    assert_eq!(e.status().as_u16(), 400, "case {name}")
                }
                other => panic!("case {name}: {other:?}"),
            }
        }
    }

    #[test]
    fn statuses_separate_refusals_from_transient_failures() {
        let cases = [
            (SnsError::Malformed("x".into()), 400),
            (SnsError::WrongTopic(TOPIC.into()), 403),
            (SnsError::BadCertUrl, 403),
            (SnsError::BadSignature, 403),
            (SnsError::CertFetch("timed out".into()), 503),
        ];
        for (error, status) in cases {
            assert_eq!(error.status().as_u16(), status, "case {error}");
        }
    }

    #[test]
    fn amazon_rule_allows_only_sns_certificates() {
        let allowed = [
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
            "https://sns.us-gov-west-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "https://SNS.US-EAST-1.AMAZONAWS.COM/SimpleNotificationService-abc.pem",
            "https://sns.us-east-1.amazonaws.com:443/SimpleNotificationService-abc.pem",
        ];
        for url in allowed {
            assert!(CertUrlRule::AmazonSns.allows(url), "should allow {url}");
        }
        let refused = [
            (
                "http",
                "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            ),
            (
                "host suffix",
                "https://sns.us-east-1.amazonaws.com.evil.com/x.pem",
            ),
            (
                "host in path",
                "https://evil.com/sns.us-east-1.amazonaws.com/x.pem",
            ),
            ("no scheme", "evil.com/sns.us-east-1.amazonaws.com/x.pem"),
            (
                "user info",
                "https://sns.us-east-1.amazonaws.com@evil.com/x.pem",
            ),
            (
                "user and password",
                "https://sns.us-east-1.amazonaws.com:x@evil.com/x.pem",
            ),
            (
                "user on sns host",
                "https://user@sns.us-east-1.amazonaws.com/x.pem",
            ),
            (
                "not .pem",
                "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc",
            ),
            (
                "pem in query",
                "https://sns.us-east-1.amazonaws.com/x?f=.pem",
            ),
            (
                "query",
                "https://sns.us-east-1.amazonaws.com/x.pem?redirect=evil.com",
            ),
            ("fragment", "https://sns.us-east-1.amazonaws.com/x.pem#frag"),
            (
                "other port",
                "https://sns.us-east-1.amazonaws.com:8443/x.pem",
            ),
            ("other service", "https://sqs.us-east-1.amazonaws.com/x.pem"),
            ("no region", "https://sns.amazonaws.com/x.pem"),
            (
                "two-label region",
                "https://sns.evil.com.amazonaws.com/x.pem",
            ),
            ("subdomain", "https://a.sns.us-east-1.amazonaws.com/x.pem"),
            ("trailing dot", "https://sns.us-east-1.amazonaws.com./x.pem"),
            ("cn suffix", "https://sns.us-east-1.amazonaws.cn/x.pem"),
            ("IP address", "https://52.94.0.1/x.pem"),
            ("loopback", "http://127.0.0.1:8080/x.pem"),
            ("empty", ""),
        ];
        for (name, url) in refused {
            assert!(!CertUrlRule::AmazonSns.allows(url), "case {name}: {url}");
        }
    }

    #[test]
    fn amazon_rule_allows_subscribe_urls_on_sns_hosts_only() {
        let rule = CertUrlRule::AmazonSns;
        assert!(rule.allows_subscribe(
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn&Token=t"
        ));
        for url in [
            "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-east-1.amazonaws.com@evil.com/?Action=ConfirmSubscription",
            "https://evil.com/?Action=ConfirmSubscription&sns.us-east-1.amazonaws.com",
            "https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription",
        ] {
            assert!(!rule.allows_subscribe(url), "{url}");
        }
    }

    #[test]
    fn prefix_rule_compares_normalised_urls() {
        let rule = CertUrlRule::Prefix("http://127.0.0.1:4000/certs/".into());
        assert!(rule.allows("http://127.0.0.1:4000/certs/a.pem"));
        assert!(rule.allows_subscribe("http://127.0.0.1:4000/certs/confirm?Token=t"));
        for url in [
            "http://127.0.0.1:4000/certs/../other.pem",
            "http://127.0.0.1:40000/certs/a.pem",
            "http://127.0.0.1:4000@evil.com/certs/a.pem",
            "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem",
            "not a url",
        ] {
            assert!(!rule.allows(url), "{url}");
        }
    }

    proptest::proptest! {
        #[test]
        fn no_body_makes_parsing_panic(
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..400),
        ) {
            if let Ok(envelope) = Envelope::parse(&body) {
                let _ = envelope.string_to_sign();
                let _ = envelope.into_message();
            }
        }

        #[test]
        fn any_field_values_parse_and_sign_without_panicking(
            kind in proptest::sample::select(vec![
                "Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation",
            ]),
            values in proptest::collection::vec(".*", 6),
            subject in proptest::option::of(".*"),
        ) {
            let mut json = serde_json::json!({
                "Type": kind,
                "MessageId": values[0],
                "TopicArn": values[1],
                "Message": values[2],
                "Timestamp": values[3],
                "SubscribeURL": values[4],
                "Token": values[5],
            });
            if let Some(subject) = subject {
                json["Subject"] = subject.into();
            }
            let envelope = Envelope::parse(json.to_string().as_bytes()).unwrap();
            let signed = envelope.string_to_sign();
            let message_part = format!("Message\n{}\n", values[2]);
            proptest::prop_assert!(signed.starts_with(&message_part));
            let type_part = format!("Type\n{kind}\n");
            proptest::prop_assert!(signed.ends_with(&type_part));
        }

        #[test]
        fn no_url_makes_the_rule_panic(url in ".*") {
            let _ = CertUrlRule::AmazonSns.allows(&url);
            let _ = CertUrlRule::AmazonSns.allows_subscribe(&url);
            let _ = CertUrlRule::Prefix("http://127.0.0.1:1/".into()).allows(&url);
        }
    }
}
