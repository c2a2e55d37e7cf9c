//! The slash command end to end: the real app on port 0, a fake CloudTrail and a fake
//! `response_url` receiver on loopback. Assertions are on what reaches Slack.

use std::time::Duration;

use crate::common::*;
use chrono::Utc;
use marketplace_activity::slack::access::AccessPolicy;
use serde_json::{json, Value};

fn ago(hours: i64) -> String {
    (Utc::now() - chrono::Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The three fixture records (purchase, cancellation, failed attempt), moved into the last day.
fn fixture_records() -> Vec<Value> {
    let mut accept = fixture("cloudtrail-accept-agreement-request.json");
    accept["eventTime"] = json!(ago(5));
    let mut cancel = fixture("cloudtrail-cancel-agreement.json");
    cancel["eventTime"] = json!(ago(3));
    let mut denied = fixture("cloudtrail-accept-agreement-request-denied.json");
    denied["eventTime"] = json!(ago(1));
    vec![accept, cancel, denied]
}

#[tokio::test]
async fn acknowledges_at_once_then_answers_with_the_report() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail.add_records("us-east-1", fixture_records());

    let (status, ack) = app.command("").await;
    assert_eq!(status, 200);
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(
        ack["text"]
            .as_str()
            .unwrap()
            .contains("Looking up Marketplace activity for the last 7 days"),
        "{ack}"
    );

    let answer = app.answer().await;
    assert_eq!(answer["response_type"], "ephemeral");
    let text = visible_text(&answer);
    assert!(text.contains("Marketplace activity, last 7 days"), "{text}");
    assert!(
        text.contains("1 purchase · 1 cancellation · 1 failed attempt"),
        "{text}"
    );
    // Newest first: the failed attempt (1h ago), the cancellation, the purchase.
    let failed = text
        .find(":x: *Failed purchase attempt (AccessDeniedException)*")
        .expect(&text);
    let cancel = text
        .find(":red_circle: *Cancellation* · `agmt-cx71281flrkxyks8eurk5nlyk`")
        .expect(&text);
    let purchase = text
        .find(":large_green_circle: *Purchase* · `agmt-cx71281flrkxyks8eurk5nlyk`")
        .expect(&text);
    assert!(failed < cancel && cancel < purchase, "{text}");
    assert!(text.contains("by *bob (role ProcurementAdmin)*"), "{text}");
    assert!(text.contains("by *alice@example.com (IAM user)*"), "{text}");
    assert!(
        text.contains("<!date^"),
        "times are Slack date tokens: {text}"
    );
    assert!(
        answer["text"].as_str().unwrap().contains("1 purchase"),
        "fallback text: {answer}"
    );
    assert!(answer
        .to_string()
        .contains("https://console.aws.amazon.com/marketplace/home#/subscriptions"));

    let calls = app.cloudtrail.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(
        calls[0].attribute,
        Some((
            "EventSource".into(),
            "agreement-marketplace.amazonaws.com".into()
        ))
    );
    let (start, end) = (calls[0].start.unwrap(), calls[0].end.unwrap());
    assert!(
        (end - start - 7.0 * 86400.0).abs() < 2.0,
        "a 7-day window: {start}..{end}"
    );
}

#[tokio::test]
async fn no_activity_says_so_with_the_window() {
    let app = spawn_app(Options::default()).await;
    app.command("24h").await;
    let answer = app.answer().await;
    let text = visible_text(&answer);
    assert!(
        text.contains("No Marketplace agreement activity in the last 24 hours."),
        "{text}"
    );
    assert!(
        text.contains(
            "CloudTrail in us-east-1 has no Marketplace agreement events in this window."
        ),
        "why: {text}"
    );
    assert_eq!(app.cloudtrail.calls().len(), 1);
}

#[tokio::test]
async fn an_empty_answer_says_what_the_filter_left_out() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail.add_records("us-east-1", fixture_records());
    app.command("7d agmt-someotheragreement").await;
    let text = visible_text(&app.answer().await);
    assert!(
        text.contains("No Marketplace agreement activity in the last 7 days (agreement agmt-someotheragreement)."),
        "{text}"
    );
    assert!(
        text.contains("3 agreement events in this window are about other agreements: `all` in its place lists them."),
        "{text}"
    );
}

