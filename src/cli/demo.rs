//! `marketplace-activity demo`: the real app on 127.0.0.1 with bundled sample events as its
//! event source and a console in place of Slack. It signs a slash command the way Slack does,
//! sends it, and prints what Slack would show. Only the two outside ends are swapped: the
//! routes, verification, lookup and rendering are production's.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::aws::events_file::Loaded;
use crate::aws::ActivitySource;
use crate::config::{DemoArgs, ServeArgs};
use crate::slack::signature::sign;
use crate::startup::{shutdown_signal, Application};

/// The demo's signing secret. It only ever guards a server on 127.0.0.1.
pub const DEMO_SECRET: &str = "demo-signing-secret";
const SAMPLE_EVENTS: &str = include_str!("../../examples/sample-events.json");

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let mut loaded = Loaded::from_json(
        SAMPLE_EVENTS.as_bytes(),
        "examples/sample-events.json".into(),
    )?;
    // Keep the samples recent, so the default windows always find them.
    loaded.rebase(chrono::Utc::now(), chrono::Duration::hours(1));
    let source = ActivitySource::Fixed(Arc::new(loaded));

    let (console_url, mut answers) = start_console().await?;
    let serve_args = ServeArgs {
        slack_signing_secret: Some(DEMO_SECRET.into()),
        listen_addr: "127.0.0.1:0".into(),
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
    let url = format!("http://{}/slack/commands", app.local_addr());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        tokio::select! {
            _ = stop_rx => {},
            () = shutdown_signal() => {},
        }
    }));

    println!("marketplace-activity demo: the app is serving {url}");
    println!(
        "with {} bundled sample events and a console in place of Slack.\n",
        SAMPLE_EVENTS.matches("\"eventID\"").count()
    );
    println!("$ /marketplace-activity {}", args.text);
    let body = form_body(&args.text, &console_url);
    let ts = chrono::Utc::now().timestamp();
    let ack = reqwest::Client::new()
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
    println!("\n[{} within Slack's 3 s, visible only to you]", status);
    print_message(&ack);
    if ack
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| t.contains("Looking up"))
    {
        let answer = tokio::time::timeout(Duration::from_secs(30), answers.recv())
            .await
            .context("no answer reached the console within 30 s")?
            .context("the console stopped")?;
        let visibility = match answer.get("response_type").and_then(Value::as_str) {
            Some("in_channel") => "posted in the channel",
            _ => "visible only to you",
        };
        println!("\n[answer via response_url, {visibility}]");
        print_message(&answer);
        if !args.once {
            print_click(&url, &console_url, &answer);
        }
    }
    if !args.once {
        print_try_more(&url, &console_url);
    }
    if args.once {
        let _ = stop_tx.send(());
    } else {
        println!("\nThe demo keeps serving; the answers to your curl commands print here. Ctrl-C stops it.");
        tokio::spawn(async move {
            while let Some(answer) = answers.recv().await {
                println!("\n[answer via response_url]");
                print_message(&answer);
            }
        });
    }
    server.await??;
    Ok(())
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

/// A loopback stand-in for Slack's `response_url`: whatever is posted is handed to the demo.
async fn start_console() -> anyhow::Result<(String, mpsc::Receiver<Value>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/response", listener.local_addr()?);
    let (tx, rx) = mpsc::channel(16);
    let app = Router::new()
        .route(
            "/response",
            post(
                |State(tx): State<mpsc::Sender<Value>>, Json(v): Json<Value>| async move {
                    let _ = tx.send(v).await;
                    "ok"
                },
            ),
        )
        .with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, rx))
}

fn print_try_more(url: &str, console_url: &str) {
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
    let blocks = message.get("blocks").and_then(Value::as_array);
    let Some(blocks) = blocks.filter(|b| !b.is_empty()) else {
        println!(
            "  {}",
            plain(message.get("text").and_then(Value::as_str).unwrap_or(""))
        );
        return;
    };
    for block in blocks {
        let text = |v: &Value| plain(v.get("text").and_then(Value::as_str).unwrap_or(""));
        match block.get("type").and_then(Value::as_str) {
            Some("header") => println!(
                "  ━━ {} ━━",
                block.get("text").map(text).unwrap_or_default()
            ),
            Some("section") => {
                for line in block.get("text").map(text).unwrap_or_default().lines() {
                    println!("  {line}");
                }
                if let Some(button) = block.get("accessory") {
                    let label = button.get("text").map(text).unwrap_or_default();
                    println!("    [{label}]");
                }
            }
            Some("context") => {
                for e in block
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    println!("  · {}", text(e));
                }
            }
            Some("divider") => println!("  ────────────────────────────────"),
            Some("actions") => {
                for e in block
                    .get("elements")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let label = e.get("text").map(text).unwrap_or_default();
                    let url = e.get("url").and_then(Value::as_str).unwrap_or("");
                    println!("  [{label}] {url}");
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
