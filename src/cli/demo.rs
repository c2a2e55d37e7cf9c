//! `marketplace-activity demo`: the real app on 127.0.0.1 with bundled sample events as its
//! event source and a console in place of Slack. It shows both halves of the product: it signs
//! a slash command the way Slack does, sends it, and prints what Slack would show; then it
//! delivers bundled EventBridge events to its own `POST /events` (as an EventBridge API
//! destination would) and prints the channel the notifier wrote: one message updated in place,
//! the thread under it, the cancellation also sent to the channel. Only the outside ends are
//! swapped (CloudTrail, EventBridge and Slack); the routes, verification, lookup, delivery and
//! rendering are production's.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::aws::events_file::Loaded;
use crate::aws::ActivitySource;
use crate::config::{DemoArgs, ServeArgs};
use crate::slack::signature::sign;
use crate::startup::{shutdown_signal, Application};
use crate::sync::lock;

/// The demo's signing secret. It only ever guards a server on 127.0.0.1.
pub const DEMO_SECRET: &str = "demo-signing-secret";
const SAMPLE_EVENTS: &str = include_str!("../../examples/sample-events.json");
/// The API key the demo's `POST /events` takes (EventBridge's connection sends it as `x-api-key`).
pub const DEMO_EVENTS_KEY: &str = "demo-events-key";
/// The channel notifications go to, and the name the console shows for it.
const DEMO_CHANNEL: &str = "C0DEMO";
const DEMO_CHANNEL_NAME: &str = "#procurement";
/// What EventBridge delivers when an agreement is bought, amended and cancelled: the CloudTrail
/// call (`AcceptAgreementRequest`) and AWS Marketplace's own event for the same purchase (its
/// twin), then an amendment and the cancellation.
const SAMPLE_NOTIFICATIONS: &str = include_str!("../../examples/sample-notifications.json");

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut loaded = Loaded::from_json(
        SAMPLE_EVENTS.as_bytes(),
        "examples/sample-events.json".into(),
    )?;
    // Keep the samples recent, so the default windows always find them.
    loaded.rebase(chrono::Utc::now(), chrono::Duration::hours(1));
    let source = ActivitySource::Fixed(Arc::new(loaded));

    let mut console = start_console().await?;
    let serve_args = ServeArgs {
        slack_signing_secret: Some(DEMO_SECRET.into()),
        listen_addr: "127.0.0.1:0".into(),
        notify: crate::config::NotifyArgs {
            events_api_key: Some(DEMO_EVENTS_KEY.into()),
            events_api_key_header: "x-api-key".into(),
            slack_bot_token: Some("xoxb-demo-console".into()),
            slack_channel: Some(DEMO_CHANNEL.into()),
            slack_api_url: console.api_url.clone(),
            // The console is not rate limited; Slack's one post per second per channel would
            // only make the demo slow.
            slack_post_interval_ms: Some(50),
            ..crate::config::NotifyArgs::default()
        },
        ..ServeArgs::demo_defaults()
    };
    let app = Application::build(
        serve_args.settings()?,
        source,
        None,
        crate::metrics::Metrics::new(),
        crate::state::StateStore::memory(),
    )
    .await?;
    let base = format!("http://{}", app.local_addr());
    let url = format!("{base}/slack/commands");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        tokio::select! {
            _ = stop_rx => {},
            () = shutdown_signal() => {},
        }
    }));

    println!("marketplace-activity demo: the app is serving {base}");
    println!(
        "with {} bundled sample CloudTrail records and a console in place of Slack.",
        SAMPLE_EVENTS.matches("\"eventID\"").count()
    );
    println!("\n━━━ 1. The slash command (answered from CloudTrail) ━━━\n");
    println!("$ /marketplace-activity {}", args.text);
    let body = form_body(&args.text, &console.response_url);
    let ts = chrono::Utc::now().timestamp();
    let ack = crate::http::loopback_client()?
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(DEMO_SECRET, ts, body.as_bytes()))
        .body(body.clone())
        .send()
        .await
        .context("sending the demo command")?;
    let status = ack.status();
    let ack: Value = ack.json().await.context("reading the acknowledgement")?;
    println!("\n[{status} within Slack's 3 s: the acknowledgement, visible only to you]");
    print_message(&ack);
    if ack
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains("Looking up"))
    {
        let answer = tokio::time::timeout(Duration::from_secs(30), console.answers.recv())
            .await
            .context("no answer reached the console within 30 s")?
            .context("the console stopped")?;
        println!(
            "\n[the answer, through response_url: {}]",
            visibility(&answer)
        );
        print_message(&answer);
        if !args.once {
            print_click(&url, &console.response_url, &answer);
        }
    }

    notifications(&base, &mut console).await?;

    if args.once {
        let _ = stop_tx.send(());
    } else {
        print_try_more(&base, &console.response_url);
        println!(
            "\nThe demo keeps serving; what your curl commands cause prints here. Ctrl-C stops it."
        );
        let mut answers = console.answers;
        tokio::spawn(async move {
            while let Some(answer) = answers.recv().await {
                println!(
                    "\n[an answer, through response_url: {}]",
                    visibility(&answer)
                );
                print_message(&answer);
            }
        });
        let mut changes = console.changes;
        let channel = console.channel.clone();
        tokio::spawn(async move {
            while let Some(ts) = changes.recv().await {
                let shown = lock(&channel).describe(&ts);
                if let Some((place, message)) = shown {
                    println!("\n[{place}]");
                    print_message(&message);
                }
            }
        });
    }
    server.await??;
    Ok(())
}

