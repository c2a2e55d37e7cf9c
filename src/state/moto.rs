//! Test helpers: a real DynamoDB API on loopback (moto's server, from PyPI `moto[server]`, run one
//! request at a time by `scripts/moto-server`),
//! a scripted fake for answers moto does not give (AccessDenied, throttling), and SDK
//! configurations that can only reach loopback: static test credentials, a fixed region, an
//! explicit endpoint, so no credential chain, IMDS or real AWS is ever consulted.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An SDK configuration for the endpoint `url`, with static test credentials.
pub fn sdk_config(url: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(url)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTESTING",
            "test-secret-not-real",
            None,
            None,
            "state-tests",
        )))
        .build()
}

/// A loopback port nobody listens on (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind a loopback port")
        .port()
}

/// A table name of its own for each test.
pub fn table_name(test: &str) -> String {
    format!(
        "state-{test}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// A moto server child process on a free loopback port, killed on drop.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    /// Starts `scripts/moto-server` and waits until it answers. Panics (failing the test) when it is
    /// not installed: these tests must not pass silently without it.
    pub async fn start() -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let mut log = tempfile::NamedTempFile::new().expect("temp file for moto's log");
            let child = Command::new("python3")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto-server"))
                .args(["127.0.0.1", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(log.reopen().expect("moto log")))
                .spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) => panic!("cannot start python3 scripts/moto-server: {e}"),
            };
            let mut moto = Moto { child, port };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(60) {
                if let Ok(Some(status)) = moto.child.try_wait() {
                    let mut text = String::new();
                    let _ = log.read_to_string(&mut text);
                    last = format!("scripts/moto-server exited ({status}): {text} (the DynamoDB tests need moto: pip install \"moto[server]\")");
                    break;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return moto;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if last.is_empty() {
                last = "scripts/moto-server did not answer within 60 s".into();
            }
        }
        panic!("{last}");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn sdk(&self) -> SdkConfig {
        sdk_config(&self.url())
    }

    /// A raw DynamoDB client on this moto, to look at what the store did.
    pub fn client(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk())
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fake DynamoDB endpoint answering every request with what `answer` returns for its
/// operation (the `X-Amz-Target` suffix, e.g. `GetItem`): an HTTP status and a JSON body;
/// status 0 means no answer at all.
pub struct Fake {
    pub url: String,
    pub requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The JSON body of a DynamoDB error.
pub fn error_body(code: &str) -> String {
    format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{code}","message":"scripted {code}"}}"#)
}

impl Fake {
    pub async fn start(answer: impl Fn(&str) -> (u16, String) + Send + Sync + 'static) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        let answer = Arc::new(answer);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let answer = answer.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Some(target) = read_request(&mut socket).await else {
                        return;
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    let op = target.rsplit('.').next().unwrap_or("").to_owned();
                    let (status, body) = answer(&op);
                    if status == 0 {
                        // Never answer: hold the connection until the client gives up.
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        return;
                    }
                    let reply = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(reply.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Fake {
            url,
            requests,
            task,
        }
    }
}

/// Reads one HTTP request; returns its `X-Amz-Target` header.
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(header("x-amz-target").unwrap_or_default())
}
