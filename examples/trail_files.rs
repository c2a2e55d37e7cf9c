//! Writes a synthetic trail archive laid out as `aws s3 sync` leaves a trail's S3 prefix: one
//! gzipped log per account, region and 5 minutes under
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`, plus the digest files CloudTrail writes
//! next to them. Each log holds a few records of other services; one in `EVERY` also holds a
//! Marketplace agreement record, and one in `EVERY * 10` repeats the previous file's agreement
//! record (as overlapping archives do).
//!
//! `cargo run --release --example trail_files -- DIR [FILES=20000]`, then
//! `time marketplace-activity query 2025-01-01..2025-12-31 --events-file DIR`.

use std::io::Write;
use std::path::Path;

use chrono::{Duration, TimeZone, Utc};
use serde_json::{json, Value};

const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// One file in this many holds an agreement record.
const EVERY: usize = 20;

fn other(n: usize, time: &str, account: &str, region: &str) -> Value {
    let (source, name) = match n % 4 {
        0 => ("s3.amazonaws.com", "GetObject"),
        1 => ("ec2.amazonaws.com", "DescribeInstances"),
        2 => ("sts.amazonaws.com", "AssumeRole"),
        _ => ("kms.amazonaws.com", "Decrypt"),
    };
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROAEXAMPLE:ci",
            "arn": format!("arn:aws:sts::{account}:assumed-role/ci/ci"), "accountId": account},
        "eventTime": time, "eventSource": source, "eventName": name, "awsRegion": region,
        "sourceIPAddress": "10.0.0.1", "userAgent": "aws-sdk-go-v2",
        "requestParameters": {"key": format!("object-{n}")}, "responseElements": null,
        "eventID": format!("other-{n:08}"), "readOnly": true, "eventType": "AwsApiCall",
        "recipientAccountId": account
    })
}

fn agreement(n: usize, time: &str, account: &str) -> Value {
    let name = if n.is_multiple_of(3) {
        "CancelAgreement"
    } else {
        "AcceptAgreementRequest"
    };
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE",
            "arn": format!("arn:aws:iam::{account}:user/buyer{}", n % 7), "accountId": account,
            "userName": format!("buyer{}", n % 7)},
        "eventTime": time, "eventSource": "agreement-marketplace.amazonaws.com",
        "eventName": name, "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.7",
        "userAgent": "console.amazonaws.com",
        "requestParameters": {"agreementRequestId": format!("ar-{n:020}")},
        "responseElements": {"agreementId": format!("agmt-synthetic{n:011}")},
        "eventID": format!("agreement-{n:08}"), "readOnly": false,
        "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": account
    })
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: trail_files DIR [FILES]");
    let files: usize = args.next().map_or(20_000, |n| n.parse().expect("a number"));
    let start = Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0).unwrap();
    let mut records = 0;
    let mut agreements = 0;
    let mut last_agreement: Option<Value> = None;
    for i in 0..files {
        let account = ACCOUNTS[i % ACCOUNTS.len()];
        let region = REGIONS[(i / ACCOUNTS.len()) % REGIONS.len()];
        // Four files (two accounts × two regions) per 5-minute slot.
        let at = start + Duration::minutes(5 * (i / 4) as i64);
        let time = at.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut batch: Vec<Value> = (0..4)
            .map(|k| other(i * 4 + k, &time, account, region))
            .collect();
        if i.is_multiple_of(EVERY) {
            let a = agreement(i, &time, account);
            last_agreement = Some(a.clone());
            batch.push(a);
            agreements += 1;
        } else if i % (EVERY * 10) == 1 {
            batch.extend(last_agreement.clone());
        }
        records += batch.len();
        let day_dir = Path::new(&dir).join(format!(
            "AWSLogs/{account}/CloudTrail/{region}/{}",
            at.format("%Y/%m/%d")
        ));
        std::fs::create_dir_all(&day_dir)?;
        let name = format!(
            "{account}_CloudTrail_{region}_{}_{i:08x}.json.gz",
            at.format("%Y%m%dT%H%MZ")
        );
        let body = json!({"Records": batch}).to_string();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(body.as_bytes())?;
        std::fs::write(day_dir.join(name), gz.finish()?)?;
        if i.is_multiple_of(48) {
            // An hourly digest file: no records.
            let digest_dir = Path::new(&dir).join(format!(
                "AWSLogs/{account}/CloudTrail-Digest/{region}/{}",
                at.format("%Y/%m/%d")
            ));
            std::fs::create_dir_all(&digest_dir)?;
            let digest = json!({"awsAccountId": account, "digestStartTime": time,
                "digestPublicKeyFingerprint": "0123456789abcdef", "logFiles": []});
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(digest.to_string().as_bytes())?;
            std::fs::write(
                digest_dir.join(format!(
                    "{account}_CloudTrail-Digest_{region}_trail_{region}_{}.json.gz",
                    at.format("%Y%m%dT%H%M%SZ")
                )),
                gz.finish()?,
            )?;
        }
    }
    println!(
        "wrote {files} trail files ({records} records, {agreements} agreement records) under {dir}"
    );
    Ok(())
}
