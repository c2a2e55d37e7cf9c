//! Operating the service: /metrics, /readyz, JSON logs with request ids, `check`,
//! `healthcheck`, and stopping on SIGTERM / SIGINT.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use marketplace_activity::slack::signature::sign;
use serde_json::json;

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_what_happened() {
    let app = spawn_app(Options {
        notify: Some(NotifyOptions::default()),
        ..Options::default()
    })
    .await;
    // A refused command, a real one, an event posted and its duplicate, an unrelated event.
    let body = command_form("7d", &app.slack.response_url("cmd"), "U1");
    let resp = app
        .http
        .post(format!("{}/slack/commands", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    app.command("7d").await;
    app.answer().await;
    let event = fixture("eventbridge-cloudtrail-accept-agreement-request.json");
    app.send_event(&event).await;
    app.send_event(&event).await;
    app.send_event(&json!({"id": "x", "detail-type": "Other", "source": "aws.ec2", "detail": {}}))
        .await;
    // A path no route has is counted as `unmatched`, never by its own (unbounded) path; a
    // route asked with the wrong method is counted by its route.
    for path in ["/nope/12345", "/slack/commands/x"] {
        let resp = app
            .http
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert!(resp.headers().contains_key("x-request-id"));
    }
    let resp = app
        .http
        .get(format!("{}/slack/commands", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);

    let resp = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = resp.text().await.unwrap();
    let m = |k: &str| metric(&text, k);
    assert_eq!(
        m("marketplace_activity_slack_signature_failures_total"),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_http_requests_total{route="/slack/commands",status="401"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_http_requests_total{route="/slack/commands",status="200"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_http_requests_total{route="/events",status="200"}"#),
        3.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_http_requests_total{route="unmatched",status="404"}"#),
        2.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_http_requests_total{route="/slack/commands",status="405"}"#),
        1.0,
        "{text}"
    );
    assert!(!text.contains("/nope/12345"), "{text}");
    assert_eq!(
        m(r#"marketplace_activity_cloudtrail_attempts_total{region="us-east-1",outcome="ok"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_cloudtrail_call_duration_seconds_count{region="us-east-1"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_slack_calls_total{method="response_url",outcome="ok"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_slack_calls_total{method="chat.postMessage",outcome="ok"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_events_total{kind="Purchase",result="posted"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_events_total{kind="Purchase",result="duplicate"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m(r#"marketplace_activity_events_total{kind="none",result="ignored"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        m("marketplace_activity_duplicates_dropped_total"),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn throttles_and_slack_retries_are_counted() {
    let app = spawn_app(Options {
        notify: Some(NotifyOptions::default()),
        ..Options::default()
    })
    .await;
    app.cloudtrail.throttle_next("us-east-1", 1);
    app.command("7d").await;
    app.answer().await;
    app.slack
        .api_faults(&[crate::common::fake_slack::ApiFault::Status(500)]);
    app.send_event(&fixture(
        "eventbridge-cloudtrail-accept-agreement-request.json",
    ))
    .await;
    let text = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        metric(
            &text,
            r#"marketplace_activity_cloudtrail_throttles_total{region="us-east-1"}"#
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"marketplace_activity_cloudtrail_attempts_total{region="us-east-1",outcome="throttled"}"#
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(&text, "marketplace_activity_slack_post_retries_total"),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            r#"marketplace_activity_slack_calls_total{method="chat.postMessage",outcome="transient"}"#
        ),
        1.0,
        "{text}"
    );
}

#[tokio::test]
async fn readyz_says_ready_and_where_state_lives() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_app(Options {
        notify: Some(NotifyOptions {
            state_dir: Some(dir.path().to_owned()),
            ..NotifyOptions::default()
        }),
        ..Options::default()
    })
    .await;
    let resp = app
        .http
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body,
        json!({"ready": true, "state_store": "disk", "state_store_reachable": true, "state_store_problem": null, "state_store_recovered": null})
    );
    let app = spawn_app(Options::default()).await;
    assert_eq!(app.readyz().await["state_store"], "off");
}

// --- the binary -------------------------------------------------------------------------

pub(crate) fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marketplace-activity"));
    cmd.env_remove("SLACK_SIGNING_SECRET")
        .env_remove("EVENTS_API_KEY")
        .env_remove("SLACK_BOT_TOKEN")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    cmd
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) port: u16,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn serve(extra: &[(&str, &str)]) -> Running {
    serve_with(bin(), extra)
}

/// `cmd` (the binary, or something that execs it with `serve` appended) serving on a free port.
pub(crate) fn serve_with(mut cmd: Command, extra: &[(&str, &str)]) -> Running {
    let port = free_port();
    cmd.args(["serve"])
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    Running { child, port }
}

pub(crate) fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

pub(crate) fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "still running {within:?} after the signal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_and_sigint_stop_the_server_promptly_and_cleanly() {
    for sig in ["TERM", "INT"] {
        let mut running = serve(&[]);
        signal(&running.child, sig);
        let status = wait_exit(&mut running.child, Duration::from_secs(5));
        assert!(status.success(), "SIG{sig}: {status:?}");
    }
}

#[test]
fn json_logs_carry_the_request_id_on_every_line_of_a_request() {
    let mut running = serve(&[("LOG_FORMAT", "json"), ("RUST_LOG", "info")]);
    let status = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-H",
            "x-request-id: req-abc-123",
            "--data",
            "text=7d",
        ])
        .arg(format!("http://127.0.0.1:{}/slack/commands", running.port))
        .status();
    if status.is_err() {
        // No curl: send the same request with std.
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(("127.0.0.1", running.port)).unwrap();
        write!(s, "POST /slack/commands HTTP/1.1\r\nhost: x\r\nx-request-id: req-abc-123\r\ncontent-length: 6\r\nconnection: close\r\n\r\ntext=7").unwrap();
        let mut buf = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut buf);
    }
    signal(&running.child, "TERM");
    wait_exit(&mut running.child, Duration::from_secs(5));
    let stderr = running.child.stderr.take().unwrap();
    let lines: Vec<serde_json::Value> = BufReader::new(stderr)
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).expect("every log line is JSON"))
        .collect();
    let request_lines: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l.to_string().contains("/slack/commands"))
        .collect();
    assert!(
        request_lines.len() >= 2,
        "the refusal and the response lines: {lines:#?}"
    );
    for line in &request_lines {
        assert!(
            line.to_string().contains("req-abc-123"),
            "request id on {line}"
        );
    }
    assert!(
        request_lines
            .iter()
            .any(|l| l["message"] == "refused slash command: bad signature"),
        "{request_lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.to_string().contains(SECRET)),
        "no secret in logs"
    );
}

