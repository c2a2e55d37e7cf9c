//! The delay from an event entering the SQS queue to its Slack post: the real application
//! reading `EVENTS_QUEUE_URL` (long poll, 20 s) on moto's SQS server (`scripts/moto-server
//! threaded`, so `pip install "moto[server]"` first), posting to the test suite's fake Slack.
//! Each event is a new purchase (its own agreement, so each is a new message); the delay is
//! from SendMessage returning (the message is in the queue) to chat.postMessage reaching the
//! fake Slack. Events are sent one every `GAP_MS` (default 100 ms) while the app polls;
//! `SLACK_POST_INTERVAL_MS` is 0 here, because Slack's one-post-per-second pacing per channel is
//! Slack's limit, not the pipeline's (at more than one event a second the pacing adds its wait).
//!
//! Run: `cargo run --release --example queue_latency [EVENTS]` (default 300).

// The integration tests' fakes; this program uses only part of what they offer.
#[allow(dead_code)]
#[path = "../tests/it/common/fake_aws.rs"]
mod fake_aws;
#[allow(dead_code)]
#[path = "../tests/it/common/fake_slack.rs"]
mod fake_slack;
#[allow(dead_code)]
#[path = "../tests/it/common/fake_socket.rs"]
mod fake_socket;
#[path = "support/latency.rs"]
mod latency;
#[allow(dead_code)]
#[path = "../tests/it/common/moto.rs"]
mod moto;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use marketplace_activity::aws::{connect, ActivitySource};
use marketplace_activity::config::{NotifySettings, ServeSettings};
use marketplace_activity::metrics::Metrics;
use marketplace_activity::notify::deliver::Routes;
use marketplace_activity::notify::queue::QueueSettings;
use marketplace_activity::slack::web_api::BotToken;
use marketplace_activity::startup::Application;
use marketplace_activity::state::StateStore;
use serde_json::json;

fn event(i: usize) -> String {
    let agreement = format!("agmt-latency{i:016}");
    json!({
        "version": "0",
        "id": format!("latency-{i}"),
        "detail-type": "Purchase Agreement Created - Acceptor",
        "source": "aws.agreement-marketplace",
        "account": "111122223333",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "agreement": {"id": agreement, "intent": "NEW", "status": "ACTIVE"},
            "acceptor": {"accountId": "111122223333"},
            "proposer": {"accountId": "444455556666", "name": "Example Seller"},
            "product": {"id": "prod-latency", "title": format!("Product {i}")},
        },
    })
    .to_string()
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let gap = Duration::from_millis(
        std::env::var("GAP_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100),
    );
    let moto = moto::Moto::start_threaded().await;
    let aws = fake_aws::FakeAws::start().await;
    let slack = fake_slack::FakeSlack::start().await;
    let sdk = latency::sdk(&moto.url).await;
    let sqs = marketplace_activity::notify::queue::client(&sdk);
    let url = sqs
        .create_queue()
        .queue_name("marketplace-events")
        .send()
        .await
        .expect("moto creates the queue")
        .queue_url
        .expect("a queue URL");

    let settings = ServeSettings {
        notify: Some(NotifySettings {
            events_keys: None,
            sns_topic_arns: Vec::new(),
            sns_cert_rule: marketplace_activity::notify::sns::CertUrlRule::AmazonSns,
            token: BotToken::new(fake_slack::BOT_TOKEN),
            api_url: slack.api_url(),
            routes: Routes {
                default_channel: "C0001".into(),
                purchases: None,
                cancellations: None,
                cancellation_mention: None,
            },
            post_interval: Duration::ZERO,
            lease: marketplace_activity::notify::deliver::DELIVERY_LEASE,
            queue: Some(QueueSettings {
                url: url.clone(),
                wait: Duration::from_secs(20),
            }),
        }),
        ..latency::settings()
    };
    let metrics = Metrics::new();
    let ct_sdk = latency::sdk(&aws.url).await;
    let clients = connect(&ct_sdk, &settings.scope(), &metrics);
    let app = Application::build(
        settings,
        ActivitySource::CloudTrail(clients.cloudtrail),
        None,
        metrics,
        StateStore::memory(),
    )
    .await
    .unwrap()
    .with_queue_client(sqs.clone());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    // Let the first long poll start.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut sent: HashMap<String, Instant> = HashMap::new();
    for i in 0..n {
        sqs.send_message()
            .queue_url(&url)
            .message_body(event(i))
            .send()
            .await
            .expect("SendMessage");
        sent.insert(format!("agmt-latency{i:016}"), Instant::now());
        tokio::time::sleep(gap).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while slack.posts().len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} posted",
            slack.posts().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut delays: Vec<Duration> = slack
        .posts()
        .iter()
        .filter_map(|p| {
            let text = p.blocks.to_string();
            let start = text.find("agmt-latency")?;
            let id = &text[start..start + "agmt-latency".len() + 16];
            Some(p.at.saturating_duration_since(*sent.get(id)?))
        })
        .collect();
    assert_eq!(delays.len(), n, "every post matched to its event");
    delays.sort();
    println!(
        "SQS queue → Slack post, {n} events one every {} ms, moto's SQS on loopback, long poll 20 s ({} build)",
        gap.as_millis(),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!(
        "p50={:.1} ms  p99={:.1} ms  max={:.1} ms",
        latency::ms(latency::percentile(&delays, 50.0)),
        latency::ms(latency::percentile(&delays, 99.0)),
        latency::ms(delays.last().copied().unwrap_or_default()),
    );
}
