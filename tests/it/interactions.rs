//! Buttons end to end: interaction payloads signed as Slack signs them
//! (`payload=<url-encoded JSON>`, `block_actions` with `actions[]`, `response_url`, `user`,
//! `channel`, `container`, `message`), sent to `/slack/interactions`; assertions on what
//! reached Slack's `response_url` and the channel.

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use serde_json::{json, Value};

use crate::common::*;
use crate::notifications::{fixture_agreement, native_created, spawn_notifier};

const AGREEMENT: &str = "agmt-cx71281flrkxyks8eurk5nlyk";

/// A `block_actions` payload for a click on `action` (its `action_id` and `value`), in the
/// message `message`, answered at the fake Slack's `response_url` `answer_id`.
fn click(app: &TestApp, action: &Value, message: &Value, answer_id: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": "U0001", "username": "someone", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "deprecated",
        "container": {"type": "message", "message_ts": "1800000000.000100", "channel_id": "C0001", "is_ephemeral": true},
        "trigger_id": "1.2.3",
        "team": {"id": "T0001", "domain": "acme"},
        "channel": {"id": "C0001", "name": "procurement"},
        "message": message,
        "response_url": app.slack.response_url(answer_id),
        "actions": [{
            "action_id": action["action_id"],
            "block_id": "b1",
            "text": {"type": "plain_text", "text": "x"},
            "value": action["value"],
            "type": "button",
            "action_ts": "1800000001.000200"
        }]
    });
    serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
}

async fn post_interaction(app: &TestApp, body: &str, signed: bool) -> reqwest::Response {
    let ts = Utc::now().timestamp();
    let mut req = app
        .http
        .post(format!("{}/slack/interactions", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string());
    if signed {
        req = req.header(
            "x-slack-signature",
            marketplace_activity::slack::signature::sign(SECRET, ts, body.as_bytes()),
        );
    }
    req.body(body.to_owned()).send().await.unwrap()
}

/// Every button in a message, as `{action_id, value, text}`.
fn buttons(message: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for block in message["blocks"].as_array().into_iter().flatten() {
        if let Some(accessory) = block.get("accessory") {
            out.push(accessory.clone());
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            if element["type"] == "button" {
                out.push(element.clone());
            }
        }
    }
    out
}

fn button<'a>(buttons: &'a [Value], label: &str) -> Option<&'a Value> {
    buttons.iter().find(|b| b["text"]["text"] == label)
}

/// The agreement ids a message shows, in order.
fn agreements_in(message: &Value) -> Vec<String> {
    let text = visible_text(message);
    text.split('`')
        .filter(|w| w.starts_with("agmt-test"))
        .map(str::to_owned)
        .collect()
}

