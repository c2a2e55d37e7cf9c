//! Outbound TLS as the app makes it: reqwest on the process's aws-lc-rs provider
//! (`src/http.rs`, the only crypto provider linked), a real handshake and certificate check
//! against a TLS server on loopback.

use std::io::{Read, Write};
use std::sync::Arc;

#[tokio::test]
async fn the_apps_http_client_speaks_tls_and_checks_the_certificate() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let cert_der = cert.der().clone();
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
        for stream in listener.incoming().take(2) {
            let Ok(stream) = stream else { continue };
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, stream);
            let (mut buf, mut got) = ([0u8; 4096], Vec::new());
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match tls.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    let url = format!("https://localhost:{port}/");

    let trusting = marketplace_activity::http::client_builder()
        .add_root_certificate(reqwest::Certificate::from_der(&cert_der).unwrap())
        .build()
        .unwrap();
    let answer = trusting.get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "ok");

    // The app's own client trusts Mozilla's roots only: this certificate is refused.
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
