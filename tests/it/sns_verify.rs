//! `SnsVerifier` against a fake SNS on loopback: signed messages pass, anything forged, unsigned,
//! off-topic or pointing elsewhere is refused with the status SNS should see, and the signing
//! certificate is fetched once.

use std::sync::Arc;

use crate::common::sns::{FakeSns, Version};
use marketplace_activity::notify::sns::{CertUrlRule, SnsError, SnsMessage, SnsVerifier};
use serde_json::Value;

const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:marketplace-activity";
const OTHER_TOPIC: &str = "arn:aws:sns:us-east-1:444455556666:someone-else";
const EVENT: &str = r#"{"version":"0","id":"3f6a7d2e-0c1b-4b9a-8e5d-6a7b8c9d0e1f","detail-type":"Purchase Agreement Created - Acceptor","source":"aws.agreement-marketplace"}"#;

async fn start() -> (FakeSns, SnsVerifier) {
    crate::common::init_logs();
    let sns = FakeSns::start().await;
    let verifier = verifier_for(&sns);
    (sns, verifier)
}

fn verifier_for(sns: &FakeSns) -> SnsVerifier {
    SnsVerifier::new(
        marketplace_activity::http::client().expect("an HTTP client"),
        vec![TOPIC.to_owned()],
        CertUrlRule::Prefix(sns.cert_prefix()),
    )
}

async fn verify(verifier: &SnsVerifier, envelope: &Value) -> Result<SnsMessage, SnsError> {
    verifier.verify(envelope.to_string().as_bytes()).await
}

/// The variant's name, so that tables can say which refusal they expect.
fn reason(error: &SnsError) -> &'static str {
    match error {
        SnsError::Malformed(_) => "Malformed",
        SnsError::WrongTopic(_) => "WrongTopic",
        SnsError::BadCertUrl => "BadCertUrl",
        SnsError::BadSignature => "BadSignature",
        SnsError::CertFetch(_) => "CertFetch",
    }
}

#[tokio::test]
async fn signed_notifications_verify_with_either_signature_version() {
    let (sns, verifier) = start().await;
    for (version, subject) in [
        (Version::V1, None),
        (Version::V2, None),
        (Version::V1, Some("Agreement created")),
        (Version::V2, Some("Agreement created")),
    ] {
        let envelope = sns.notification_with(version, TOPIC, EVENT, subject);
        let got = verify(&verifier, &envelope).await;
        let expected = SnsMessage::Notification {
            message_id: envelope["MessageId"].as_str().unwrap().to_owned(),
            topic_arn: TOPIC.to_owned(),
            message: EVENT.to_owned(),
        };
        assert_eq!(
            got.unwrap(),
            expected,
            "case {version:?}, subject {subject:?}"
        );
    }
}

#[tokio::test]
async fn refusals_carry_the_status_sns_should_see() {
    let (sns, verifier) = start().await;
    let signed = || sns.notification(TOPIC, EVENT);
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut envelope = signed();
        edit(&mut envelope);
        envelope.to_string()
    };
    let mut signed_for_v1_labelled_v2 = signed();
    signed_for_v1_labelled_v2["SignatureVersion"] = "2".into();
    let mut signature_of_another_message = signed();
    signature_of_another_message["Signature"] = signed()["Signature"].clone();

    let cases: Vec<(&str, String, &str, u16)> = vec![
        (
            "Message changed after signing",
            edited(&|e| e["Message"] = EVENT.replace("Created", "Cancelled").into()),
            "BadSignature",
            403,
        ),
        (
            "Subject added after signing",
            edited(&|e| e["Subject"] = "Agreement created".into()),
            "BadSignature",
            403,
        ),
        (
            "Timestamp changed after signing",
            edited(&|e| e["Timestamp"] = "2030-01-01T00:00:00.000Z".into()),
            "BadSignature",
            403,
        ),
        (
            "unsigned",
            edited(&|e| {
                let fields = e.as_object_mut().unwrap();
                fields.remove("Signature");
                fields.remove("SignatureVersion");
                fields.remove("SigningCertURL");
            }),
            "BadSignature",
            403,
        ),
        (
            "empty signature",
            edited(&|e| e["Signature"] = "".into()),
            "BadSignature",
            403,
        ),
        (
            "signature not base64",
            edited(&|e| e["Signature"] = "not base64 at all!".into()),
            "BadSignature",
            403,
        ),
        (
            "unknown signature version",
            edited(&|e| e["SignatureVersion"] = "3".into()),
            "BadSignature",
            403,
        ),
        (
            "SHA-1 signature labelled version 2",
            signed_for_v1_labelled_v2.to_string(),
            "BadSignature",
            403,
        ),
        (
            "another message's signature",
            signature_of_another_message.to_string(),
            "BadSignature",
            403,
        ),
        (
            "validly signed for another topic",
            sns.notification(OTHER_TOPIC, EVENT).to_string(),
            "WrongTopic",
            403,
        ),
        (
            "topic changed after signing",
            edited(&|e| e["TopicArn"] = OTHER_TOPIC.into()),
            "WrongTopic",
            403,
        ),
        (
            "certificate on another loopback port",
            edited(&|e| e["SigningCertURL"] = "http://127.0.0.1:1/cert.pem".into()),
            "BadCertUrl",
            403,
        ),
        (
            "user info in front of the allowed host",
            edited(&|e| {
                let url = sns.cert_url().replace("http://", "http://user@");
                e["SigningCertURL"] = url.into();
            }),
            "BadCertUrl",
            403,
        ),
        ("not JSON", "Type=Notification".to_owned(), "Malformed", 400),
        (
            "unknown Type",
            edited(&|e| e["Type"] = "Publish".into()),
            "Malformed",
            400,
        ),
    ];
    for (name, body, want, status) in cases {
        match verifier.verify(body.as_bytes()).await {
            Ok(message) => panic!("case {name}: accepted {message:?}"),
            Err(e) => {
                assert_eq!(reason(&e), want, "case {name}: {e}");
                assert_eq!(e.status().as_u16(), status, "case {name}: {e}");
            }
        }
    }
}