fn visibility(answer: &Value) -> &'static str {
    match answer.get("response_type").and_then(Value::as_str) {
        Some("in_channel") => "posted in the channel, for everyone",
        _ => "visible only to you",
    }
}

/// The second half: the bundled EventBridge events, delivered to the app's own `POST /events`
/// one after the other, then the channel as Slack would show it.
async fn notifications(base: &str, console: &mut Console) -> anyhow::Result<()> {
    println!("\n━━━ 2. Notifications (EventBridge events to POST {base}/events) ━━━\n");
    let mut events: Vec<Value> =
        serde_json::from_str(SAMPLE_NOTIFICATIONS).context("reading the sample notifications")?;
    rebase_events(&mut events, chrono::Utc::now());
    let http = crate::http::loopback_client()?;
    for event in &events {
        let response = http
            .post(format!("{base}/events"))
            .header("x-api-key", DEMO_EVENTS_KEY)
            .json(event)
            .send()
            .await
            .context("delivering a sample event")?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let outcome = answer["status"].as_str().unwrap_or("?");
        let place = answer["ts"]
            .as_str()
            .and_then(|ts| lock(&console.channel).describe(ts))
            .map_or_else(String::new, |(place, _)| format!(": {place}"));
        println!("  {:<48} → {status} {outcome}{place}", event_label(event));
    }
    println!(
        "\n[the channel {DEMO_CHANNEL_NAME}, as Slack shows it: in the channel, for everyone]"
    );
    lock(&console.channel).print();
    // Each post and update answered before its `/events` call did: all are shown above.
    while console.changes.try_recv().is_ok() {}
    Ok(())
}

/// "CloudTrail AcceptAgreementRequest" or the event's detail-type.
fn event_label(event: &Value) -> String {
    match event["detail-type"].as_str() {
        Some("AWS API Call via CloudTrail") => format!(
            "CloudTrail {}",
            event["detail"]["eventName"].as_str().unwrap_or("call")
        ),
        Some(other) => other.to_owned(),
        None => "an event".to_owned(),
    }
}

/// Moves the sample events' times so the first happened a few minutes before `now`, keeping
/// the gaps between them (the notifier merges a change's two events only when they are close).
fn rebase_events(events: &mut [Value], now: chrono::DateTime<chrono::Utc>) {
    let first = events
        .first()
        .and_then(|e| e["time"].as_str())
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok());
    let Some(first) = first else { return };
    let shift = now - chrono::Duration::minutes(5) - first.with_timezone(&chrono::Utc);
    for event in events {
        shift_times(event, shift);
    }
}

fn shift_times(value: &mut Value, shift: chrono::Duration) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                let is_time = key == "time" || key.ends_with("Time");
                match v {
                    Value::String(s) if is_time => {
                        if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
                            *s = (t.with_timezone(&chrono::Utc) + shift)
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                        }
                    }
                    other => shift_times(other, shift),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| shift_times(v, shift)),
        _ => {}
    }
}

