//! Measures the slash command's figures against loopback fakes, using the release binary:
//!
//! 1. acknowledgement latency of `/slack/commands` over N signed requests (p50/p99/max);
//! 2. wall time and LookupEvents calls to fetch 1,000 events from a fake CloudTrail that
//!    throttles above 2 calls per second (the floor: 20 pages of 50, ≈ 10 s).
//!
//! Run with `scripts/measure` (it builds the release binary first).

#[path = "../tests/common/fake_cloudtrail.rs"]
mod fake_cloudtrail;
#[path = "../tests/common/fake_slack.rs"]
mod fake_slack;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fake_cloudtrail::FakeCloudTrail;
use fake_slack::FakeSlack;
use marketplace_activity::slack::signature::sign;

const SECRET: &str = "measure-secret";

fn binary() -> String {
    std::env::var("MPA_BIN").unwrap_or_else(|_| "target/release/marketplace-activity".into())
}

fn aws_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ENDPOINT_URL_CLOUDTRAIL", endpoint)
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
    let ct = FakeCloudTrail::start().await;
    let slack = FakeSlack::start().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cmd = Command::new(binary());
    aws_env(&mut cmd, &ct.url);
    let mut child = cmd
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("run scripts/measure, which builds the release binary");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let body = serde_urlencoded::to_string([
        ("team_id", "T1"),
        ("channel_id", "C1"),
        ("user_id", "U1"),
        ("command", "/marketplace-activity"),
        ("text", "7d"),
        ("response_url", &slack.response_url("m")),
    ])
    .unwrap();
    let mut times = Vec::with_capacity(requests);
    for i in 0..requests + 50 {
        let ts = chrono::Utc::now().timestamp();
        let started = Instant::now();
        let resp = http
            .post(format!("{base}/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()))
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let ok = resp.status() == 200 && resp.text().await.unwrap().contains("Looking up");
        let elapsed = started.elapsed();
        assert!(ok, "request {i} was not acknowledged");
        if i >= 50 {
            times.push(elapsed); // the first 50 warm up the connection and allocator
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    times.sort();
    println!(
        "ack latency over {requests} signed slash commands (sequential, keep-alive, loopback): p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        percentile(&times, 0.50).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().unwrap().as_secs_f64() * 1e3,
    );
}

async fn fetch_1000() {
    let ct = FakeCloudTrail::start().await;
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

#[tokio::main]
async fn main() {
    let requests = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(2000);
    ack_latency(requests).await;
    fetch_1000().await;
}
