//! One retry loop for every call to Slack (`response_url`, `chat.postMessage`, the digest):
//! the caller says which failures are worth another try and how long to wait first (Slack's
//! `Retry-After` when it gives one), and what bounds the whole: a number of attempts, a
//! deadline, or both.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// The bounds of one call's retries.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// No retry whose wait would end after this.
    pub deadline: Option<Instant>,
    /// The longest single wait, even if Slack asks for more.
    pub max_wait: Duration,
}

impl Retry {
    pub fn attempts(attempts: u32) -> Self {
        Self {
            attempts,
            deadline: None,
            max_wait: Duration::MAX,
        }
    }

    pub fn until(deadline: Instant) -> Self {
        Self {
            attempts: u32::MAX,
            deadline: Some(deadline),
            max_wait: Duration::MAX,
        }
    }

    pub fn max_wait(self, max_wait: Duration) -> Self {
        Self { max_wait, ..self }
    }

    /// Calls `call` until it succeeds or a retry isn't possible: `wait_for` says the failure is
    /// final (`None`), the attempts are used up, or the wait would pass the deadline. Returns
    /// the last error then. `before_retry` sees each failure that is retried and the wait.
    pub async fn run<T, E, Fut>(
        self,
        mut call: impl FnMut() -> Fut,
        wait_for: impl Fn(&E, u32) -> Option<Duration>,
        mut before_retry: impl FnMut(&E, Duration),
    ) -> Result<T, E>
    where
        Fut: Future<Output = Result<T, E>>,
    {
        let mut attempt = 1;
        loop {
            let err = match call().await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let Some(wait) = wait_for(&err, attempt) else {
                return Err(err);
            };
            let wait = wait.min(self.max_wait);
            let past_deadline = self.deadline.is_some_and(|d| Instant::now() + wait >= d);
            if attempt >= self.attempts || past_deadline {
                return Err(err);
            }
            before_retry(&err, wait);
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn stops_at_the_attempt_limit_and_on_final_errors() {
        let calls = AtomicU32::new(0);
        let result: Result<(), &str> = Retry::attempts(3)
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("busy")
                },
                |_, _| Some(Duration::from_millis(10)),
                |_, _| {},
            )
            .await;
        assert_eq!((result, calls.load(Ordering::SeqCst)), (Err("busy"), 3));

        calls.store(0, Ordering::SeqCst);
        let result: Result<(), &str> = Retry::attempts(3)
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("final")
                },
                |_, _| None,
                |_, _| {},
            )
            .await;
        assert_eq!((result, calls.load(Ordering::SeqCst)), (Err("final"), 1));
    }

    #[tokio::test(start_paused = true)]
    async fn never_waits_past_the_deadline() {
        let calls = AtomicU32::new(0);
        let started = Instant::now();
        let result: Result<(), &str> = Retry::until(started + Duration::from_secs(1))
            .run(
                || async {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err("busy")
                },
                |_, _| Some(Duration::from_millis(300)),
                |_, _| {},
            )
            .await;
        assert!(result.is_err());
        // Waits at 0.3, 0.6, 0.9 s; a fourth wait would end at 1.2 s.
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
