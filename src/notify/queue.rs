//! EventBridge through an SQS queue (`EVENTS_QUEUE_URL`): the app needs no inbound endpoint.
//! Long-polls the queue (up to 10 messages, 20 s), and each message's body (the EventBridge
//! event, as EventBridge writes it to an SQS target) goes through the same delivery as
//! `POST /events`, so de-duplication, twins and threads behave identically. A message is
//! deleted once it is posted, a duplicate, or not ours; one that can never succeed (not an
//! event) is deleted with a WARN and counted; on a retryable failure (Slack 429/5xx, the state
//! store unavailable) it is left in the queue, invisible for the wait the delivery asks for, so
//! it comes back then. The queue's redrive policy moves a message that keeps failing to its
//! dead-letter queue: nothing is lost silently. Several replicas may poll one queue.
//! See <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html>
//! and <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html>.

use std::sync::Mutex;
use std::time::Duration;

use aws_sdk_sqs::Client;
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::routes::{retry_after, Delivery, EventError};
use crate::redact::error_chain;

/// How the queue is read.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    pub url: String,
    /// Long-poll wait (SQS allows up to 20 s).
    pub wait: Duration,
}

/// The SQS client for the queue: its calls may take as long as a long poll (20 s) and a bit.
/// The endpoint honours `AWS_ENDPOINT_URL_SQS`.
pub fn client(sdk: &aws_config::SdkConfig) -> Client {
    use aws_config::timeout::TimeoutConfig;
    let config = aws_sdk_sqs::config::Builder::from(sdk)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(30))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// How the queue's reading goes, for `/readyz`: the outcome of the last ReceiveMessage.
#[derive(Default)]
pub struct QueueStatus {
    last: Mutex<Option<(Instant, Result<(), String>)>>,
    /// ReceiveMessage failures in a row.
    failures: std::sync::atomic::AtomicU32,
}

impl QueueStatus {
    fn received(&self, result: Result<(), String>) {
        use std::sync::atomic::Ordering;
        if result.is_ok() {
            self.failures.store(0, Ordering::Relaxed);
        } else {
            self.failures.fetch_add(1, Ordering::Relaxed);
        }
        *crate::sync::lock(&self.last) = Some((Instant::now(), result));
    }

    /// `{"reachable": …, "last_receive_secs_ago": …, "failures_in_a_row": …, "problem": …}`;
    /// `reachable` is null before the first ReceiveMessage has answered.
    pub fn report(&self) -> Value {
        let last = crate::sync::lock(&self.last).clone();
        let failures = self.failures.load(std::sync::atomic::Ordering::Relaxed);
        match last {
            None => json!({"reachable": null, "problem": null, "failures_in_a_row": 0}),
            Some((at, result)) => json!({
                "reachable": result.is_ok(),
                "last_receive_secs_ago": at.elapsed().as_secs(),
                "failures_in_a_row": failures,
                "problem": result.err(),
            }),
        }
    }
}

/// Most messages one receive returns (SQS's limit).
const BATCH: i32 = 10;
/// Longest a message may stay invisible (SQS's limit is 12 hours).
const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 3600);

/// Polls `queue` until `stop`, delivering each message.
pub async fn run(
    client: Client,
    queue: QueueSettings,
    delivery: Delivery,
    status: std::sync::Arc<QueueStatus>,
    stop: CancellationToken,
) {
    tracing::info!("reading EventBridge events from the SQS queue (EVENTS_QUEUE_URL)");
    let mut failures: u32 = 0;
    loop {
        let receive = client
            .receive_message()
            .queue_url(&queue.url)
            .max_number_of_messages(BATCH)
            .wait_time_seconds(i32::try_from(queue.wait.as_secs()).unwrap_or(20).min(20))
            .send();
        let out = tokio::select! {
            () = stop.cancelled() => return,
            out = receive => out,
        };
        let messages = match out {
            Ok(out) => {
                failures = 0;
                status.received(Ok(()));
                out.messages.unwrap_or_default()
            }
            Err(e) => {
                failures += 1;
                let wait = backoff(failures);
                let error = error_chain(&e);
                tracing::warn!(%error, wait_ms = wait.as_millis() as u64, "could not read the SQS queue; trying again (check sqs:ReceiveMessage on it)");
                delivery.metrics.queue_receive_failures.inc();
                status.received(Err(crate::redact::excerpt(&error, 200)));
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(wait) => continue,
                }
            }
        };
        for message in messages {
            let (Some(body), Some(receipt)) = (message.body(), message.receipt_handle()) else {
                continue;
            };
            handle(&client, &queue, &delivery, body, receipt).await;
        }
    }
}

/// Delivers one message, then deletes it or leaves it invisible for the wait asked for.
async fn handle(
    client: &Client,
    queue: &QueueSettings,
    delivery: &Delivery,
    body: &str,
    receipt: &str,
) {
    let (keep_for, outcome) = match delivery.handle(body.as_bytes()).await {
        Ok(_) => (None, "deleted"),
        Err(EventError::Malformed(why)) => {
            tracing::warn!(%why, "deleted a queue message that is not an EventBridge event");
            (None, "malformed")
        }
        Err(EventError::NotDelivered { kind, error }) => {
            (Some(retry_after(&error, &kind).1), "kept")
        }
        // Not from the queue's path (keys, SNS); nothing to retry.
        Err(_) => (None, "deleted"),
    };
    let result = match keep_for {
        None => client
            .delete_message()
            .queue_url(&queue.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map(drop)
            .map_err(|e| error_chain(&e)),
        Some(wait) => {
            let secs = wait.clamp(Duration::from_secs(1), MAX_VISIBILITY).as_secs();
            client
                .change_message_visibility()
                .queue_url(&queue.url)
                .receipt_handle(receipt)
                .visibility_timeout(i32::try_from(secs).unwrap_or(i32::MAX))
                .send()
                .await
                .map(drop)
                .map_err(|e| error_chain(&e))
        }
    };
    let outcome = match result {
        Ok(()) => outcome,
        Err(e) => {
            // The message comes back after its visibility timeout and is then a duplicate (or
            // delivered): nothing is lost.
            tracing::warn!(error = %e, "could not delete or delay a queue message; it will be seen again");
            "unacknowledged"
        }
    };
    delivery
        .metrics
        .queue_messages
        .get_or_create(&crate::metrics::OutcomeLabels { outcome })
        .inc();
}

/// 1 s, 2 s, 4 s… up to 30 s, with jitter so replicas don't retry in step.
fn backoff(failures: u32) -> Duration {
    let base = Duration::from_secs(1 << failures.min(5)).min(Duration::from_secs(30));
    let jitter = u64::from(std::process::id().wrapping_add(failures)) % 250;
    base + Duration::from_millis(jitter)
}