#[tokio::test]
async fn check_reports_one_line_per_check() {
    let ct = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let run = |ct: FakeAws, slack: FakeSlack, token: &'static str| async move {
        let out = tokio::task::spawn_blocking(move || {
            bin()
                .arg("check")
                .env("SLACK_SIGNING_SECRET", SECRET)
                .env("AWS_ENDPOINT_URL_CLOUDTRAIL", &ct.url)
                .env("EVENTS_API_KEY", "k")
                .env("SLACK_BOT_TOKEN", token)
                .env("SLACK_CHANNEL", "C1")
                .env("SLACK_API_URL", slack.api_url())
                .output()
                .unwrap()
        })
        .await
        .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (code, out) = run(
        ct.clone(),
        slack.clone(),
        crate::common::fake_slack::BOT_TOKEN,
    )
    .await;
    assert_eq!(code, Some(0), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("ok    configuration:"), "{out}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ok    slack: auth.test")),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ok    cloudtrail us-east-1")),
        "{out}"
    );
    assert_eq!(ct.calls().len(), 1, "one small CloudTrail call");
    assert_eq!(ct.calls()[0].max_results, Some(1));

    ct.deny_access("us-east-1");
    let (code, out) = run(ct, slack, "xoxb-wrong").await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL  slack: Slack refused SLACK_BOT_TOKEN: invalid_auth\n      fix: SLACK_BOT_TOKEN is not valid"),
        "{out}"
    );
    assert!(
        out.contains("FAIL  cloudtrail us-east-1: AWS denied access to CloudTrail (LookupEvents)\n      fix: Your AWS identity needs cloudtrail:LookupEvents"),
        "{out}"
    );
    assert!(!out.contains("xoxb-wrong"), "no token in the output");
    for line in out.lines() {
        assert!(
            line.chars().count() <= 200,
            "a line of {} characters: {line}",
            line.chars().count()
        );
    }
}

