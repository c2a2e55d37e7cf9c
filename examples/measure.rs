//! Measures the slash command's figures against loopback fakes, using the release binary:
//!
//! 1. acknowledgement latency of `/slack/commands` over N signed requests (p50/p99/max);
//! 2. wall time and LookupEvents calls to fetch 1,000 events from a fake CloudTrail that
//!    throttles above 2 calls per second (the floor: 20 pages of 50, ≈ 10 s);
//! 3. `/events` latency to the fake Slack (one channel, events 1.05 s apart so Slack's
//!    per-channel pacing is not what is measured), and the duplicate path;
//! 4. events at ten times Slack's per-channel rate (10 per second for 10 s) with the script
//!    playing EventBridge (retrying a 503 after its Retry-After): how many were delivered at
//!    once, delayed, or rejected.
//!
//! Run with `scripts/measure` (it builds the release binary first).

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

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_aws::FakeAws;
use fake_slack::FakeSlack;
use marketplace_activity::slack::signature::sign;

const SECRET: &str = "measure-secret";

fn binary() -> String {
    std::env::var("MPA_BIN").unwrap_or_else(|_| "target/release/marketplace-activity".into())
}

fn aws_env(cmd: &mut Command, endpoint: &str) {
    // Every AWS service (CloudTrail, STS, the Agreement API) goes to the one fake.
    cmd.env("AWS_ENDPOINT_URL_CLOUDTRAIL", endpoint)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDMEASURE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "warn");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

