//! Channel notifications end to end: the real app on port 0, EventBridge played by the test,
//! a fake Slack Web API on loopback. Assertions are on what Slack received.

use std::time::Duration;

use crate::common::fake_slack::{ApiFault, Post};
use crate::common::*;
use marketplace_activity::notify::deliver::Routes;
use serde_json::{json, Value};

fn notify_app() -> Options {
    Options {
        notify: Some(NotifyOptions::default()),
        ..Options::default()
    }
}

/// What DescribeAgreement says about the fixtures' agreement.
pub fn fixture_agreement() -> Value {
    json!({
        "agreementId": "agmt-cx71281flrkxyks8eurk5nlyk",
        "acceptor": {"accountId": "111122223333"},
        "proposer": {"accountId": "444455556666"},
        "startTime": 1793634417,
        "endTime": 1825199999,
        "acceptanceTime": 1793634417,
        "agreementType": "PurchaseAgreement",
        "status": "ACTIVE",
        "estimatedCharges": {"currencyCode": "USD", "agreementValue": "12000.00"},
        "proposalSummary": {"offerId": "offer-7abcd3efgh2ij", "resources": [{"id": "prod-2xyzexample9", "type": "SaaSProduct"}]}
    })
}

/// The notifier, with the fixtures' agreement known to the fake Agreement API.
pub(crate) async fn spawn_notifier(options: Options) -> TestApp {
    let app = spawn_app(options).await;
    app.cloudtrail
        .add_agreement("agmt-cx71281flrkxyks8eurk5nlyk", fixture_agreement());
    app
}

/// A CloudTrail record as EventBridge delivers it.
pub(crate) fn via_eventbridge(record: Value, id: &str) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.agreement-marketplace",
        "account": "111122223333",
        "time": record["eventTime"],
        "region": "us-east-1",
        "resources": [],
        "detail": record,
    })
}

pub(crate) fn ct_purchase() -> Value {
    fixture("eventbridge-cloudtrail-accept-agreement-request.json")
}
pub(crate) fn native_created() -> Value {
    fixture("eventbridge-purchase-agreement-created-acceptor.json")
}
pub(crate) fn native_ended() -> Value {
    fixture("eventbridge-purchase-agreement-ended-acceptor.json")
}
pub(crate) fn ct_cancel() -> Value {
    via_eventbridge(fixture("cloudtrail-cancel-agreement.json"), "eb-cancel-1")
}
fn ct_denied() -> Value {
    via_eventbridge(
        fixture("cloudtrail-accept-agreement-request-denied.json"),
        "eb-denied-1",
    )
}

/// Compares what Slack received with a golden file (`UPDATE_GOLDEN=1` rewrites them).
fn assert_golden(name: &str, post: &Post) {
    let got = json!({"text": post.text, "blocks": post.blocks});
    let path = format!("{}/tests/golden/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let pretty = serde_json::to_string_pretty(&got).unwrap() + "\n";
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &pretty).unwrap();
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{path} is missing: run with UPDATE_GOLDEN=1 to create it"));
    assert_eq!(
        pretty, want,
        "{name}: rendered message differs from the golden file"
    );
}

pub(crate) fn text_of(post: &Post) -> String {
    visible_text(&json!({"blocks": post.blocks}))
}

#[tokio::test]
async fn each_family_posts_once_rendered_as_intended() {
    let cases = [
        ("cloudtrail-purchase", ct_purchase()),
        ("native-purchase", native_created()),
        ("native-cancellation", native_ended()),
        ("cloudtrail-cancellation", ct_cancel()),
        ("cloudtrail-failed-attempt", ct_denied()),
    ];
    for (name, event) in cases {
        let app = spawn_notifier(notify_app()).await;
        let (status, _, body) = app.send_event(&event).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("posted")),
            "{name}: {body}"
        );
        let posts = app.slack.posts();
        assert_eq!(posts.len(), 1, "{name}");
        assert_eq!(posts[0].channel, "C0NOTIFY");
        assert_golden(name, &posts[0]);
    }
}