#[tokio::test]
async fn the_production_rule_fetches_nothing_from_loopback() {
    let (sns, _) = start().await;
    let production = SnsVerifier::new(
        marketplace_activity::http::client().expect("an HTTP client"),
        vec![TOPIC.to_owned()],
        CertUrlRule::AmazonSns,
    );
    let error = verify(&production, &sns.notification(TOPIC, EVENT))
        .await
        .unwrap_err();
    assert_eq!(reason(&error), "BadCertUrl", "{error}");
    assert_eq!(error.status().as_u16(), 403);

    let subscribe_url = sns.subscribe_url("t0");
    let error = production.confirm(&subscribe_url).await.unwrap_err();
    assert_eq!(reason(&error), "BadCertUrl", "{error}");

    assert_eq!(sns.cert_fetches(), 0);
    assert!(sns.confirmations().is_empty());
}

#[tokio::test]
async fn the_certificate_is_fetched_once_for_many_messages() {
    let (sns, verifier) = start().await;
    for n in 0..20 {
        let version = if n % 2 == 0 { Version::V1 } else { Version::V2 };
        let envelope = sns.notification_with(version, TOPIC, &format!("message {n}"), None);
        verify(&verifier, &envelope)
            .await
            .unwrap_or_else(|e| panic!("message {n}: {e}"));
    }
    assert_eq!(sns.cert_fetches(), 1);

    // A new verifier starts with an empty cache; its concurrent first messages share one fetch.
    let verifier = Arc::new(verifier_for(&sns));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let verifier = verifier.clone();
        let envelope = sns.notification(TOPIC, &format!("concurrent {n}"));
        tasks.spawn(async move { verify(&verifier, &envelope).await });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().unwrap();
    }
    assert_eq!(sns.cert_fetches(), 2);
}

#[tokio::test]
async fn a_subscription_is_confirmed_by_fetching_its_subscribe_url() {
    let (sns, verifier) = start().await;
    let subscribe_url = sns.subscribe_url("2336412f");
    let envelope = sns.confirmation(TOPIC, &subscribe_url);

    let got = verify(&verifier, &envelope).await.unwrap();
    assert_eq!(
        got,
        SnsMessage::SubscriptionConfirmation {
            topic_arn: TOPIC.to_owned(),
            subscribe_url: subscribe_url.clone(),
        }
    );
    assert!(sns.confirmations().is_empty(), "verify must not confirm");

    verifier.confirm(&subscribe_url).await.unwrap();
    assert_eq!(
        sns.confirmations(),
        vec!["Action=ConfirmSubscription&Token=2336412f".to_owned()]
    );

    let error = verifier
        .confirm("http://127.0.0.1:1/confirm?Token=x")
        .await
        .unwrap_err();
    assert_eq!(reason(&error), "BadCertUrl", "{error}");
    assert_eq!(sns.confirmations().len(), 1);
}

