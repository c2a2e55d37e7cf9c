//! Slack's side of Socket Mode, on loopback: the WebSocket URLs `apps.connections.open`
//! answers (see `fake_slack`) lead here. Each accepted connection gets `hello`, then plays
//! the next scripted list of [`Step`]s (none left: it just stays open, reading), and records
//! every envelope sent and every acknowledgement received, with its latency.
//! Also used by `examples/socket_latency.rs` (included by path), so it depends on nothing else
//! in the test helpers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message as Frame;

/// What a scripted connection does, in order.
#[derive(Clone, Debug)]
pub enum Step {
    /// Sends this JSON (an envelope, `disconnect`…).
    Send(Value),
    /// Waits (reading) until the last envelope sent on this connection is acknowledged, or
    /// 5 s.
    AwaitAck,
    /// Waits (reading) until this many connections have been accepted in all, or 5 s.
    AwaitConnections(usize),
    /// Reads for this long.
    Pause(Duration),
    /// Stops reading and sending, holding the connection open: a dead link (no pongs either).
    Stall,
    /// Closes the connection (a close frame), then reads until the app's close arrives.
    Close,
}

/// An envelope sent to the app.
#[derive(Clone, Debug)]
pub struct Sent {
    pub connection: usize,
    pub envelope_id: String,
    pub at: Instant,
}

/// An acknowledgement the app sent.
#[derive(Clone, Debug)]
pub struct Ack {
    pub connection: usize,
    pub envelope_id: String,
    pub body: Value,
    /// Since the envelope was sent on this connection.
    pub latency: Duration,
}

#[derive(Default)]
struct Inner {
    opens: usize,
    accepted: usize,
    scripts: VecDeque<Vec<Step>>,
    sent: Vec<Sent>,
    acks: Vec<Ack>,
    /// Text frames that were not acknowledgements.
    other: Vec<Value>,
    /// Waits that ran out ([`Step::AwaitAck`], [`Step::AwaitConnections`]).
    timeouts: Vec<String>,
}

