//! A fake Amazon SNS: one RSA key and self-signed certificate per test binary, a loopback host
//! that serves the certificate and answers subscription confirmations, and envelopes signed as
//! SNS signs them
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html>). The string-to-sign is written out again here rather than
//! borrowed from the code under test, so a mistake there cannot sign its own messages.

use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::RsaPrivateKey;
use serde_json::{json, Value};

/// Where the certificate is served, named like SNS's own.
pub const CERT_PATH: &str = "/SimpleNotificationService-test.pem";

/// SNS's `SignatureVersion`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// "1": SHA1withRSA.
    V1,
    /// "2": SHA256withRSA.
    V2,
}

impl Version {
    fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "1",
            Self::V2 => "2",
        }
    }
}

struct Identity {
    key: RsaPrivateKey,
    cert_pem: String,
}

/// The signing key and its certificate, made once per test binary. aws-lc-rs (through rcgen)
/// makes the key, because it is fast in a debug build; the `rsa` crate signs, because aws-lc-rs
/// will not make SHA-1 signatures and SNS's version 1 needs them.
fn identity() -> &'static Identity {
    static IDENTITY: OnceLock<Identity> = OnceLock::new();
    IDENTITY.get_or_init(|| {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA 2048 key");
        let cert = rcgen::CertificateParams::new(vec!["sns.test".to_owned()])
            .expect("a valid name")
            .self_signed(&pair)
            .expect("a self-signed certificate");
        let key = RsaPrivateKey::from_pkcs8_der(&pair.serialize_der()).expect("PKCS #8 RSA key");
        Identity {
            key,
            cert_pem: cert.pem(),
        }
    })
}

#[derive(Default)]
struct Served {
    cert_fetches: AtomicUsize,
    /// When not 0, the certificate host answers with this status instead.
    cert_status: AtomicU16,
    /// The query string of each subscription confirmation, in arrival order.
    confirmations: Mutex<Vec<String>>,
}

/// SNS's certificate host and `SubscribeURL` endpoint on 127.0.0.1, plus its signer.
#[derive(Clone)]
pub struct FakeSns {
    pub url: String,
    served: Arc<Served>,
}

