//! Faults outside the app: a CloudTrail that hangs, resets the connection or answers garbage or
//! an HTML error page; a Slack that hangs past the deadline, answers invalid JSON or closes the
//! connection mid-response; a `STATE_DIR` that cannot be written. In each case the app stays up,
//! answers within its deadlines (a slash command at once, `/events` within EventBridge's 5 s),
//! tells the user or the sender the right thing, and loses nothing: a later retry delivers
//! exactly once.
//!
//! The fakes don't record a call they failed, as if the failure was on the way to Slack (a
//! proxy, the network). Had Slack posted the message before its answer was lost, the retry
//! would post a second copy: `chat.postMessage` has no idempotency key.

use std::time::{Duration, Instant};

use crate::common::fake_aws::Fault;
use crate::common::fake_slack::NetFault;
use crate::common::*;
use serde_json::Value;

/// Slack's deadline for the acknowledgement is 3 s; ours is "at once", which on a loaded
/// 2-core CI machine is still far below this.
const ACK_DEADLINE: Duration = Duration::from_secs(1);
/// EventBridge waits 5 s for an answer.
const EVENTS_DEADLINE: Duration = Duration::from_secs(5);

fn ago(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() - chrono::Duration::minutes(minutes)
}

async fn assert_up(app: &TestApp) {
    let resp = app
        .http
        .get(format!("{}/healthz", app.url))
        .timeout(Duration::from_secs(1))
        .send()
        .await
        .expect("the app still answers /healthz");
    assert_eq!(resp.status(), 200);
}

/// Sends a slash command as `id`, checks it was acknowledged within the deadline.
async fn command_acknowledged(app: &TestApp, text: &str, id: &str) {
    let started = Instant::now();
    let (status, ack) = app.command_as(text, "U0001", id).await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{ack}");
    assert!(
        ack["text"].as_str().unwrap_or("").contains("Looking up"),
        "{ack}"
    );
    assert!(took < ACK_DEADLINE, "acknowledged after {took:?}");
}

