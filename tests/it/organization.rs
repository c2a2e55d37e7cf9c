//! Issue 16 end to end: `ACCOUNTS=organization` against a fake Organizations (ListAccounts in
//! pages, some accounts not ACTIVE), a fake STS (some roles missing) and CloudTrail per account
//! (some denying, throttling above 2 calls per second per account and region).

use std::time::Duration;

use crate::common::*;
use chrono::Utc;
use marketplace_activity::aws::accounts::parse_env;
use marketplace_activity::aws::organization::OrganizationSettings;
use serde_json::{json, Value};

const ROLE: &str = "MarketplaceActivityRead";
const AGREEMENT: &str = "agmt-cx71281flrkxyks8eurk5nlyk";

fn id(n: usize) -> String {
    format!("{}", 100_000_000_000 + n)
}

fn name(n: usize) -> String {
    format!("Team {n:03}")
}

fn role(n: usize) -> String {
    format!("arn:aws:iam::{}:role/{ROLE}", id(n))
}

fn organization(refresh: Duration) -> Option<OrganizationSettings> {
    Some(OrganizationSettings {
        role_name: ROLE.into(),
        external_id: None,
        refresh,
    })
}

/// A purchase in account `n`, `minutes_ago`.
fn purchase(n: usize, k: usize, minutes_ago: i64) -> Value {
    let mut r = fixture("cloudtrail-accept-agreement-request.json");
    let time = Utc::now() - chrono::Duration::minutes(minutes_ago);
    r["eventTime"] = json!(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    r["eventID"] = json!(format!("evt-{n}-{k}"));
    r["userIdentity"]["accountId"] = json!(id(n));
    r["recipientAccountId"] = json!(id(n));
    r["responseElements"]["agreementId"] = json!(AGREEMENT);
    r
}

/// The answer (the message with blocks), once it has come; every post to `response_url` so far.
async fn final_answer(app: &TestApp) -> (Value, Vec<Value>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let got: Vec<Value> = app.slack.received().into_iter().map(|(_, v)| v).collect();
        if let Some(answer) = got
            .iter()
            .find(|m| m["blocks"].as_array().is_some_and(|b| !b.is_empty()))
        {
            return (answer.clone(), got);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer yet: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn org_app(concurrency: usize) -> Options {
    Options {
        organization: organization(Duration::from_secs(3600)),
        lookup_concurrency: concurrency,
        bot: true,
        ..Options::default()
    }
}

#[tokio::test]
async fn three_hundred_accounts_answered_with_totals_only_active_accounts_and_failures_grouped() {
    let fake = FakeAws::start().await;
    let mut expected = 0;
    let mut with_activity = Vec::new();
    for n in 0..300 {
        fake.add_org_account(&id(n), &name(n), "ACTIVE");
        // 0 to 120 events in every fourth account.
        let events = if n % 4 == 0 { (n * 37) % 121 } else { 0 };
        if events > 0 {
            let records: Vec<Value> = (0..events)
                .map(|k| purchase(n, k, (k + n) as i64 + 1))
                .collect();
            fake.add_account_records(&id(n), "us-east-1", records);
            expected += events;
            with_activity.push(n);
        }
    }
    // Accounts that are not ACTIVE are listed by Organizations but never asked.
    for n in 300..305 {
        fake.add_org_account(&id(n), &name(n), "SUSPENDED");
        fake.add_account_records(&id(n), "us-east-1", [purchase(n, 0, 5)]);
    }
    fake.add_org_account(&id(305), &name(305), "PENDING_CLOSURE");
    // Ten accounts without the role (STS says AccessDenied, as it does for a missing role),
    // two whose role may not call LookupEvents.
    let missing: Vec<usize> = (0..10).map(|k| 4 * k + 1).collect();
    for n in &missing {
        fake.deny_role(&role(*n));
    }
    for n in [2, 6] {
        fake.deny_access(&format!("{}/us-east-1", id(n)));
    }
    // Slow enough that the answer takes a few seconds and shows its progress.
    fake.delay_cloudtrail(Duration::from_millis(100));
    fake.delay_sts(Duration::from_millis(50));
    let app = start_app(org_app(16), fake, FakeSlack::start().await).await;
    assert_eq!(
        app.cloudtrail.list_accounts_calls(),
        16,
        "306 accounts listed 20 a page at start-up"
    );

    app.command("30d csv").await;
    let (answer, posts) = final_answer(&app).await;
    let text = visible_text(&answer);
    assert!(
        text.contains(&format!("{expected} purchases")),
        "the total of every account: {text}"
    );
    assert!(
        text.contains(&format!(
            "{} of 300 accounts* had activity",
            with_activity.len()
        )),
        "{text}"
    );
    assert!(
        text.contains("12 of 300 accounts could not be read: the role could not be assumed in 10, CloudTrail denied access in 2."),
        "the failures in one line: {text}"
    );
    // Only accounts with activity have a heading, the most recent first.
    assert!(
        text.contains(&format!("*{} ({})*", name(4), id(4))),
        "{text}"
    );
    assert!(
        !text.contains(&id(3)),
        "an account without activity: {text}"
    );
    assert!(
        !text.contains(&id(1)),
        "failures are counted, not listed: {text}"
    );
    let newest = text.find(&format!("{} ({})", name(4), id(4))).unwrap();
    let older = text.find(&format!("{} ({})", name(8), id(8))).unwrap();
    assert!(newest < older, "newest activity first: {text}");
    for n in 300..306 {
        assert!(!text.contains(&id(n)), "account {n} is not ACTIVE: {text}");
    }
    assert!(
        text.contains("rows) was uploaded"),
        "the CSV is announced: {text}"
    );

    // Progress replaced the "looking up" message in place, at most three times, and the
    // answer took its place.
    let progress: Vec<&Value> = posts
        .iter()
        .filter(|m| m["blocks"].is_null() || m["blocks"].as_array().is_some_and(|b| b.is_empty()))
        .collect();
    assert!(
        (1..=3).contains(&progress.len()),
        "one to three progress updates: {posts:?}"
    );
    for p in &progress {
        assert_eq!(p["replace_original"], json!(true), "{p}");
        let t = p["text"].as_str().unwrap();
        assert!(t.contains(" of 300 accounts…"), "{t}");
    }
    assert_eq!(answer["replace_original"], json!(true));
    assert!(posts.len() <= 5, "response_url takes five posts: {posts:?}");

    // The CSV lists every activity and every account that could not be read.
    let uploads = app.slack.uploads();
    assert_eq!(uploads.len(), 1);
    let mut reader = csv::Reader::from_reader(&uploads[0].bytes[..]);
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), expected + 12, "activities and failures");
    let failed: Vec<&csv::StringRecord> = rows.iter().filter(|r| &r[4] == "not read").collect();
    assert_eq!(failed.len(), 12);
    for n in &missing {
        let row = failed.iter().find(|r| r[1] == id(*n)).unwrap();
        assert_eq!(&row[2], name(*n));
        assert_eq!(&row[11], "Could not assume this account's role");
    }
    let denied = failed.iter().find(|r| r[1] == id(2)).unwrap();
    assert_eq!(
        &denied[11],
        "AWS denied access to CloudTrail (LookupEvents)"
    );

    // At most 16 AssumeRole and 16 pairs (this app's LOOKUP_CONCURRENCY) at once.
    let (sts, lookups) = app.cloudtrail.most_in_flight();
    assert!((2..=16).contains(&sts), "AssumeRole in flight: {sts}");
    assert!(
        (2..=16).contains(&lookups),
        "LookupEvents in flight: {lookups}"
    );
    // Every active account's role was assumed once; none of the others'.
    let assumed = app.cloudtrail.assume_role_calls();
    assert_eq!(assumed.len(), 300, "one AssumeRole per active account");
    for n in 300..306 {
        assert!(!assumed.contains(&role(n)));
    }
    // Each pair is paced 525 ms apart; on a loaded machine a request can still arrive within
    // the fake's second of the one two before it, and the SDK retries it (the totals above
    // are complete). It stays rare.
    let calls = app.cloudtrail.calls().len();
    let throttled = app.cloudtrail.throttled();
    assert!(
        throttled * 50 <= calls,
        "pacing keeps throttling rare: {throttled} of {calls}"
    );
}

#[tokio::test]
async fn the_list_is_read_again_and_a_new_account_is_asked() {
    let fake = FakeAws::start().await;
    for n in 0..2 {
        fake.add_org_account(&id(n), &name(n), "ACTIVE");
        fake.add_account_records(&id(n), "us-east-1", [purchase(n, 0, 10)]);
    }
    let options = Options {
        organization: organization(Duration::from_millis(500)),
        ..Options::default()
    };
    let app = start_app(options, fake, FakeSlack::start().await).await;
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("2 purchases"), "{text}");

    app.cloudtrail.add_org_account(&id(7), "Newcomer", "ACTIVE");
    app.cloudtrail
        .add_account_records(&id(7), "us-east-1", [purchase(7, 0, 3)]);
    tokio::time::sleep(Duration::from_millis(600)).await;
    // Another window: the same one would be answered from the last few minutes' lookup
    // (kept so paging through an answer asks CloudTrail once).
    app.command_as("30d", "U0001", "cmd-2").await;
    let got = app.slack.wait_for(2, Duration::from_secs(30)).await;
    let text = visible_text(&got[1].1);
    assert!(text.contains("3 purchases"), "{text}");
    assert!(text.contains(&format!("Newcomer ({})", id(7))), "{text}");
    assert!(app.cloudtrail.list_accounts_calls() >= 2);
}

