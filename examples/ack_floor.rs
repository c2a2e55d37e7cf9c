//! The framework's floor for `scripts/ack-ceiling`: axum on `axum::serve`, one route that
//! reads the whole request body and answers a fixed JSON acknowledgement, and nothing else (no
//! signature, no form, no middleware, no logging, no metrics). Whatever our binary does on the
//! slash command's acknowledgement path costs the difference between the two.
//!
//! The answer is, byte for byte, the JSON our binary answers `help` with (1.6 KB of Block Kit),
//! so both servers write the same bytes and wrk reads the same bytes from both; the difference
//! is then only the work in between. With `--tiny` it answers a 42-byte JSON instead (what the
//! floor answered until the comparison was made like for like), for reference.
//!
//! Usage: `ack_floor ADDR [--tiny]` (e.g. `127.0.0.1:3910`); serves until killed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;

async fn ack(State(answer): State<Bytes>, body: Bytes) -> impl IntoResponse {
    // Read (and keep) the body, as a real handler would before looking at it.
    std::hint::black_box(&body);
    ([(header::CONTENT_TYPE, "application/json")], answer)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:3910".to_owned());
    let answer = if args.next().as_deref() == Some("--tiny") {
        Bytes::from_static(br#"{"response_type":"ephemeral","text":"ok"}"#)
    } else {
        let usage = marketplace_activity::slack::render::usage();
        Bytes::from(serde_json::to_vec(&usage).expect("the usage message serialises"))
    };
    let app = Router::new()
        .route("/slack/commands", post(ack))
        .with_state(answer);
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
