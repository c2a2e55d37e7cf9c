//! The code every request runs, measured with criterion (`cargo bench --bench hot_paths`):
//! the Slack signature check, the command grammar, a CloudTrail record, an EventBridge event,
//! and the Block Kit answer for a report of 50 events. Inputs are the fixtures in
//! `tests/fixtures/`.

use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use marketplace_activity::aws::record::parse_record;
use marketplace_activity::domain::Fetched;
use marketplace_activity::domain::{Command, Filter, WindowSpec};
use marketplace_activity::notify::event;
use marketplace_activity::report::Report;
use marketplace_activity::slack::render::report_message;
use marketplace_activity::slack::signature::{sign, SigningSecrets};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A slash command body as Slack sends it (about 500 bytes).
fn command_body() -> String {
    serde_urlencoded::to_string([
        ("token", "deprecated"),
        ("team_id", "T0001"),
        ("team_domain", "acme"),
        ("channel_id", "C0001"),
        ("channel_name", "procurement"),
        ("user_id", "U0001"),
        ("user_name", "someone"),
        ("command", "/marketplace-activity"),
        ("text", "30d purchases share"),
        (
            "response_url",
            "https://hooks.slack.com/commands/T0001/397700885554/96rGlfmibIGlgcZRskXaIFfN",
        ),
        (
            "trigger_id",
            "398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c",
        ),
        ("api_app_id", "A0001"),
    ])
    .unwrap()
}

fn signature(c: &mut Criterion) {
    let body = command_body();
    let now = 1_800_000_000;
    let ts = now.to_string();
    let mut group = c.benchmark_group("signature");
    group.throughput(Throughput::Bytes(body.len() as u64));
    let one = SigningSecrets::parse("the-signing-secret").unwrap();
    let good = sign("the-signing-secret", now, body.as_bytes());
    group.bench_function("verify (valid, 1 secret)", |b| {
        b.iter(|| {
            one.verify(
                Some(ts.as_bytes()),
                Some(good.as_bytes()),
                black_box(body.as_bytes()),
                now,
            )
        })
    });
    // During a rotation a valid request may match only the last secret: two MACs.
    let two = SigningSecrets::parse("the-new-secret,the-signing-secret").unwrap();
    group.bench_function("verify (valid, 2nd of 2 secrets)", |b| {
        b.iter(|| {
            two.verify(
                Some(ts.as_bytes()),
                Some(good.as_bytes()),
                black_box(body.as_bytes()),
                now,
            )
        })
    });
    let forged = sign("not-the-secret", now, body.as_bytes());
    group.bench_function("verify (forged)", |b| {
        b.iter(|| {
            one.verify(
                Some(ts.as_bytes()),
                Some(forged.as_bytes()),
                black_box(body.as_bytes()),
                now,
            )
        })
    });
    group.finish();
}

/// The replay check on every signed request: with the set full (100,000 signatures kept, as
/// under a sustained load), each new signature is recorded and the oldest forgotten.
fn replays(c: &mut Criterion) {
    use marketplace_activity::slack::request::Replays;
    use marketplace_activity::slack::signature::Signature;
    let mac = |n: u64| {
        let mut bytes = [0u8; 32];
        for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
            // splitmix64: uniformly spread, as MACs are.
            let mut z = n
                .wrapping_mul(4)
                .wrapping_add(i as u64)
                .wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            chunk.copy_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        Signature(bytes)
    };
    let seen = Replays::default();
    let now = 1_800_000_000;
    let mut n = 0u64;
    while n < Replays::CAPACITY as u64 * 2 {
        seen.first_time(mac(n), now);
        n += 1;
    }
    c.bench_function("replays/first_time (full)", |b| {
        b.iter(|| {
            n += 1;
            black_box(seen.first_time(mac(n), now))
        })
    });
}

fn command(c: &mut Criterion) {
    let mut group = c.benchmark_group("command");
    for text in [
        "",
        "30d purchases share",
        "since 2026-11-01 cancellations",
        "2026-11-01..2026-11-15 agmt-cx71281flrkxyks8eurk5nlyk",
        "last week please",
    ] {
        group.bench_function(format!("parse {text:?}"), |b| {
            b.iter(|| Command::parse(black_box(text)))
        });
    }
    group.finish();
}

fn cloudtrail_record(c: &mut Criterion) {
    let mut group = c.benchmark_group("cloudtrail_record");
    for name in [
        "cloudtrail-accept-agreement-request.json",
        "cloudtrail-cancel-agreement.json",
        "cloudtrail-accept-agreement-request-denied.json",
    ] {
        let json = fixture(name);
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(name.trim_end_matches(".json"), |b| {
            b.iter(|| parse_record(black_box(&json)).unwrap().unwrap())
        });
    }
    group.finish();
}

fn eventbridge_event(c: &mut Criterion) {
    let mut group = c.benchmark_group("eventbridge_event");
    for name in [
        "eventbridge-cloudtrail-accept-agreement-request.json",
        "eventbridge-purchase-agreement-created-acceptor.json",
        "eventbridge-purchase-agreement-ended-acceptor.json",
    ] {
        let body = fixture(name);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name.trim_end_matches(".json"), |b| {
            b.iter(|| event::parse(black_box(body.as_bytes())).unwrap())
        });
    }
    group.finish();
}

/// 50 activities over the last week: purchases, cancellations and failed attempts by
/// several people, as a busy organisation might have.
fn fifty_activities() -> Fetched {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let templates = [
        "cloudtrail-accept-agreement-request.json",
        "cloudtrail-cancel-agreement.json",
        "cloudtrail-accept-agreement-request-denied.json",
    ]
    .map(|name| serde_json::from_str::<serde_json::Value>(&fixture(name)).unwrap());
    let activities = (0..50)
        .map(|n| {
            let mut record = templates[n % templates.len()].clone();
            let time = now - Duration::minutes(191 * n as i64 + 7);
            record["eventTime"] = time.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
            record["eventID"] = format!("evt-{n:05}").into();
            record["responseElements"]["agreementId"] = format!("agmt-bench{n:016}").into();
            parse_record(&record.to_string()).unwrap().unwrap()
        })
        .collect();
    Fetched {
        activities,
        sources: 1,
        ..Fetched::default()
    }
}

fn render_report(c: &mut Criterion) {
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap();
    let window = WindowSpec::LastDays(7).resolve(now).unwrap();
    let fetched = fifty_activities();
    assert_eq!(fetched.activities.len(), 50);
    let mut group = c.benchmark_group("report");
    group.bench_function("build + Block Kit, 50 events", |b| {
        b.iter_batched(
            || Fetched {
                activities: fetched.activities.clone(),
                sources: 1,
                ..Fetched::default()
            },
            |f| report_message(&Report::build(f, Filter::All, window.clone(), false), false),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("build + Block Kit + JSON, 50 events", |b| {
        b.iter_batched(
            || Fetched {
                activities: fetched.activities.clone(),
                sources: 1,
                ..Fetched::default()
            },
            |f| {
                let message =
                    report_message(&Report::build(f, Filter::All, window.clone(), false), false);
                serde_json::to_vec(&message).unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    replays,
    signature,
    command,
    cloudtrail_record,
    eventbridge_event,
    render_report
);
criterion_main!(benches);
