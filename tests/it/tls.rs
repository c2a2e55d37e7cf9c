//! Outbound TLS as the app makes it: reqwest on the process's aws-lc-rs provider
//! (`src/http.rs`, the only crypto provider linked) and the platform's trust roots, a real
//! handshake and certificate check against a TLS server on loopback.

use std::io::{Read, Write};
use std::sync::Arc;

/// A TLS server on loopback with a fresh self-signed certificate for `localhost`, answering
/// `answers` requests with `body` (JSON), then stopping. Returns its port and certificate.
fn tls_server(
    answers: usize,
    body: &'static str,
) -> (u16, rustls::pki_types::CertificateDer<'static>, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_der = cert.der().clone();
    let cert_pem = cert.pem();
    let key_der = rustls::pki_types::PrivatePkcs8KeyDer::from(key.serialize_der());
    let config =
        rustls::ServerConfig::builder_with_provider(marketplace_activity::http::crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert_der.clone()], key_der.into())
            .unwrap();
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(answers) {
            let Ok(stream) = stream else { continue };
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let (mut buf, mut got) = ([0u8; 4096], Vec::new());
            // The head, then as much body as it announces, so nothing is left unread.
            let mut want = None;
            loop {
                if want.is_none() {
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        want = Some(end + 4 + length);
                    }
                }
                if want.is_some_and(|want| got.len() >= want) {
                    break;
                }
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.write_all(answer.as_bytes());
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    (port, cert_der.into_owned(), cert_pem)
}

#[tokio::test]
async fn the_apps_http_client_speaks_tls_and_checks_the_certificate() {
    let (port, cert_der, _) = tls_server(2, r#""ok""#);
    let url = format!("https://localhost:{port}/");

    let trusting = marketplace_activity::http::client_builder()
        .add_root_certificate(reqwest::Certificate::from_der(&cert_der).unwrap())
        .build()
        .unwrap();
    let answer = trusting.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), r#""ok""#);

    // The app's own client trusts the platform's roots only: this certificate is refused.
    let err = marketplace_activity::http::client()
        .unwrap()
        .get(&url)
        .send()
        .await
        .unwrap_err();
    let chain = format!("{err:?}");
    assert!(chain.contains("UnknownIssuer"), "{chain}");
}

#[test]
fn socket_modes_tls_config_is_built_on_the_same_provider() {
    let config = marketplace_activity::http::tls_config().expect("a TLS config");
    assert!(Arc::ptr_eq(
        config.crypto_provider(),
        &marketplace_activity::http::crypto_provider()
    ));
}

/// `marketplace-activity check` against "Slack" on loopback over TLS, with `extra` settings.
fn check_slack_over_tls(port: u16, extra: &[(&str, &str)]) -> String {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_marketplace-activity"));
    cmd.arg("check")
        .env("SLACK_SIGNING_SECRET", "x")
        .env("SLACK_BOT_TOKEN", "xoxb-test")
        .env("EVENTS_API_KEY", "an-events-api-key-of-enough-length")
        .env("SLACK_CHANNEL", "C0123ABCD")
        .env("SLACK_API_URL", format!("https://localhost:{port}/api"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("RUST_LOG", "off")
        .env("STATE_DIR", state.path())
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    for (name, value) in extra {
        cmd.env(name, value);
    }
    let out = cmd.output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_ca_named_in_ssl_cert_file_is_trusted_for_calls_to_slack() {
    // A company's own CA (a TLS-inspecting proxy, a private Slack relay) goes in the bundle
    // SSL_CERT_FILE names; the app trusts what is there, as the AWS SDK does.
    let (port, _, cert_pem) = tls_server(1, r#"{"ok":true}"#);
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, cert_pem).unwrap();
    let stdout = check_slack_over_tls(port, &[("SSL_CERT_FILE", bundle.to_str().unwrap())]);
    assert!(
        stdout.contains("auth.test accepted SLACK_BOT_TOKEN"),
        "{stdout}"
    );

    // Without it, the platform's own roots don't know that CA: the same check fails.
    let (port, _, _) = tls_server(1, r#"{"ok":true}"#);
    let stdout = check_slack_over_tls(port, &[]);
    assert!(
        stdout.contains("FAIL  slack: auth.test did not succeed"),
        "{stdout}"
    );
}

#[test]
fn with_no_trusted_ca_serve_query_and_check_stop_and_say_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_marketplace-activity"))
            .args(args)
            .env("SLACK_SIGNING_SECRET", "x")
            .env("LISTEN_ADDR", "127.0.0.1:0")
            .env("STATE_DIR", dir.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env("SSL_CERT_FILE", &empty)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap()
    };
    for args in [&["serve"][..], &["query", "7d"][..]] {
        let out = run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(!out.status.success(), "{args:?}: {stderr}");
        assert!(
            stderr.contains("no trusted CA certificates found") && stderr.contains("SSL_CERT_FILE"),
            "{args:?}: {stderr}"
        );
    }
    let out = run(&["check"]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("FAIL  tls: no trusted CA certificates found")
            && stdout.contains("fix: Install the ca-certificates package"),
        "{stdout}"
    );
}

/// Host names are ASCII only (`idna_adapter` pinned to its stub in Cargo.toml): a non-ASCII
/// host is not a URL, its `xn--` form is.
#[test]
fn an_internationalised_host_is_written_in_its_ascii_form() {
    assert!(reqwest::Url::parse("https://bücher.example/api").is_err());
    assert!(reqwest::Url::parse("https://xn--bcher-kva.example/api").is_ok());
}
