//! Socket Mode end to end: the real app (without SLACK_SIGNING_SECRET) opens connections to
//! the fake Slack (`apps.connections.open` with the app-level token, then a WebSocket); the
//! fake plays envelopes as Slack sends them and records the acknowledgements.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::fake_socket::{interactive, slash_command, Step};
use crate::common::*;

const AGREEMENT: &str = "agmt-cx71281flrkxyks8eurk5nlyk";

/// A `block_actions` payload for a click on `action_id` with `value`.
fn click(app_slack: &FakeSlack, action_id: &str, value: Value, answer_id: &str) -> Value {
    json!({
        "type": "block_actions",
        "user": {"id": "U0001", "username": "someone", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "deprecated",
        "container": {"type": "message", "message_ts": "1800000000.000100", "channel_id": "C0001", "is_ephemeral": true},
        "trigger_id": "1.2.3",
        "team": {"id": "T0001", "domain": "acme"},
        "channel": {"id": "C0001", "name": "procurement"},
        "message": {},
        "response_url": app_slack.response_url(answer_id),
        "actions": [{
            "action_id": action_id,
            "block_id": "b1",
            "text": {"type": "plain_text", "text": "x"},
            "value": value,
            "type": "button",
            "action_ts": "1800000001.000200"
        }]
    })
}

async fn start(slack: FakeSlack, socket: SocketOptions) -> TestApp {
    init_logs();
    let options = Options {
        socket: Some(socket),
        ..Options::default()
    };
    start_app(options, FakeAws::start().await, slack).await
}

/// Waits for the answer at `response_url` `id`.
async fn answer_at(app: &TestApp, id: &str) -> Value {
    let path = format!("/commands/{id}");
    for _ in 0..500 {
        if let Some((_, body)) = app
            .slack
            .received()
            .into_iter()
            .find(|(to, _)| to == id || to.ends_with(&path))
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no answer at {id}: {:?}", app.slack.received());
}

#[tokio::test]
async fn commands_and_clicks_over_socket_mode_each_acknowledged_once_across_a_refresh() {
    let slack = FakeSlack::start().await;
    let details = json!(format!(r#"{{"a":"{AGREEMENT}"}}"#));
    let script = vec![
        Step::Send(slash_command("e-help", "help", &slack.response_url("help"))),
        Step::AwaitAck,
        Step::Send(slash_command("e-7d", "7d", &slack.response_url("7d"))),
        Step::AwaitAck,
        Step::Send(interactive(
            "e-link",
            click(&slack, "open_subscriptions", Value::Null, "link"),
        )),
        Step::AwaitAck,
        Step::Send(interactive(
            "e-details",
            click(&slack, "details", details, "details"),
        )),
        Step::AwaitAck,
        Step::Send(
            json!({"envelope_id": "e-event", "type": "events_api", "accepts_response_payload": false, "payload": {"event": {"type": "app_mention"}}}),
        ),
        Step::AwaitAck,
        Step::Send(
            json!({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "fake"}}),
        ),
        // Slack may still send on a connection it asked to refresh, until it closes it.
        Step::Send(slash_command("e-late", "24h", &slack.response_url("late"))),
        Step::AwaitAck,
        // The new connection is opened before this one closes.
        Step::AwaitConnections(3),
        Step::Pause(Duration::from_millis(100)),
        Step::Close,
    ];
    let mut retry = slash_command("e-7d", "7d", &slack.response_url("7d"));
    retry["retry_attempt"] = json!(1);
    retry["retry_reason"] = json!("timeout");
    // The first two connections: the script, and one that stays open. The third (after the
    // refresh): the `7d` envelope again, as Slack retries one it saw no acknowledgement for.
    slack.socket.script(vec![
        script,
        vec![],
        vec![Step::Send(retry), Step::AwaitAck],
    ]);
    let mut app = start(slack.clone(), SocketOptions::default()).await;

    let socket = &app.slack.socket;
    socket
        .wait_until(
            "every envelope acknowledged",
            Duration::from_secs(15),
            |s| s.acks().len() >= 7 && s.accepted() >= 3,
        )
        .await;
    let late = answer_at(&app, "late").await;
    let answer = answer_at(&app, "7d").await;
    answer_at(&app, "details").await;
    // Time for a second answer to the retried `7d`, were it handled twice.
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert_eq!(
        socket.timeouts(),
        Vec::<String>::new(),
        "no scripted wait ran out"
    );
    assert_eq!(
        (socket.opens(), socket.accepted()),
        (3, 3),
        "two connections, then one for the refresh, opened before the old one closed (and none after it closed)"
    );
    let sent = socket.sent();
    let acks = socket.acks();
    assert_eq!(sent.len(), 7, "{sent:?}");
    // Every delivery acknowledged exactly once, on its connection, within 3 s.
    let mut per_delivery: HashMap<(usize, String), usize> = HashMap::new();
    for ack in &acks {
        *per_delivery
            .entry((ack.connection, ack.envelope_id.clone()))
            .or_default() += 1;
        assert!(
            ack.latency < Duration::from_secs(3),
            "{} acknowledged after {:?}",
            ack.envelope_id,
            ack.latency
        );
    }
    for s in &sent {
        assert_eq!(
            per_delivery.get(&(s.connection, s.envelope_id.clone())),
            Some(&1),
            "{} on connection {}: {acks:?}",
            s.envelope_id,
            s.connection
        );
    }
    assert_eq!(
        acks.len(),
        sent.len(),
        "no stray acknowledgements: {acks:?}"
    );
    assert!(
        socket.other().is_empty(),
        "only acknowledgements: {:?}",
        socket.other()
    );
    let ack = |id: &str| {
        acks.iter()
            .find(|a| a.envelope_id == id)
            .unwrap()
            .body
            .clone()
    };
    // `help` is answered in the acknowledgement itself.
    let help = ack("e-help");
    assert_eq!(help["envelope_id"], "e-help");
    assert_eq!(help["payload"]["response_type"], "ephemeral");
    assert!(
        visible_text(&help["payload"]).contains(marketplace_activity::domain::USAGE.trim()),
        "{help}"
    );
    // `7d`: "looking up" now, the report through response_url once, even though Slack sent
    // the envelope twice (the retry is acknowledged with the same answer, and not run again).
    let first_7d = ack("e-7d");
    assert!(
        first_7d["payload"]["text"]
            .as_str()
            .unwrap()
            .contains("Looking up Marketplace activity for the last 7 days"),
        "{first_7d}"
    );
    let retried: Vec<_> = acks.iter().filter(|a| a.envelope_id == "e-7d").collect();
    assert_eq!(retried.len(), 2);
    assert_ne!(retried[0].connection, retried[1].connection);
    assert_eq!(retried[1].body, first_7d);
    assert!(
        visible_text(&answer).contains("Marketplace activity, last 7 days"),
        "{answer}"
    );
    assert!(visible_text(&late).contains("last 24 hours"), "{late}");
    let received = app.slack.received();
    let count = |id: &str| received.iter().filter(|(to, _)| to == id).count();
    assert_eq!(
        count("7d"),
        1,
        "the retried envelope is handled once: {received:?}"
    );
    assert_eq!(
        count("link"),
        0,
        "a link button: acknowledged, nothing else"
    );
    assert_eq!(count("details"), 1);
    // Interactions and events are acknowledged with the envelope id alone.
    for id in ["e-link", "e-details", "e-event"] {
        assert_eq!(ack(id), json!({"envelope_id": id}));
    }
    assert_eq!(app.cloudtrail.calls().len(), 2, "7d and 24h, once each");
    app.shutdown().await;
}

#[tokio::test]
async fn a_silent_connection_is_presumed_dead_and_replaced() {
    let slack = FakeSlack::start().await;
    // The first connection says hello, then nothing: no frames, no pongs.
    slack.socket.script(vec![
        vec![Step::Stall],
        vec![
            Step::Send(slash_command("e-1", "help", &slack.response_url("x"))),
            Step::AwaitAck,
        ],
    ]);
    let options = SocketOptions {
        connections: 1,
        stale_after: Duration::from_millis(600),
        ..SocketOptions::default()
    };
    let mut app = start(slack.clone(), options).await;
    app.slack
        .socket
        .wait_until("a replacement connection", Duration::from_secs(10), |s| {
            s.acks().iter().any(|a| a.envelope_id == "e-1")
        })
        .await;
    assert_eq!(app.slack.socket.accepted(), 2);
    app.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_the_connections_and_ends_their_tasks() {
    let slack = FakeSlack::start().await;
    let mut app = start(slack, SocketOptions::default()).await;
    app.slack
        .socket
        .wait_until("two connections", Duration::from_secs(10), |s| {
            s.accepted() == 2
        })
        .await;
    // Returns only once every tracked task (the connection loops among them) has ended.
    tokio::time::timeout(Duration::from_secs(5), app.shutdown())
        .await
        .expect("shutdown within the drain budget");
    assert_eq!(app.slack.socket.opens(), 2, "no reconnection on shutdown");
}

/// `/readyz` and `/metrics` say how many connections are open; after Slack's `link_disabled`
/// (Socket Mode turned off in the app's settings) `/readyz` says so and what to do, and the app
/// does not hammer `apps.connections.open`: it tries again only after the longest backoff.
#[tokio::test]
async fn readyz_and_metrics_report_the_connections_and_link_disabled() {
    let slack = FakeSlack::start().await;
    slack.socket.script(vec![
        vec![
            Step::AwaitConnections(2),
            Step::Pause(Duration::from_secs(30)),
        ],
        vec![
            Step::Send(slash_command("e-1", "help", &slack.response_url("x"))),
            Step::AwaitAck,
            Step::Pause(Duration::from_secs(30)),
        ],
    ]);
    let mut app = start(slack.clone(), SocketOptions::default()).await;
    app.slack
        .socket
        .wait_until("the envelope acknowledged", Duration::from_secs(10), |s| {
            s.acks().iter().any(|a| a.envelope_id == "e-1")
        })
        .await;
    let ready = app.readyz().await;
    assert_eq!(
        ready["socket_mode"],
        json!({"connections": 2, "wanted": 2, "problem": null}),
        "{ready}"
    );
    let metrics = app.metrics_text().await;
    for line in [
        "marketplace_activity_socket_mode_connections 2",
        r#"marketplace_activity_socket_mode_connects_total{outcome="ok"} 2"#,
        r#"marketplace_activity_socket_mode_envelopes_total{kind="slash_commands"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    app.shutdown().await;

    // Socket Mode turned off: Slack says link_disabled and closes.
    let slack = FakeSlack::start().await;
    slack.socket.script(vec![vec![
        Step::Send(json!({"type": "disconnect", "reason": "link_disabled"})),
        Step::Close,
    ]]);
    let options = SocketOptions {
        connections: 1,
        backoff_max: Duration::from_secs(60),
        ..SocketOptions::default()
    };
    let mut app = start(slack.clone(), options).await;
    let ready = app
        .readyz_until(|r| r["socket_mode"]["problem"].is_string())
        .await;
    let problem = ready["socket_mode"]["problem"].as_str().unwrap_or_default();
    assert!(
        problem.contains("link_disabled") && problem.contains("Turn it on"),
        "{ready}"
    );
    assert_eq!(ready["socket_mode"]["connections"], 0, "{ready}");
    // Before the fix it reconnected at once (50 ms backoff), again and again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.slack.socket.opens(), 1, "no reconnection storm");
    app.shutdown().await;
}