impl ServeArgs {
    fn demo_defaults() -> Self {
        Self {
            slack_signing_secret: None,
            // The demo plays Slack over HTTP, signing its own requests.
            slack_app_token: None,
            listen_addr: String::new(),
            regions: crate::config::RegionArgs {
                cloudtrail_regions: vec!["us-east-1".into()],
                accounts: None,
                accounts_file: None,
                member_role_name: crate::aws::organization::DEFAULT_MEMBER_ROLE.into(),
                member_external_id: None,
                organization_refresh_secs: 3600,
                lookup_concurrency: crate::aws::cloudtrail::DEFAULT_IN_FLIGHT,
            },
            allowed_team_ids: vec![],
            allowed_channel_ids: vec![],
            allowed_user_ids: vec![],
            query_timeout_secs: 30,
            shutdown_timeout_secs: 5,
            http_header_timeout_secs: crate::server::DEFAULT_HEADER_TIMEOUT_SECS,
            http_body_timeout_secs: crate::server::DEFAULT_BODY_TIMEOUT_SECS,
            max_connections: None,
            notify: crate::config::NotifyArgs::default(),
            digest_every: None,
            digest_cron: None,
            digest_channel: None,
        }
    }
}

fn form_body(text: &str, response_url: &str) -> String {
    serde_urlencoded::to_string([
        ("team_id", "T0DEMO"),
        ("team_domain", "demo"),
        ("channel_id", "C0DEMO"),
        ("channel_name", "procurement"),
        ("user_id", "U0DEMO"),
        ("user_name", "you"),
        ("command", "/marketplace-activity"),
        ("text", text),
        ("response_url", response_url),
        ("trigger_id", "0.0.demo"),
    ])
    .expect("string pairs always encode")
}

/// A loopback stand-in for Slack: `response_url` (answers handed to the demo) and the two Web
/// API methods the notifier calls, `chat.postMessage` and `chat.update`, kept as a channel.
struct Console {
    response_url: String,
    api_url: String,
    answers: mpsc::Receiver<Value>,
    channel: Arc<Mutex<Channel>>,
    /// The `ts` of each message posted or updated, as it happens.
    changes: mpsc::UnboundedReceiver<String>,
}

#[derive(Clone)]
struct ConsoleState {
    answers: mpsc::Sender<Value>,
    channel: Arc<Mutex<Channel>>,
    changes: mpsc::UnboundedSender<String>,
}

async fn start_console() -> anyhow::Result<Console> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (answers_tx, answers) = mpsc::channel(16);
    let (changes_tx, changes) = mpsc::unbounded_channel();
    let channel = Arc::new(Mutex::new(Channel::default()));
    let state = ConsoleState {
        answers: answers_tx,
        channel: channel.clone(),
        changes: changes_tx,
    };
    let app = Router::new()
        .route(
            "/response",
            post(
                |State(s): State<ConsoleState>, Json(v): Json<Value>| async move {
                    let _ = s.answers.send(v).await;
                    "ok"
                },
            ),
        )
        .route(
            "/api/chat.postMessage",
            post(
                |State(s): State<ConsoleState>, Json(v): Json<Value>| async move {
                    let ts = lock(&s.channel).post(v);
                    let _ = s.changes.send(ts.clone());
                    Json(json!({"ok": true, "channel": DEMO_CHANNEL, "ts": ts}))
                },
            ),
        )
        .route(
            "/api/chat.update",
            post(
                |State(s): State<ConsoleState>, Json(v): Json<Value>| async move {
                    let ts = v["ts"].as_str().unwrap_or_default().to_owned();
                    if lock(&s.channel).update(&ts, v) {
                        let _ = s.changes.send(ts.clone());
                        Json(json!({"ok": true, "channel": DEMO_CHANNEL, "ts": ts}))
                    } else {
                        Json(json!({"ok": false, "error": "message_not_found"}))
                    }
                },
            ),
        )
        .with_state(state);
    // HTTP/1.1 through hyper directly, as `server::serve` does: `axum::serve` would also link
    // an HTTP/2 server into the binary for this one loopback console.
    tokio::spawn(async move {
        let http = hyper::server::conn::http1::Builder::new();
        while let Ok((stream, _)) = listener.accept().await {
            let service = hyper::service::service_fn({
                let app = app.clone();
                move |request: hyper::Request<hyper::body::Incoming>| {
                    tower_service::Service::call(
                        &mut app.clone(),
                        request.map(axum::body::Body::new),
                    )
                }
            });
            tokio::spawn(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        }
    });
    Ok(Console {
        response_url: format!("http://{addr}/response"),
        api_url: format!("http://{addr}/api"),
        answers,
        channel,
        changes,
    })
}

/// The demo channel's messages, in the order they were posted.
#[derive(Default)]
struct Channel {
    messages: Vec<Posted>,
}