#[tokio::test]
async fn purchases_and_cancellations_are_unmistakable() {
    let app = spawn_notifier(notify_app()).await;
    app.send_event(&native_created()).await;
    let post = &app.slack.posts()[0];
    let text = text_of(post);
    assert!(text.contains("New Marketplace purchase"), "{text}");
    assert!(
        text.contains("*Example Observability Platform* from *Example Observability Inc.*"),
        "{text}"
    );
    assert!(text.contains("Annual contract, 50 hosts"), "{text}");
    assert!(
        post.text
            .contains("New Marketplace purchase: Example Observability Platform"),
        "{}",
        post.text
    );

    let app = spawn_notifier(notify_app()).await;
    app.send_event(&ct_cancel()).await;
    let text = text_of(&app.slack.posts()[0]);
    assert!(
        text.contains("Marketplace subscription cancelled"),
        "{text}"
    );
    assert!(text.contains("bob (role ProcurementAdmin)"), "{text}");
}

#[tokio::test]
async fn a_duplicate_posts_once() {
    let app = spawn_notifier(notify_app()).await;
    let (s1, _, b1) = app.send_event(&ct_purchase()).await;
    let (s2, _, b2) = app.send_event(&ct_purchase()).await;
    // The same CloudTrail call under a new EventBridge id (a replay) is the same activity.
    let mut replay = ct_purchase();
    replay["id"] = json!("another-eventbridge-id");
    let (s3, _, b3) = app.send_event(&replay).await;
    assert_eq!((s1, s2, s3), (200, 200, 200));
    assert_eq!(
        (
            b1["status"].as_str(),
            b2["status"].as_str(),
            b3["status"].as_str()
        ),
        (Some("posted"), Some("duplicate"), Some("duplicate"))
    );
    assert_eq!(app.slack.posts().len(), 1);
}

#[tokio::test]
async fn the_cloudtrail_call_and_marketplace_event_become_one_message() {
    for reversed in [false, true] {
        let app = spawn_notifier(notify_app()).await;
        let (first, second) = if reversed {
            (native_created(), ct_purchase())
        } else {
            (ct_purchase(), native_created())
        };
        let (_, _, b1) = app.send_event(&first).await;
        let (_, _, b2) = app.send_event(&second).await;
        assert_eq!(b1["status"], "posted");
        assert_eq!(b2["status"], "updated", "reversed={reversed}");
        let posts = app.slack.posts();
        assert_eq!(posts.len(), 1, "one message, reversed={reversed}");
        assert_eq!(posts[0].updates, 1);
        let text = text_of(&posts[0]);
        assert!(
            text.contains("alice@example.com (IAM user)"),
            "who, from CloudTrail: {text}"
        );
        assert!(
            text.contains("*Example Observability Platform*"),
            "what, from Marketplace: {text}"
        );
        assert!(
            !text.contains("when it arrives"),
            "nothing is missing any more: {text}"
        );
        if !reversed {
            assert_golden("merged-purchase", &posts[0]);
        }
    }
}

#[tokio::test]
async fn later_activity_goes_in_the_agreements_thread() {
    let app = spawn_app(Options {
        notify: Some(NotifyOptions {
            routes: Routes {
                default_channel: "C0NOTIFY".into(),
                purchases: None,
                cancellations: None,
                cancellation_mention: Some("<!here>".into()),
            },
            ..NotifyOptions::default()
        }),
        ..Options::default()
    })
    .await;
    app.send_event(&native_created()).await;
    app.send_event(&ct_cancel()).await;
    let posts = app.slack.posts();
    assert_eq!(posts.len(), 2);
    let (purchase, cancel) = (&posts[0], &posts[1]);
    assert_eq!(cancel.thread_ts.as_deref(), Some(purchase.ts.as_str()));
    assert!(
        cancel.reply_broadcast,
        "a cancellation is also shown in the channel"
    );
    assert!(cancel.text.starts_with("<!here> "), "{}", cancel.text);
    let text = text_of(cancel);
    assert!(
        text.contains("<!here> *Example Observability Platform*"),
        "the thread's facts fill in the product: {text}"
    );
    // Marketplace's own "Ended" event for the same cancellation merges into it.
    let (_, _, body) = app.send_event(&native_ended()).await;
    assert_eq!(body["status"], "updated");
    assert_eq!(app.slack.posts().len(), 2);
}

