//! Issue 5 end to end: several accounts (roles assumed through a fake STS), agreement details
//! from a fake Agreement API, CSV exports through Slack's two-step upload, and the digest on a
//! test clock.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use chrono::Utc;
use marketplace_activity::aws::accounts::{parse_env, Account};
use marketplace_activity::config::DigestSettings;
use marketplace_activity::digest::{ManualClock, Schedule};
use serde_json::{json, Value};

const AGREEMENT: &str = "agmt-cx71281flrkxyks8eurk5nlyk";

fn accounts() -> Vec<Account> {
    parse_env(
        "prod=arn:aws:iam::111122223333:role/MarketplaceRead;\
         dev=arn:aws:iam::444455556666:role/MarketplaceRead#ext-42;\
         sandbox=arn:aws:iam::777788889999:role/MarketplaceRead",
    )
    .unwrap()
}

fn ago(hours: i64) -> String {
    (Utc::now() - chrono::Duration::hours(hours)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn purchase(account: &str, n: usize, hours_ago: i64) -> Value {
    let mut r = fixture("cloudtrail-accept-agreement-request.json");
    r["eventTime"] = json!(ago(hours_ago));
    r["eventID"] = json!(format!("evt-{account}-{n}"));
    r["userIdentity"]["arn"] = json!(format!("arn:aws:iam::{account}:user/buyer{n}"));
    r["userIdentity"]["accountId"] = json!(account);
    r["recipientAccountId"] = json!(account);
    r["responseElements"]["agreementId"] = json!(if n == 0 {
        AGREEMENT.to_owned()
    } else {
        format!("agmt-{account}x{n}")
    });
    r
}

fn described(id: &str, ends_in_days: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "agreementId": id,
        "acceptor": {"accountId": "111122223333"},
        "proposer": {"accountId": "444455556666"},
        "startTime": now - 86400,
        "endTime": now + ends_in_days * 86400,
        "agreementType": "PurchaseAgreement",
        "status": "ACTIVE",
        "estimatedCharges": {"currencyCode": "USD", "agreementValue": "12000.00"},
        "proposalSummary": {"offerId": "offer-7abcd3efgh2ij", "resources": [{"id": "prod-2xyzexample9", "type": "SaaSProduct"}]}
    })
}

fn multi_account() -> Options {
    Options {
        accounts: accounts(),
        bot: true,
        ..Options::default()
    }
}

#[tokio::test]
async fn details_are_added_to_the_answer() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail
        .add_records("us-east-1", [purchase("111122223333", 0, 2)]);
    app.cloudtrail
        .add_agreement(AGREEMENT, described(AGREEMENT, 365));
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(
        text.contains(
            "product `prod-2xyzexample9` from seller account 444455556666 · 12000.00 USD · until "
        ),
        "{text}"
    );
    assert!(!text.contains("unavailable"), "{text}");
    assert_eq!(app.cloudtrail.agreement_calls(), 1, "one DescribeAgreement");
    // Another command (a signed request of its own: the same one again would be a replay).
    app.command_as("", "U0001", "cmd-2").await;
    app.slack.wait_for(2, Duration::from_secs(30)).await;
    assert_eq!(
        app.cloudtrail.agreement_calls(),
        1,
        "the second answer's details come from the cache"
    );
}

#[tokio::test]
async fn failing_details_never_block_the_answer_and_say_why() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail
        .add_records("us-east-1", [purchase("111122223333", 0, 2)]);
    app.cloudtrail.deny_agreements();
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("1 purchase"), "{text}");
    assert!(
        text.contains(
            "agreement details unavailable: the app's role needs aws-marketplace:DescribeAgreement"
        ),
        "{text}"
    );

    let app = spawn_app(Options::default()).await;
    app.cloudtrail
        .add_records("us-east-1", [purchase("111122223333", 0, 2)]);
    app.cloudtrail
        .add_agreement(AGREEMENT, described(AGREEMENT, 365));
    app.cloudtrail.delay_agreements(Duration::from_secs(30));
    let started = Instant::now();
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "a slow Agreement API costs at most its budget: {:?}",
        started.elapsed()
    );
    assert!(
        text.contains("1 purchase") && text.contains("did not answer in time"),
        "{text}"
    );
}

