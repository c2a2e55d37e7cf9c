//! Several replicas on one shared state: two or three real app instances, one DynamoDB table
//! (moto's server on loopback), one fake Slack, driven as EventBridge drives them. Assertions
//! are on the posts Slack received, counted across replicas.

use std::time::{Duration, Instant};

use chrono::Utc;
use marketplace_activity::config::DigestSettings;
use marketplace_activity::digest::{ManualClock, Schedule};
use marketplace_activity::state::StateStore;
use serde_json::{json, Value};

use crate::common::fake_slack::NetFault;
use crate::common::moto::Moto;
use crate::common::proxy::Proxy;
use crate::common::*;
use crate::notifications::{
    ct_cancel, ct_purchase, fixture_agreement, native_created, native_ended, text_of,
    via_eventbridge,
};

/// The replicas of one test and what they share.
struct Cluster {
    _moto: Moto,
    /// Between the replicas and moto, so DynamoDB can be cut off.
    dynamodb: Proxy,
    apps: Vec<TestApp>,
}

impl Cluster {
    async fn start(n: usize, options: impl Fn() -> Options) -> Self {
        let moto = Moto::start().await;
        let dynamodb = Proxy::start(&moto.url).await;
        let table = format!(
            "replicas-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let cloudtrail = FakeAws::start().await;
        cloudtrail.add_agreement("agmt-cx71281flrkxyks8eurk5nlyk", fixture_agreement());
        let slack = FakeSlack::start().await;
        let mut apps = Vec::new();
        for _ in 0..n {
            let sdk = sdk_config(&dynamodb.url).await;
            let store = StateStore::open_dynamodb(&sdk, &table).await.unwrap();
            let options = Options {
                store: Some(store),
                ..options()
            };
            apps.push(start_app(options, cloudtrail.clone(), slack.clone()).await);
        }
        Self {
            _moto: moto,
            dynamodb,
            apps,
        }
    }

    fn slack(&self) -> &FakeSlack {
        &self.apps[0].slack
    }
}

fn notifying(lease: Duration) -> impl Fn() -> Options {
    move || Options {
        notify: Some(NotifyOptions {
            lease,
            ..NotifyOptions::default()
        }),
        ..Options::default()
    }
}

/// Plays EventBridge against one replica: sends until accepted, waiting between tries (the
/// time EventBridge would, shortened); every answer within 5 s, every refusal a 503 with
/// `Retry-After`. Returns the statuses and the last body.
async fn deliver(app: &TestApp, event: &Value, tries: usize) -> (Vec<u16>, Value) {
    let mut statuses = Vec::new();
    for _ in 0..tries {
        let started = Instant::now();
        let (status, retry_after, body) = app.send_event(event).await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{status} too late"
        );
        statuses.push(status);
        if status == 200 {
            return (statuses, body);
        }
        assert_eq!(status, 503, "{body}");
        assert!(retry_after.is_some(), "a 503 carries Retry-After: {body}");
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    panic!("not delivered after {tries} tries: {statuses:?}");
}

#[tokio::test]
async fn the_same_event_to_every_replica_at_once_is_posted_once() {
    let cluster = Cluster::start(3, notifying(Duration::from_secs(30))).await;
    let event = ct_purchase();
    let (a, b, c) = (&cluster.apps[0], &cluster.apps[1], &cluster.apps[2]);
    // At once, as EventBridge's deliveries and retries may race.
    let (ra, rb, rc) = tokio::join!(
        deliver(a, &event, 5),
        deliver(b, &event, 5),
        deliver(c, &event, 5)
    );
    let results = [ra, rb, rc];
    let statuses: Vec<&str> = results
        .iter()
        .map(|(_, body)| body["status"].as_str().unwrap())
        .collect();
    assert_eq!(cluster.slack().posts().len(), 1, "{statuses:?}");
    assert_eq!(
        statuses.iter().filter(|s| **s == "posted").count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == "posted" || *s == "duplicate"),
        "{statuses:?}"
    );
    // EventBridge's retry reaches yet another replica after the post.
    let (_, _, body) = cluster.apps[2].send_event(&event).await;
    assert_eq!(body["status"], "duplicate");
    assert_eq!(cluster.slack().posts().len(), 1);
}

