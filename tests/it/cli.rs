//! The binary as people run it: `query`, `demo`, and start-up errors.

use std::process::Command;

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marketplace-activity"));
    // Nothing in these tests may reach AWS: no region probing, no real endpoint.
    cmd.env_remove("SLACK_SIGNING_SECRET")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("RUST_LOG", "warn");
    cmd
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn query_reads_saved_lookup_events_as_csv() {
    let out = bin()
        .args([
            "query",
            "since",
            "2026-11-01",
            "--format",
            "csv",
            "--events-file",
        ])
        .arg(fixture("lookup-events-response-page.json"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = csv::Reader::from_reader(&out.stdout[..]);
    let header: Vec<String> = rows.headers().unwrap().iter().map(str::to_owned).collect();
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
    let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    let col = |r: &csv::StringRecord, name: &str| {
        r[header.iter().position(|h| h == name).unwrap()].to_owned()
    };
    assert_eq!(rows.len(), 3);
    assert_eq!(col(&rows[0], "time"), "2026-11-03T09:12:05Z");
    assert_eq!(col(&rows[0], "error_code"), "AccessDeniedException");
    assert_eq!(col(&rows[1], "kind"), "Cancellation");
    assert_eq!(col(&rows[1], "actor"), "bob (role ProcurementAdmin)");
    assert_eq!(col(&rows[2], "kind"), "Purchase");
    assert_eq!(
        col(&rows[2], "agreement_id"),
        "agmt-cx71281flrkxyks8eurk5nlyk"
    );
    assert_eq!(col(&rows[2], "account"), "111122223333");
}

#[test]
fn query_text_and_json_and_filters() {
    let out = bin()
        .args([
            "query",
            "2026-11-01..2026-11-02",
            "purchases",
            "--events-file",
        ])
        .arg(fixture("lookup-events-response-page.json"))
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("Marketplace activity, 2026-11-01 to 2026-11-02 (purchases)"),
        "{text}"
    );
    assert!(
        text.contains("Purchase") && text.contains("alice@example.com (IAM user)"),
        "{text}"
    );
    assert!(!text.contains("Cancellation"), "{text}");
    assert!(
        !text.contains("carol"),
        "the 3rd of November is outside the window: {text}"
    );

    let out = bin()
        .args([
            "query",
            "since",
            "2026-11-01",
            "--format",
            "json",
            "--events-file",
        ])
        .arg(fixture("lookup-events-response-page.json"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["counts"]["purchases"], 1);
    assert_eq!(json["counts"]["failed"], 1);
    assert_eq!(json["activities"][1]["kind"], "cancellation");
    assert_eq!(json["activities"][1]["actor"]["role"], "ProcurementAdmin");
}

#[test]
fn query_with_a_bad_argument_explains_and_fails() {
    let out = bin()
        .args(["query", "lastweek", "--events-file"])
        .arg(fixture("lookup-events-response-page.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("I didn't understand `lastweek`"), "{err}");
    assert!(err.contains("Usage:"), "{err}");
}

#[test]
fn serve_without_a_signing_secret_stops_with_one_clear_line() {
    let out = bin().arg("serve").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("error: SLACK_SIGNING_SECRET is required"),
        "{err}"
    );
}

#[test]
fn help_lists_every_setting_and_never_a_secret_value() {
    let out = bin()
        .env("SLACK_SIGNING_SECRET", "super-secret-value")
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for var in [
        "SLACK_SIGNING_SECRET",
        "LISTEN_ADDR",
        "CLOUDTRAIL_REGIONS",
        "ALLOWED_TEAM_IDS",
        "ALLOWED_CHANNEL_IDS",
        "ALLOWED_USER_IDS",
        "LOG_FORMAT",
    ] {
        assert!(help.contains(var), "--help lists {var}: {help}");
    }
    assert!(!help.contains("super-secret-value"));
}

#[test]
fn the_demo_shows_a_real_answer() {
    let out = bin().args(["demo", "--once"]).output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[200 OK within Slack's 3 s"), "{stdout}");
    assert!(
        stdout.contains("━━ Marketplace activity, last 30 days ━━"),
        "{stdout}"
    );
    assert!(
        stdout.contains("*Amendment* · `agmt-demo0000000000000000002`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Failed purchase attempt (AccessDeniedException)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("    [Details]"),
        "the buttons are shown: {stdout}"
    );
    assert!(
        !stdout.contains("curl"),
        "with --once the server is gone: no curl points at it: {stdout}"
    );
}