#[tokio::test]
async fn a_notification_is_not_held_up_by_a_slow_agreement_api() {
    let app = spawn_app(Options {
        notify: Some(NotifyOptions::default()),
        accounts: accounts(),
        ..Options::default()
    })
    .await;
    app.cloudtrail.delay_agreements(Duration::from_secs(30));
    let started = Instant::now();
    let (status, _, _) = app
        .send_event(&fixture(
            "eventbridge-cloudtrail-accept-agreement-request.json",
        ))
        .await;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let post = &app.slack.posts()[0];
    let text = visible_text(&json!({"blocks": post.blocks}));
    assert!(text.contains("agreement details unavailable"), "{text}");
    assert!(
        text.contains("*Account*\nprod (111122223333)"),
        "the account's alias: {text}"
    );
}

#[tokio::test]
async fn three_accounts_one_failing_are_grouped_by_alias() {
    let app = spawn_app(multi_account()).await;
    app.cloudtrail.add_account_records(
        "111122223333",
        "us-east-1",
        [
            purchase("111122223333", 0, 2),
            purchase("111122223333", 1, 3),
        ],
    );
    app.cloudtrail.add_account_records(
        "444455556666",
        "us-east-1",
        [purchase("444455556666", 2, 1)],
    );
    app.cloudtrail
        .deny_role("arn:aws:iam::777788889999:role/MarketplaceRead");
    app.command("").await;
    let answer = app.answer().await;
    let text = visible_text(&answer);
    let dev = text.find("*dev (444455556666)*: 1 purchase").expect(&text);
    let prod = text
        .find("*prod (111122223333)*: 2 purchases")
        .expect(&text);
    let sandbox = text
        .find("*sandbox (777788889999)*: no activity")
        .expect(&text);
    assert!(dev < prod && prod < sandbox, "sections by alias: {text}");
    let section = &text[sandbox..];
    assert!(
        section.contains(":warning: us-east-1: Could not assume"),
        "the failing account says why: {section}"
    );
    assert!(
        text.contains("buyer2 (IAM user)") && text.contains("buyer0 (IAM user)"),
        "{text}"
    );
    let roles = app.cloudtrail.assume_role_calls();
    assert!(
        roles.iter().any(|r| r.contains("444455556666")),
        "{roles:?}"
    );
}

#[tokio::test]
async fn the_account_filter_asks_only_that_account() {
    let app = spawn_app(multi_account()).await;
    app.cloudtrail.add_account_records(
        "111122223333",
        "us-east-1",
        [purchase("111122223333", 0, 2)],
    );
    app.cloudtrail.add_account_records(
        "444455556666",
        "us-east-1",
        [purchase("444455556666", 2, 1)],
    );
    app.command("account:dev").await;
    let text = visible_text(&app.answer().await);
    assert!(
        text.contains("buyer2") && !text.contains("buyer0"),
        "{text}"
    );
    let regions: Vec<String> = app
        .cloudtrail
        .calls()
        .into_iter()
        .map(|c| c.region)
        .collect();
    assert_eq!(
        regions,
        ["444455556666/us-east-1"],
        "no CloudTrail call for other accounts"
    );
    let (_, ack) = app.command_as("account:nope", "U0001", "other").await;
    let text = visible_text(&ack);
    assert!(
        text.contains("I don't know the account `nope`") && text.contains("`prod`"),
        "{text}"
    );
}

