//! Measures `ACCOUNTS=organization` at scale against the integration tests' fakes on loopback:
//! Organizations (ListAccounts, 20 a page), STS answering AssumeRole in 50 ms, CloudTrail
//! answering in 100 ms and throttling above 2 calls per second per account and region.
//! Runs the given binary's `query 30d --format json` for 300 accounts × 1 region and for
//! 100 accounts × 3 regions, and prints, for each: the wall time, the floor the fakes imply,
//! the AssumeRole and LookupEvents calls, the throttled calls, and the binary's peak RSS.
//!
//! Usage: `cargo run --release --example org_scale -- target/release/marketplace-activity`
//! (`scripts/measure-organization` does both).

// The integration tests' fakes; this program uses only part of what they offer.
#[allow(dead_code)]
#[path = "../tests/it/common/fake_aws.rs"]
mod fake_aws;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

const STS_DELAY: Duration = Duration::from_millis(50);
const CLOUDTRAIL_DELAY: Duration = Duration::from_millis(100);
/// The app's pacing per account and region (`cloudtrail::LOOKUP_INTERVAL`).
const PACE: Duration = Duration::from_millis(525);
/// The app's default pairs in flight (`LOOKUP_CONCURRENCY`).
const IN_FLIGHT: usize = 32;
/// LookupEvents' page.
const PAGE: usize = 50;

fn id(n: usize) -> String {
    format!("{}", 100_000_000_000 + n)
}

/// 0 to 120 events in every fourth account (1 to 3 pages), none elsewhere.
fn events_in(n: usize) -> usize {
    if n.is_multiple_of(4) {
        (n * 37) % 121
    } else {
        0
    }
}

fn purchase(n: usize, k: usize) -> Value {
    let time = chrono::Utc::now() - chrono::Duration::minutes((k + n) as i64 + 1);
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "accountId": id(n), "arn": format!("arn:aws:iam::{}:user/buyer", id(n))},
        "eventTime": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "eventSource": "agreement-marketplace.amazonaws.com",
        "eventName": "AcceptAgreementRequest",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "requestParameters": {"agreementRequestId": format!("req-{n}-{k}")},
        // A few agreements per account, as a buyer's accounts have.
        "responseElements": {"agreementId": format!("agmt-{n}x{}", k % 3)},
        "eventID": format!("evt-{n}-{k}"),
        "eventType": "AwsApiCall",
        "recipientAccountId": id(n),
    })
}

struct Run {
    accounts: usize,
    regions: Vec<&'static str>,
}

#[tokio::main]
async fn main() {
    let binary = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/release/marketplace-activity".into());
    for run in [
        Run {
            accounts: 300,
            regions: vec!["us-east-1"],
        },
        Run {
            accounts: 100,
            regions: vec!["us-east-1", "eu-west-1", "ap-southeast-2"],
        },
    ] {
        measure(&binary, &run).await;
    }
}

async fn measure(binary: &str, run: &Run) {
    let fake = fake_aws::FakeAws::start().await;
    fake.delay_sts(STS_DELAY);
    fake.delay_cloudtrail(CLOUDTRAIL_DELAY);
    let mut events = 0;
    // Seconds each pair needs at least: AssumeRole (once per account, before its first
    // region), then its pages 525 ms apart, the last answering in 100 ms.
    let mut pair_seconds = Vec::new();
    for n in 0..run.accounts {
        fake.add_org_account(&id(n), &format!("Team {n:03}"), "ACTIVE");
        for (r, region) in run.regions.iter().enumerate() {
            let count = events_in(n);
            if count > 0 {
                fake.add_account_records(&id(n), region, (0..count).map(|k| purchase(n, k)));
            }
            events += count;
            let pages = count.div_ceil(PAGE).max(1);
            let assume = if r == 0 { STS_DELAY } else { Duration::ZERO };
            pair_seconds
                .push((assume + PACE * (pages as u32 - 1) + CLOUDTRAIL_DELAY).as_secs_f64());
        }
    }
    let pairs = pair_seconds.len();
    let busy: f64 = pair_seconds.iter().sum();
    let longest = pair_seconds.iter().copied().fold(0.0, f64::max);
    let floor = (busy / IN_FLIGHT as f64).max(longest);
    let calls_needed: usize = (0..run.accounts)
        .map(|n| events_in(n).div_ceil(PAGE).max(1) * run.regions.len())
        .sum();

    let url = fake.url.clone();
    let regions = run.regions.join(",");
    let binary = binary.to_owned();
    let started = Instant::now();
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        // GNU time prints the child's peak RSS (kB) as the last line of stderr.
        let out = std::process::Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(&binary)
            .args(["query", "30d", "--format", "json"])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", &url)
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("ACCOUNTS", "organization")
            .env("CLOUDTRAIL_REGIONS", &regions)
            // The "lookup done" line says how long CloudTrail took, details aside.
            .env("RUST_LOG", "marketplace_activity::aws::reports=info")
            .env("LOG_FORMAT", "json")
            .output()
            .expect("run the binary under /usr/bin/time");
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("the run");
    let wall = started.elapsed().as_secs_f64();
    let peak_kb: u64 = stderr
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or(0);
    let field = |name: &str| -> f64 {
        stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["message"] == "lookup done")
            .and_then(|l| l[name].as_f64())
            .unwrap_or(f64::NAN)
    };
    let lookup = field("lookup_ms") / 1000.0;
    let report = field("elapsed_ms") / 1000.0;
    let doc: Value = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    let found = doc["activities"].as_array().map_or(0, Vec::len);
    let failures = doc["failures"].as_array().map_or(0, Vec::len);
    let calls = fake.calls();
    let throttled = calls.iter().filter(|c| c.outcome == "throttled").count();
    println!(
        "{} accounts x {} region(s) = {pairs} pairs, {events} events: wall {wall:.2} s, \
         lookup {lookup:.2} s, report with agreement details {report:.2} s (floor {floor:.2} s: {pairs} pairs of 1-3 pages at 2/s, {IN_FLIGHT} in flight, \
         STS 50 ms, CloudTrail 100 ms); AssumeRole {} calls, LookupEvents {} calls \
         ({calls_needed} needed, {throttled} throttled); {found} activities, {failures} failures, \
         exit {}; peak RSS {:.1} MB",
        run.accounts,
        run.regions.len(),
        fake.assume_role_calls().len(),
        calls.len(),
        status.code().unwrap_or(-1),
        peak_kb as f64 / 1024.0,
    );
    if found != events {
        eprintln!("warning: {found} activities answered, {events} stored");
    }
}
