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
    assert!(
        stdout.contains("[the answer, through response_url: visible only to you]"),
        "each answer says where it went: {stdout}"
    );

    // The second half: the bundled EventBridge events through the app's own /events.
    let notifications = stdout
        .split_once("━━━ 2. Notifications")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("no notification half: {stdout}"));
    for (event, outcome) in [
        (
            "CloudTrail AcceptAgreementRequest",
            "200 OK posted: a new message in #procurement",
        ),
        (
            "Purchase Agreement Created - Acceptor",
            "200 OK updated: the same message, updated in place",
        ),
        (
            "Purchase Agreement Amended - Acceptor",
            "200 OK posted: a reply in that message's thread",
        ),
        (
            "Purchase Agreement Ended - Acceptor",
            "200 OK posted: a reply in the thread, also sent to the channel",
        ),
    ] {
        let line = notifications
            .lines()
            .find(|l| l.trim_start().starts_with(event))
            .unwrap_or_else(|| panic!("{event} delivered: {notifications}"));
        assert!(line.ends_with(outcome), "{line}");
    }
    let channel = notifications
        .split_once("[the channel #procurement, as Slack shows it: in the channel, for everyone]")
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("the channel is shown: {notifications}"));
    // One message, edited: the CloudTrail call says who, Marketplace's twin says what.
    let purchase = channel
        .split_once("💬 2 replies in its thread:")
        .map(|(message, _)| message)
        .unwrap_or_else(|| panic!("a thread of two replies: {channel}"));
    assert!(
        purchase.starts_with("\n  ● message (edited: updated in place):"),
        "{channel}"
    );
    for fact in [
        "New Marketplace purchase",
        "*Example Observability Platform* from *Example Observability Inc.*",
        "*Who* maria@example.com (role Procurement)",
        "*Offer* Annual contract, 50 hosts",
    ] {
        assert!(purchase.contains(fact), "{fact} in {purchase}");
    }
    assert_eq!(channel.matches("● ").count(), 2, "{channel}");
    let thread = channel.split_once("💬").unwrap().1;
    let amended = thread.find("Marketplace agreement amended").unwrap();
    let broadcast = thread.find("↳ reply (also sent to the channel):").unwrap();
    assert!(amended < broadcast, "{thread}");
    assert!(
        thread.contains("● replied to a thread (also sent to the channel):\n    ━━ :red_circle: Marketplace subscription cancelled ━━"),
        "the cancellation shows in the channel too: {channel}"
    );
}

/// Without --once the demo keeps serving, and the curl it prints for `/events` posts a new
/// message that the demo prints as it happens.
#[tokio::test]
async fn the_demo_keeps_serving_and_its_events_curl_posts() {
    use std::io::{BufRead, BufReader};
    let mut child = bin()
        .arg("demo")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || {
        lines
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the demo printed on")
    };
    let mut seen = Vec::new();
    while !seen
        .last()
        .is_some_and(|l: &String| l.contains("keeps serving"))
    {
        seen.push(next());
    }
    let printed = seen.join("\n");
    let curl = seen
        .iter()
        .find(|l| l.contains("/events -H 'x-api-key"))
        .unwrap_or_else(|| panic!("a curl for /events: {printed}"));
    assert!(printed.contains("/slack/commands -H"), "{printed}");
    // Run what the curl does: its URL, key header and body, as printed.
    let url = curl.split_whitespace().nth(2).unwrap();
    let body = curl
        .split_once("--data '")
        .and_then(|(_, rest)| rest.rsplit_once("'; echo"))
        .map(|(body, _)| body)
        .unwrap();
    let post = || {
        marketplace_activity::http::client()
            .expect("an HTTP client")
            .post(url)
            .header("x-api-key", "demo-events-key")
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
    };
    let first = post().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["status"], "posted", "{first}");
    let mut shown = Vec::new();
    while !shown
        .last()
        .is_some_and(|l: &String| l.contains("Example Threat Detection"))
    {
        shown.push(next());
    }
    assert!(
        shown.iter().any(|l| l == "[a new message in #procurement]"),
        "{shown:?}"
    );
    let again: serde_json::Value = post().await.unwrap().json().await.unwrap();
    assert_eq!(again["status"], "duplicate", "{again}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The binary with no AWS credentials anywhere it could look.
fn without_credentials() -> Command {
    let mut cmd = bin();
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(var);
    }
    // The log level each subcommand has when RUST_LOG is unset, as a person runs it.
    cmd.env_remove("RUST_LOG")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

fn record(id: &str, name: &str, time: &str) -> serde_json::Value {
    let mut r: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("cloudtrail-accept-agreement-request.json")).unwrap(),
    )
    .unwrap();
    r["eventID"] = id.into();
    r["eventName"] = name.into();
    r["eventTime"] = time.into();
    r
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, bytes).unwrap();
    gz.finish().unwrap()
}

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[test]
fn query_says_when_every_record_is_outside_the_window_and_which_window_has_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.json");
    let log = serde_json::json!({"Records": [
        record("seed-1", "AcceptAgreementRequest", "2023-09-06T15:46:57Z"),
        record("seed-2", "CancelAgreement", "2023-09-06T16:10:00Z"),
    ]});
    std::fs::write(&path, log.to_string()).unwrap();

    let out = bin()
        .args(["query", "90d", "--events-file"])
        .arg(&path)
        .output()
        .unwrap();
    let text = stdout_of(&out);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("No Marketplace agreement activity in the last 90 days."),
        "{text}"
    );
    assert!(
        flat.contains("Read 2 records from ") && flat.contains("2 about Marketplace agreements"),
        "{text}"
    );
    assert!(
        flat.contains(
            "All 2 are outside this window, from 2023-09-06 15:46 UTC to 2023-09-06 16:10 UTC: \
             ask for 2023-09-06..2023-09-06 to include them."
        ),
        "{text}"
    );
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");

    let out = bin()
        .args(["query", "90d", "--format", "json", "--events-file"])
        .arg(&path)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(stdout_of(&out).as_bytes()).unwrap();
    assert_eq!(json["activities"], serde_json::json!([]));
    assert_eq!(json["examined"]["records"], 2);
    assert_eq!(json["examined"]["outside_window"]["count"], 2);
    assert_eq!(
        json["examined"]["outside_window"]["window"],
        "2023-09-06..2023-09-06"
    );

    // The window it names finds them.
    let out = bin()
        .args(["query", "2023-09-06..2023-09-06", "--events-file"])
        .arg(&path)
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert!(text.contains("1 purchase, 1 cancellation."), "{text}");
}

