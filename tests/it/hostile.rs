//! Hostile clients: silent and slow sockets, bodies that stop half way, more sockets than the
//! open-file limit allows, and half-sent requests at SIGTERM.

use std::process::Command;
use std::time::{Duration, Instant};

use marketplace_activity::server::HttpSettings;
use marketplace_activity::slack::signature::sign;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::*;
use crate::operations::{bin, serve, serve_with, signal, wait_exit};

fn host_port(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection (EOF or reset); returns what it sent and
/// how long that took.
async fn read_until_closed(stream: &mut (impl AsyncReadExt + Unpin)) -> (String, Duration) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&got).into_owned(), start.elapsed())
}

async fn app_with(http: HttpSettings) -> TestApp {
    spawn_app(Options {
        http,
        ..Options::default()
    })
    .await
}

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let app = app_with(HttpSettings {
        header_timeout: Duration::from_secs(1),
        ..HttpSettings::default()
    })
    .await;
    let addr = host_port(&app.url);

    let silent = async {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        read_until_closed(&mut s).await.1
    };
    // One byte of headers every 200 ms: 40 bytes would take 8 s.
    let slow = async {
        let s = TcpStream::connect(&addr).await.unwrap();
        let (mut r, mut w) = s.into_split();
        let writer = tokio::spawn(async move {
            for b in b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: yes\r\n\r\n" {
                if w.write_all(&[*b]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        let closed = read_until_closed(&mut r).await.1;
        writer.abort();
        closed
    };
    // A kept-alive connection after its response: the same timer bounds the wait for the
    // next request.
    let idle = async {
        let mut s = TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let mut got = String::new();
        while !got.ends_with("ok") {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the response: {got}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(got.starts_with("HTTP/1.1 200"), "{got}");
        read_until_closed(&mut s).await.1
    };
    let deadline = Duration::from_secs(5);
    let (silent, slow, idle) =
        tokio::time::timeout(deadline, async { tokio::join!(silent, slow, idle) })
            .await
            .expect("every connection is closed within a few seconds");
    for (what, took) in [("silent", silent), ("slow", slow), ("idle", idle)] {
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
            "{what} closed after {took:?}, not about 1 s"
        );
    }
    let metrics = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"marketplace_activity_http_connections_closed_total{reason="header_timeout"} 3"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_body_that_stops_half_way_gets_408_and_a_closed_connection() {
    let app = app_with(HttpSettings {
        body_timeout: Duration::from_secs(1),
        ..HttpSettings::default()
    })
    .await;
    let mut s = TcpStream::connect(host_port(&app.url)).await.unwrap();
    s.write_all(
        b"POST /slack/commands HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n\
          content-length: 100\r\nx-request-id: slow-body-1\r\n\r\ntext=7d&user_id=U1",
    )
    .await
    .unwrap();
    let (answer, took) = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut s))
        .await
        .expect("answered and closed");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(
        answer.contains("x-request-id: slow-body-1"),
        "the request id layer still applies: {answer}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
        "408 after {took:?}, not about 1 s"
    );
    // A body that arrives in time is unaffected, and the route's size limit still answers 413.
    let (status, _) = app.command("help").await;
    assert_eq!(status, 200);
    let big = "text=".to_owned() + &"x".repeat(1 << 20);
    let now = chrono::Utc::now().timestamp();
    assert_eq!(app.post_signed(&big, now).await.status(), 413);
    let metrics = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            r#"marketplace_activity_http_requests_total{route="/slack/commands",status="408"} 1"#
        ),
        "{metrics}"
    );
}

