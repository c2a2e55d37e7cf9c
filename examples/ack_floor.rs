//! The framework's floor for `scripts/ack-ceiling`: axum on `axum::serve`, one route that
//! reads the whole request body and answers a fixed JSON acknowledgement, and nothing else (no
//! signature, no form, no middleware, no logging, no metrics). Whatever our binary does on the
//! slash command's acknowledgement path costs the difference between the two.
//!
//! Usage: `ack_floor ADDR` (e.g. `127.0.0.1:3910`); serves until killed.

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;

async fn ack(body: Bytes) -> impl IntoResponse {
    // Read (and keep) the body, as a real handler would before looking at it.
    std::hint::black_box(&body);
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"response_type":"ephemeral","text":"ok"}"#,
    )
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3910".to_owned());
    let app = Router::new().route("/slack/commands", post(ack));
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    // Our server sets TCP_NODELAY on every connection; so does this one.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    println!("listening on {addr}");
    axum::serve(listener, app).await.expect("serve");
}