#[tokio::test]
async fn an_empty_answer_with_a_failed_region_does_not_claim_there_was_nothing() {
    let app = spawn_app(Options {
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        ..Options::default()
    })
    .await;
    app.cloudtrail.deny_access("eu-west-1");
    app.command("24h").await;
    let text = visible_text(&app.answer().await);
    assert!(
        text.contains(
            "No Marketplace agreement activity in the last 24 hours where the lookup worked."
        ),
        "{text}"
    );
    assert!(
        text.contains(":warning: eu-west-1 is missing: AWS denied access"),
        "{text}"
    );
}

#[tokio::test]
async fn three_hundred_events_over_many_pages_paced_under_the_limit() {
    let app = spawn_app(Options::default()).await;
    let now = Utc::now();
    app.cloudtrail.add_records(
        "us-east-1",
        (0..300).map(|n| purchase_at(now - chrono::Duration::minutes(10 * n as i64 + 1), n)),
    );
    app.command("7d").await;
    let answer = app.answer().await;
    let text = visible_text(&answer);
    assert!(text.contains("*300 purchases*"), "{text}");
    let blocks = answer["blocks"].as_array().unwrap();
    assert!(
        blocks.len() <= 50,
        "Block Kit allows 50 blocks, got {}",
        blocks.len()
    );
    let shown = text.matches(":large_green_circle: *Purchase*").count();
    assert_eq!(shown, 40, "one page of as many as fit");
    assert!(
        text.contains("Activities 1–40 of 300, newest first."),
        "the page says where it is (and 'Older' leads on): {text}"
    );
    // The newest is shown first.
    assert!(text.find("agmt-test00000").unwrap() < text.find("agmt-test00001").unwrap());

    let calls = app.cloudtrail.calls();
    assert_eq!(calls.len(), 6, "300 events are 6 pages of 50: {calls:?}");
    assert_eq!(app.cloudtrail.throttled(), 0, "paced under 2 per second");
    assert!(calls.iter().skip(1).all(|c| c.next_token.is_some()));
    for pair in calls.windows(3) {
        assert!(
            pair[2].at - pair[0].at >= Duration::from_secs(1),
            "never 3 calls in a second"
        );
    }
}

#[tokio::test]
async fn throttling_is_retried_and_the_user_never_sees_it() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail.add_records("us-east-1", fixture_records());
    app.cloudtrail.throttle_next("us-east-1", 1);
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("1 purchase · 1 cancellation"), "{text}");
    assert_eq!(app.cloudtrail.throttled(), 1);
    assert_eq!(app.cloudtrail.calls().len(), 2);
}

#[tokio::test]
async fn still_throttled_after_retries_says_what_to_do() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail.throttle_next("us-east-1", 100);
    app.command("").await;
    let answer = app.answer().await;
    let text = visible_text(&answer);
    assert!(text.contains("CloudTrail is throttling requests"), "{text}");
    assert!(!text.contains("Rate exceeded"), "no raw internals: {text}");
    assert_eq!(answer["response_type"], "ephemeral");
}

#[tokio::test]
async fn unknown_names_are_shown_and_malformed_records_skipped_and_counted() {
    let app = spawn_app(Options::default()).await;
    let mut unknown = fixture("cloudtrail-accept-agreement-request.json");
    unknown["eventName"] = json!("TransferAgreementOwnership");
    unknown["eventID"] = json!("evt-unknown");
    unknown["eventTime"] = json!(ago(2));
    app.cloudtrail.add_records("us-east-1", [unknown]);
    let t = Utc::now().timestamp() - 3600;
    app.cloudtrail.add_raw(
        "us-east-1",
        t,
        "evt-bad-1",
        "AcceptAgreementRequest",
        "{not json",
    );
    app.cloudtrail.add_raw(
        "us-east-1",
        t,
        "evt-bad-2",
        "CancelAgreement",
        r#"{"eventName":"CancelAgreement"}"#,
    );
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(
        text.contains("*TransferAgreementOwnership* · `agmt-cx71281flrkxyks8eurk5nlyk`"),
        "{text}"
    );
    assert!(text.contains("*1 other event*"), "{text}");
    assert!(
        text.contains("2 CloudTrail records could not be read and are not shown"),
        "{text}"
    );
}