/// Waits for the answer posted to `response_url` `id`.
async fn answer_at(app: &TestApp, id: &str) -> Value {
    let path = format!("/commands/{id}");
    for _ in 0..500 {
        if let Some((_, body)) = app
            .slack
            .received()
            .into_iter()
            .find(|(to, _)| to.ends_with(&path) || to == id)
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no answer at {id}: {:?}", app.slack.received());
}

#[tokio::test]
async fn a_link_button_click_is_acknowledged_and_nothing_else_happens() {
    let mut app = spawn_app(Options::default()).await;
    let link = json!({"action_id": "open_subscriptions", "value": null});
    let body = click(&app, &link, &json!({}), "link");
    let resp = post_interaction(&app, &body, true).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
    // An action the app doesn't know, and an interaction type it doesn't handle: the same.
    let unknown = click(
        &app,
        &json!({"action_id": "something_new", "value": "x"}),
        &json!({}),
        "u",
    );
    assert_eq!(post_interaction(&app, &unknown, true).await.status(), 200);
    let view = serde_urlencoded::to_string([(
        "payload",
        json!({"type": "view_submission", "user": {"id": "U0001"}}).to_string(),
    )])
    .unwrap();
    assert_eq!(post_interaction(&app, &view, true).await.status(), 200);
    app.shutdown().await;
    assert!(app.cloudtrail.calls().is_empty());
    assert!(app.slack.received().is_empty(), "nothing posted anywhere");
}

#[tokio::test]
async fn unsigned_replayed_and_malformed_clicks_are_refused() {
    let mut app = spawn_app(Options::default()).await;
    let details = json!({"action_id": "details", "value": format!(r#"{{"a":"{AGREEMENT}"}}"#)});
    let body = click(&app, &details, &json!({}), "d");
    assert_eq!(
        post_interaction(&app, &body, false).await.status(),
        401,
        "unsigned"
    );
    let ts = Utc::now().timestamp();
    let signature = marketplace_activity::slack::signature::sign(SECRET, ts, body.as_bytes());
    let send = || {
        app.http
            .post(format!("{}/slack/interactions", app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", &signature)
            .body(body.clone())
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200, "the click itself");
    assert_eq!(
        send().await.unwrap().status(),
        401,
        "the same click again: a replay"
    );
    let garbage = serde_urlencoded::to_string([("payload", "{not json")]).unwrap();
    let resp = post_interaction(&app, &garbage, true).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.text().await.unwrap(), "unreadable interaction payload");
    app.shutdown().await;
    assert_eq!(
        app.slack.received().len(),
        1,
        "one answer, for the one genuine click"
    );
}

#[tokio::test]
async fn paging_through_212_activities_shows_each_once_and_asks_cloudtrail_once() {
    let app = spawn_app(Options::default()).await;
    let now = Utc::now();
    app.cloudtrail.add_records(
        "us-east-1",
        (0..212).map(|n| purchase_at(now - chrono::Duration::minutes(5 * n as i64 + 1), n)),
    );
    app.command("30d purchases").await;
    let first = app.answer().await;
    let lookups = app.cloudtrail.calls().len();
    assert_eq!(lookups, 5, "212 events are 5 pages of LookupEvents");
    let text = visible_text(&first);
    assert!(text.contains("Activities 1–40 of 212"), "{text}");
    assert!(
        !text.contains("more* older"),
        "pages instead of 'N more': {text}"
    );

    let mut seen = Vec::new();
    let mut page = first;
    let mut pages = 1;
    loop {
        seen.extend(agreements_in(&page));
        let all = buttons(&page);
        let Some(older) = button(&all, "Older") else {
            break;
        };
        let id = format!("older-{pages}");
        let resp = post_interaction(&app, &click(&app, older, &page, &id), true).await;
        assert_eq!(resp.status(), 200);
        page = answer_at(&app, &id).await;
        assert_eq!(
            page["replace_original"], true,
            "a page replaces the message"
        );
        pages += 1;
    }
    assert_eq!(pages, 6, "212 activities are 6 pages of 40");
    assert!(visible_text(&page).contains("Activities 201–212 of 212"));
    assert_eq!(seen.len(), 212, "every activity shown once");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 212, "no activity twice");
    assert_eq!(seen[0], "agmt-test00000", "newest first");

    // And back: "Newer" from the last page to the first.
    let mut back = 0;
    loop {
        let all = buttons(&page);
        let Some(newer) = button(&all, "Newer") else {
            break;
        };
        let id = format!("newer-{back}");
        post_interaction(&app, &click(&app, newer, &page, &id), true).await;
        page = answer_at(&app, &id).await;
        back += 1;
    }
    assert_eq!(back, 5);
    assert!(visible_text(&page).contains("Activities 1–40 of 212"));
    assert_eq!(agreements_in(&page)[0], "agmt-test00000");
    assert_eq!(
        app.cloudtrail.calls().len(),
        lookups,
        "the whole walk reused the answer's lookup"
    );
}

/// The terms the fake Agreement API answers for the fixtures' agreement, in the API's shapes.
fn terms() -> Value {
    json!([
        {"configurableUpfrontPricingTerm": {
            "type": "ConfigurableUpfrontPricingTerm",
            "currencyCode": "USD",
            "rateCards": [{"rateCard": [{"dimensionKey": "users", "price": "1200.00"}]}],
            "configuration": {"selectorValue": "P12M", "dimensions": [{"dimensionKey": "users", "dimensionValue": 10}]}
        }},
        {"usageBasedPricingTerm": {
            "type": "UsageBasedPricingTerm",
            "currencyCode": "USD",
            "rateCards": [{"rateCard": [{"dimensionKey": "extra_gb", "price": "0.10"}]}]
        }},
        {"renewalTerm": {"type": "RenewalTerm", "configuration": {"enableAutoRenew": true}}},
        {"validityTerm": {"type": "ValidityTerm", "agreementDuration": "P12M"}},
        {"legalTerm": {"type": "LegalTerm", "documents": []}}
    ])
}

fn assert_details(answer: &Value) {
    assert_eq!(answer["response_type"], "ephemeral", "for the clicker only");
    assert_eq!(
        answer["replace_original"], false,
        "the message clicked stays"
    );
    let text = visible_text(answer);
    for expected in [
        "Agreement agmt-cx71281flrkxyks8eurk5nlyk",
        "`users`: 10 × 1200.00 USD up front",
        "`extra_gb`: 0.10 USD per unit used",
        "renews by itself",
        "12000.00 USD",
        "P12M",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
}

#[tokio::test]
async fn details_from_a_report_answer_the_clicker_with_the_terms() {
    let app = spawn_app(Options::default()).await;
    let mut record = fixture("cloudtrail-accept-agreement-request.json");
    record["eventTime"] = json!(Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    app.cloudtrail.add_records("us-east-1", [record]);
    app.cloudtrail.add_agreement(AGREEMENT, fixture_agreement());
    app.cloudtrail.add_terms(AGREEMENT, terms());
    app.command("7d").await;
    let report = app.answer().await;
    let all = buttons(&report);
    let details = button(&all, "Details").expect("a Details button per activity");
    post_interaction(&app, &click(&app, details, &report, "details"), true).await;
    assert_details(&answer_at(&app, "details").await);
}

#[tokio::test]
async fn details_from_a_notification_leave_the_channel_message_as_it_was() {
    let app = spawn_notifier(Options {
        notify: Some(NotifyOptions::default()),
        ..Options::default()
    })
    .await;
    app.cloudtrail.add_terms(AGREEMENT, terms());
    app.send_event(&native_created()).await;
    let posts = app.slack.posts();
    assert_eq!(posts.len(), 1);
    let message = json!({"blocks": posts[0].blocks, "ts": posts[0].ts});
    let all = buttons(&message);
    let details = button(&all, "Details").expect("a Details button on the notification");
    post_interaction(&app, &click(&app, details, &message, "from-channel"), true).await;
    assert_details(&answer_at(&app, "from-channel").await);
    let posts = app.slack.posts();
    assert_eq!(
        (posts.len(), posts[0].updates),
        (1, 0),
        "the channel message is unchanged"
    );
}

#[tokio::test]
async fn denied_terms_name_the_missing_permission() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail.add_agreement(AGREEMENT, fixture_agreement());
    app.cloudtrail.deny_terms();
    let details = json!({"action_id": "details", "value": format!(r#"{{"a":"{AGREEMENT}","c":"111122223333"}}"#)});
    post_interaction(&app, &click(&app, &details, &json!({}), "denied"), true).await;
    let answer = answer_at(&app, "denied").await;
    assert_eq!(answer["response_type"], "ephemeral");
    let text = visible_text(&answer);
    assert!(text.contains("aws-marketplace:GetAgreementTerms"), "{text}");
}

#[tokio::test]
async fn a_click_from_outside_the_allow_lists_is_refused_politely() {
    let mut app = spawn_app(Options {
        access: marketplace_activity::slack::access::AccessPolicy::new(
            &[],
            &[],
            &["U0ADMIN".to_owned()],
        ),
        ..Options::default()
    })
    .await;
    let details = json!({"action_id": "details", "value": format!(r#"{{"a":"{AGREEMENT}"}}"#)});
    let resp = post_interaction(&app, &click(&app, &details, &json!({}), "outsider"), true).await;
    assert_eq!(resp.status(), 200);
    let answer = answer_at(&app, "outsider").await;
    assert_eq!(answer["response_type"], "ephemeral");
    assert!(visible_text(&answer).contains("isn't allowed"), "{answer}");
    app.shutdown().await;
    assert_eq!(app.cloudtrail.agreement_calls(), 0, "nothing looked up");
}