/// The answer posted to the `response_url` of command `id`, waiting up to `within`.
async fn answer_for(app: &TestApp, id: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let got: Vec<Value> = app
            .slack
            .received()
            .into_iter()
            .filter(|(i, _)| i == id)
            .map(|(_, m)| m)
            .collect();
        match got.len() {
            0 => assert!(
                Instant::now() < deadline,
                "no answer to {id} within {within:?}"
            ),
            1 => return got[0].clone(),
            n => panic!("{n} answers to {id}: {got:?}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A CloudTrail fault: the command is acknowledged at once, the answer says CloudTrail failed
/// (ephemeral, no internals), the app stays up, and once CloudTrail is back the same command
/// answers with the report.
async fn cloudtrail_fault_is_reported_then_recovered(fault: Fault) {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail
        .add_records("us-east-1", [purchase_at(ago(30), 1)]);
    app.cloudtrail.set_fault(Some(fault));

    command_acknowledged(&app, "7d", "broken").await;
    let answer = answer_for(&app, "broken", Duration::from_secs(12)).await;
    let text = visible_text(&answer);
    let said = match fault {
        Fault::Reset => "The connection to CloudTrail was reset. Try again",
        _ => "CloudTrail answered with something the app could not read",
    };
    assert!(text.contains(said), "{fault:?}: {text}");
    for internal in [
        "<html",
        "garbage",
        "Bad Gateway",
        "dispatch",
        "Dispatch",
        "os error",
        "Connector",
    ] {
        assert!(
            !text.contains(internal),
            "{fault:?} leaks {internal:?}: {text}"
        );
    }
    assert_eq!(answer["response_type"], "ephemeral", "{fault:?}");
    assert!(
        app.cloudtrail.faulted() >= 1,
        "{fault:?}: the fault was hit"
    );
    assert_up(&app).await;

    app.cloudtrail.set_fault(None);
    command_acknowledged(&app, "7d", "recovered").await;
    let answer = answer_for(&app, "recovered", Duration::from_secs(10)).await;
    let text = visible_text(&answer);
    assert!(text.contains("agmt-test00001"), "{fault:?}: {text}");
    assert_eq!(app.slack.received().len(), 2, "one answer per command");
}

#[tokio::test]
async fn cloudtrail_answers_garbage() {
    cloudtrail_fault_is_reported_then_recovered(Fault::Garbage).await;
}

#[tokio::test]
async fn cloudtrail_answers_an_html_error_page() {
    cloudtrail_fault_is_reported_then_recovered(Fault::HtmlErrorPage).await;
}

#[tokio::test]
async fn cloudtrail_resets_the_connection() {
    cloudtrail_fault_is_reported_then_recovered(Fault::Reset).await;
}

/// A hung CloudTrail holds one lookup until the query timeout (here 2 s; `QUERY_TIMEOUT_SECS`,
/// 120 by default, and the SDK's own 10 s per attempt / 30 s per call come first in
/// production); meanwhile other commands are acknowledged and the user is told to narrow it.
#[tokio::test]
async fn cloudtrail_hangs() {
    let app = spawn_app(Options {
        query_timeout: Duration::from_secs(2),
        ..Options::default()
    })
    .await;
    app.cloudtrail.set_fault(Some(Fault::Hang));
    command_acknowledged(&app, "7d", "first").await;
    command_acknowledged(&app, "30d purchases", "second").await;
    assert_up(&app).await;
    for id in ["first", "second"] {
        let answer = answer_for(&app, id, Duration::from_secs(8)).await;
        let text = visible_text(&answer);
        assert!(text.contains("took too long"), "{id}: {text}");
        assert_eq!(answer["response_type"], "ephemeral");
    }
    app.cloudtrail.set_fault(None);
}

fn notify_app() -> Options {
    Options {
        notify: Some(NotifyOptions::default()),
        ..Options::default()
    }
}

/// Plays EventBridge: sends `event` until it is accepted (at most `tries` times), checking every
/// answer came within EventBridge's 5 s and every refusal is a 503 with `Retry-After`. Returns
/// the statuses seen.
async fn deliver_like_eventbridge(app: &TestApp, event: &Value, tries: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..tries {
        let started = Instant::now();
        let (status, retry_after, body) = app.send_event(event).await;
        let took = started.elapsed();
        assert!(took < EVENTS_DEADLINE, "answered {status} after {took:?}");
        statuses.push(status);
        if status == 200 {
            return statuses;
        }
        assert_eq!(status, 503, "{body}");
        let secs: u64 = retry_after
            .expect("a 503 carries Retry-After")
            .parse()
            .unwrap();
        assert!(secs >= 1, "{body}");
        // EventBridge would wait `secs`; the pacer only needs its 1 s per channel.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    panic!("not delivered after {tries} tries: {statuses:?}");
}

/// A Slack fault on `chat.postMessage`: the event is answered within 5 s (200 when the app's
/// own retry inside the budget worked, else 503 + Retry-After), the sender's retry posts it,
/// and a further retry is a duplicate: exactly one message.
async fn slack_fault_then_one_message(fault: NetFault) -> Vec<u16> {
    let app = spawn_app(notify_app()).await;
    app.slack.net_faults(&[fault]);
    let event = crate::common::fixture("eventbridge-cloudtrail-accept-agreement-request.json");
    let statuses = deliver_like_eventbridge(&app, &event, 4).await;
    assert_eq!(app.slack.faulted(), 1, "{fault:?}");
    let (status, _, body) = app.send_event(&event).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(app.slack.posts().len(), 1, "{fault:?}: exactly one message");
    assert_up(&app).await;
    statuses
}

#[tokio::test]
async fn slack_hangs_past_the_deadline() {
    let statuses = slack_fault_then_one_message(NetFault::Hang).await;
    let (last, before) = statuses.split_last().unwrap();
    assert!(
        *last == 200 && !before.is_empty() && before.iter().all(|s| *s == 503),
        "a hung post is not cut off at the sender's deadline: retries are told to come back \
         until it ends, then the sender's retry posts it once: {statuses:?}"
    );
}

#[tokio::test]
async fn slack_answers_invalid_json() {
    slack_fault_then_one_message(NetFault::InvalidJson).await;
}

#[tokio::test]
async fn slack_closes_the_connection_mid_response() {
    slack_fault_then_one_message(NetFault::CloseMidResponse).await;
}

/// A `response_url` that hangs: the acknowledgement was immediate, the answer's post times out
/// (10 s, the app's HTTP client limit) and is retried: the user gets exactly one answer.
#[tokio::test]
async fn response_url_hangs_then_the_answer_arrives_once() {
    let app = spawn_app(Options::default()).await;
    app.cloudtrail
        .add_records("us-east-1", [purchase_at(ago(30), 7)]);
    app.slack.net_faults(&[NetFault::Hang]);
    command_acknowledged(&app, "7d", "slow-slack").await;
    let answer = answer_for(&app, "slow-slack", Duration::from_secs(14)).await;
    assert!(visible_text(&answer).contains("agmt-test00007"));
    assert_eq!(app.slack.faulted(), 1);
    assert_up(&app).await;
}

/// A `STATE_DIR` the app can't use stops start-up with one line naming the directory and the
/// fix: durability asked for is durability given (no silent fallback to memory).
async fn unusable_state_dir_stops_start_up(state_dir: std::path::PathBuf) {
    let cloudtrail = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let (mut command, _) = Binary::command(&cloudtrail, &slack, &state_dir);
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || command.output()),
    )
    .await
    .expect("start-up ends")
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: ") && last.contains(&state_dir.display().to_string()),
        "one line naming the directory: {stderr}"
    );
    assert!(
        ["STATE_DIR", "free space", "writable", "move it aside"]
            .iter()
            .any(|fix| last.contains(fix)),
        "and what to do about it: {last}"
    );
    assert!(slack.posts().is_empty());
}

/// A read-only `STATE_DIR`. A directory with mode 0555 stops writes for everyone but root
/// (CI runs as root, where it changes nothing): a path under a regular file can't be
/// created by anyone, so that stands in for it there.
#[tokio::test]
async fn state_dir_is_read_only() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let locked = tmp.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let writes_anyway = std::fs::write(locked.join("probe"), b"x").is_ok();
    let state_dir = if writes_anyway {
        let file = tmp.path().join("a-file");
        std::fs::write(&file, b"not a directory").unwrap();
        file.join("state")
    } else {
        locked.join("state")
    };
    unusable_state_dir_stops_start_up(state_dir).await;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A full disk: `state.redb` is `/dev/full`, where every write fails with ENOSPC.
#[tokio::test]
async fn state_dir_is_full() {
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", tmp.path().join("state.redb")).unwrap();
    unusable_state_dir_stops_start_up(tmp.path().to_owned()).await;
}

/// The real binary, started by a shell that makes a full disk fail writes instead of killing
/// the process (SIGXFSZ ignored). Its log is read through a pipe, which no file size limit
/// touches.
pub(crate) struct Binary {
    child: std::process::Child,
    url: String,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Binary {
    /// Serves with notifications on and `STATE_DIR=state_dir`.
    pub(crate) async fn start(
        cloudtrail: &FakeAws,
        slack: &FakeSlack,
        state_dir: &std::path::Path,
    ) -> Self {
        let (mut command, port) = Self::command(cloudtrail, slack, state_dir);
        let mut child = command
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("bash runs the binary");
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stderr.read(&mut buf) {
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let url = format!("http://127.0.0.1:{port}");
        let http = marketplace_activity::http::client().expect("an HTTP client");
        for _ in 0..250 {
            if http.get(format!("{url}/healthz")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Self { child, url, log }
    }

    /// The command that serves with notifications on and `STATE_DIR=state_dir`, and its port.
    pub(crate) fn command(
        cloudtrail: &FakeAws,
        slack: &FakeSlack,
        state_dir: &std::path::Path,
    ) -> (std::process::Command, u16) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = std::process::Command::new("bash");
        command
            .arg("-c")
            .arg("trap '' XFSZ; exec \"$0\" serve")
            .arg(env!("CARGO_BIN_EXE_marketplace-activity"))
            .env("AWS_ENDPOINT_URL", &cloudtrail.url)
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("SLACK_SIGNING_SECRET", SECRET)
            .env("LISTEN_ADDR", format!("127.0.0.1:{port}"))
            .env("EVENTS_API_KEY", EVENTS_KEY)
            .env("SLACK_BOT_TOKEN", crate::common::fake_slack::BOT_TOKEN)
            .env("SLACK_CHANNEL", "C0NOTIFY")
            .env("SLACK_API_URL", slack.api_url())
            .env("STATE_DIR", state_dir)
            .env("RUST_LOG", "warn");
        (command, port)
    }

    /// From now on every write to a file fails with EFBIG, as it would with ENOSPC on a full
    /// disk (`prlimit`, util-linux, sets the running process's RLIMIT_FSIZE to 0).
    fn fill_the_disk(&self) {
        let status = std::process::Command::new("prlimit")
            .arg("--pid")
            .arg(self.child.id().to_string())
            .arg("--fsize=0:")
            .status()
            .expect("prlimit (util-linux) is installed");
        assert!(status.success(), "prlimit --fsize=0");
    }

    pub(crate) async fn send_event(&self, event: &Value) -> (u16, Value) {
        let resp = marketplace_activity::http::client()
            .expect("an HTTP client")
            .post(format!("{}/events", self.url))
            .header("x-api-key", EVENTS_KEY)
            .header("content-type", "application/json")
            .body(event.to_string())
            .timeout(EVENTS_DEADLINE)
            .send()
            .await
            .expect("answered within EventBridge's 5 s");
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The log once `done` holds for it (its lines arrive through a pipe read by another
    /// thread, so a line written just before a response may not be here yet), or after 5 s.
    pub(crate) async fn log_when(&self, done: impl Fn(&str) -> bool) -> String {
        for _ in 0..250 {
            let log = self.log();
            if done(&log) {
                return log;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.log()
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The disk fills up while the app runs: the store's writes start failing (and redb refuses
/// every write after the first failure). Nothing is posted that could not be recorded: the
/// sender is told to come back (503 + Retry-After) and the log says what to fix. Once there is
/// space again and the app restarted, the retry is posted once, and a further retry is a
/// duplicate: nothing lost, nothing twice.
#[tokio::test]
async fn state_dir_fills_up_while_running() {
    let cloudtrail = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let app = Binary::start(&cloudtrail, &slack, tmp.path()).await;
    let ready: Value = marketplace_activity::http::client()
        .expect("an HTTP client")
        .get(format!("{}/readyz", app.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["state_store"], "disk", "{}", app.log());
    app.fill_the_disk();

    let event = crate::common::fixture("eventbridge-cloudtrail-accept-agreement-request.json");
    let (status, body) = app.send_event(&event).await;
    assert_eq!(status, 503, "{body}");
    let log = app
        .log_when(|l| l.contains("File too large") && l.contains("Check free space"))
        .await;
    assert!(
        log.contains("File too large") && log.contains("Check free space"),
        "the disk write failed and the log says what to do: {log}"
    );
    assert!(
        slack.posts().is_empty(),
        "nothing posted that could not be recorded"
    );
    drop(app);

    let app = Binary::start(&cloudtrail, &slack, tmp.path()).await;
    let (status, body) = app.send_event(&event).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("posted")),
        "{}",
        app.log()
    );
    let (status, body) = app.send_event(&event).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(slack.posts().len(), 1);
}

/// A damaged `state.redb` (truncated by a byte, to half, emptied, or garbage) never panics and
/// never silently starts empty: serve moves it aside to a name that says so, starts with a
/// fresh store, logs one ERROR line saying what that means, `/readyz` reports it, and events
/// are delivered.
#[tokio::test]
async fn a_damaged_state_file_is_moved_aside_and_said_loudly() {
    let cloudtrail = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    type Damage = fn(&[u8]) -> Vec<u8>;
    let damages: [(&str, Damage); 4] = [
        ("one byte short", |b| b[..b.len() - 1].to_vec()),
        ("half", |b| b[..b.len() / 2].to_vec()),
        ("empty", |_| Vec::new()),
        ("garbage", |b| vec![0xA5; b.len()]),
    ];
    for (n, (name, damage)) in damages.into_iter().enumerate() {
        let tmp = tempfile::tempdir().unwrap();
        {
            let store = marketplace_activity::state::StateStore::open_redb(tmp.path()).unwrap();
            for i in 0..50 {
                store
                    .put(
                        marketplace_activity::state::Table::Seen,
                        &format!("eb:{i}"),
                        &i,
                        None,
                    )
                    .await
                    .unwrap();
            }
        }
        let file = tmp.path().join("state.redb");
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, damage(&bytes)).unwrap();

        let app = Binary::start(&cloudtrail, &slack, tmp.path()).await;
        let ready: Value = marketplace_activity::http::client()
            .expect("an HTTP client")
            .get(format!("{}/readyz", app.url))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: not serving ({e}): {}", app.log()))
            .json()
            .await
            .unwrap();
        let recovered = ready["state_store_recovered"].as_str().unwrap_or_default();
        assert!(recovered.contains("moved aside"), "{name}: {ready}");
        let log = app.log();
        let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
        assert_eq!(errors.len(), 1, "{name}: one ERROR line: {log}");
        assert!(
            errors[0].contains("posted a second time") && !log.contains("panicked at"),
            "{name}: says what it means, and nothing panicked: {log}"
        );
        let aside: Vec<String> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|f| f.starts_with("state.redb.damaged-"))
            .collect();
        assert_eq!(
            aside.len(),
            1,
            "{name}: the damaged file is kept: {aside:?}"
        );
        let mut event =
            crate::common::fixture("eventbridge-cloudtrail-accept-agreement-request.json");
        event["id"] = serde_json::json!(format!("eb-damaged-{n}"));
        event["detail"]["eventID"] = serde_json::json!(format!("ct-damaged-{n}"));
        let (status, body) = app.send_event(&event).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("posted")),
            "{name}"
        );
    }
}