struct Posted {
    ts: String,
    thread_ts: Option<String>,
    /// A thread reply also sent to the channel (`reply_broadcast`).
    broadcast: bool,
    message: Value,
    edits: usize,
}

impl Channel {
    fn post(&mut self, message: Value) -> String {
        let ts = format!("1700000000.{:06}", self.messages.len() + 1);
        self.messages.push(Posted {
            ts: ts.clone(),
            thread_ts: message["thread_ts"].as_str().map(str::to_owned),
            broadcast: message["reply_broadcast"].as_bool().unwrap_or(false),
            message,
            edits: 0,
        });
        ts
    }

    fn update(&mut self, ts: &str, message: Value) -> bool {
        let Some(posted) = self.messages.iter_mut().find(|p| p.ts == ts) else {
            return false;
        };
        posted.message = message;
        posted.edits += 1;
        true
    }

    /// Where the message `ts` is, in words, and what it says now.
    fn describe(&self, ts: &str) -> Option<(String, Value)> {
        let posted = self.messages.iter().find(|p| p.ts == ts)?;
        let place = match (&posted.thread_ts, posted.broadcast, posted.edits) {
            (None, _, 0) => format!("a new message in {DEMO_CHANNEL_NAME}"),
            (None, _, 1) => "the same message, updated in place".to_owned(),
            (None, _, n) => format!("the same message, updated in place ({n} times)"),
            (Some(_), false, _) => "a reply in that message's thread".to_owned(),
            (Some(_), true, _) => "a reply in the thread, also sent to the channel".to_owned(),
        };
        Some((place, posted.message.clone()))
    }

    /// The channel as Slack shows it: top-level messages (and thread replies also sent to the
    /// channel) in order, each with its thread folded out under it.
    fn print(&self) {
        let top = self
            .messages
            .iter()
            .filter(|p| p.thread_ts.is_none() || p.broadcast);
        for posted in top {
            match (&posted.thread_ts, posted.edits) {
                (Some(_), _) => println!("  ● replied to a thread (also sent to the channel):"),
                (None, 0) => println!("  ● message:"),
                (None, _) => println!("  ● message (edited: updated in place):"),
            }
            print_indented(&posted.message, "    ");
            if posted.thread_ts.is_some() {
                continue;
            }
            let replies: Vec<&Posted> = self
                .messages
                .iter()
                .filter(|p| p.thread_ts.as_deref() == Some(posted.ts.as_str()))
                .collect();
            if replies.is_empty() {
                continue;
            }
            let n = replies.len();
            println!(
                "    💬 {n} {} in its thread:",
                if n == 1 { "reply" } else { "replies" }
            );
            for reply in replies {
                let also = if reply.broadcast {
                    " (also sent to the channel)"
                } else {
                    ""
                };
                println!("      ↳ reply{also}:");
                print_indented(&reply.message, "        ");
            }
        }
    }
}

fn print_try_more(base: &str, console_url: &str) {
    let url = format!("{base}/slack/commands");
    println!("\nTry more (each curl signs its request like Slack does; needs openssl):");
    for text in [
        "90d purchases",
        "agmt-demo0000000000000000002 share",
        "help",
        "last week",
    ] {
        let body = serde_urlencoded::to_string([
            ("user_id", "U0DEMO"),
            ("text", text),
            ("response_url", console_url),
        ])
        .expect("string pairs always encode");
        println!(
            "  body='{body}'; ts=$(date +%s); sig=\"v0=$(printf 'v0:%s:%s' \"$ts\" \"$body\" | openssl dgst -sha256 -hmac {DEMO_SECRET} -r | cut -d' ' -f1)\"; \
curl -s {url} -H \"X-Slack-Request-Timestamp: $ts\" -H \"X-Slack-Signature: $sig\" --data \"$body\"; echo"
        );
    }
    println!(
        "\nAn unsigned request is refused with 401:\n  curl -si {url} --data 'text=7d' | head -1"
    );
    let event = json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Purchase Agreement Created - Acceptor",
        "source": "aws.agreement-marketplace",
        "account": "111122223333",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": [],
        "detail": {
            "agreement": {"id": "agmt-demo0000000000000000008", "intent": "NEW", "status": "ACTIVE"},
            "acceptor": {"accountId": "111122223333"},
            "proposer": {"accountId": "444455556666", "name": "Example Security Inc."},
            "product": {"id": "prod-demo8example", "title": "Example Threat Detection"},
        },
    });
    println!(
        "\nA purchase as EventBridge delivers it (the channel's new message prints here; sent twice, it is a duplicate):\n  \
curl -s {base}/events -H 'x-api-key: {DEMO_EVENTS_KEY}' -H 'content-type: application/json' --data '{event}'; echo"
    );
}