#[tokio::test]
async fn access_denied_tells_what_permission_is_missing() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail.deny_access("us-east-1");
    app.command("30d share").await;
    let answer = app.answer().await;
    let text = visible_text(&answer);
    assert!(text.contains("`cloudtrail:LookupEvents`"), "{text}");
    assert!(!text.contains("arn:aws:iam"), "no raw AWS message: {text}");
    assert_eq!(
        answer["response_type"], "ephemeral",
        "errors are not shared in the channel"
    );
    assert_eq!(
        app.cloudtrail.calls().len(),
        1,
        "AccessDenied is not retried"
    );
}

#[tokio::test]
async fn one_failing_region_does_not_hide_the_others() {
    let app = spawn_app(Options {
        regions: vec!["us-east-1".into(), "eu-west-1".into()],
        ..Options::default()
    })
    .await;
    app.cloudtrail.add_records("us-east-1", fixture_records());
    app.cloudtrail.deny_access("eu-west-1");
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("1 purchase · 1 cancellation"), "{text}");
    assert!(
        text.contains(":warning: eu-west-1 is missing: AWS denied access"),
        "{text}"
    );
    let mut regions: Vec<_> = app
        .cloudtrail
        .calls()
        .into_iter()
        .map(|c| c.region)
        .collect();
    regions.sort();
    assert_eq!(regions, ["eu-west-1", "us-east-1"]);
}

#[tokio::test]
async fn filters_and_share() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail.add_records("us-east-1", fixture_records());
    app.command("cancellations share").await;
    let answer = app.answer().await;
    assert_eq!(answer["response_type"], "in_channel");
    let text = visible_text(&answer);
    assert!(
        text.contains("Marketplace activity, last 7 days (cancellations)"),
        "{text}"
    );
    assert!(
        text.contains("*Cancellation*") && !text.contains("*Purchase*"),
        "{text}"
    );
}

#[tokio::test]
async fn an_agreement_id_shows_its_history() {
    let app = spawn_app(Options::default()).await;
    let mut other = purchase_at(Utc::now() - chrono::Duration::hours(2), 7);
    other["responseElements"]["agreementId"] = json!("agmt-someotheragreement");
    let mut records = fixture_records();
    records.push(other);
    app.cloudtrail.add_records("us-east-1", records);
    app.command("agmt-cx71281flrkxyks8eurk5nlyk 90d").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("1 purchase · 1 cancellation"), "{text}");
    assert!(!text.contains("agmt-someotheragreement"), "{text}");
    assert!(
        !text.contains("Failed"),
        "the failed attempt has no agreement id: {text}"
    );
}

#[tokio::test]
async fn a_window_past_90_days_is_clamped_and_says_so() {
    let app = spawn_app(Options::default()).await;
    app.command("365d").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("CloudTrail keeps 90 days"), "{text}");
    let call = &app.cloudtrail.calls()[0];
    let span = call.end.unwrap() - call.start.unwrap();
    assert!(
        (span - 90.0 * 86400.0).abs() < 2.0,
        "asked CloudTrail for 90 days, not 365: {span}"
    );
}

#[tokio::test]
async fn a_bad_argument_gets_usage_and_no_aws_call() {
    let mut app = spawn_app(Options::default()).await;
    let (status, ack) = app.command("7d purchses").await;
    assert_eq!(status, 200);
    assert_eq!(ack["response_type"], "ephemeral");
    let text = visible_text(&ack);
    assert!(text.contains("I didn't understand `purchses`."), "{text}");
    assert!(text.contains("*Usage:*"), "{text}");
    let (_, ack) = app.command("since 2099-01-01").await;
    assert!(
        visible_text(&ack).contains("the window starts in the future"),
        "{ack}"
    );
    let (_, help) = app.command("help").await;
    assert!(visible_text(&help).contains("`since 2026-11-01`"), "{help}");
    app.shutdown().await;
    assert!(app.cloudtrail.calls().is_empty());
    assert!(
        app.slack.received().is_empty(),
        "nothing sent to response_url"
    );
}