#[tokio::test]
async fn an_amendment_is_recognised_from_its_request() {
    let app = spawn_notifier(notify_app()).await;
    let mut create = fixture("cloudtrail-accept-agreement-request.json");
    create["eventName"] = json!("CreateAgreementRequest");
    create["eventID"] = json!("ct-create-1");
    create["requestParameters"] =
        json!({"intent": "AMEND", "agreementId": "agmt-cx71281flrkxyks8eurk5nlyk"});
    create["responseElements"] = json!({"agreementRequestId": "ar-8rluzdknoucv62qj6ycv4nc1h"});
    let (_, _, body) = app
        .send_event(&via_eventbridge(create, "eb-create-1"))
        .await;
    assert_eq!(body["status"], "recorded");
    assert!(
        app.slack.posts().is_empty(),
        "a request alone is not posted"
    );
    app.send_event(&ct_purchase()).await;
    let text = text_of(&app.slack.posts()[0]);
    assert!(text.contains("Marketplace agreement amended"), "{text}");
}

#[tokio::test]
async fn per_kind_channels() {
    let app = spawn_app(Options {
        notify: Some(NotifyOptions {
            routes: Routes {
                default_channel: "C0DEFAULT".into(),
                purchases: Some("C0BUY".into()),
                cancellations: Some("C0CANCEL".into()),
                cancellation_mention: None,
            },
            ..NotifyOptions::default()
        }),
        ..Options::default()
    })
    .await;
    app.send_event(&ct_purchase()).await;
    app.send_event(&ct_cancel()).await;
    app.send_event(&ct_denied()).await;
    let channels: Vec<String> = app.slack.posts().into_iter().map(|p| p.channel).collect();
    // A failed purchase attempt is purchase business: it goes where purchases go.
    assert_eq!(channels, ["C0BUY", "C0CANCEL", "C0BUY"]);
    let posts = app.slack.posts();
    assert_eq!(posts[1].thread_ts, None, "the thread is in another channel");
}

/// AWS's documented "Purchase Agreement Billing Adjustment Completed - Acceptor" (its buyer
/// guide's example), for the fixtures' agreement.
fn native_billing_adjustment() -> Value {
    json!({
        "version": "0",
        "id": "01234567-0123-0123-0123-0123456789ab",
        "detail-type": "Purchase Agreement Billing Adjustment Completed - Acceptor",
        "source": "aws.agreement-marketplace",
        "account": "111122223333",
        "time": "2026-11-20T14:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "requestId": "3d4c9f9b-b809-4f5e-9fac-a9ae98b05cbb",
            "catalog": "AWSMarketplace",
            "agreement": {"id": "agmt-cx71281flrkxyks8eurk5nlyk"},
            "billingAdjustmentRequest": {
                "id": "ba-abcdexampleid",
                "adjustmentAmount": "-1000.00",
                "currencyCode": "USD",
                "adjustmentReasonCode": "INCORRECT_TERMS_ACCEPTED"
            },
            "invoice": {"originalInvoiceId": "2028746221"}
        }
    })
}

#[tokio::test]
async fn a_billing_adjustment_is_posted_quietly_in_the_agreements_thread() {
    let app = spawn_app(Options {
        notify: Some(NotifyOptions {
            routes: Routes {
                default_channel: "C0DEFAULT".into(),
                purchases: Some("C0BUY".into()),
                cancellations: None,
                cancellation_mention: Some("<!here>".into()),
            },
            ..NotifyOptions::default()
        }),
        ..Options::default()
    })
    .await;
    app.send_event(&native_created()).await;
    let (status, _, body) = app.send_event(&native_billing_adjustment()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("posted")),
        "{body}"
    );
    let posts = app.slack.posts();
    assert_eq!(posts.len(), 2);
    let (purchase, refund) = (&posts[0], &posts[1]);
    assert_eq!(refund.channel, "C0BUY", "with the purchase");
    assert_eq!(refund.thread_ts.as_deref(), Some(purchase.ts.as_str()));
    assert!(!refund.reply_broadcast);
    assert_eq!(
        refund.text,
        "Billing adjustment (-1000.00 USD): agmt-cx71281flrkxyks8eurk5nlyk"
    );
    let text = text_of(refund);
    assert!(!text.contains("<!here>"), "nobody is pinged: {text}");
    assert_eq!(refund.blocks[0]["type"], "section", "quiet: no header");
    assert!(
        text.contains("*Billing adjustment (-1000.00 USD)*"),
        "{text}"
    );
    assert!(
        text.contains("Example Observability Platform from Example Observability Inc."),
        "the thread's facts name the product: {text}"
    );
    // Delivered again (EventBridge retries), it is not posted twice.
    let (_, _, again) = app.send_event(&native_billing_adjustment()).await;
    assert_eq!(again["status"], "duplicate");
}