/// With Socket Mode and a queue, `check` tries `apps.connections.open` and the queue's calls
/// (on moto's SQS), and says what to fix when either is wrong.
#[tokio::test]
async fn check_reports_socket_mode_and_the_queue() {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let ct = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let moto = crate::common::moto::Moto::start_threaded().await;
    let sqs = marketplace_activity::notify::queue::client(&sdk_config(&moto.url).await);
    let dlq = sqs
        .create_queue()
        .queue_name("marketplace-events-dlq")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dlq_arn = sqs
        .get_queue_attributes()
        .queue_url(&dlq)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()[&A::QueueArn]
        .clone();
    let queue = sqs
        .create_queue()
        .queue_name("marketplace-events")
        .attributes(
            A::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let run = |app_token: &'static str, queue: String| {
        let (ct, slack, moto) = (ct.url.clone(), slack.api_url(), moto.url.clone());
        async move {
            let out = tokio::task::spawn_blocking(move || {
                bin()
                    .arg("check")
                    .env("SLACK_APP_TOKEN", app_token)
                    .env("AWS_ENDPOINT_URL_CLOUDTRAIL", &ct)
                    .env("AWS_ENDPOINT_URL_SQS", &moto)
                    .env("EVENTS_QUEUE_URL", queue)
                    .env("SLACK_BOT_TOKEN", crate::common::fake_slack::BOT_TOKEN)
                    .env("SLACK_CHANNEL", "C1")
                    .env("SLACK_API_URL", slack)
                    .output()
                    .unwrap()
            })
            .await
            .unwrap();
            (out.status.code(), String::from_utf8(out.stdout).unwrap())
        }
    };
    let (code, out) = run(crate::common::fake_slack::APP_TOKEN, queue.clone()).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("ok    socket mode: apps.connections.open accepted SLACK_APP_TOKEN: Socket Mode is on for the app\n"),
        "{out}"
    );
    assert!(
        out.contains("ok    queue: marketplace-events: 0 messages waiting, 0 in flight; dead-letter queue marketplace-events-dlq after 5 receives\nok    queue calls: ReceiveMessage, DeleteMessage and ChangeMessageVisibility allowed\n"),
        "{out}"
    );

    // A message waiting: it is not received (that would count towards its redrive limit).
    sqs.send_message()
        .queue_url(&queue)
        .message_body("{}")
        .send()
        .await
        .unwrap();
    let (code, out) = run(crate::common::fake_slack::APP_TOKEN, queue.clone()).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("ok    queue: marketplace-events: 1 messages waiting, 0 in flight; dead-letter queue marketplace-events-dlq after 5 receives\nok    queue calls: DeleteMessage and ChangeMessageVisibility allowed; ReceiveMessage not tried"), "{out}");
    let received = sqs
        .receive_message()
        .queue_url(&queue)
        .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
        .send()
        .await
        .unwrap();
    let message = &received.messages.unwrap()[0];
    assert_eq!(
        message
            .attributes
            .as_ref()
            .unwrap()
            .get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            .map(String::as_str),
        Some("1"),
        "check received nothing"
    );

    let (code, out) = run("xapp-wrong", format!("{queue}-gone")).await;
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("FAIL  socket mode: apps.connections.open refused SLACK_APP_TOKEN: `invalid_auth`\n      fix: Set SLACK_APP_TOKEN to the app-level token (xapp-…)"),
        "{out}"
    );
    assert!(
        out.contains("FAIL  queue: marketplace-events-gone: the queue does not exist"),
        "{out}"
    );
    assert!(
        out.contains("      fix: Set EVENTS_QUEUE_URL to the QueueUrl output of manifest/eventbridge-sqs.yaml"),
        "{out}"
    );
    assert!(!out.contains("xapp-wrong"), "no token in the output: {out}");
}

#[test]
fn check_names_a_bad_setting() {
    let out = bin()
        .arg("check")
        .env("SLACK_SIGNING_SECRET", SECRET)
        .env("EVENTS_API_KEY", "k")
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.starts_with("FAIL  configuration: SLACK_BOT_TOKEN is required"),
        "{stdout}"
    );
}

#[test]
fn healthcheck_exits_zero_only_when_the_server_answers() {
    let running = serve(&[]);
    let ok = bin()
        .arg("healthcheck")
        .env("LISTEN_ADDR", format!("0.0.0.0:{}", running.port))
        .status()
        .unwrap();
    assert!(ok.success());
    let down = bin()
        .arg("healthcheck")
        .env("LISTEN_ADDR", format!("127.0.0.1:{}", free_port()))
        .status()
        .unwrap();
    assert!(!down.success());
}

/// The healthcheck calls this machine over plain HTTP: it reads no trust roots, so a CA bundle
/// it can't use (or its cost, every 30 seconds) never fails it.
#[test]
fn healthcheck_does_not_read_the_trust_store() {
    let running = serve(&[]);
    let dir = tempfile::tempdir().unwrap();
    let unusable = dir.path().join("bad.pem");
    std::fs::write(
        &unusable,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let out = bin()
        .arg("healthcheck")
        .env("LISTEN_ADDR", format!("127.0.0.1:{}", running.port))
        .env("SSL_CERT_FILE", &unusable)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops the process with SIGTERM and returns everything it wrote to stderr. The log is read
/// while the process runs (a full pipe would block a verbose process).
fn stop_and_read_log(running: &mut Running) -> String {
    let mut stderr = running.child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
        log
    });
    signal(&running.child, "TERM");
    wait_exit(&mut running.child, Duration::from_secs(20));
    reader.join().unwrap()
}

