//! moto's server (PyPI `moto[server]`) on a free loopback port: the real DynamoDB API the
//! replica tests share their state through. `scripts/moto-server` serves one request at a time,
//! so conditional writes are atomic as in DynamoDB. Killed on drop.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    /// Starts moto and waits until it answers. Fails the test (never skips it) when moto is
    /// not installed.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Moto serving requests in parallel: for SQS, whose long polls would otherwise hold every
    /// other client up.
    pub async fn start_threaded() -> Self {
        Self::start_with(&["threaded"]).await
    }

    async fn start_with(extra: &[&str]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("python3")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/moto-server"))
            .args(["127.0.0.1", &port.to_string()])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 runs scripts/moto-server");
        let mut moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = moto.child.try_wait() {
                panic!("scripts/moto-server exited ({status}): is moto installed? pip install \"moto[server]\"");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return moto;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not answer within 60 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