#[tokio::test]
async fn confirmations_are_signed_over_their_own_fields() {
    let (sns, verifier) = start().await;
    let subscribe_url = sns.subscribe_url("t1");

    let v2 = sns.confirmation_with(
        Version::V2,
        "SubscriptionConfirmation",
        TOPIC,
        &subscribe_url,
    );
    assert!(verify(&verifier, &v2).await.is_ok());

    let unsubscribed = sns.unsubscribe_confirmation(TOPIC, &subscribe_url);
    assert_eq!(
        verify(&verifier, &unsubscribed).await.unwrap(),
        SnsMessage::UnsubscribeConfirmation {
            topic_arn: TOPIC.to_owned()
        }
    );

    // Pointing a genuine confirmation at another URL breaks its signature.
    let mut redirected = sns.confirmation(TOPIC, &subscribe_url);
    redirected["SubscribeURL"] = sns.subscribe_url("attacker").into();
    let error = verify(&verifier, &redirected).await.unwrap_err();
    assert_eq!(reason(&error), "BadSignature", "{error}");

    let mut no_token = sns.confirmation(TOPIC, &subscribe_url);
    no_token.as_object_mut().unwrap().remove("Token");
    let error = verify(&verifier, &no_token).await.unwrap_err();
    assert_eq!(
        (reason(&error), error.status().as_u16()),
        ("Malformed", 400)
    );
}

#[tokio::test]
async fn a_failed_certificate_fetch_is_remembered_not_repeated_for_each_message() {
    let (sns, verifier) = start().await;
    sns.fail_cert_with(500);
    for n in 0..2 {
        let envelope = sns.notification(TOPIC, &format!("message {n}"));
        let error = verify(&verifier, &envelope).await.unwrap_err();
        assert_eq!(reason(&error), "CertFetch", "message {n}: {error}");
        assert_eq!(error.status().as_u16(), 503, "message {n}");
    }
    assert_eq!(sns.cert_fetches(), 1, "two messages in a row, one fetch");

    // A flood of concurrent messages naming the same URL shares the remembered failure.
    let verifier = Arc::new(verifier);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let verifier = verifier.clone();
        let envelope = sns.notification(TOPIC, &format!("flood {n}"));
        tasks.spawn(async move { verify(&verifier, &envelope).await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(reason(&result.unwrap().unwrap_err()), "CertFetch");
    }
    assert_eq!(sns.cert_fetches(), 1);

    // Within the minute, even a recovered host is not asked again: the 503 makes SNS deliver
    // the message later.
    sns.serve_cert();
    let error = verify(&verifier, &sns.notification(TOPIC, EVENT))
        .await
        .unwrap_err();
    assert_eq!(reason(&error), "CertFetch", "{error}");
    assert_eq!(sns.cert_fetches(), 1);
}

#[tokio::test]
async fn a_remembered_failure_is_tried_again_once_its_time_is_up() {
    let (sns, _) = start().await;
    let ttl = std::time::Duration::from_millis(50);
    let verifier = verifier_for(&sns).with_failed_fetch_ttl(ttl);
    sns.fail_cert_with(500);
    let envelope = sns.notification(TOPIC, EVENT);
    let error = verify(&verifier, &envelope).await.unwrap_err();
    assert_eq!(reason(&error), "CertFetch", "{error}");
    assert_eq!(error.status().as_u16(), 503);

    // SNS delivers again later; by then the host has recovered and the failure is forgotten.
    sns.serve_cert();
    tokio::time::sleep(ttl * 2).await;
    verify(&verifier, &envelope).await.unwrap();
    verify(&verifier, &envelope).await.unwrap();
    assert_eq!(sns.cert_fetches(), 2);
}

#[tokio::test]
async fn an_unreachable_certificate_host_is_a_transient_503() {
    let (sns, _) = start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    let verifier = SnsVerifier::new(
        marketplace_activity::http::client().expect("an HTTP client"),
        vec![TOPIC.to_owned()],
        CertUrlRule::Prefix(closed.clone()),
    );
    let mut envelope = sns.notification(TOPIC, EVENT);
    envelope["SigningCertURL"] = format!("{closed}cert.pem").into();
    let error = verify(&verifier, &envelope).await.unwrap_err();
    assert_eq!(reason(&error), "CertFetch", "{error}");
    assert_eq!(error.status().as_u16(), 503);
}