#[tokio::test]
async fn a_message_without_a_product_names_the_agreement_once() {
    // No agreement details at all: the fake Agreement API doesn't know the agreement.
    let app = spawn_app(notify_app()).await;
    app.send_event(&ct_purchase()).await;
    let post = &app.slack.posts()[0];
    assert_eq!(
        post.text,
        "New Marketplace purchase: agreement agmt-cx71281flrkxyks8eurk5nlyk"
    );
    assert_eq!(post.text.matches("agmt-").count(), 1, "{}", post.text);
}

#[tokio::test]
async fn a_caller_without_an_arn_is_named() {
    let app = spawn_notifier(notify_app()).await;
    let mut record = fixture("cloudtrail-accept-agreement-request.json");
    record["userIdentity"] = json!({
        "type": "SAMLUser",
        "principalId": "SAMLExample:carol@example.com",
        "userName": "carol@example.com",
        "identityProvider": "bdGOnTesti4+ERRKjYjBUbXX8lk="
    });
    app.send_event(&via_eventbridge(record, "eb-saml-1")).await;
    let text = text_of(&app.slack.posts()[0]);
    assert!(
        text.contains("*Who*\ncarol@example.com (SAMLUser)"),
        "{text}"
    );
}

#[tokio::test]
async fn slack_500_then_success_and_429_within_the_budget() {
    let app = spawn_notifier(notify_app()).await;
    app.slack.api_faults(&[
        ApiFault::Status(500),
        ApiFault::RateLimited {
            retry_after_secs: 1,
        },
    ]);
    let (status, _, body) = app.send_event(&ct_purchase()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("posted")),
        "{body}"
    );
    assert_eq!(app.slack.posts().len(), 1);
    assert_eq!(app.slack.api_calls(), 3);
}

#[tokio::test]
async fn a_retry_after_beyond_the_budget_asks_eventbridge_to_come_back() {
    let app = spawn_notifier(notify_app()).await;
    app.slack.api_faults(&[ApiFault::RateLimited {
        retry_after_secs: 30,
    }]);
    let (status, retry_after, _) = app.send_event(&ct_purchase()).await;
    assert_eq!(status, 503);
    assert_eq!(retry_after.as_deref(), Some("30"));
    assert!(app.slack.posts().is_empty());
    let (status, _, body) = app.send_event(&ct_purchase()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("posted")));
    assert_eq!(app.slack.posts().len(), 1);
}

#[tokio::test]
async fn an_outage_longer_than_the_budget_gives_503_and_the_retry_posts_once() {
    let app = spawn_notifier(notify_app()).await;
    app.slack.api_faults(&vec![ApiFault::Status(503); 100]);
    let started = std::time::Instant::now();
    let (status, retry_after, _) = app.send_event(&ct_purchase()).await;
    assert_eq!(status, 503);
    assert!(retry_after.is_some());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "answered inside EventBridge's 5 s"
    );
    assert!(app.slack.posts().is_empty());
    app.slack.api_faults(&[]);
    let (status, _, _) = app.send_event(&ct_purchase()).await;
    assert_eq!(status, 200);
    let (status, _, body) = app.send_event(&ct_purchase()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(app.slack.posts().len(), 1);
}

#[tokio::test]
async fn a_slack_configuration_error_is_retried_until_fixed() {
    for error in [
        "not_in_channel",
        "channel_not_found",
        "invalid_auth",
        "missing_scope",
    ] {
        let app = spawn_notifier(notify_app()).await;
        app.slack.api_faults(&[ApiFault::Error(error)]);
        let (status, retry_after, body) = app.send_event(&ct_purchase()).await;
        assert_eq!(status, 503, "{error}: {body}");
        assert_eq!(retry_after.as_deref(), Some("60"), "{error}");
        assert_eq!(app.slack.api_calls(), 1, "{error}: not retried in a loop");
        let (status, _, _) = app.send_event(&ct_purchase()).await;
        assert_eq!(status, 200, "{error}: delivered once fixed");
        assert_eq!(app.slack.posts().len(), 1);
    }
}

