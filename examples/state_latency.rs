//! `/events` latency with each state store, side by side in one run: the embedded redb store
//! (`STATE_DIR`) and DynamoDB (`STATE_TABLE`, on moto's server on loopback, via
//! `scripts/moto-server`). Two real applications, one fake Slack (answering at once); the events
//! alternate between them, so both see the same machine load. For each: p50/p99 of a new
//! event (posted) and of a duplicate, and how many store calls (DynamoDB requests) each costs.
//!
//! Run: `cargo run --release --example state_latency [EVENTS]` (needs `pip install "moto[server]"`).

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

use std::time::{Duration, Instant};

use marketplace_activity::aws::{connect, ActivitySource};
use marketplace_activity::config::{BotSettings, NotifySettings, ServeSettings};
use marketplace_activity::metrics::Metrics;
use marketplace_activity::notify::deliver::Routes;
use marketplace_activity::notify::routes::ApiKeys;
use marketplace_activity::notify::sns::CertUrlRule;
use marketplace_activity::slack::web_api::BotToken;
use marketplace_activity::startup::Application;
use marketplace_activity::state::{CallCounts, StateStore};
use serde_json::{json, Value};

const KEY: &str = "measure-events-key";

/// Starts the app with notifications on, on `store`; returns its `/events` URL.
async fn app(store: StateStore, aws: &fake_aws::FakeAws, slack: &fake_slack::FakeSlack) -> String {
    let token = BotToken::new(fake_slack::BOT_TOKEN);
    let settings = ServeSettings {
        notify: Some(NotifySettings {
            events_keys: ApiKeys::parse(KEY, "x-api-key").unwrap(),
            sns_topic_arns: Vec::new(),
            sns_cert_rule: CertUrlRule::AmazonSns,
            token: token.clone(),
            api_url: slack.api_url(),
            routes: Routes {
                default_channel: "C0MEASURE".into(),
                purchases: None,
                cancellations: None,
                cancellation_mention: None,
            },
            // Slack's pacing is not what is measured here.
            post_interval: Duration::from_millis(1),
            lease: Duration::from_secs(30),
            queue: None,
        }),
        bot: Some(BotSettings {
            token,
            api_url: slack.api_url(),
        }),
        ..latency::settings()
    };
    let metrics = Metrics::new();
    let config = latency::sdk(&aws.url).await;
    let aws = connect(&config, &settings.scope(), &metrics);
    let source = ActivitySource::CloudTrail(aws.cloudtrail);
    let app = Application::build(settings, source, Some(aws.agreements), metrics, store)
        .await
        .unwrap();
    let url = format!("http://{}/events", app.local_addr());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    url
}

/// A distinct CloudTrail purchase, as EventBridge delivers it.
fn event(n: usize) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/eventbridge-cloudtrail-accept-agreement-request.json"
    );
    let mut e: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    e["id"] = json!(format!("eb-measure-{n}"));
    e["detail"]["eventID"] = json!(format!("ct-measure-{n}"));
    e["detail"]["responseElements"]["agreementId"] = json!(format!("agmt-measure{n:06}"));
    e
}

struct Side {
    name: &'static str,
    url: String,
    store: StateStore,
    new: Vec<Duration>,
    duplicate: Vec<Duration>,
    new_calls: CallCounts,
    duplicate_calls: CallCounts,
}

async fn send(http: &reqwest::Client, url: &str, body: &Value, expect: &str) -> Duration {
    let started = Instant::now();
    let resp = http
        .post(url)
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let took = started.elapsed();
    let status = resp.status();
    let answer: Value = resp.json().await.unwrap();
    assert_eq!(
        (status.as_u16(), answer["status"].as_str()),
        (200, Some(expect)),
        "{answer}"
    );
    took
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    latency::ms(latency::percentile(sorted, p * 100.0))
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let aws = fake_aws::FakeAws::start().await;
    let slack = fake_slack::FakeSlack::start().await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut moto = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto-server"))
        .args(["127.0.0.1", &port.to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 scripts/moto-server (pip install \"moto[server]\")");
    let moto_url = format!("http://127.0.0.1:{port}");
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let dir = tempfile::tempdir().unwrap();
    let redb = StateStore::open_redb(dir.path()).unwrap();
    let dynamodb = StateStore::open_dynamodb(&latency::sdk(&moto_url).await, "measure-state")
        .await
        .unwrap();
    let mut sides = Vec::new();
    for (name, store) in [
        ("redb (STATE_DIR)", redb),
        ("DynamoDB on moto (STATE_TABLE)", dynamodb),
    ] {
        sides.push(Side {
            name,
            url: app(store.clone(), &aws, &slack).await,
            store,
            new: Vec::new(),
            duplicate: Vec::new(),
            new_calls: CallCounts::default(),
            duplicate_calls: CallCounts::default(),
        });
    }
    let http = marketplace_activity::http::client().expect("an HTTP client");
    // Warm up each side (connections, the SDK's first call).
    for (i, side) in sides.iter().enumerate() {
        send(&http, &side.url, &event(1_000_000 + i), "posted").await;
    }
    for phase in ["posted", "duplicate"] {
        let before: Vec<CallCounts> = sides.iter().map(|s| s.store.calls()).collect();
        for n in 0..n {
            for (i, side) in sides.iter_mut().enumerate() {
                let took = send(&http, &side.url, &event(n * 2 + i), phase).await;
                match phase {
                    "posted" => side.new.push(took),
                    _ => side.duplicate.push(took),
                }
            }
        }
        for (side, before) in sides.iter_mut().zip(before) {
            let spent = side.store.calls().since(&before);
            match phase {
                "posted" => side.new_calls = spent,
                _ => side.duplicate_calls = spent,
            }
        }
    }
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "{n} events per side, alternating between the two apps, one fake Slack, {build} build"
    );
    println!(
        "{:<32} {:>16} {:>16} {:>22} {:>22}",
        "store", "new p50/p99 ms", "dup p50/p99 ms", "calls per new event", "calls per duplicate"
    );
    for side in &mut sides {
        side.new.sort();
        side.duplicate.sort();
        let per = |c: &CallCounts| {
            format!(
                "{:.1} ({}g {}i {}r {}p {}d)",
                c.total() as f64 / n as f64,
                c.get / n as u64,
                c.insert / n as u64,
                c.replace / n as u64,
                c.put / n as u64,
                c.delete / n as u64
            )
        };
        println!(
            "{:<32} {:>7.2} / {:<7.2} {:>7.2} / {:<7.2} {:>22} {:>22}",
            side.name,
            pct(&side.new, 0.5),
            pct(&side.new, 0.99),
            pct(&side.duplicate, 0.5),
            pct(&side.duplicate, 0.99),
            per(&side.new_calls),
            per(&side.duplicate_calls),
        );
    }
    println!("(g get, i insert_new, r replace, p put, d delete; each is one DynamoDB request)");
    let _ = moto.kill();
    let _ = moto.wait();
}
