//! Socket Mode acknowledgement latency: the real application in Socket Mode (no signing
//! secret) against the test suite's fake Slack, whose WebSocket side sends envelopes one at a
//! time and times each acknowledgement (envelope sent → `{"envelope_id"…}` received). The mix:
//! `help` (answered in the acknowledgement's payload), a `7d` lookup every 10th (acknowledged
//! with "looking up", answered through `response_url` by a background task), and link-button
//! clicks (`interactive`). Prints p50/p99/max over all, and per kind.
//!
//! Run: `cargo run --release --example socket_latency [ENVELOPES]` (default 1,000).

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

use std::time::Duration;

use fake_socket::Step;
use marketplace_activity::aws::{connect, ActivitySource};
use marketplace_activity::config::ServeSettings;
use marketplace_activity::metrics::Metrics;
use marketplace_activity::slack::socket::{AppToken, SocketSettings};
use marketplace_activity::startup::Application;
use marketplace_activity::state::StateStore;
use serde_json::json;

fn line(name: &str, mut latencies: Vec<Duration>) {
    latencies.sort();
    println!(
        "{name:<12} n={:<5} p50={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        latencies.len(),
        latency::ms(latency::percentile(&latencies, 50.0)),
        latency::ms(latency::percentile(&latencies, 99.0)),
        latency::ms(latencies.last().copied().unwrap_or_default()),
    );
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let aws = fake_aws::FakeAws::start().await;
    let slack = fake_slack::FakeSlack::start().await;

    let mut script = Vec::with_capacity(2 * n);
    for i in 0..n {
        let id = format!("env-{i:05}");
        let envelope = if i % 10 == 9 {
            fake_socket::slash_command(&id, "7d", &slack.response_url(&format!("a{i}")))
        } else if i.is_multiple_of(2) {
            fake_socket::slash_command(&id, "help", &slack.response_url(&format!("h{i}")))
        } else {
            fake_socket::interactive(
                &id,
                json!({
                    "type": "block_actions",
                    "user": {"id": "U0001", "team_id": "T0001"},
                    "team": {"id": "T0001"},
                    "channel": {"id": "C0001"},
                    "response_url": slack.response_url(&format!("c{i}")),
                    "actions": [{"action_id": "open_subscriptions", "type": "button"}]
                }),
            )
        };
        script.push(Step::Send(envelope));
        script.push(Step::AwaitAck);
    }
    // One connection plays the script; the other stays open, as in production.
    slack.socket.script(vec![script]);

    let mut socket = SocketSettings::new(AppToken::new(fake_slack::APP_TOKEN), &slack.api_url());
    socket.connections = 2;
    let settings = ServeSettings {
        socket: Some(socket),
        ..latency::settings()
    };
    let metrics = Metrics::new();
    let config = latency::sdk(&aws.url).await;
    let clients = connect(&config, &settings.scope(), &metrics);
    let source = ActivitySource::CloudTrail(clients.cloudtrail);
    let app = Application::build(
        settings,
        source,
        Some(clients.agreements),
        metrics,
        StateStore::memory(),
    )
    .await
    .unwrap();
    tokio::spawn(app.run_until_stopped(std::future::pending()));

    let deadline = std::time::Instant::now() + Duration::from_secs(600);
    while slack.socket.acks().len() < n {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {n} acknowledged",
            slack.socket.acks().len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let acks = slack.socket.acks();
    assert!(
        slack.socket.timeouts().is_empty(),
        "{:?}",
        slack.socket.timeouts()
    );
    let kind = |id: &str| {
        let i: usize = id.trim_start_matches("env-").parse().unwrap();
        if i % 10 == 9 {
            "7d"
        } else if i.is_multiple_of(2) {
            "help"
        } else {
            "click"
        }
    };
    let of = |k: &str| -> Vec<Duration> {
        acks.iter()
            .filter(|a| kind(&a.envelope_id) == k)
            .map(|a| a.latency)
            .collect()
    };
    println!(
        "Socket Mode acknowledgement latency, {n} envelopes sent one at a time over ws:// on loopback ({} build)",
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    line("all", acks.iter().map(|a| a.latency).collect());
    line("help", of("help"));
    line("7d", of("7d"));
    line("click", of("click"));
    let with_payload = acks
        .iter()
        .filter(|a| kind(&a.envelope_id) == "help" && a.body.get("payload").is_some())
        .count();
    println!("help acknowledgements carrying the usage as payload: {with_payload}");
}
