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

/// How the queue's reading goes, for `/readyz`: the last ReceiveMessage's outcome, when it
/// came, and the failures in a row up to it (the reading loop's own count).
#[derive(Default)]
pub struct QueueStatus {
    last: Mutex<Option<Received>>,
}

/// When the last ReceiveMessage answered, how (the short cause when it failed), and the
/// failures in a row up to it.
type Received = (Instant, Result<(), String>, u32);

impl QueueStatus {
    fn received(&self, result: Result<(), String>, failures: u32) {
        *crate::sync::lock(&self.last) = Some((Instant::now(), result, failures));
    }

    /// `{"reachable": …, "last_receive_secs_ago": …, "failures_in_a_row": …, "problem": …}`;
    /// `reachable` is null before the first ReceiveMessage has answered.
    pub fn report(&self) -> Value {
        match crate::sync::lock(&self.last).clone() {
            None => json!({"reachable": null, "problem": null, "failures_in_a_row": 0}),
            Some((at, result, failures)) => json!({
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
        let mut receive = std::pin::pin!(receive);
        let mut stopping = false;
        let out = tokio::select! {
            out = &mut receive => out,
            () = stop.cancelled() => {
                // SQS may have answered this receive already: its messages are then invisible
                // to everyone else until their visibility timeout. Wait a moment for the
                // answer (a long poll returns at once when it has messages) and deliver them.
                stopping = true;
                match tokio::time::timeout(STOP_GRACE, &mut receive).await {
                    Ok(out) => out,
                    Err(_) => return,
                }
            }
        };
        let messages = match out {
            Ok(out) => {
                failures = 0;
                status.received(Ok(()), 0);
                out.messages.unwrap_or_default()
            }
            Err(e) => {
                failures += 1;
                let wait = backoff(failures);
                let error = error_chain(&e);
                tracing::warn!(%error, wait_ms = wait.as_millis() as u64, "could not read the SQS queue; trying again (check sqs:ReceiveMessage on it)");
                delivery.metrics.queue_receive_failures.inc();
                status.received(Err(crate::redact::excerpt(&error, 200)), failures);
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
        if stopping {
            return;
        }
    }
}

/// How long a receive already sent may still take once the app is stopping.
const STOP_GRACE: Duration = Duration::from_secs(1);

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

/// What `check` found about the queue: for each line (`queue`, then `queue calls`), what was
/// found, or the cause and the fix.
pub type QueueCheck = Vec<(&'static str, Result<String, (String, String)>)>;

/// For `check`: reads the queue's attributes, then proves the three calls the app makes
/// without touching any message. DeleteMessage and ChangeMessageVisibility are called with a
/// receipt handle that cannot exist: SQS checks permissions first, so `ReceiptHandleIsInvalid`
/// means the call is allowed and `AccessDenied` that it is not. ReceiveMessage is tried only
/// when the queue is empty, since every receive counts towards a message's redrive limit.
pub async fn check(client: &Client, url: &str) -> QueueCheck {
    use aws_sdk_sqs::error::ProvideErrorMetadata;
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let name = url.rsplit('/').next().unwrap_or(url).to_owned();
    let denied = |call: &str, code: Option<&str>, message: String| {
        let fix = format!("Allow sqs:{call} on the queue to the app's role (manifest/iam-policy.json lists what the app needs).");
        match code {
            Some(c) if c.contains("AccessDenied") => {
                (format!("{name}: sqs:{call} is not allowed ({c})"), fix)
            }
            Some(c) if c.contains("NonExistentQueue") || c.contains("QueueDoesNotExist") => (
                format!("{name}: the queue does not exist ({c})"),
                "Set EVENTS_QUEUE_URL to the QueueUrl output of manifest/eventbridge-sqs.yaml (its account and region included).".to_owned(),
            ),
            _ => (
                format!("{name}: {call} failed: {}", crate::redact::excerpt(&message, 120)),
                "Check the network path to SQS (and AWS_ENDPOINT_URL_SQS if it is set), then try again.".to_owned(),
            ),
        }
    };
    let attributes = match client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
    {
        Ok(out) => out.attributes.unwrap_or_default(),
        Err(e) => {
            tracing::debug!(error = %error_chain(&e), "GetQueueAttributes failed");
            return vec![(
                "queue",
                Err(denied("GetQueueAttributes", e.code(), error_chain(&e))),
            )];
        }
    };
    let count = |a: A| {
        attributes
            .get(&a)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (waiting, in_flight) = (
        count(A::ApproximateNumberOfMessages),
        count(A::ApproximateNumberOfMessagesNotVisible),
    );
    let dead_letter = attributes
        .get(&A::RedrivePolicy)
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .and_then(|p| {
            let target = p["deadLetterTargetArn"].as_str()?.rsplit(':').next()?.to_owned();
            let after = p["maxReceiveCount"]
                .as_u64()
                .or_else(|| p["maxReceiveCount"].as_str()?.parse().ok());
            Some(match after {
                Some(n) => format!("dead-letter queue {target} after {n} receives"),
                None => format!("dead-letter queue {target}"),
            })
        })
        .unwrap_or_else(|| {
            "no dead-letter queue (a message that keeps failing is retried until the queue's retention drops it)".to_owned()
        });
    let found = format!("{name}: {waiting} messages waiting, {in_flight} in flight; {dead_letter}");
    vec![
        ("queue", Ok(found)),
        (
            "queue calls",
            calls(client, url, waiting + in_flight == 0, denied).await,
        ),
    ]
}

/// DeleteMessage and ChangeMessageVisibility on a receipt handle that cannot exist, and
/// ReceiveMessage when `empty`.
async fn calls(
    client: &Client,
    url: &str,
    empty: bool,
    denied: impl Fn(&str, Option<&str>, String) -> (String, String),
) -> Result<String, (String, String)> {
    use aws_sdk_sqs::error::ProvideErrorMetadata;
    const NO_SUCH_RECEIPT: &str = "marketplace-activity-check-no-such-receipt-handle";
    let delete = client
        .delete_message()
        .queue_url(url)
        .receipt_handle(NO_SUCH_RECEIPT)
        .send()
        .await;
    if let Err(e) = delete {
        if !is_bad_receipt(e.code()) {
            return Err(denied("DeleteMessage", e.code(), error_chain(&e)));
        }
    }
    let delay = client
        .change_message_visibility()
        .queue_url(url)
        .receipt_handle(NO_SUCH_RECEIPT)
        .visibility_timeout(0)
        .send()
        .await;
    if let Err(e) = delay {
        if !is_bad_receipt(e.code()) {
            return Err(denied("ChangeMessageVisibility", e.code(), error_chain(&e)));
        }
    }
    if empty {
        match client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(1)
            .wait_time_seconds(0)
            // A message that arrived just now is visible again at once.
            .visibility_timeout(0)
            .send()
            .await
        {
            Ok(_) => Ok("ReceiveMessage, DeleteMessage and ChangeMessageVisibility allowed".into()),
            Err(e) => Err(denied("ReceiveMessage", e.code(), error_chain(&e))),
        }
    } else {
        Ok("DeleteMessage and ChangeMessageVisibility allowed; ReceiveMessage not tried (messages wait, and a receive counts towards their redrive limit)".into())
    }
}

/// SQS's answer to a receipt handle that is not one: the call itself was allowed.
fn is_bad_receipt(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("ReceiptHandleIsInvalid" | "InvalidParameterValue" | "MessageNotInflight")
    ) || code.is_some_and(|c| c.ends_with("ReceiptHandleIsInvalid"))
}