#[tokio::test]
async fn csv_export_uploads_every_row() {
    let app = spawn_app(multi_account()).await;
    let mut records: Vec<Value> = (0..60)
        .map(|n| purchase("111122223333", n, n as i64 + 1))
        .collect();
    let mut denied = fixture("cloudtrail-accept-agreement-request-denied.json");
    denied["eventTime"] = json!(ago(100));
    records.push(denied);
    app.cloudtrail
        .add_account_records("111122223333", "us-east-1", records);
    app.cloudtrail
        .add_agreement(AGREEMENT, described(AGREEMENT, 365));
    app.command("30d csv").await;
    let answer = app.answer().await;
    let text = visible_text(&answer);
    assert!(
        text.contains("The full list (61 rows) was uploaded"),
        "{text}"
    );
    let uploads = app.slack.uploads();
    assert_eq!(uploads.len(), 1);
    let upload = &uploads[0];
    assert_eq!(upload.channel.as_deref(), Some("C0001"));
    assert!(upload.filename.ends_with(".csv"));
    let mut reader = csv::Reader::from_reader(&upload.bytes[..]);
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
            "time",
            "account",
            "alias",
            "region",
            "kind",
            "event_name",
            "agreement_id",
            "product",
            "seller",
            "actor",
            "source_ip",
            "error_code"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 61, "all rows, not only what fits in a message");
    for (n, row) in rows.iter().take(60).enumerate() {
        assert_eq!(&row[1], "111122223333", "row {n}");
        assert_eq!(&row[2], "prod", "row {n}");
        assert_eq!(&row[3], "us-east-1", "row {n}");
        assert_eq!(&row[4], "Purchase", "row {n}");
        assert_eq!(&row[5], "AcceptAgreementRequest", "row {n}");
        let agreement = if n == 0 {
            AGREEMENT.to_owned()
        } else {
            format!("agmt-111122223333x{n}")
        };
        assert_eq!(&row[6], agreement, "row {n}");
        assert_eq!(&row[9], format!("buyer{n} (IAM user)"), "row {n}");
        assert_eq!(&row[11], "", "row {n}");
    }
    assert_eq!(&rows[0][7], "prod-2xyzexample9", "enriched product");
    assert_eq!(&rows[0][8], "444455556666", "enriched seller");
    assert_eq!(&rows[60][4], "Purchase");
    assert_eq!(&rows[60][11], "AccessDeniedException");
    let first: chrono::DateTime<Utc> = rows[0][0].parse().unwrap();
    let second: chrono::DateTime<Utc> = rows[1][0].parse().unwrap();
    assert!(first > second, "newest first");
}

#[tokio::test]
async fn csv_without_a_bot_token_says_what_to_set() {
    let app = spawn_app(Options::default()).await;
    let (_, ack) = app.command("csv").await;
    assert!(visible_text(&ack).contains("SLACK_BOT_TOKEN"), "{ack}");
    assert!(app.cloudtrail.calls().is_empty());
}

#[tokio::test]
async fn the_digest_posts_on_schedule() {
    let start = Utc::now();
    let clock = ManualClock::new(start);
    let app = spawn_app(Options {
        bot: true,
        digest: Some(DigestSettings {
            schedule: Schedule::every("7d").unwrap(),
            channel: "C0DIGEST".into(),
        }),
        clock: Some(clock.clone() as Arc<dyn marketplace_activity::digest::Clock>),
        ..Options::default()
    })
    .await;
    // Activity during the coming week (the fake CloudTrail doesn't mind the future).
    let mut bought = purchase("111122223333", 0, 0);
    bought["eventTime"] = json!(
        (start + chrono::Duration::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    let mut cancelled = fixture("cloudtrail-cancel-agreement.json");
    cancelled["eventTime"] = json!(
        (start + chrono::Duration::days(3)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    app.cloudtrail.add_records("us-east-1", [bought, cancelled]);
    app.cloudtrail
        .add_agreement(AGREEMENT, described(AGREEMENT, 30));
    app.cloudtrail.add_agreement(
        "agmt-longtermagreement",
        described("agmt-longtermagreement", 400),
    );

    clock.advance(chrono::Duration::days(6));
    assert_eq!(
        clock.next_wake().await,
        start + chrono::Duration::days(7),
        "the digest waits for its day"
    );
    assert!(app.slack.posts().is_empty(), "not due yet");
    clock.advance(chrono::Duration::days(1));
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.slack.posts().is_empty() {
        assert!(Instant::now() < deadline, "the digest never came");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let post = &app.slack.posts()[0];
    assert_eq!(post.channel, "C0DIGEST");
    let text = visible_text(&json!({"blocks": post.blocks}));
    assert!(text.contains("Marketplace digest, last 7 days"), "{text}");
    assert!(text.contains("1 purchase · 1 cancellation"), "{text}");
    assert!(text.contains("*Ending within 90 days*"), "{text}");
    assert!(
        text.contains(AGREEMENT) && !text.contains("agmt-longtermagreement"),
        "{text}"
    );
    let call = &app.cloudtrail.calls()[0];
    assert_eq!(
        call.start.unwrap() as i64,
        start.timestamp(),
        "the week since the schedule started"
    );
}