#[tokio::test]
async fn twins_on_two_replicas_become_one_message_and_later_events_share_its_thread() {
    let cluster = Cluster::start(3, notifying(Duration::from_secs(30))).await;
    let (a, b, c) = (&cluster.apps[0], &cluster.apps[1], &cluster.apps[2]);
    let (_, first) = deliver(a, &ct_purchase(), 3).await;
    let (_, second) = deliver(b, &native_created(), 3).await;
    assert_eq!(
        (first["status"].as_str(), second["status"].as_str()),
        (Some("posted"), Some("updated"))
    );
    let posts = cluster.slack().posts();
    assert_eq!(posts.len(), 1, "one message for the purchase");
    assert_eq!(posts[0].updates, 1, "updated in place with its twin");
    let text = text_of(&posts[0]);
    assert!(
        text.contains("alice@example.com (IAM user)"),
        "who, from A: {text}"
    );
    assert!(
        text.contains("*Example Observability Platform*"),
        "what, from B: {text}"
    );

    // An amendment, then the cancellation, through the third replica.
    let mut amend = ct_purchase();
    amend["id"] = json!("eb-amend-1");
    amend["detail"]["eventID"] = json!("ct-amend-1");
    amend["detail"]["requestParameters"]["agreementRequestId"] = json!("ar-amend-1");
    let mut create = fixture("cloudtrail-accept-agreement-request.json");
    create["eventName"] = json!("CreateAgreementRequest");
    create["eventID"] = json!("ct-create-amend-1");
    create["requestParameters"] = json!({"agreementRequestId": "ar-amend-1", "intent": "AMEND"});
    deliver(c, &via_eventbridge(create, "eb-create-amend-1"), 3).await;
    let (_, amended) = deliver(c, &amend, 3).await;
    assert_eq!(amended["status"], "posted");
    let (_, cancelled) = deliver(c, &ct_cancel(), 3).await;
    assert_eq!(cancelled["status"], "posted");
    let (_, ended) = deliver(a, &native_ended(), 3).await;
    assert_eq!(
        ended["status"], "updated",
        "the cancellation's twin, on yet another replica"
    );

    let posts = cluster.slack().posts();
    assert_eq!(posts.len(), 3, "purchase, amendment, cancellation");
    let thread = posts[0].ts.as_str();
    assert!(
        text_of(&posts[1]).contains("amended"),
        "{}",
        text_of(&posts[1])
    );
    assert_eq!(posts[1].thread_ts.as_deref(), Some(thread));
    assert_eq!(posts[2].thread_ts.as_deref(), Some(thread));
    assert!(posts[2].reply_broadcast);
}