#[tokio::test]
async fn unauthorised_oversized_malformed_and_irrelevant_input() {
    let app = spawn_notifier(notify_app()).await;
    let body = ct_purchase().to_string();
    assert_eq!(app.send_event_with_key(&body, None).await.0, 401);
    assert_eq!(app.send_event_with_key(&body, Some("wrong")).await.0, 401);
    let big = json!({"id": "x", "detail-type": "x", "source": "x", "detail": {"pad": "a".repeat(300 * 1024)}});
    assert_eq!(app.send_event(&big).await.0, 413);
    let (status, _, body) = app.send_event_with_key("not json", Some(EVENTS_KEY)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("body is not JSON"))
    );
    let (status, _, body) = app.send_event(&json!({"hello": "world"})).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("not an EventBridge event"),
        "{body}"
    );
    let ec2 = json!({"version": "0", "id": "e1", "detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "account": "1", "time": "2026-11-02T15:46:57Z", "region": "us-east-1", "resources": [], "detail": {"state": "running"}});
    let (status, _, body) = app.send_event(&ec2).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ignored")));
    let mut seller = native_created();
    seller["detail-type"] = json!("Purchase Agreement Created - Proposer");
    let (status, _, body) = app.send_event(&seller).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ignored")));
    assert!(app.slack.posts().is_empty());
    assert_eq!(app.slack.api_calls(), 0);
}

#[tokio::test]
async fn the_events_route_is_not_served_without_a_key() {
    let app = spawn_app(Options::default()).await;
    assert_eq!(app.send_event(&ct_purchase()).await.0, 404);
}

#[tokio::test]
async fn a_burst_of_twenty_to_one_channel_is_all_delivered_paced() {
    // A quarter of Slack's pace keeps the test short; twenty posts still take longer than one
    // delivery's budget, so the sender is asked to come back, as it would be at 1/s.
    let interval = Duration::from_millis(250);
    let app = std::sync::Arc::new(
        spawn_notifier(Options {
            notify: Some(NotifyOptions {
                post_interval: interval,
                ..NotifyOptions::default()
            }),
            ..Options::default()
        })
        .await,
    );
    let asked_to_retry = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for n in 0..20 {
        let app = app.clone();
        let asked_to_retry = asked_to_retry.clone();
        tasks.push(tokio::spawn(async move {
            let mut record = fixture("cloudtrail-accept-agreement-request.json");
            record["eventID"] = json!(format!("burst-{n}"));
            record["responseElements"]["agreementId"] = json!(format!("agmt-burst{n:03}"));
            let event = via_eventbridge(record, &format!("eb-burst-{n}"));
            // Play EventBridge: retry 503s after Retry-After.
            for _ in 0..60 {
                let (status, retry_after, _) = app.send_event(&event).await;
                match status {
                    200 => return,
                    503 => {
                        asked_to_retry.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        let secs: u64 = retry_after.unwrap().parse().unwrap();
                        tokio::time::sleep(Duration::from_secs(secs)).await;
                    }
                    other => panic!("event {n}: unexpected {other}"),
                }
            }
            panic!("event {n} never delivered");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let posts = app.slack.posts();
    assert_eq!(posts.len(), 20, "every event delivered exactly once");
    for pair in posts.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap + Duration::from_millis(50) >= interval,
            "posts to one channel are paced (50 ms allowed for loopback jitter): {gap:?}"
        );
    }
    assert!(
        asked_to_retry.load(std::sync::atomic::Ordering::SeqCst) > 0,
        "the burst outran one delivery's budget and was told to come back"
    );
}

#[tokio::test]
async fn the_thread_mapping_and_dedup_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let options = || Options {
        notify: Some(NotifyOptions {
            state_dir: Some(dir.path().to_owned()),
            ..NotifyOptions::default()
        }),
        ..Options::default()
    };
    let mut app = spawn_app(options()).await;
    app.send_event(&native_created()).await;
    let purchase_ts = app.slack.posts()[0].ts.clone();
    app.shutdown().await;
    let (cloudtrail, slack) = (app.cloudtrail.clone(), app.slack.clone());
    drop(app);

    let app = start_app(options(), cloudtrail, slack).await;
    let (_, _, body) = app.send_event(&native_created()).await;
    assert_eq!(body["status"], "duplicate", "remembered across the restart");
    app.send_event(&ct_cancel()).await;
    let posts = app.slack.posts();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[1].thread_ts.as_deref(), Some(purchase_ts.as_str()));
}

mod sns {
    use super::*;
    use crate::common::sns::{FakeSns, Version};
    use marketplace_activity::notify::sns::CertUrlRule;

    const TOPIC: &str = "arn:aws:sns:us-east-1:111122223333:marketplace-activity";

    async fn sns_app() -> (TestApp, FakeSns) {
        let fake = FakeSns::start().await;
        let app = spawn_app(Options {
            notify: Some(NotifyOptions {
                sns: Some((vec![TOPIC.into()], CertUrlRule::Prefix(fake.cert_prefix()))),
                ..NotifyOptions::default()
            }),
            ..Options::default()
        })
        .await;
        (app, fake)
    }

    async fn post(app: &TestApp, envelope: &Value) -> (u16, Value) {
        let resp = app
            .http
            .post(format!("{}/events/sns", app.url))
            .header("content-type", "text/plain; charset=UTF-8")
            .header(
                "x-amz-sns-message-type",
                envelope["Type"].as_str().unwrap_or(""),
            )
            .body(envelope.to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn a_signed_notification_is_posted_once_whichever_way_it_comes() {
        let (app, fake) = sns_app().await;
        let event = native_created().to_string();
        let (status, body) = post(
            &app,
            &fake.notification_with(Version::V2, TOPIC, &event, None),
        )
        .await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("posted")),
            "{body}"
        );
        let (status, body) = post(&app, &fake.notification(TOPIC, &event)).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("duplicate")),
            "{body}"
        );
        let (_, _, body) = app.send_event(&native_created()).await;
        assert_eq!(
            body["status"], "duplicate",
            "the same event through EventBridge"
        );
        let posts = app.slack.posts();
        assert_eq!(posts.len(), 1);
        assert!(text_of(&posts[0]).contains("Example Observability Platform"));
    }

    #[tokio::test]
    async fn forged_unsigned_and_wrong_topic_messages_are_refused() {
        let (app, fake) = sns_app().await;
        let event = native_created().to_string();
        let mut forged = fake.notification(TOPIC, &event);
        forged["Message"] = json!(event.replace("Example Observability Platform", "Totally Legit"));
        let mut unsigned = fake.notification(TOPIC, &event);
        unsigned.as_object_mut().unwrap().remove("Signature");
        let wrong_topic = fake.notification("arn:aws:sns:us-east-1:999999999999:other", &event);
        for (name, envelope) in [
            ("forged", forged),
            ("unsigned", unsigned),
            ("wrong topic", wrong_topic),
        ] {
            let (status, body) = post(&app, &envelope).await;
            assert!((400..500).contains(&status), "{name}: {status} {body}");
        }
        assert!(app.slack.posts().is_empty());
    }

    #[tokio::test]
    async fn a_subscription_is_confirmed() {
        let (app, fake) = sns_app().await;
        let confirmation = fake.confirmation(TOPIC, &fake.subscribe_url("tok-1"));
        let (status, body) = post(&app, &confirmation).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("confirmed")),
            "{body}"
        );
        assert_eq!(fake.confirmations().len(), 1);
        assert!(app.slack.posts().is_empty());
    }
}

#[tokio::test]
async fn unknown_event_names_add_one_metric_label_value_not_one_each() {
    let app = spawn_notifier(Options {
        notify: Some(NotifyOptions {
            post_interval: Duration::ZERO,
            ..NotifyOptions::default()
        }),
        ..Options::default()
    })
    .await;
    for n in 0..100 {
        let mut record = fixture("cloudtrail-cancel-agreement.json");
        record["eventName"] = json!(format!("SomeFutureAgreementCall{n}"));
        record["eventID"] = json!(format!("unknown-{n}"));
        let event = via_eventbridge(record, &format!("eb-unknown-{n}"));
        let (status, _, body) = app.send_event(&event).await;
        assert_eq!(status, 200, "event {n}: {body}");
    }
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let kinds: std::collections::BTreeSet<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("marketplace_activity_events_total{kind=\""))
        .filter_map(|rest| rest.split_once('"').map(|(kind, _)| kind))
        .collect();
    assert_eq!(kinds.into_iter().collect::<Vec<_>>(), ["other"], "{text}");
    assert!(!text.contains("SomeFutureAgreementCall"), "{text}");
}