async fn ack_latency(requests: usize) {
    let ct = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let server = start_server(&ct, &[]).await;
    let base = server.base.clone();
    let http = marketplace_activity::http::client().expect("an HTTP client");
    // Each request is a distinct signed request (Slack never sends one twice; the app refuses
    // a replay), as Slack's would be: its own response_url.
    let body = |i: usize| {
        serde_urlencoded::to_string([
            ("team_id", "T1"),
            ("channel_id", "C1"),
            ("user_id", "U1"),
            ("command", "/marketplace-activity"),
            ("text", "7d"),
            ("response_url", &slack.response_url(&format!("m{i}"))),
        ])
        .unwrap()
    };
    let mut times = Vec::with_capacity(requests);
    let mut refused = 0;
    for i in 0..requests + 50 {
        let ts = chrono::Utc::now().timestamp();
        let body = body(i);
        let started = Instant::now();
        let resp = http
            .post(format!("{base}/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let elapsed = started.elapsed();
        // Each lookup waits for CloudTrail's 2 calls per second, so past 64 answers in
        // preparation the app acknowledges with "try again" instead: both are acknowledgements.
        let looking = text.contains("Looking up");
        let busy = text.contains("Too many lookups");
        assert!(
            status == 200 && (looking || busy),
            "request {i} was not acknowledged: {text}"
        );
        if i >= 50 {
            times.push(elapsed); // the first 50 warm up the connection and allocator
            refused += usize::from(busy);
        }
    }
    drop(server);
    times.sort();
    println!(
        "ack latency over {requests} signed slash commands (sequential, keep-alive, loopback; {refused} of them acknowledged with \"try again\" past the 64-answer cap): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}

/// `/slack/interactions` acknowledgement latency over `clicks` distinct signed "Details"
/// clicks (sequential, keep-alive): the answer is prepared in the background.
async fn click_latency(clicks: usize) {
    let ct = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let server = start_server(&ct, &[]).await;
    let base = server.base.clone();
    let http = marketplace_activity::http::client().expect("an HTTP client");
    let mut times = Vec::with_capacity(clicks);
    for i in 0..clicks + 50 {
        let payload = serde_json::json!({
            "type": "block_actions",
            "user": {"id": "U1", "team_id": "T1"},
            "team": {"id": "T1"},
            "channel": {"id": "C1"},
            "response_url": slack.response_url(&format!("click{i}")),
            "actions": [{"action_id": "details", "type": "button", "action_ts": format!("{i}.0"),
                         "value": "{\"a\":\"agmt-cx71281flrkxyks8eurk5nlyk\"}"}],
        });
        let body = serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap();
        let ts = chrono::Utc::now().timestamp();
        let started = Instant::now();
        let resp = http
            .post(format!("{base}/slack/interactions"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let _ = resp.bytes().await;
        let elapsed = started.elapsed();
        assert_eq!(status, 200, "click {i} was not acknowledged");
        if i >= 50 {
            times.push(elapsed);
        }
    }
    drop(server);
    times.sort();
    println!(
        "ack latency over {clicks} signed \"Details\" clicks (sequential, keep-alive, loopback): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}

async fn fetch_1000() {
    let ct = FakeAws::start().await;
    let now = chrono::Utc::now();
    let records = (0..1000).map(|n| {
        let t = now - chrono::Duration::minutes(5 * n as i64 + 1);
        serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "Unknown", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
            "eventTime": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "eventSource": "agreement-marketplace.amazonaws.com",
            "eventName": "AcceptAgreementRequest",
            "awsRegion": "us-east-1",
            "requestParameters": {"agreementRequestId": format!("ar-{n}")},
            "responseElements": {"agreementId": format!("agmt-m{n:05}")},
            "eventID": format!("evt-{n}"),
        })
    });
    ct.add_records("us-east-1", records);
    let mut cmd = Command::new(binary());
    aws_env(&mut cmd, &ct.url);
    let started = Instant::now();
    let out = cmd
        .args(["query", "7d", "--format", "csv"])
        .output()
        .expect("release binary");
    let elapsed = started.elapsed();
    let rows = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
        - 1;
    let calls = ct.calls();
    println!(
        "fetching {rows} events with `query 7d`: {:.2} s wall, {} LookupEvents calls ({} throttled); floor: 20 calls, ~9.5 s at 2/s",
        elapsed.as_secs_f64(),
        calls.len(),
        ct.throttled()
    );
}

struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The release binary on a free port, against the fakes, once `/healthz` answers.
async fn start_server(ct: &FakeAws, extra_env: &[(&str, String)]) -> Server {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = Command::new(binary());
    aws_env(&mut cmd, &ct.url);
    cmd.env("SLACK_SIGNING_SECRET", SECRET)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .expect("run scripts/measure, which builds the release binary");
    let base = format!("http://127.0.0.1:{port}");
    let http = marketplace_activity::http::client().expect("an HTTP client");
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Server { child, base }
}

async fn start_notifier(ct: &FakeAws, slack: &FakeSlack) -> Server {
    start_server(
        ct,
        &[
            ("EVENTS_API_KEY", "measure-key".to_owned()),
            ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN.to_owned()),
            ("SLACK_CHANNEL", "C0MEASURE".to_owned()),
            ("SLACK_API_URL", slack.api_url()),
        ],
    )
    .await
}

fn purchase_event(n: usize) -> String {
    serde_json::json!({
        "version": "0", "id": format!("eb-{n}"), "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.agreement-marketplace", "account": "111122223333",
        "time": "2026-11-02T15:46:57Z", "region": "us-east-1", "resources": [],
        "detail": {
            "eventVersion": "1.08",
            "userIdentity": {"type": "Unknown", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
            "eventTime": "2026-11-02T15:46:57Z", "eventSource": "agreement-marketplace.amazonaws.com",
            "eventName": "AcceptAgreementRequest", "awsRegion": "us-east-1",
            "requestParameters": {"agreementRequestId": format!("ar-{n}")},
            "responseElements": {"agreementId": format!("agmt-e{n:06}")},
            "eventID": format!("ct-{n}"),
        }
    })
    .to_string()
}

async fn send(http: &reqwest::Client, base: &str, body: &str) -> (u16, Option<u64>) {
    let resp = http
        .post(format!("{base}/events"))
        .header("x-api-key", "measure-key")
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    (resp.status().as_u16(), after)
}

fn summary(label: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "{label}: n={} p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        times.len(),
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}

async fn events_latency(n: usize) {
    let ct = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let server = start_notifier(&ct, &slack).await;
    let http = marketplace_activity::http::client().expect("an HTTP client");
    let mut posted = Vec::new();
    for i in 0..n {
        let body = purchase_event(i);
        let started = Instant::now();
        let (status, _) = send(&http, &server.base, &body).await;
        posted.push(started.elapsed());
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(1050)).await;
    }
    assert_eq!(slack.posts().len(), n);
    summary(
        "/events to fake Slack, new purchase posted (chat.postMessage)",
        posted,
    );
    let body = purchase_event(0);
    let mut dups = Vec::new();
    for _ in 0..2000 {
        let started = Instant::now();
        send(&http, &server.base, &body).await;
        dups.push(started.elapsed());
    }
    summary("/events duplicate (answered from the state store)", dups);
}

async fn ten_times_the_rate() {
    let ct = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let server = start_notifier(&ct, &slack).await;
    let base = std::sync::Arc::new(server.base.clone());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for n in 0..100 {
        let base = base.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100 * n as u64)).await;
            let http = marketplace_activity::http::client().expect("an HTTP client");
            let body = purchase_event(10_000 + n);
            let first = Instant::now();
            let mut attempts = 0;
            loop {
                attempts += 1;
                let (status, after) = send(&http, &base, &body).await;
                match status {
                    200 => return (attempts, first.elapsed(), false),
                    503 => tokio::time::sleep(Duration::from_secs(after.unwrap_or(1))).await,
                    _ => return (attempts, first.elapsed(), true),
                }
            }
        }));
    }
    let mut at_once = 0;
    let mut delayed = Vec::new();
    let mut rejected = 0;
    for t in tasks {
        let (attempts, took, was_rejected) = t.await.unwrap();
        if was_rejected {
            rejected += 1;
        } else if attempts == 1 {
            at_once += 1;
        } else {
            delayed.push(took);
        }
    }
    let posts = slack.posts();
    let spacing = posts
        .windows(2)
        .map(|w| w[1].at - w[0].at)
        .min()
        .unwrap_or_default();
    delayed.sort();
    println!(
        "100 events at 10/s to one channel: {at_once} delivered on the first try, {} delayed (503 + Retry-After, delivered on retry; median delay {:.1} s, max {:.1} s), {rejected} rejected; {} messages in Slack ({} distinct), closest two posts {:.2} s apart, all done in {:.1} s",
        delayed.len(),
        delayed.get(delayed.len() / 2).map_or(0.0, |d| d.as_secs_f64()),
        delayed.last().map_or(0.0, |d| d.as_secs_f64()),
        posts.len(),
        posts.iter().map(|p| p.text.clone()).collect::<std::collections::HashSet<_>>().len(),
        spacing.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
}

/// 5 accounts × 2 regions × 500 events, a 90-day query through the release binary, against a
/// fake that throttles above 2 calls per second per account and region.
async fn accounts_fan_out() {
    let ct = FakeAws::start().await;
    let now = chrono::Utc::now();
    let accounts = [
        "111111111111",
        "222222222222",
        "333333333333",
        "444444444444",
        "555555555555",
    ];
    let regions = ["us-east-1", "eu-west-1"];
    for account in accounts {
        for region in regions {
            let records = (0..500).map(|n| {
                let t = now - chrono::Duration::minutes(200 * n as i64 + 1);
                serde_json::json!({
                    "eventVersion": "1.08",
                    "userIdentity": {"type": "Unknown", "arn": format!("arn:aws:iam::{account}:user/buyer"), "accountId": account},
                    "eventTime": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "eventSource": "agreement-marketplace.amazonaws.com",
                    "eventName": "AcceptAgreementRequest", "awsRegion": region,
                    "requestParameters": {"agreementRequestId": format!("ar-{n}")},
                    "responseElements": {"agreementId": format!("agmt-{account}{}", n % 5)},
                    "eventID": format!("evt-{account}-{region}-{n}"),
                })
            });
            ct.add_account_records(account, region, records);
        }
    }
    let env_accounts = accounts
        .iter()
        .enumerate()
        .map(|(i, a)| format!("acct{i}=arn:aws:iam::{a}:role/MarketplaceActivityRead"))
        .collect::<Vec<_>>()
        .join(";");
    let mut cmd = Command::new(binary());
    aws_env(&mut cmd, &ct.url);
    cmd.env_remove("AWS_ENDPOINT_URL_CLOUDTRAIL")
        .env("AWS_ENDPOINT_URL", &ct.url)
        .env("ACCOUNTS", env_accounts)
        .env("CLOUDTRAIL_REGIONS", regions.join(","));
    let started = Instant::now();
    let out = cmd
        .args(["query", "90d", "--format", "csv"])
        .output()
        .expect("release binary");
    let elapsed = started.elapsed();
    let rows = out
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
        .saturating_sub(1);
    let calls = ct.calls();
    let per_pair = calls.len() / (accounts.len() * regions.len());
    println!(
        "90-day query over 5 accounts x 2 regions x 500 events: {rows} rows in {:.2} s wall, {} LookupEvents calls ({per_pair} per pair, {} throttled), {} AssumeRole, {} Agreement API calls; floor: 10 pages per pair at 2/s = 4.5 s, all pairs in parallel",
        elapsed.as_secs_f64(),
        calls.len(),
        ct.throttled(),
        ct.assume_role_calls().len(),
        ct.agreement_calls(),
    );
    if !out.status.success() {
        println!("stderr: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[tokio::main]
async fn main() {
    let requests = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    let only = std::env::args().nth(2).unwrap_or_default();
    if only.is_empty() || only == "commands" {
        ack_latency(requests).await;
        fetch_1000().await;
    }
    if only.is_empty() || only == "clicks" {
        click_latency(1000).await;
    }
    if only.is_empty() || only == "accounts" {
        accounts_fan_out().await;
    }
    if only.is_empty() || only == "events" {
        events_latency(60).await;
        ten_times_the_rate().await;
    }
}