#[tokio::test]
async fn an_alias_written_in_accounts_wins_over_the_organization_name() {
    let fake = FakeAws::start().await;
    for n in 0..3 {
        fake.add_org_account(&id(n), &name(n), "ACTIVE");
        fake.add_account_records(&id(n), "us-east-1", [purchase(n, 0, 10)]);
    }
    let options = Options {
        organization: organization(Duration::from_secs(3600)),
        accounts: parse_env(&format!("payments={}", role(1))).unwrap(),
        ..Options::default()
    };
    let app = start_app(options, fake, FakeSlack::start().await).await;
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains(&format!("payments ({})", id(1))), "{text}");
    assert!(!text.contains(&name(1)), "{text}");
    assert!(text.contains(&format!("{} ({})", name(2), id(2))), "{text}");
}

#[tokio::test]
async fn account_by_organization_name_asks_only_that_account_and_roles_are_assumed_once() {
    let fake = FakeAws::start().await;
    for n in 0..5 {
        fake.add_org_account(&id(n), &name(n), "ACTIVE");
        fake.add_account_records(&id(n), "us-east-1", [purchase(n, 0, 10)]);
    }
    let app = start_app(org_app(32), fake, FakeSlack::start().await).await;
    // "Team 002" has a space: `team-002` names it.
    app.command("account:team-002").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("1 purchase"), "{text}");
    let asked: Vec<String> = app
        .cloudtrail
        .calls()
        .into_iter()
        .map(|c| c.region)
        .collect();
    assert_eq!(asked, [format!("{}/us-east-1", id(2))], "only that account");
    assert_eq!(app.cloudtrail.assume_role_calls(), [role(2)]);

    // Two commands over every account: each role assumed once, the credentials reused.
    app.command_as("", "U0001", "cmd-2").await;
    app.slack.wait_for(2, Duration::from_secs(30)).await;
    app.command_as("7d purchases", "U0001", "cmd-3").await;
    let got = app.slack.wait_for(3, Duration::from_secs(30)).await;
    assert!(visible_text(&got[2].1).contains("5 purchases"));
    let mut assumed = app.cloudtrail.assume_role_calls();
    assumed.sort();
    assert_eq!(assumed, (0..5).map(role).collect::<Vec<_>>());

    // A name the organization doesn't have is said at once.
    let (_, ack) = app.command_as("account:nobody", "U0001", "cmd-4").await;
    let text = visible_text(&ack);
    assert!(text.contains("I don't know the account `nobody`"), "{text}");
}