#[derive(Clone)]
pub struct FakeSocket {
    addr: std::net::SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

impl FakeSocket {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let state = inner.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
                        return;
                    };
                    let (connection, script) = {
                        let mut inner = state.lock().unwrap();
                        inner.accepted += 1;
                        (
                            inner.accepted,
                            inner.scripts.pop_front().unwrap_or_default(),
                        )
                    };
                    serve(connection, ws, script, state).await;
                });
            }
        });
        Self { addr, inner }
    }

    /// Called by `apps.connections.open`: a new `ws://` URL with its own ticket.
    pub fn open(&self) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.opens += 1;
        format!("ws://{}/link/?ticket=ticket-{}", self.addr, inner.opens)
    }

    /// The next connections play these scripts, in order of acceptance.
    pub fn script(&self, scripts: Vec<Vec<Step>>) {
        self.inner.lock().unwrap().scripts = scripts.into();
    }

    /// `apps.connections.open` calls answered with a URL.
    pub fn opens(&self) -> usize {
        self.inner.lock().unwrap().opens
    }

    /// WebSocket connections accepted.
    pub fn accepted(&self) -> usize {
        self.inner.lock().unwrap().accepted
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.inner.lock().unwrap().sent.clone()
    }

    pub fn acks(&self) -> Vec<Ack> {
        self.inner.lock().unwrap().acks.clone()
    }

    /// The scripted waits that ran out, described.
    pub fn timeouts(&self) -> Vec<String> {
        self.inner.lock().unwrap().timeouts.clone()
    }

    pub fn other(&self) -> Vec<Value> {
        self.inner.lock().unwrap().other.clone()
    }

    /// Waits until `check` holds (or panics after `timeout`).
    pub async fn wait_until(&self, what: &str, timeout: Duration, check: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + timeout;
        while !check(self) {
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {what}: {} opens, {} accepted, sent {:?}, acks {:?}",
                self.opens(),
                self.accepted(),
                self.sent(),
                self.acks()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A `slash_commands` envelope with the fields Slack sends (as JSON strings).
pub fn slash_command(envelope_id: &str, text: &str, response_url: &str) -> Value {
    json!({
        "envelope_id": envelope_id,
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "token": "deprecated",
            "team_id": "T0001",
            "team_domain": "acme",
            "channel_id": "C0001",
            "channel_name": "procurement",
            "user_id": "U0001",
            "user_name": "someone",
            "command": "/marketplace-activity",
            "text": text,
            "api_app_id": "A0001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.2.3"
        }
    })
}

/// An `interactive` envelope around a `block_actions` payload.
pub fn interactive(envelope_id: &str, payload: Value) -> Value {
    json!({
        "envelope_id": envelope_id,
        "type": "interactive",
        "accepts_response_payload": false,
        "payload": payload
    })
}

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

async fn serve(connection: usize, mut ws: Ws, script: Vec<Step>, state: Arc<Mutex<Inner>>) {
    let hello = json!({
        "type": "hello",
        "num_connections": connection,
        "debug_info": {"host": "fake", "approximate_connection_time": 18060},
        "connection_info": {"app_id": "A0001"}
    });
    if ws.send(Frame::text(hello.to_string())).await.is_err() {
        return;
    }
    let mut steps = script.into_iter();
    let mut last_sent: Option<String> = None;
    // The envelope being waited for, and until when.
    let mut waiting: Option<(String, tokio::time::Instant)> = None;
    let mut pause_until: Option<tokio::time::Instant> = None;
    loop {
        if waiting.is_none() && pause_until.is_none() {
            match steps.next() {
                Some(Step::Send(value)) => {
                    if let Some(id) = value["envelope_id"].as_str() {
                        last_sent = Some(id.to_owned());
                        state.lock().unwrap().sent.push(Sent {
                            connection,
                            envelope_id: id.to_owned(),
                            at: Instant::now(),
                        });
                    }
                    if ws.send(Frame::text(value.to_string())).await.is_err() {
                        return;
                    }
                    continue;
                }
                Some(Step::AwaitAck) => {
                    if let Some(id) = last_sent.clone() {
                        let acked = state
                            .lock()
                            .unwrap()
                            .acks
                            .iter()
                            .any(|a| a.connection == connection && a.envelope_id == id);
                        if !acked {
                            waiting =
                                Some((id, tokio::time::Instant::now() + Duration::from_secs(5)));
                        }
                    }
                    continue;
                }
                Some(Step::AwaitConnections(n)) => {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
                    while state.lock().unwrap().accepted < n {
                        if tokio::time::Instant::now() >= deadline {
                            state.lock().unwrap().timeouts.push(format!(
                                "connection {connection}: waiting for {n} connections"
                            ));
                            break;
                        }
                        // Reading meanwhile: acknowledgements still arrive here.
                        if let Ok(frame) =
                            tokio::time::timeout(Duration::from_millis(10), ws.next()).await
                        {
                            match frame {
                                Some(Ok(Frame::Text(text))) => {
                                    record(&state, connection, text.as_str(), &mut waiting)
                                }
                                Some(Ok(_)) => {}
                                None | Some(Err(_)) => return,
                            }
                        }
                    }
                    continue;
                }
                Some(Step::Pause(d)) => pause_until = Some(tokio::time::Instant::now() + d),
                Some(Step::Stall) => {
                    std::future::pending::<()>().await;
                }
                Some(Step::Close) => {
                    let _ = ws.close(None).await;
                    let _ = tokio::time::timeout(Duration::from_secs(5), async {
                        while let Some(Ok(_)) = ws.next().await {}
                    })
                    .await;
                    return;
                }
                None => {}
            }
        }
        let until = waiting
            .as_ref()
            .map(|w| w.1)
            .or(pause_until)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            () = tokio::time::sleep_until(until) => {
                if let Some((id, _)) = waiting.take() {
                    state.lock().unwrap().timeouts.push(format!("connection {connection}: no ack for {id}"));
                }
                pause_until = None;
            }
            frame = ws.next() => match frame {
                Some(Ok(Frame::Text(text))) => record(&state, connection, text.as_str(), &mut waiting),
                Some(Ok(_)) => {}
                None | Some(Err(_)) => return,
            }
        }
    }
}

/// Records a text frame from the app: an acknowledgement (ending a wait for it) or other.
fn record(
    state: &Mutex<Inner>,
    connection: usize,
    text: &str,
    waiting: &mut Option<(String, tokio::time::Instant)>,
) {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()));
    let mut inner = state.lock().unwrap();
    match body["envelope_id"].as_str().map(str::to_owned) {
        Some(id) => {
            let latency = inner
                .sent
                .iter()
                .rev()
                .find(|s| s.connection == connection && s.envelope_id == id)
                .map_or(Duration::MAX, |s| s.at.elapsed());
            if waiting.as_ref().is_some_and(|w| w.0 == id) {
                *waiting = None;
            }
            inner.acks.push(Ack {
                connection,
                envelope_id: id,
                body,
                latency,
            });
        }
        None => inner.other.push(body),
    }
}