/// Input with a newline and a terminal escape, on every route, with the pretty log format:
/// no raw control character reaches the log or an answer's body, and no forged line appears.
#[tokio::test]
async fn control_characters_from_outside_never_reach_a_log_line_or_a_body() {
    const FORGED: &str = "\n2026-12-06T00:00:00.000000Z ERROR forged: all good\u{1b}[2J";
    let mut running = tokio::task::spawn_blocking(|| {
        serve(&[
            ("LOG_FORMAT", "pretty"),
            ("RUST_LOG", "debug"),
            ("EVENTS_API_KEY", EVENTS_KEY),
            (
                "SNS_TOPIC_ARNS",
                "arn:aws:sns:us-east-1:111122223333:marketplace",
            ),
            ("SLACK_BOT_TOKEN", "xoxb-test"),
            ("SLACK_CHANNEL", "C0NOTIFY"),
            ("SLACK_API_URL", "http://127.0.0.1:9/api"),
        ])
    })
    .await
    .unwrap();
    let base = format!("http://127.0.0.1:{}", running.port);
    let http = marketplace_activity::http::client().expect("an HTTP client");
    let mut bodies = Vec::new();
    let sns = json!({"Type": format!("Notification{FORGED}"), "MessageId": "m", "TopicArn": "arn:aws:sns:us-east-1:111122223333:marketplace", "Message": "{}", "Timestamp": "2026-12-06T00:00:00Z", "SignatureVersion": "1", "Signature": "x", "SigningCertURL": "https://sns.us-east-1.amazonaws.com/a.pem"});
    let event = json!({"version": "0", "id": format!("e{FORGED}"), "detail-type": format!("Thing{FORGED}"), "source": format!("aws.x{FORGED}"), "account": "1", "time": "2026-12-06T00:00:00Z", "region": "us-east-1", "resources": [], "detail": {}});
    let requests = [
        http.post(format!("{base}/events/sns"))
            .body(sns.to_string()),
        http.post(format!("{base}/events"))
            .header("x-api-key", EVENTS_KEY)
            .body(event.to_string()),
        http.post(format!("{base}/events"))
            .body(format!("not json{FORGED}")),
        http.post(format!("{base}/slack/commands"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", "1")
            .body(format!("text=7d{FORGED}")),
    ];
    for request in requests {
        let resp = request.send().await.unwrap();
        bodies.push(resp.text().await.unwrap());
    }
    let log = tokio::task::spawn_blocking(move || stop_and_read_log(&mut running))
        .await
        .unwrap();
    for body in &bodies {
        assert!(
            !body.chars().any(|c| c.is_control() && c != '\n'),
            "{body:?}"
        );
        assert!(
            !body.contains("forged: all good\n") && !body.contains('\u{1b}'),
            "{body:?}"
        );
    }
    assert!(
        !log.contains('\u{1b}'),
        "no escape sequence in the log: {log}"
    );
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2026-12-06T00:00:00.000000Z ERROR forged")),
        "no forged line: {log}"
    );
    assert!(log.contains("refused SNS message"), "{log}");
}

/// A `response_url` that can't be reached: the failure is logged without any part of the URL
/// (it lets anyone post into the conversation for 30 minutes), even at the trace level.
#[tokio::test]
async fn a_failing_response_url_leaves_no_trace_of_it_in_the_log() {
    let cloudtrail = FakeAws::start().await;
    let endpoint = cloudtrail.url.clone();
    let mut running = tokio::task::spawn_blocking(move || {
        serve(&[
            ("LOG_FORMAT", "json"),
            ("RUST_LOG", "trace"),
            ("AWS_ENDPOINT_URL", &endpoint),
        ])
    })
    .await
    .unwrap();
    let mut stderr = running.child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut log = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut log);
        log
    });
    let secret_part = "T0001/1234567890/zQ9SeCrEtPaRt";
    // A lookup (a fake CloudTrail with nothing in it): its answer goes to the URL, which
    // refuses; SIGTERM then waits for that answer's attempts to end.
    let body = command_form(
        "7d",
        &format!("http://127.0.0.1:9/commands/{secret_part}"),
        "U1",
    );
    let ts = chrono::Utc::now().timestamp();
    let resp = marketplace_activity::http::client()
        .expect("an HTTP client")
        .post(format!("http://127.0.0.1:{}/slack/commands", running.port))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts.to_string())
        .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let log = tokio::task::spawn_blocking(move || {
        signal(&running.child, "TERM");
        wait_exit(&mut running.child, Duration::from_secs(20));
        reader.join().unwrap()
    })
    .await
    .unwrap();
    assert!(
        log.contains("could not deliver the answer to response_url"),
        "the failure is logged: {}",
        &log[log.len().saturating_sub(3000)..]
    );
    for part in ["zQ9SeCrEtPaRt", "1234567890", "127.0.0.1:9/commands"] {
        assert!(!log.contains(part), "{part} in the log");
    }
}