impl FakeSns {
    pub async fn start() -> Self {
        let served = Arc::new(Served::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route(CERT_PATH, get(certificate))
            .route("/confirm", get(confirm))
            .with_state(served.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, served }
    }

    /// For `CertUrlRule::Prefix`: this host and nothing else.
    pub fn cert_prefix(&self) -> String {
        format!("{}/", self.url)
    }

    /// The `SigningCertURL` of every envelope this fake signs.
    pub fn cert_url(&self) -> String {
        format!("{}{CERT_PATH}", self.url)
    }

    /// A `SubscribeURL` that records its query when fetched.
    pub fn subscribe_url(&self, token: &str) -> String {
        format!(
            "{}/confirm?Action=ConfirmSubscription&Token={token}",
            self.url
        )
    }

    /// How many times the certificate was requested (including failed answers).
    pub fn cert_fetches(&self) -> usize {
        self.served.cert_fetches.load(Ordering::SeqCst)
    }

    /// The query string of each `SubscribeURL` fetch, in order.
    pub fn confirmations(&self) -> Vec<String> {
        self.served.confirmations.lock().unwrap().clone()
    }

    /// From now on the certificate host answers `status` instead of the certificate.
    pub fn fail_cert_with(&self, status: u16) {
        self.served.cert_status.store(status, Ordering::SeqCst);
    }

    /// From now on the certificate host serves the certificate again.
    pub fn serve_cert(&self) {
        self.fail_cert_with(0);
    }

    /// A Notification signed with version 1, as a topic signs by default.
    pub fn notification(&self, topic_arn: &str, message: &str) -> Value {
        self.notification_with(Version::V1, topic_arn, message, None)
    }

    pub fn notification_with(
        &self,
        version: Version,
        topic_arn: &str,
        message: &str,
        subject: Option<&str>,
    ) -> Value {
        let mut envelope = json!({
            "Type": "Notification",
            "MessageId": uuid::Uuid::new_v4().to_string(),
            "TopicArn": topic_arn,
            "Message": message,
            "Timestamp": timestamp(),
            "UnsubscribeURL": format!("{}/?Action=Unsubscribe", self.url),
        });
        if let Some(subject) = subject {
            envelope["Subject"] = subject.into();
        }
        self.sign(&mut envelope, version);
        envelope
    }

    /// A SubscriptionConfirmation signed with version 1.
    pub fn confirmation(&self, topic_arn: &str, subscribe_url: &str) -> Value {
        self.confirmation_with(
            Version::V1,
            "SubscriptionConfirmation",
            topic_arn,
            subscribe_url,
        )
    }

    /// An UnsubscribeConfirmation signed with version 1.
    pub fn unsubscribe_confirmation(&self, topic_arn: &str, subscribe_url: &str) -> Value {
        self.confirmation_with(
            Version::V1,
            "UnsubscribeConfirmation",
            topic_arn,
            subscribe_url,
        )
    }

    /// A confirmation of `kind` ("SubscriptionConfirmation" or "UnsubscribeConfirmation").
    pub fn confirmation_with(
        &self,
        version: Version,
        kind: &str,
        topic_arn: &str,
        subscribe_url: &str,
    ) -> Value {
        let mut envelope = json!({
            "Type": kind,
            "MessageId": uuid::Uuid::new_v4().to_string(),
            "Token": "2336412f37fb687f5d51e6e2425f004a",
            "TopicArn": topic_arn,
            "Message": format!("You have chosen to subscribe to the topic {topic_arn}.\nTo confirm the subscription, visit the SubscribeURL included in this message."),
            "SubscribeURL": subscribe_url,
            "Timestamp": timestamp(),
        });
        self.sign(&mut envelope, version);
        envelope
    }

    /// Signs `envelope` as it stands, pointing its `SigningCertURL` at this host. Change a field
    /// afterwards to forge a message, or before calling this to sign something unusual.
    pub fn sign(&self, envelope: &mut Value, version: Version) {
        envelope["SignatureVersion"] = version.as_str().into();
        envelope["SigningCertURL"] = self.cert_url().into();
        let text = string_to_sign(envelope);
        let key = identity().key.clone();
        let signature = match version {
            Version::V1 => SigningKey::<sha1::Sha1>::new(key)
                .sign(text.as_bytes())
                .to_vec(),
            Version::V2 => SigningKey::<rsa::sha2::Sha256>::new(key)
                .sign(text.as_bytes())
                .to_vec(),
        };
        envelope["Signature"] = BASE64.encode(signature).into();
    }
}

/// SNS's string to sign: `key\nvalue\n` for each field present, in the documented order.
fn string_to_sign(envelope: &Value) -> String {
    let keys: &[&str] = if envelope["Type"] == "Notification" {
        &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ]
    } else {
        &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ]
    };
    keys.iter()
        .filter_map(|key| {
            envelope[*key]
                .as_str()
                .map(|value| format!("{key}\n{value}\n"))
        })
        .collect()
}

fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

async fn certificate(State(served): State<Arc<Served>>) -> Response {
    served.cert_fetches.fetch_add(1, Ordering::SeqCst);
    match served.cert_status.load(Ordering::SeqCst) {
        0 => (
            [(header::CONTENT_TYPE, "application/x-x509-ca-cert")],
            identity().cert_pem.clone(),
        )
            .into_response(),
        status => StatusCode::from_u16(status)
            .expect("a valid status")
            .into_response(),
    }
}

async fn confirm(State(served): State<Arc<Served>>, RawQuery(query): RawQuery) -> Response {
    served
        .confirmations
        .lock()
        .unwrap()
        .push(query.unwrap_or_default());
    "<ConfirmSubscriptionResponse/>".into_response()
}