#[tokio::test]
async fn at_the_cap_waiting_connections_make_room_and_requests_in_progress_stay() {
    let app = app_with(HttpSettings {
        header_timeout: Duration::from_secs(30),
        body_timeout: Duration::from_secs(30),
        max_connections: 8,
    })
    .await;
    let addr = host_port(&app.url);
    // A request in progress: headers in, body still coming.
    let mut busy = TcpStream::connect(&addr).await.unwrap();
    busy.write_all(
        b"POST /slack/commands HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n\
          content-length: 7\r\n\r\ntext=",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Three times the cap of silent sockets.
    let mut silent = Vec::new();
    for _ in 0..24 {
        silent.push(TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    for _ in 0..3 {
        let start = Instant::now();
        let resp = app
            .http
            .get(format!("{}/healthz", app.url))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .expect("/healthz answers at the cap");
        assert_eq!(resp.status(), 200);
        assert!(start.elapsed() < Duration::from_secs(1));
    }
    // The request in progress was never evicted: its body completes and it gets its answer
    // (401: it is unsigned).
    busy.write_all(b"7d").await.unwrap();
    let (answer, _) = tokio::time::timeout(Duration::from_secs(5), async {
        let mut buf = [0u8; 1024];
        let n = busy.read(&mut buf).await.unwrap();
        (String::from_utf8_lossy(&buf[..n]).into_owned(), ())
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    let metrics = app
        .http
        .get(format!("{}/metrics", app.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let evicted: f64 = metrics
        .lines()
        .find(|l| {
            l.starts_with(r#"marketplace_activity_http_connections_closed_total{reason="evicted"}"#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(evicted >= 17.0, "evicted {evicted}: {metrics}");
}

/// Requests in flight and background answers share one budget: a half-sent body and a lookup
/// that would take 30 s do not keep `run_until_stopped` past SHUTDOWN_TIMEOUT_SECS.
#[tokio::test]
async fn shutdown_keeps_one_budget_for_connections_and_background_answers() {
    let mut app = spawn_app(Options {
        drain_timeout: Duration::from_secs(1),
        ..Options::default()
    })
    .await;
    app.cloudtrail.delay("us-east-1", Duration::from_secs(30));
    let (status, _) = app.command("7d").await;
    assert_eq!(status, 200);
    let mut half = TcpStream::connect(host_port(&app.url)).await.unwrap();
    half.write_all(
        b"POST /slack/commands HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\ntext=7",
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), app.shutdown())
        .await
        .expect("stopped");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(2),
        "stopped after {took:?}, not within the 1 s budget (+1 s)"
    );
    let (_, closed_after) =
        tokio::time::timeout(Duration::from_secs(1), read_until_closed(&mut half))
            .await
            .expect("the half-sent request's connection is closed");
    assert!(closed_after < Duration::from_secs(1));
}

/// At shutdown a head still trickling in does not hold the budget: the header timeout keeps
/// being enforced while connections finish, so the server stops at the timeout, not at the
/// end of a longer budget.
#[tokio::test]
async fn at_shutdown_a_trickling_head_is_closed_at_the_header_timeout() {
    let mut app = spawn_app(Options {
        http: HttpSettings {
            header_timeout: Duration::from_secs(1),
            ..HttpSettings::default()
        },
        drain_timeout: Duration::from_secs(10),
        ..Options::default()
    })
    .await;
    let mut half = TcpStream::connect(host_port(&app.url)).await.unwrap();
    half.write_all(b"POST /slack/commands HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(8), app.shutdown())
        .await
        .expect("stopped well within the 10 s budget");
    let took = start.elapsed();
    assert!(
        took < Duration::from_millis(2500),
        "stopped after {took:?}: the trickling head held the shutdown"
    );
    let (_, closed_after) =
        tokio::time::timeout(Duration::from_secs(1), read_until_closed(&mut half))
            .await
            .expect("its connection is closed");
    assert!(closed_after < Duration::from_secs(1));
}

// --- the binary -------------------------------------------------------------------------

/// The binary under `ulimit -n <files>` (sh execs it, so the pid is the server's).
fn limited(files: u32) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        &format!("ulimit -n {files} && exec \"$0\" \"$@\""),
        env!("CARGO_BIN_EXE_marketplace-activity"),
    ]);
    for (k, v) in bin().get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd
}

/// Sends `request` on a new connection and returns the status line and how long it took.
async fn request(port: u16, request: &[u8]) -> (String, Duration) {
    let start = Instant::now();
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(request).await.unwrap();
    let (answer, _) = read_until_closed(&mut s).await;
    (
        answer.lines().next().unwrap_or("").to_owned(),
        start.elapsed(),
    )
}

#[tokio::test]
async fn healthz_and_signed_commands_answer_with_300_silent_sockets_open_under_256_files() {
    let running = tokio::task::spawn_blocking(|| serve_with(limited(256), &[]))
        .await
        .unwrap();
    let port = running.port;
    let limits =
        std::fs::read_to_string(format!("/proc/{}/limits", running.child.id())).unwrap_or_default();
    if !limits.is_empty() {
        assert!(
            limits
                .lines()
                .any(|l| l.starts_with("Max open files") && l.contains(" 256 ")),
            "{limits}"
        );
    }
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..5 {
        let (status, took) = tokio::time::timeout(
            Duration::from_secs(2),
            request(
                port,
                b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
            ),
        )
        .await
        .expect("/healthz answers");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(took < Duration::from_secs(1), "/healthz took {took:?}");

        // A request of its own each time (the same signed request again would be a replay).
        let body = command_form("help", &format!("http://127.0.0.1:9/response/{i}"), "U1");
        let ts = chrono::Utc::now().timestamp();
        let signed = format!(
            "POST /slack/commands HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\
             x-slack-request-timestamp: {ts}\r\nx-slack-signature: {}\r\n\r\n{body}",
            body.len(),
            sign(SECRET, ts, body.as_bytes()),
        );
        let (status, took) =
            tokio::time::timeout(Duration::from_secs(2), request(port, signed.as_bytes()))
                .await
                .expect("the signed command answers");
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(took < Duration::from_secs(1), "the command took {took:?}");
        // More hostile sockets keep arriving meanwhile.
        for _ in 0..20 {
            silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
        }
    }
    drop(running);
}

/// SIGTERM while a client has sent only part of a request: the process exits 0 within
/// SHUTDOWN_TIMEOUT_SECS (2) and a second, although the header and body timeouts (10 s) are
/// longer.
#[tokio::test]
async fn sigterm_with_a_half_sent_request_exits_within_the_budget() {
    let half_sent: [&[u8]; 2] = [
        b"POST /slack/commands HTTP/1.1\r\nhost: x\r\ncontent-ty",
        b"POST /slack/commands HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-www-form-urlencoded\r\n\
          content-length: 100\r\n\r\ntext=7",
    ];
    for partial in half_sent {
        let mut running = tokio::task::spawn_blocking(|| {
            serve(&[("SHUTDOWN_TIMEOUT_SECS", "2"), ("RUST_LOG", "warn")])
        })
        .await
        .unwrap();
        let mut s = TcpStream::connect(("127.0.0.1", running.port))
            .await
            .unwrap();
        s.write_all(partial).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let start = Instant::now();
        signal(&running.child, "TERM");
        let (status, took, running) = tokio::task::spawn_blocking(move || {
            let status = wait_exit(&mut running.child, Duration::from_secs(5));
            (status, start.elapsed(), running)
        })
        .await
        .unwrap();
        drop(running);
        let what = String::from_utf8_lossy(partial);
        assert!(status.success(), "{what:?}: {status:?}");
        assert!(
            took <= Duration::from_secs(3),
            "{what:?}: exited {took:?} after SIGTERM"
        );
        drop(s);
    }
}