#[tokio::test]
async fn a_slow_slack_is_posted_once_and_retries_wait_for_its_answer() {
    let cluster = Cluster::start(2, notifying(Duration::from_secs(30))).await;
    cluster.slack().slow_answers(&[Duration::from_secs(6)]);
    let event = ct_purchase();
    let (a, b) = (&cluster.apps[0], &cluster.apps[1]);
    let first = async {
        let started = Instant::now();
        let (status, retry_after, _) = a.send_event(&event).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(
            (status, retry_after.is_some()),
            (503, true),
            "the post outlived the budget"
        );
    };
    // EventBridge's retry reaches the other replica while the post is still running.
    let retry = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let (status, retry_after, body) = b.send_event(&event).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!((status, retry_after.is_some()), (503, true), "{body}");
    };
    tokio::join!(first, retry);
    assert_eq!(cluster.slack().posts().len(), 1, "Slack has it");

    // Later retries: told to come back until the post is recorded, then told it's a duplicate.
    let mut statuses = Vec::new();
    loop {
        let (status, retry_after, body) = b.send_event(&event).await;
        statuses.push(status);
        if status == 200 {
            assert_eq!(body["status"], "duplicate", "{statuses:?}");
            break;
        }
        assert_eq!((status, retry_after.is_some()), (503, true), "{body}");
        assert!(statuses.len() < 10, "{statuses:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(cluster.slack().posts().len(), 1, "exactly one post");
}

#[tokio::test]
async fn a_store_outage_asks_for_a_retry_then_delivers_exactly_once() {
    let cluster = Cluster::start(2, notifying(Duration::from_secs(30))).await;
    cluster.dynamodb.down();
    let event = ct_purchase();
    let started = Instant::now();
    let (status, retry_after, body) = cluster.apps[0].send_event(&event).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!((status, retry_after.is_some()), (503, true), "{body}");
    assert!(
        cluster.slack().posts().is_empty(),
        "nothing posted that could not be recorded"
    );
    // Slash commands don't need the store.
    let (status, ack) = cluster.apps[0].command("help").await;
    assert_eq!(status, 200, "{ack}");

    cluster.dynamodb.up();
    let (_, body) = deliver(&cluster.apps[1], &event, 3).await;
    assert_eq!(body["status"], "posted");
    let (_, _, body) = cluster.apps[0].send_event(&event).await;
    assert_eq!(body["status"], "duplicate");
    assert_eq!(cluster.slack().posts().len(), 1);
}

#[tokio::test]
async fn three_replicas_post_one_digest_per_period() {
    let start = Utc::now();
    let clock = ManualClock::new(start);
    let clock_for_apps = clock.clone();
    let cluster = Cluster::start(3, move || Options {
        bot: true,
        digest: Some(DigestSettings {
            schedule: Schedule::every("1h").unwrap(),
            channel: "C0DIGEST".into(),
        }),
        clock: Some(clock_for_apps.clone()),
        ..Options::default()
    })
    .await;
    for period in 1..=2 {
        clock.advance(chrono::Duration::hours(1));
        // Every replica has dealt with this period once all three wait for the next one.
        let next = start + chrono::Duration::hours(period + 1);
        tokio::time::timeout(Duration::from_secs(20), clock.sleepers_at(next, 3))
            .await
            .expect("all three replicas reached the next period");
        let digests = cluster
            .slack()
            .posts()
            .iter()
            .filter(|p| p.channel == "C0DIGEST")
            .count();
        assert_eq!(digests, period as usize, "one digest per period");
    }
}

#[tokio::test]
async fn a_replica_killed_while_posting_is_taken_over_after_its_lease() {
    let moto = Moto::start().await;
    let table = format!("killed-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let cloudtrail = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    // Replica A: the real binary, sharing the table, its first post hanging in Slack.
    let tmp = tempfile::tempdir().unwrap();
    let (mut command, port) = crate::faults::Binary::command(&cloudtrail, &slack, tmp.path());
    command
        .env_remove("STATE_DIR")
        .env("STATE_TABLE", &table)
        .env("AWS_ENDPOINT_URL_DYNAMODB", &moto.url)
        .env("STATE_LEASE_SECS", "2")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut a = command.spawn().unwrap();
    let a_url = format!("http://127.0.0.1:{port}");
    let http = marketplace_activity::http::client().expect("an HTTP client");
    let ready = Instant::now();
    while http.get(format!("{a_url}/healthz")).send().await.is_err() {
        assert!(
            ready.elapsed() < Duration::from_secs(20),
            "replica A never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    slack.net_faults(&[NetFault::Hang]);
    let event = ct_purchase();
    let resp = http
        .post(format!("{a_url}/events"))
        .header("x-api-key", EVENTS_KEY)
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503, "A claimed it and is stuck posting");
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    assert!(slack.posts().is_empty());

    // Replica B, same table: once A's lease has run out, EventBridge's retry is posted.
    let sdk = sdk_config(&moto.url).await;
    let b = start_app(
        Options {
            store: Some(StateStore::open_dynamodb(&sdk, &table).await.unwrap()),
            ..notifying(Duration::from_secs(2))()
        },
        cloudtrail,
        slack.clone(),
    )
    .await;
    let (_, body) = deliver(&b, &event, 5).await;
    assert_eq!(body["status"], "posted");
    let (_, _, body) = b.send_event(&event).await;
    assert_eq!(body["status"], "duplicate");
    assert_eq!(slack.posts().len(), 1, "exactly one post");
}

/// Two processes on one STATE_DIR: the second stops at start-up and says to use STATE_TABLE.
#[tokio::test]
async fn a_second_process_on_one_state_dir_is_refused_at_start_up() {
    let cloudtrail = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let first = crate::faults::Binary::start(&cloudtrail, &slack, tmp.path()).await;
    let (mut second, _) = crate::faults::Binary::command(&cloudtrail, &slack, tmp.path());
    let out = tokio::task::spawn_blocking(move || second.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("in use by another process") && stderr.contains("STATE_TABLE"),
        "{stderr}"
    );
    // The first is unaffected.
    let (status, body) = first.send_event(&ct_purchase()).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("posted")));
}