#[tokio::test]
async fn a_caller_outside_the_allow_lists_is_refused_politely() {
    let app = spawn_app(Options {
        access: AccessPolicy::new(&[], &[], &["U0ADMIN".into()]),
        ..Options::default()
    })
    .await;
    let (status, ack) = app.command_as("7d", "U0STRANGER", "cmd").await;
    assert_eq!(status, 200);
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(visible_text(&ack).contains("isn't allowed to use"), "{ack}");
    let (_, ack) = app.command_as("7d", "U0ADMIN", "admin").await;
    assert!(visible_text(&ack).contains("Looking up"), "{ack}");
    let got = app.slack.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got[0].0, "admin");
    assert_eq!(
        app.cloudtrail.calls().len(),
        1,
        "only the allowed caller's query ran"
    );
}

#[tokio::test]
async fn bad_signatures_are_401_and_nothing_happens() {
    let mut app = spawn_app(Options::default()).await;
    let body = command_form("7d", &app.slack.response_url("cmd"), "U0001");
    let url = format!("{}/slack/commands", app.url);
    let now = Utc::now().timestamp();
    let good = marketplace_activity::slack::signature::sign(SECRET, now, body.as_bytes());
    let cases: Vec<(&str, Option<String>, Option<String>, String)> = vec![
        ("no headers", None, None, body.clone()),
        (
            "wrong secret",
            Some(now.to_string()),
            Some(marketplace_activity::slack::signature::sign(
                "nope",
                now,
                body.as_bytes(),
            )),
            body.clone(),
        ),
        (
            "tampered body",
            Some(now.to_string()),
            Some(good.clone()),
            body.replace("7d", "90d"),
        ),
        (
            "stale",
            Some((now - 600).to_string()),
            Some(marketplace_activity::slack::signature::sign(
                SECRET,
                now - 600,
                body.as_bytes(),
            )),
            body.clone(),
        ),
        (
            "future",
            Some((now + 600).to_string()),
            Some(marketplace_activity::slack::signature::sign(
                SECRET,
                now + 600,
                body.as_bytes(),
            )),
            body.clone(),
        ),
        (
            "garbled",
            Some("soon".into()),
            Some("v0=xyz".into()),
            body.clone(),
        ),
    ];
    for (name, ts, sig, body) in cases {
        let mut req = app
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded");
        if let Some(ts) = ts {
            req = req.header("x-slack-request-timestamp", ts);
        }
        if let Some(sig) = sig {
            req = req.header("x-slack-signature", sig);
        }
        let resp = req.body(body).send().await.unwrap();
        assert_eq!(resp.status(), 401, "case {name}");
    }
    app.shutdown().await;
    assert!(app.cloudtrail.calls().is_empty());
    assert!(app.slack.received().is_empty());
}

#[tokio::test]
async fn oversized_wrong_type_and_ssl_check() {
    let mut app = spawn_app(Options::default()).await;
    let now = Utc::now().timestamp();
    let big = format!("text={}", "a".repeat(20 * 1024));
    assert_eq!(app.post_signed(&big, now).await.status(), 413);

    let body = command_form("7d", &app.slack.response_url("cmd"), "U0001");
    let resp = app
        .http
        .post(format!("{}/slack/commands", app.url))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", now.to_string())
        .header(
            "x-slack-signature",
            marketplace_activity::slack::signature::sign(SECRET, now, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);

    let resp = app.post_signed("ssl_check=1&token=x", now).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "");
    app.shutdown().await;
    assert!(app.cloudtrail.calls().is_empty());
    assert!(app.slack.received().is_empty());
}

#[tokio::test]
async fn response_url_failures_are_retried() {
    let app = spawn_app(Options::default()).await;
    app.slack.fail_next(&[500, 429]);
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("No Marketplace agreement activity"), "{text}");
    assert_eq!(app.slack.attempts(), 3);
}

#[tokio::test]
async fn a_slow_lookup_is_cut_off_with_a_clear_message() {
    let app = spawn_app(Options {
        query_timeout: Duration::from_millis(300),
        ..Options::default()
    })
    .await;
    app.cloudtrail.delay("us-east-1", Duration::from_secs(3));
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("took too long"), "{text}");
}

