//! EventBridge through SQS: events written to a real SQS API (moto's server on loopback) are
//! read by the app and posted to the fake Slack, exactly as `POST /events` posts them.

use std::time::{Duration, Instant};

use marketplace_activity::state::StateStore;
use serde_json::{json, Value};

use crate::common::fake_slack::ApiFault;
use crate::common::moto::Moto;
use crate::common::*;
use crate::notifications::{ct_cancel, ct_purchase, fixture_agreement, native_created};

/// A queue on its own moto, and a client for it.
struct Queue {
    _moto: Moto,
    client: aws_sdk_sqs::Client,
    url: String,
}

impl Queue {
    async fn create() -> Self {
        let moto = Moto::start_threaded().await;
        let sdk = sdk_config(&moto.url).await;
        let client = marketplace_activity::notify::queue::client(&sdk);
        let url = client
            .create_queue()
            .queue_name("marketplace-events")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        Self {
            _moto: moto,
            client,
            url,
        }
    }

    async fn send(&self, body: &str) {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    /// Messages still in the queue, visible or in flight.
    async fn left(&self) -> usize {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let attrs = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap_or_default();
        [
            A::ApproximateNumberOfMessages,
            A::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|a| {
            attrs
                .get(a)
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(0)
        })
        .sum()
    }

    async fn wait_until_empty(&self, within: Duration) {
        let started = Instant::now();
        while self.left().await > 0 {
            assert!(
                started.elapsed() < within,
                "the queue was not drained in {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn options(&self, store: Option<StateStore>) -> Options {
        Options {
            notify: Some(NotifyOptions {
                queue_url: Some(self.url.clone()),
                ..NotifyOptions::default()
            }),
            queue_client: Some(self.client.clone()),
            store,
            ..Options::default()
        }
    }
}

async fn wait_for_posts(slack: &FakeSlack, n: usize, within: Duration) {
    let started = Instant::now();
    while slack.posts().len() < n {
        assert!(
            started.elapsed() < within,
            "{} posts after {within:?}, expected {n}",
            slack.posts().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn events_in_the_queue_are_posted_once_each_and_deleted() {
    let queue = Queue::create().await;
    let mut app = start_app(
        queue.options(None),
        FakeAws::start().await,
        FakeSlack::start().await,
    )
    .await;
    app.cloudtrail
        .add_agreement("agmt-cx71281flrkxyks8eurk5nlyk", fixture_agreement());
    for event in [ct_purchase(), native_created(), ct_purchase(), ct_cancel()] {
        queue.send(&event.to_string()).await;
    }
    queue.wait_until_empty(Duration::from_secs(20)).await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"marketplace_activity_queue_messages_total{outcome="deleted"} 4"#),
        "posted, merged or duplicate: each deleted once: {metrics}"
    );
    app.shutdown().await;
    let posts = app.slack.posts();
    assert_eq!(
        posts.len(),
        2,
        "the purchase (its twin merged, its copy a duplicate) and the cancellation"
    );
    assert_eq!(
        posts[0].updates, 1,
        "the twin updated the purchase in place"
    );
    assert_eq!(posts[1].thread_ts.as_deref(), Some(posts[0].ts.as_str()));
}

#[tokio::test]
async fn a_rate_limited_post_waits_in_the_queue_for_retry_after_then_posts_once() {
    let queue = Queue::create().await;
    let slack = FakeSlack::start().await;
    slack.api_faults(&[ApiFault::RateLimited {
        retry_after_secs: 6,
    }]);
    let app = start_app(queue.options(None), FakeAws::start().await, slack.clone()).await;
    let started = Instant::now();
    queue.send(&ct_purchase().to_string()).await;
    wait_for_posts(&slack, 1, Duration::from_secs(20)).await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"marketplace_activity_queue_messages_total{outcome="kept"} 1"#),
        "kept for Slack's Retry-After once: {metrics}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(5),
        "kept invisible for Slack's Retry-After: {:?}",
        started.elapsed()
    );
    queue.wait_until_empty(Duration::from_secs(10)).await;
    assert_eq!(slack.posts().len(), 1);
    drop(app);
}

#[tokio::test]
async fn a_message_that_is_not_an_event_is_deleted_and_counted() {
    let queue = Queue::create().await;
    let app = start_app(
        queue.options(None),
        FakeAws::start().await,
        FakeSlack::start().await,
    )
    .await;
    queue.send("this is not an EventBridge event").await;
    queue.wait_until_empty(Duration::from_secs(20)).await;
    let metrics = app.metrics_text().await;
    assert!(
        metrics.contains(r#"marketplace_activity_events_total{kind="none",result="malformed"} 1"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"marketplace_activity_queue_messages_total{outcome="malformed"} 1"#),
        "{metrics}"
    );
    assert!(app.slack.posts().is_empty());
}

#[tokio::test]
async fn two_replicas_reading_one_queue_post_each_event_once() {
    let queue = Queue::create().await;
    let dynamodb = Moto::start().await;
    let store_sdk = sdk_config(&dynamodb.url).await;
    let cloudtrail = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let mut replicas = Vec::new();
    for _ in 0..2 {
        let store = StateStore::open_dynamodb(&store_sdk, "queue-replicas")
            .await
            .unwrap();
        let mut options = queue.options(Some(store));
        if let Some(n) = options.notify.as_mut() {
            n.post_interval = Duration::from_millis(10);
        }
        replicas.push(start_app(options, cloudtrail.clone(), slack.clone()).await);
    }
    let events: Vec<Value> = (0..12)
        .map(|n| {
            let mut e = ct_purchase();
            e["id"] = json!(format!("eb-q-{n}"));
            e["detail"]["eventID"] = json!(format!("ct-q-{n}"));
            e["detail"]["responseElements"]["agreementId"] = json!(format!("agmt-queue{n:03}"));
            e
        })
        .collect();
    // Every event twice: EventBridge delivers at least once.
    for event in events.iter().chain(events.iter()) {
        queue.send(&event.to_string()).await;
    }
    queue.wait_until_empty(Duration::from_secs(40)).await;
    let posts = slack.posts();
    assert_eq!(
        posts.len(),
        12,
        "each event posted once across both replicas"
    );
}

#[tokio::test]
async fn a_restart_mid_stream_loses_nothing() {
    let queue = Queue::create().await;
    let dir = tempfile::tempdir().unwrap();
    let options = || {
        let mut o = queue.options(None);
        if let Some(n) = o.notify.as_mut() {
            n.state_dir = Some(dir.path().to_owned());
            n.post_interval = Duration::from_millis(10);
        }
        o
    };
    let (cloudtrail, slack) = (FakeAws::start().await, FakeSlack::start().await);
    let mut first = start_app(options(), cloudtrail.clone(), slack.clone()).await;
    for n in 0..10 {
        let mut e = ct_purchase();
        e["id"] = json!(format!("eb-r-{n}"));
        e["detail"]["eventID"] = json!(format!("ct-r-{n}"));
        e["detail"]["responseElements"]["agreementId"] = json!(format!("agmt-restart{n:03}"));
        queue.send(&e.to_string()).await;
    }
    wait_for_posts(&slack, 3, Duration::from_secs(20)).await;
    first.shutdown().await;
    drop(first);
    let second = start_app(options(), cloudtrail, slack.clone()).await;
    queue.wait_until_empty(Duration::from_secs(30)).await;
    assert_eq!(slack.posts().len(), 10, "every event, none twice");
    drop(second);
}

/// No inbound door: Slack over Socket Mode, EventBridge through SQS, state in DynamoDB. The
/// listening port serves only the operations routes (bound to loopback here, as a private
/// deployment would), and a command is answered and three events are posted.
#[tokio::test]
async fn a_private_deployment_answers_over_socket_mode_and_posts_from_the_queue() {
    use crate::common::fake_socket::{slash_command, Step};
    let queue = Queue::create().await;
    let dynamodb = Moto::start().await;
    let store = StateStore::open_dynamodb(&sdk_config(&dynamodb.url).await, "private")
        .await
        .unwrap();
    let slack = FakeSlack::start().await;
    slack.socket.script(vec![vec![
        Step::Send(slash_command(
            "e-private",
            "7d",
            &slack.response_url("private"),
        )),
        Step::AwaitAck,
        Step::Pause(Duration::from_secs(30)),
    ]]);
    let mut options = queue.options(Some(store));
    options.socket = Some(SocketOptions::default());
    if let Some(n) = options.notify.as_mut() {
        n.events_api_key = false;
        n.post_interval = Duration::from_millis(10);
    }
    let app = start_app(options, FakeAws::start().await, slack.clone()).await;
    for n in 0..3 {
        let mut e = ct_purchase();
        e["id"] = json!(format!("eb-p-{n}"));
        e["detail"]["eventID"] = json!(format!("ct-p-{n}"));
        e["detail"]["responseElements"]["agreementId"] = json!(format!("agmt-private{n:03}"));
        queue.send(&e.to_string()).await;
    }
    wait_for_posts(&slack, 3, Duration::from_secs(20)).await;
    let answer = slack.wait_for(1, Duration::from_secs(10)).await;
    assert!(
        answer.iter().any(|(to, _)| to == "private"),
        "the command over Socket Mode was answered: {answer:?}"
    );
    for (method, path) in [
        ("POST", "/slack/commands"),
        ("POST", "/slack/interactions"),
        ("POST", "/events"),
        ("POST", "/events/sns"),
    ] {
        let resp = app
            .http
            .request(method.parse().unwrap(), format!("{}{path}", app.url))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404, "{path} is not served");
    }
    let ready: Value = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["state_store"], "dynamodb", "{ready}");
    assert!(app.url.starts_with("http://127.0.0.1:"));
    queue.wait_until_empty(Duration::from_secs(10)).await;
    assert_eq!(slack.posts().len(), 3);
}

/// `/readyz` says whether the queue is being read, and why not when it isn't (here: a queue
/// that does not exist); `/metrics` counts the failed receives.
#[tokio::test]
async fn readyz_reports_whether_the_queue_is_read() {
    let queue = Queue::create().await;
    let app = start_app(
        queue.options(None),
        FakeAws::start().await,
        FakeSlack::start().await,
    )
    .await;
    let ready = app
        .readyz_until(|r| !r["queue"]["reachable"].is_null())
        .await;
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["queue"]["reachable"], true, "{ready}");
    assert_eq!(ready["queue"]["problem"], Value::Null, "{ready}");
    drop(app);

    let gone = format!("{}-deleted", queue.url);
    let mut options = queue.options(None);
    options.notify.as_mut().unwrap().queue_url = Some(gone);
    let app = start_app(options, FakeAws::start().await, FakeSlack::start().await).await;
    let ready = app.readyz_until(|r| r["queue"]["reachable"] == false).await;
    assert_eq!(ready["queue"]["reachable"], false, "{ready}");
    let problem = ready["queue"]["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("NonExistentQueue") || problem.contains("does not exist"),
        "{ready}"
    );
    assert_eq!(ready["ready"], true, "the HTTP routes still work: {ready}");
    let metrics = app.metrics_text().await;
    let failures: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("marketplace_activity_queue_receive_failures_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(failures >= 1, "{metrics}");
}

/// A stand-in for SQS (its JSON protocol) whose first ReceiveMessage answers `late` after it
/// arrives, with one message; later receives answer empty after a short wait. Records the
/// receipt handles deleted. moto can't be told to answer late, which is the case here: the app
/// stops while SQS is already handing it a message.
struct SlowSqs {
    url: String,
    receiving: std::sync::Arc<tokio::sync::Notify>,
    deleted: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl SlowSqs {
    async fn start(body: String, late: Duration) -> Self {
        use axum::http::HeaderMap;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let receiving = Arc::new(tokio::sync::Notify::new());
        let deleted = Arc::new(Mutex::new(Vec::new()));
        let answered = Arc::new(AtomicBool::new(false));
        let (r, d) = (receiving.clone(), deleted.clone());
        let handler = move |headers: HeaderMap, request: String| {
            let (r, d, answered, body) = (r.clone(), d.clone(), answered.clone(), body.clone());
            async move {
                let target = headers
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                let answer = match target.as_str() {
                    "AmazonSQS.ReceiveMessage" if !answered.swap(true, Ordering::SeqCst) => {
                        r.notify_one();
                        tokio::time::sleep(late).await;
                        json!({"Messages": [{"MessageId": "m-1", "ReceiptHandle": "rh-1", "Body": body}]})
                    }
                    "AmazonSQS.ReceiveMessage" => {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        json!({})
                    }
                    "AmazonSQS.DeleteMessage" => {
                        let request: Value = serde_json::from_str(&request).unwrap_or_default();
                        let handle = request["ReceiptHandle"].as_str().unwrap_or_default();
                        d.lock().unwrap().push(handle.to_owned());
                        json!({})
                    }
                    _ => json!({}),
                };
                (
                    [("content-type", "application/x-amz-json-1.0")],
                    answer.to_string(),
                )
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let app = axum::Router::new().fallback(axum::routing::post(handler));
            let _ = axum::serve(listener, app).await;
        });
        Self {
            url,
            receiving,
            deleted,
        }
    }
}

#[tokio::test]
async fn stopping_during_a_receive_delivers_the_message_sqs_handed_out() {
    let sqs = SlowSqs::start(ct_purchase().to_string(), Duration::from_millis(600)).await;
    let client = marketplace_activity::notify::queue::client(&sdk_config(&sqs.url).await);
    let options = Options {
        notify: Some(NotifyOptions {
            queue_url: Some(format!("{}/123456789012/marketplace-events", sqs.url)),
            ..NotifyOptions::default()
        }),
        queue_client: Some(client),
        ..Options::default()
    };
    let slack = FakeSlack::start().await;
    let mut app = start_app(options, FakeAws::start().await, slack.clone()).await;
    tokio::time::timeout(Duration::from_secs(10), sqs.receiving.notified())
        .await
        .expect("the app asks SQS for messages");
    // Stop while SQS is answering: what it hands out is delivered, not left invisible.
    app.shutdown().await;
    assert_eq!(slack.posts().len(), 1, "{:?}", slack.posts());
    assert_eq!(*sqs.deleted.lock().unwrap(), ["rh-1"]);
}