/// The curl that clicks the answer's first button with a value ("Details", or "Older"), signed
/// as Slack signs an interaction (`payload=<JSON>`).
fn print_click(url: &str, console_url: &str, answer: &Value) {
    let buttons = answer["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|b| {
            b.get("accessory")
                .into_iter()
                .chain(b["elements"].as_array().into_iter().flatten())
        })
        .filter(|e| e["type"] == "button" && e.get("value").is_some());
    let Some(button) = buttons.into_iter().next() else {
        return;
    };
    let payload = serde_json::json!({
        "type": "block_actions",
        "user": {"id": "U0DEMO", "team_id": "T0DEMO"},
        "team": {"id": "T0DEMO"},
        "channel": {"id": "C0DEMO"},
        "response_url": console_url,
        "actions": [{"action_id": button["action_id"], "value": button["value"], "type": "button"}],
    });
    let body = serde_urlencoded::to_string([("payload", payload.to_string())])
        .expect("string pairs always encode");
    let interactions = url.replace("/slack/commands", "/slack/interactions");
    let label = button["text"]["text"].as_str().unwrap_or("the button");
    println!(
        "\nClick [{label}] (a signed interaction, as Slack sends a click; the answer prints here):"
    );
    println!(
        "  body='{body}'; ts=$(date +%s); sig=\"v0=$(printf 'v0:%s:%s' \"$ts\" \"$body\" | openssl dgst -sha256 -hmac {DEMO_SECRET} -r | cut -d' ' -f1)\"; \
curl -s {interactions} -H \"X-Slack-Request-Timestamp: $ts\" -H \"X-Slack-Signature: $sig\" --data \"$body\"; echo"
    );
}

/// Prints a Block Kit message roughly as Slack shows it.
pub fn print_message(message: &Value) {
    print_indented(message, "  ");
}

/// [`print_message`] with each line starting with `indent`.
fn print_indented(message: &Value, indent: &str) {
    let blocks = message.get("blocks").and_then(Value::as_array);
    let Some(blocks) = blocks.filter(|b| !b.is_empty()) else {
        println!(
            "{indent}{}",
            plain(message.get("text").and_then(Value::as_str).unwrap_or(""))
        );
        return;
    };
    for block in blocks {
        let text = |v: &Value| plain(v.get("text").and_then(Value::as_str).unwrap_or(""));
        match block.get("type").and_then(Value::as_str) {
            Some("header") => println!(
                "{indent}━━ {} ━━",
                block.get("text").map(text).unwrap_or_default()
            ),
            Some("section") => {
                for line in block.get("text").map(text).unwrap_or_default().lines() {
                    println!("{indent}{line}");
                }
                // Slack lays the fields out two by two; one per line reads the same here.
                for field in block
                    .get("fields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    println!("{indent}  {}", text(field).replace('\n', " "));
                }
                if let Some(button) = block.get("accessory") {
                    let label = button.get("text").map(text).unwrap_or_default();
                    println!("{indent}  [{label}]");
                }
            }
            Some("context") => {
                for e in block
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    println!("{indent}· {}", text(e));
                }
            }
            Some("divider") => println!("{indent}────────────────────────────────"),
            Some("actions") => {
                for e in block
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let label = e.get("text").map(text).unwrap_or_default();
                    let url = e.get("url").and_then(Value::as_str).unwrap_or("");
                    println!("{indent}[{label}] {url}");
                }
            }
            _ => {}
        }
    }
}

/// mrkdwn to terminal text: date tokens become their UTC fallback, entities are unescaped.
fn plain(mrkdwn: &str) -> String {
    let mut out = String::with_capacity(mrkdwn.len());
    let mut rest = mrkdwn;
    while let Some(start) = rest.find("<!date^") {
        out.push_str(&rest[..start]);
        let token = &rest[start..];
        match (token.find('|'), token.find('>')) {
            (Some(bar), Some(end)) if bar < end => {
                out.push_str(&token[bar + 1..end]);
                rest = &token[end + 1..];
            }
            _ => {
                out.push_str(token);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn date_tokens_print_as_their_fallback() {
        assert_eq!(
            super::plain(
                "at <!date^1^{date_short_pretty} {time}|2026-11-02 15:46 UTC> by &lt;x&gt;"
            ),
            "at 2026-11-02 15:46 UTC by <x>"
        );
    }
}