#[tokio::test]
async fn an_organization_that_cannot_be_listed_is_said_plainly() {
    let fake = FakeAws::start().await;
    fake.add_org_account(&id(0), &name(0), "ACTIVE");
    fake.deny_list_accounts();
    let app = start_app(org_app(32), fake, FakeSlack::start().await).await;
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(
        text.contains(
            "AWS denied listing the organization's accounts (organizations:ListAccounts)"
        ),
        "{text}"
    );
    assert!(
        text.contains("management account or a delegated administrator"),
        "{text}"
    );
    assert!(app.cloudtrail.assume_role_calls().is_empty());
    assert!(app.cloudtrail.calls().is_empty(), "no account to ask");
}

/// The binary, as `check` and `query` run, against the fakes.
fn bin(fake: &FakeAws) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_marketplace-activity"));
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", &fake.url)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("ACCOUNTS", "organization")
        .env_remove("ACCOUNTS_FILE")
        .env_remove("SLACK_BOT_TOKEN")
        .env_remove("EVENTS_API_KEY")
        .env_remove("RUST_LOG");
    cmd
}

async fn output(mut cmd: std::process::Command) -> (Option<i32>, String, String) {
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[tokio::test]
async fn check_counts_accounts_and_roles_and_query_json_lists_every_failure() {
    let fake = FakeAws::start().await;
    for n in 0..4 {
        fake.add_org_account(&id(n), &name(n), "ACTIVE");
    }
    fake.add_org_account(&id(9), &name(9), "SUSPENDED");
    fake.add_account_records(&id(0), "us-east-1", [purchase(0, 0, 10)]);
    fake.deny_role(&role(3));

    let mut cmd = bin(&fake);
    cmd.env("SLACK_SIGNING_SECRET", "0123456789abcdef0123456789abcdef")
        .arg("check");
    let (code, stdout, stderr) = output(cmd).await;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(
        stdout
            .contains("ok    organization: 4 accounts found (ListAccounts, active accounts only)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL  roles: assumed in 3 of 4 accounts"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "FAIL  role {} ({}): Could not assume",
            name(3),
            id(3)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "ok    cloudtrail {} ({}) us-east-1: LookupEvents allowed",
            name(0),
            id(0)
        )),
        "{stdout}"
    );

    let mut cmd = bin(&fake);
    cmd.args(["query", "30d", "--format", "json"]);
    let (code, stdout, stderr) = output(cmd).await;
    assert_eq!(code, Some(1), "partly answered: {stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(doc["accounts_asked"], json!(4));
    assert_eq!(doc["activities"].as_array().unwrap().len(), 1);
    let failures = doc["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["account"], json!(id(3)));
    assert_eq!(failures[0]["alias"], json!(name(3)));
    assert_eq!(
        failures[0]["error"],
        json!("Could not assume this account's role")
    );
}

fn ending_agreement(agreement: &str, account: usize, ends_in_days: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({
        "agreementId": agreement,
        "acceptor": {"accountId": id(account)},
        "proposer": {"accountId": "444455556666"},
        "startTime": now - 86400,
        "endTime": now + ends_in_days * 86400,
        "agreementType": "PurchaseAgreement",
        "status": "ACTIVE",
        "proposalSummary": {"offerId": "offer-7abcd3efgh2ij", "resources": [{"id": "prod-2xyzexample9", "type": "SaaSProduct"}]}
    })
}

#[tokio::test]
async fn the_digest_gives_totals_per_account_name_and_agreements_ending_across_the_organization() {
    use marketplace_activity::config::DigestSettings;
    use marketplace_activity::digest::{Clock, ManualClock, Schedule};
    use std::sync::Arc;

    let start = Utc::now();
    let clock = ManualClock::new(start);
    let fake = FakeAws::start().await;
    for n in 0..12 {
        fake.add_org_account(&id(n), &name(n), "ACTIVE");
    }
    for (n, events) in [(0, 1), (4, 3), (8, 2)] {
        let records: Vec<Value> = (0..events)
            .map(|k| {
                let mut r = purchase(n, k, 0);
                r["eventTime"] = json!((start + chrono::Duration::days(2))
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
                r
            })
            .collect();
        fake.add_account_records(&id(n), "us-east-1", records);
    }
    fake.deny_role(&role(3));
    fake.add_agreement(
        "agmt-endingsoon0",
        ending_agreement("agmt-endingsoon0", 0, 20),
    );
    fake.add_agreement(
        "agmt-endingsoon5",
        ending_agreement("agmt-endingsoon5", 5, 40),
    );
    fake.add_agreement(
        "agmt-longterm0008",
        ending_agreement("agmt-longterm0008", 8, 400),
    );
    let options = Options {
        digest: Some(DigestSettings {
            schedule: Schedule::every("7d").unwrap(),
            channel: "C0DIGEST".into(),
        }),
        clock: Some(clock.clone() as Arc<dyn Clock>),
        ..org_app(32)
    };
    let app = start_app(options, fake, FakeSlack::start().await).await;
    clock.advance(chrono::Duration::days(7));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while app.slack.posts().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the digest never came"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let post = &app.slack.posts()[0];
    let text = visible_text(&json!({"blocks": post.blocks}));
    assert!(text.contains("Marketplace digest, last 7 days"), "{text}");
    assert!(text.contains("*6 purchases*"), "{text}");
    assert!(text.contains("*3 of 12 accounts* had activity."), "{text}");
    assert!(
        text.contains("1 of 12 accounts could not be read: the role could not be assumed in 1."),
        "{text}"
    );
    // The busiest account first, each by its organization name.
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("• *")).collect();
    assert_eq!(
        lines,
        [
            format!("• *{} ({})*: 3 purchases", name(4), id(4)),
            format!("• *{} ({})*: 2 purchases", name(8), id(8)),
            format!("• *{} ({})*: 1 purchase", name(0), id(0)),
        ],
        "{text}"
    );
    // Agreements ending soon, from every account that could be asked.
    assert!(text.contains("*Ending within 90 days*"), "{text}");
    assert!(
        text.contains(&format!(
            "`agmt-endingsoon0` · product `prod-2xyzexample9` · {} ({})",
            name(0),
            id(0)
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "`agmt-endingsoon5` · product `prod-2xyzexample9` · {} ({})",
            name(5),
            id(5)
        )),
        "{text}"
    );
    assert!(!text.contains("agmt-longterm0008"), "{text}");
    assert!(
        text.contains(&format!(":warning: {} ({})", name(3), id(3))),
        "{text}"
    );
}

#[tokio::test]
async fn notifications_name_the_account_by_its_organization_name() {
    let fake = FakeAws::start().await;
    fake.add_org_account("111122223333", "Payments Prod", "ACTIVE");
    let options = Options {
        notify: Some(NotifyOptions::default()),
        ..org_app(32)
    };
    let app = start_app(options, fake, FakeSlack::start().await).await;
    let (status, _, body) = app
        .send_event(&fixture(
            "eventbridge-cloudtrail-accept-agreement-request.json",
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let post = &app.slack.posts()[0];
    let text = visible_text(&json!({"blocks": post.blocks}));
    assert!(text.contains("Payments Prod (111122223333)"), "{text}");
}

#[tokio::test]
async fn query_text_over_many_accounts_lists_those_with_activity_and_sums_up_failures() {
    let fake = FakeAws::start().await;
    for n in 0..12 {
        fake.add_org_account(&id(n), &name(n), "ACTIVE");
    }
    for n in [0, 5, 9] {
        fake.add_account_records(&id(n), "us-east-1", [purchase(n, 0, 10 + n as i64)]);
    }
    fake.deny_role(&role(2));
    fake.deny_role(&role(3));
    let mut cmd = bin(&fake);
    cmd.args(["query", "30d"]);
    let (code, stdout, stderr) = output(cmd).await;
    assert_eq!(code, Some(1), "partly answered: {stdout}{stderr}");
    assert!(stdout.contains("3 purchases."), "{stdout}");
    assert!(
        stdout.contains("3 of 12 accounts had activity."),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 of 12 accounts could not be read: the role could not be assumed in 2."),
        "{stdout}"
    );
    let headings: Vec<&str> = stdout.lines().filter(|l| l.starts_with("Team ")).collect();
    assert_eq!(
        headings,
        [
            format!("{} ({}): 1 purchase", name(0), id(0)),
            format!("{} ({}): 1 purchase", name(5), id(5)),
            format!("{} ({}): 1 purchase", name(9), id(9)),
        ],
        "only accounts with activity, the most recent first: {stdout}"
    );
}

#[tokio::test]
async fn the_account_the_app_runs_in_is_read_with_its_own_credentials() {
    use crate::common::fake_aws::OWN_ACCOUNT;
    let fake = FakeAws::start().await;
    fake.add_org_account(OWN_ACCOUNT, "Management", "ACTIVE");
    fake.add_org_account(&id(1), &name(1), "ACTIVE");
    // Seen through the app's own credentials (not an assumed role's).
    let mut bought = purchase(1, 9, 20);
    bought["userIdentity"]["accountId"] = json!(OWN_ACCOUNT);
    bought["recipientAccountId"] = json!(OWN_ACCOUNT);
    fake.add_records("us-east-1", [bought]);
    fake.add_account_records(&id(1), "us-east-1", [purchase(1, 0, 10)]);
    let app = start_app(org_app(32), fake, FakeSlack::start().await).await;
    app.command("").await;
    let text = visible_text(&app.answer().await);
    assert!(text.contains("2 purchases"), "{text}");
    assert!(
        text.contains(&format!("Management ({OWN_ACCOUNT})")),
        "{text}"
    );
    assert_eq!(
        app.cloudtrail.assume_role_calls(),
        [role(1)],
        "no role assumed in the app's own account"
    );
}