#[tokio::test]
async fn shutdown_waits_for_answers_in_flight() {
    let mut app = spawn_app(Options::default()).await;
    app.cloudtrail.add_records("us-east-1", fixture_records());
    app.cloudtrail
        .delay("us-east-1", Duration::from_millis(500));
    let (status, _) = app.command("").await;
    assert_eq!(status, 200);
    app.shutdown().await;
    let got = app.slack.received();
    assert_eq!(
        got.len(),
        1,
        "the answer was delivered before the app stopped"
    );
    assert!(visible_text(&got[0].1).contains("1 purchase"));
}

#[tokio::test]
async fn healthz() {
    let app = spawn_app(Options::default()).await;
    let resp = app
        .http
        .get(format!("{}/healthz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
}

#[tokio::test]
async fn a_flood_of_commands_is_bounded_not_queued_without_end() {
    let app = spawn_app(Options::default()).await;
    // Every lookup hangs, so answers pile up until the limit.
    app.cloudtrail.delay("us-east-1", Duration::from_secs(30));
    let limit = marketplace_activity::startup::MAX_PENDING_ANSWERS;
    for n in 0..limit {
        let (status, ack) = app.command_as("7d", "U0001", &format!("c{n}")).await;
        assert_eq!(status, 200);
        assert!(
            visible_text(&ack).contains("Looking up"),
            "command {n}: {ack}"
        );
    }
    let (status, ack) = app.command_as("7d", "U0001", "one-too-many").await;
    assert_eq!(status, 200, "still answered at once");
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(
        visible_text(&ack).contains("Too many lookups are running right now"),
        "{ack}"
    );
}

#[tokio::test]
async fn a_replayed_command_is_refused_and_looks_nothing_up() {
    let mut app = spawn_app(Options::default()).await;
    let body = command_form("7d", &app.slack.response_url("once"), "U0001");
    let now = Utc::now().timestamp();
    assert_eq!(app.post_signed(&body, now).await.status(), 200);
    app.slack.wait_for(1, Duration::from_secs(10)).await;
    let lookups = app.cloudtrail.calls().len();
    for _ in 0..3 {
        assert_eq!(
            app.post_signed(&body, now).await.status(),
            401,
            "the same signed request again is a replay"
        );
    }
    // The same signature spelled in upper case: the same MAC, so the same replay.
    let upper = marketplace_activity::slack::signature::sign(SECRET, now, body.as_bytes())
        .to_uppercase()
        .replace("V0=", "v0=");
    let resp = app
        .http
        .post(format!("{}/slack/commands", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", now.to_string())
        .header("x-slack-signature", upper)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a re-spelled signature is refused");
    app.shutdown().await;
    assert_eq!(
        app.cloudtrail.calls().len(),
        lookups,
        "no lookup for a replay"
    );
    assert_eq!(app.slack.received().len(), 1, "one answer");
}

#[tokio::test]
async fn signed_forms_that_are_not_slash_commands_are_refused_without_a_lookup() {
    let mut app = spawn_app(Options::default()).await;
    let now = Utc::now().timestamp();
    let shortcut = serde_urlencoded::to_string([(
        "payload",
        r#"{"type":"shortcut","callback_id":"x","trigger_id":"1.2","user":{"id":"U0001"},"team":{"id":"T0001"}}"#,
    )])
    .unwrap();
    let no_command = serde_urlencoded::to_string([
        ("team_id", "T0001"),
        ("user_id", "U0001"),
        ("text", "7d"),
        ("response_url", &app.slack.response_url("x")),
    ])
    .unwrap();
    let no_response_url =
        serde_urlencoded::to_string([("command", "/marketplace-activity"), ("text", "7d")])
            .unwrap();
    for (name, body) in [
        ("shortcut payload", shortcut),
        ("no command", no_command),
        ("no response_url", no_response_url),
    ] {
        let resp = app.post_signed(&body, now).await;
        assert_eq!(resp.status(), 400, "case {name}");
        let text = resp.text().await.unwrap();
        assert!(
            text.starts_with("not a slash command"),
            "case {name}: {text}"
        );
    }
    app.shutdown().await;
    assert!(app.cloudtrail.calls().is_empty());
    assert!(app.slack.received().is_empty());
}