#[test]
fn query_with_failing_credentials_says_so_once_and_fails() {
    let out = without_credentials()
        .args(["query", "30d"])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!(stdout, "", "no report, and no \"no activity\" line");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "one line of cause, one of fix: {stderr}");
    assert!(
        lines[0].starts_with("error: CloudTrail in us-east-1: No AWS credentials were found"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("fix: Sign in (`aws sso login`"),
        "{stderr}"
    );
    for dump in [
        "Dispatch",
        "ProviderChain",
        "no activity",
        "No Marketplace",
        "app's log",
    ] {
        assert!(!stderr.contains(dump), "{dump:?} in {stderr}");
    }

    // Credentials, but CloudTrail can't be reached.
    let out = bin()
        .env_remove("RUST_LOG")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .args(["query", "30d"])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.starts_with("error: CloudTrail in us-east-1: Could not reach CloudTrail: connection refused.\nfix: "),
        "{stderr}"
    );
}

#[test]
fn a_missing_events_file_is_said_once() {
    let out = bin()
        .args(["query", "--events-file", "/nonexistent/trail.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: cannot read /nonexistent/trail.json: no such file or directory\n"
    );
}

#[test]
fn query_reads_a_directory_of_trail_files_and_counts_each_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let day = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/04");
    std::fs::create_dir_all(&day).unwrap();
    let purchase = record(
        "evt-purchase",
        "AcceptAgreementRequest",
        "2025-03-04T10:00:00Z",
    );
    let cancel = record("evt-cancel", "CancelAgreement", "2025-03-04T11:00:00Z");
    let mut denied = record(
        "evt-denied",
        "AcceptAgreementRequest",
        "2025-03-04T12:00:00Z",
    );
    denied["errorCode"] = "AccessDeniedException".into();
    let s3 = serde_json::json!({"eventID": "evt-s3", "eventName": "PutObject",
        "eventSource": "s3.amazonaws.com", "eventTime": "2025-03-04T10:30:00Z"});
    // A gzipped trail log, the same purchase again in a plain one, JSON Lines with the
    // cancellation twice, and a digest file (no records).
    std::fs::write(
        day.join("111122223333_CloudTrail_us-east-1_20250304T1000Z_a.json.gz"),
        gzip(
            serde_json::json!({"Records": [purchase, s3]})
                .to_string()
                .as_bytes(),
        ),
    )
    .unwrap();
    std::fs::write(
        day.join("111122223333_CloudTrail_us-east-1_20250304T1005Z_b.json"),
        serde_json::json!({"Records": [purchase, cancel]}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("extra.jsonl"),
        format!("{cancel}\n{denied}\n{cancel}\n"),
    )
    .unwrap();
    let digest = dir
        .path()
        .join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2025/03/04");
    std::fs::create_dir_all(&digest).unwrap();
    std::fs::write(
        digest.join(
            "111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20250304T110000Z.json.gz",
        ),
        gzip(br#"{"awsAccountId":"111122223333","digestStartTime":"2025-03-04T10:00:00Z"}"#),
    )
    .unwrap();

    let out = bin()
        .args(["query", "2025-01-01..2025-12-31", "--events-file"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert!(
        text.contains("1 purchase, 1 cancellation, 1 failed attempt."),
        "{text}"
    );
    assert!(text.contains("4 files under "), "{text}");
    assert!(
        text.contains("note: 1 file held no CloudTrail records"),
        "{text}"
    );
    assert!(
        String::from_utf8(out.stderr).unwrap().is_empty(),
        "no progress when stderr is not a terminal"
    );

    let out = bin()
        .args([
            "query",
            "2025-01-01..2025-12-31",
            "--format",
            "json",
            "--events-file",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(stdout_of(&out).as_bytes()).unwrap();
    assert_eq!(json["activities"].as_array().unwrap().len(), 3);
    assert_eq!(json["examined"]["files"], 3);
    assert_eq!(json["examined"]["records"], 7);
    assert_eq!(
        json["examined"]["duplicates"], 3,
        "the purchase once more, the cancellation twice more"
    );

    // `--events-file` given twice: a file and the directory it is in count once.
    let out = bin()
        .args([
            "query",
            "2025-01-01..2025-12-31",
            "--format",
            "csv",
            "--events-file",
        ])
        .arg(dir.path().join("extra.jsonl"))
        .arg("--events-file")
        .arg(dir.path())
        .output()
        .unwrap();
    let csv = stdout_of(&out);
    assert_eq!(csv.lines().count(), 4, "a header and three rows: {csv}");
}

#[test]
fn an_agreement_alone_is_looked_up_over_90_days() {
    let now = chrono::Utc::now();
    let at = |days: i64| (now - chrono::Duration::days(days)).to_rfc3339();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.json");
    std::fs::write(
        &path,
        serde_json::json!([
            record("evt-60", "AcceptAgreementRequest", &at(60)),
            record("evt-100", "CancelAgreement", &at(100)),
        ])
        .to_string(),
    )
    .unwrap();
    let out = bin()
        .args(["query", "agmt-cx71281flrkxyks8eurk5nlyk", "--events-file"])
        .arg(&path)
        .output()
        .unwrap();
    let text = stdout_of(&out);
    assert!(
        text.starts_with(
            "Marketplace activity, last 90 days (agreement agmt-cx71281flrkxyks8eurk5nlyk)"
        ),
        "{text}"
    );
    assert!(
        text.contains("1 purchase."),
        "the 60-day-old purchase: {text}"
    );
    assert!(
        !text.contains("Cancellation  "),
        "100 days is outside: {text}"
    );
}

#[test]
fn the_text_table_fits_100_columns_unless_wide() {
    let run = |extra: &[&str]| {
        let out = bin()
            .args(["query", "since", "2026-11-01"])
            .args(extra)
            .arg("--events-file")
            .arg(fixture("lookup-events-response-page.json"))
            .output()
            .unwrap();
        stdout_of(&out)
    };
    let narrow = run(&[]);
    assert!(narrow.lines().all(|l| l.chars().count() <= 100), "{narrow}");
    assert_eq!(narrow.matches("TIME (UTC)").count(), 1, "{narrow}");
    assert_eq!(
        narrow.matches("Marketplace activity").count(),
        1,
        "the title once: {narrow}"
    );
    assert!(narrow.contains("Failed purchase attempt"), "{narrow}");
    let wide = run(&["--wide"]);
    assert!(
        wide.contains("SOURCE IP") && wide.contains("REGION"),
        "{wide}"
    );
    assert!(wide.lines().any(|l| l.chars().count() > 100), "{wide}");
}

#[test]
fn check_says_each_failure_in_two_short_lines() {
    let out = without_credentials()
        .arg("check")
        .env("SLACK_SIGNING_SECRET", "x")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for line in stdout.lines() {
        assert!(line.chars().count() <= 200, "{line}");
    }
    assert!(
        stdout.contains("FAIL  cloudtrail us-east-1: No AWS credentials were found"),
        "{stdout}"
    );
    assert!(stdout.contains("\n      fix: "), "{stdout}");
    for dump in [
        "Dispatch",
        "ProviderChain",
        "CredentialsNotLoaded",
        "app's log",
    ] {
        assert!(!stdout.contains(dump), "{dump:?} in {stdout}");
    }
    assert!(
        String::from_utf8(out.stderr).unwrap().is_empty(),
        "the log stays quiet by default"
    );
}

#[test]
fn help_tells_each_subcommands_default_log_level() {
    let out = bin().args(["query", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let flat = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("`info` for serve"), "{help}");
    assert!(flat.contains("`error` for query and check"), "{help}");
    assert!(flat.contains("`warn` for demo and healthcheck"), "{help}");
}

#[test]
fn a_rust_log_that_is_not_a_filter_is_said_and_the_default_level_kept() {
    let query = |rust_log: &str| {
        bin()
            .args(["query", "since", "2026-11-01", "--events-file"])
            .arg(fixture("lookup-events-response-page.json"))
            .env("RUST_LOG", rust_log)
            .output()
            .unwrap()
    };
    let out = query("marketplace_activity=loud");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("RUST_LOG is not a list of levels per target")
            && stderr.contains("marketplace_activity=loud"),
        "{stderr}"
    );
    assert!(stdout_of(&out).contains("purchase"), "{}", stdout_of(&out));
    let quiet = query("warn,marketplace_activity=warn");
    assert!(quiet.status.success());
    assert_eq!(String::from_utf8_lossy(&quiet.stderr), "");
}
