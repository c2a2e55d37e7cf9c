//! Turning one received activity into exactly one Slack message, within the sender's deadline,
//! whichever replica receives it.
//!
//! - Nothing twice: every delivery id (`eb:`, `ct:`, `mp:`) is recorded in the state store once
//!   Slack has the message; a delivery seen before is acknowledged and not posted.
//! - One at a time per agreement, across replicas: a delivery first claims its agreement (a
//!   lease in the store). Another delivery for the same agreement waits for it, or is asked to
//!   come back; a replica that dies holding a claim loses it when the lease runs out.
//! - One message per change: a purchase (or cancellation) usually arrives twice, as the
//!   CloudTrail call (who) and as Marketplace's event (product, seller). The first to arrive is
//!   posted; the second, if it comes within [`MERGE_WINDOW`], updates that message in place
//!   with `chat.update`, so the channel shows one complete message.
//! - One thread per agreement: the first message about an agreement becomes its thread; later
//!   amendments, warnings and cancellations go there (a cancellation is also broadcast).
//! - Nothing lost: the caller answers 2xx only when this returns `Ok`. A post is never cut off
//!   by the sender's deadline: it runs to its end in a tracked task and is recorded, and a retry
//!   that arrives meanwhile is asked to come back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use tokio_util::task::TaskTracker;
use tracing::Instrument;

use super::event::Received;
use crate::aws::agreements::Agreements;
use crate::domain::Account;
use crate::domain::{Activity, ActivityKind, AgreementFacts, Intent, Origin};
use crate::metrics::Metrics;
use crate::pacer::Pacer;
use crate::slack::render;
use crate::slack::retry::Retry;
use crate::slack::web_api::{ApiError, ChannelMessage, Posted, SlackApi};
use crate::state::{Claim, ClaimToken, StateStore, StoreError, Table};
use crate::sync::lock;

/// How long after the first report of a change its twin from the other family is merged into
/// the same message rather than posted anew.
pub const MERGE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Slack's guidance: about one message per second per channel.
pub const CHANNEL_INTERVAL: Duration = Duration::from_secs(1);
/// Longest a notification waits for agreement details; they must never hold a message up.
const DETAILS_BUDGET: Duration = Duration::from_millis(1_000);
/// Time kept for one Slack call. The deadline leaves a second of EventBridge's 5 s unused, so
/// a call started at the deadline may still take this long.
const CALL_ALLOWANCE: Duration = Duration::from_millis(800);
/// The longest one Slack call may take. A call is not cut off at the sender's deadline (a post
/// cut off may still have reached Slack, and the retry would post it twice).
const SLACK_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a delivery may hold its agreement's claim before another replica may take it over
/// (it died): more than a delivery can take (the budget, one Slack call, the store writes).
pub const DELIVERY_LEASE: Duration = Duration::from_secs(30);
/// How long delivery ids are remembered: EventBridge retries for at most 24 hours.
const SEEN_KEPT: chrono::Duration = chrono::Duration::days(7);
/// How long an agreement's thread is remembered after its last message (terms run a year or
/// more; a renewal should still find its thread).
const THREAD_KEPT: chrono::Duration = chrono::Duration::days(800);
/// How long a request's intent waits for its `AcceptAgreementRequest`.
const INTENT_KEPT: chrono::Duration = chrono::Duration::days(30);
/// Posts remembered per agreement (for merging); older ones are dropped.
const POSTS_KEPT: usize = 20;

/// Which channel gets which kind, and who is pinged on cancellations.
#[derive(Debug, Clone)]
pub struct Routes {
    pub default_channel: String,
    pub purchases: Option<String>,
    pub cancellations: Option<String>,
    pub cancellation_mention: Option<String>,
}

impl Routes {
    fn channel_for(&self, kind: &ActivityKind) -> &str {
        // A billing adjustment (a refund) goes with the purchase, so it lands in its thread.
        let special = if kind.is_purchase() || matches!(kind, ActivityKind::BillingAdjustment(_)) {
            self.purchases.as_deref()
        } else if kind.is_cancellation() {
            self.cancellations.as_deref()
        } else {
            None
        };
        special.unwrap_or(&self.default_channel)
    }
}

/// What happened to a delivery that succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    Posted {
        channel: String,
        ts: String,
    },
    /// Merged into an earlier message about the same change.
    Updated {
        channel: String,
        ts: String,
    },
    Duplicate,
    /// Remembered (a `CreateAgreementRequest`'s intent) but nothing to post.
    Recorded,
}

/// Why a delivery must be tried again later. The sender is told to retry; nothing is lost.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("Slack is busy for this channel; retry after {0:?}")]
    RetryAfter(Duration),
    #[error("{0}")]
    Slack(ApiError),
    /// The state store could not be read or written: nothing was posted.
    #[error("state store: {0}")]
    Store(StoreError),
    /// Another delivery for the same agreement is being posted (here or on another replica).
    #[error("another delivery for this agreement is in progress; retry after {0:?}")]
    Busy(Duration),
    /// The post is still running (Slack is slow); it will be recorded when it ends.
    #[error("the post is still in progress")]
    StillPosting,
}

impl From<StoreError> for DeliveryError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// The per-agreement memory: its thread and the recent posts about it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct AgreementRecord {
    channel: String,
    thread_ts: String,
    /// Everything learnt about the agreement so far (product, seller…), used to enrich later
    /// messages that don't carry it (a CloudTrail cancellation).
    facts: AgreementFacts,
    posts: Vec<PostRecord>,
}

impl AgreementRecord {
    /// Adds a post to those remembered for merging, dropping the oldest past [`POSTS_KEPT`].
    fn remember_post(&mut self, posted: &Posted, activity: Activity) {
        self.facts.fill_from(&activity.facts);
        self.posts.push(PostRecord {
            channel: posted.channel.clone(),
            ts: posted.ts.clone(),
            posted_at: Utc::now(),
            origins: vec![activity.origin],
            activity,
        });
        let excess = self.posts.len().saturating_sub(POSTS_KEPT);
        self.posts.drain(..excess);
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PostRecord {
    channel: String,
    ts: String,
    posted_at: DateTime<Utc>,
    /// The activity as shown, merged over both reports.
    activity: Activity,
    /// Which families have been merged into it.
    origins: Vec<Origin>,
}

/// Two reports describe the same change if they are the same kind of change to the same
/// agreement, from different families.
fn same_change(a: &ActivityKind, b: &ActivityKind) -> bool {
    (a.is_purchase() && b.is_purchase()) || (a.is_cancellation() && b.is_cancellation())
}

pub struct Notifier {
    metrics: Metrics,
    agreements: Option<Agreements>,
    /// The accounts as last listed (the organization's, refreshed hourly), to name one.
    accounts: Arc<dyn Fn() -> Vec<Account> + Send + Sync>,
    api: SlackApi,
    routes: Routes,
    store: StateStore,
    /// Least time between two posts to one channel.
    post_interval: Duration,
    /// How long a delivery's claim holds before another replica may take it over.
    lease: Duration,
    /// Names this process in claims.
    replica: String,
    /// Deliveries run here, so a slow post outlives the request that started it and shutdown
    /// waits for it.
    tasks: TaskTracker,
    pacers: Mutex<HashMap<String, Arc<Pacer>>>,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Where Slack calls go and how fast.
pub struct SlackOut {
    pub api: SlackApi,
    pub routes: Routes,
    /// Least time between two posts to one channel ([`CHANNEL_INTERVAL`] in production).
    pub post_interval: Duration,
}

/// What the notifier remembers with, and how long its claims hold.
pub struct Memory {
    pub store: StateStore,
    pub lease: Duration,
    pub tasks: TaskTracker,
}

impl Notifier {
    pub fn new(
        out: SlackOut,
        memory: Memory,
        metrics: Metrics,
        agreements: Option<Agreements>,
        accounts: Arc<dyn Fn() -> Vec<Account> + Send + Sync>,
    ) -> Self {
        Self {
            metrics,
            agreements,
            accounts,
            api: out.api,
            routes: out.routes,
            store: memory.store,
            post_interval: out.post_interval,
            lease: memory.lease,
            replica: uuid::Uuid::new_v4().simple().to_string(),
            tasks: memory.tasks,
            pacers: Mutex::default(),
            locks: Mutex::default(),
        }
    }

    pub fn store(&self) -> &StateStore {
        &self.store
    }

    fn pacer(&self, channel: &str) -> Arc<Pacer> {
        let mut pacers = lock(&self.pacers);
        pacers
            .entry(channel.to_owned())
            .or_insert_with(|| Arc::new(Pacer::new(self.post_interval)))
            .clone()
    }

    /// One lock per agreement (or per delivery without one) in this process, so deliveries
    /// here queue instead of polling the store's claim. Locks of finished deliveries are
    /// dropped.
    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = lock(&self.locks);
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// Delivers within `deadline`. `Ok` means Slack has it (or it was a duplicate). The work
    /// runs in a tracked task: when the deadline comes first, the sender is asked to retry
    /// while the post runs to its end and is recorded.
    pub async fn deliver(
        self: &Arc<Self>,
        received: Received,
        deadline: Instant,
    ) -> Result<Delivered, DeliveryError> {
        let this = self.clone();
        let work = self
            .tasks
            .spawn(async move { this.deliver_in_full(received, deadline).await }.in_current_span());
        match tokio::time::timeout_at(deadline + CALL_ALLOWANCE / 2, work).await {
            Ok(Ok(result)) => result,
            Ok(Err(panicked)) => {
                tracing::error!(error = %panicked, "a delivery failed unexpectedly");
                Err(DeliveryError::StillPosting)
            }
            Err(_) => {
                tracing::warn!(
                    "the post is still running past the sender's deadline; asked for a retry"
                );
                Err(DeliveryError::StillPosting)
            }
        }
    }

    async fn deliver_in_full(
        &self,
        received: Received,
        deadline: Instant,
    ) -> Result<Delivered, DeliveryError> {
        let lock_key = received
            .activity
            .agreement_id
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_else(|| received.dedup_keys.first().cloned().unwrap_or_default());
        let local = self.lock_for(&lock_key);
        let _local = local.lock().await;
        if self.seen_any(&received.dedup_keys).await? {
            self.metrics.duplicates_dropped.inc();
            return Ok(Delivered::Duplicate);
        }
        let token = self.claim(&lock_key, deadline).await?;
        // Another replica may have finished this very delivery between the check above and the
        // claim; only a holder before us could have, so a first claim needs no second look.
        let result = if !token.is_first() && self.seen_any(&received.dedup_keys).await? {
            self.metrics.duplicates_dropped.inc();
            Ok(Delivered::Duplicate)
        } else {
            self.deliver_claimed(received, deadline).await
        };
        if let Err(e) = self.store.release(token).await {
            // The lease runs out by itself; until then other deliveries wait or retry.
            tracing::warn!(error = %e, "could not release the delivery's claim");
        }
        result
    }

    /// Claims `key` for this delivery across replicas, waiting while another holds it (until
    /// shortly before the deadline).
    async fn claim(&self, key: &str, deadline: Instant) -> Result<ClaimToken, DeliveryError> {
        let owner = format!("{}/{}", self.replica, uuid::Uuid::new_v4().simple());
        let key = format!("delivery:{key}");
        loop {
            let now = Utc::now();
            let until = match self
                .store
                .claim::<()>(&key, &owner, self.lease, now)
                .await?
            {
                Claim::Won(token) => return Ok(token),
                Claim::Busy { until } => until,
                // Claims here are released, never completed; treat one as held briefly.
                Claim::Done(()) => now,
            };
            let wait = (until - now)
                .to_std()
                .unwrap_or_default()
                .clamp(Duration::from_millis(50), Duration::from_millis(250));
            if Instant::now() + wait + CALL_ALLOWANCE >= deadline {
                let left = (until - now).to_std().unwrap_or_default();
                return Err(DeliveryError::Busy(left.max(Duration::from_secs(1))));
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// The delivery, once its agreement is claimed.
    async fn deliver_claimed(
        &self,
        received: Received,
        deadline: Instant,
    ) -> Result<Delivered, DeliveryError> {
        let Received {
            mut activity,
            dedup_keys,
        } = received;
        if self.record_intent(&activity, &dedup_keys).await? {
            return Ok(Delivered::Recorded);
        }
        let note = self.complete(&mut activity).await?;
        let agreement = activity.agreement_id.as_ref().map(|id| id.to_string());
        let mut record = match &agreement {
            Some(id) => {
                self.recall::<AgreementRecord>(Table::Agreements, id)
                    .await?
            }
            None => None,
        };
        if let Some(rec) = record.as_mut() {
            let twin = self.update_twin(rec, &activity, note.as_deref(), deadline);
            if let Some(updated) = twin.await? {
                self.finish(agreement.as_deref(), rec, &dedup_keys).await;
                return Ok(updated);
            }
        }
        let posted = self
            .post_new(&mut activity, record.as_ref(), note.as_deref(), deadline)
            .await?;
        match &agreement {
            Some(id) => {
                let rec = record.get_or_insert_with(|| AgreementRecord {
                    channel: posted.channel.clone(),
                    thread_ts: posted.ts.clone(),
                    ..AgreementRecord::default()
                });
                rec.remember_post(&posted, activity);
                self.finish(Some(id), rec, &dedup_keys).await;
            }
            None => {
                self.finish(None, &AgreementRecord::default(), &dedup_keys)
                    .await
            }
        }
        Ok(Delivered::Posted {
            channel: posted.channel,
            ts: posted.ts,
        })
    }

    /// A `CreateAgreementRequest` is remembered for the intent it declares, not posted.
    /// Returns whether `activity` was one.
    async fn record_intent(
        &self,
        activity: &Activity,
        dedup_keys: &[String],
    ) -> Result<bool, StoreError> {
        if activity.kind != ActivityKind::RequestCreated || activity.outcome.is_failed() {
            return Ok(false);
        }
        if let (Some(request), Some(intent)) = (&activity.agreement_request_id, activity.intent) {
            let until = Utc::now() + INTENT_KEPT;
            self.store
                .put(Table::Intents, request, &intent, Some(until))
                .await?;
        }
        self.mark_seen(dedup_keys).await?;
        Ok(true)
    }

    /// Fills in what the event doesn't say: the intent of its request, the account's alias,
    /// and agreement details. Returns why details are missing, if they are.
    async fn complete(&self, activity: &mut Activity) -> Result<Option<String>, StoreError> {
        self.refine_kind(activity).await?;
        if activity.account_alias.is_none() {
            activity.account_alias = (self.accounts)()
                .iter()
                .find(|a| a.id.is_some() && a.id == activity.account_id)
                .and_then(|a| a.alias.clone());
        }
        Ok(self.enrich(activity).await)
    }

    /// The twin of a change already posted: updates that message in place. `Ok(None)` when
    /// there is no twin to merge into (or its message can no longer be edited).
    async fn update_twin(
        &self,
        rec: &mut AgreementRecord,
        activity: &Activity,
        note: Option<&str>,
        deadline: Instant,
    ) -> Result<Option<Delivered>, DeliveryError> {
        let now = Utc::now();
        let Some(post) = rec.posts.iter_mut().rev().find(|p| {
            same_change(&p.activity.kind, &activity.kind)
                && !p.origins.contains(&activity.origin)
                && now
                    .signed_duration_since(p.posted_at)
                    .to_std()
                    .is_ok_and(|age| age < MERGE_WINDOW)
        }) else {
            return Ok(None);
        };
        post.activity.merge(activity);
        post.activity.facts.fill_from(&rec.facts);
        post.origins.push(activity.origin);
        let n = render::notification(&post.activity, self.mention_for(&post.activity), note);
        let (channel, ts) = (post.channel.clone(), post.ts.clone());
        if remaining(deadline) < CALL_ALLOWANCE {
            return Err(DeliveryError::RetryAfter(Duration::from_secs(1)));
        }
        match self
            .api
            .update(&channel, &ts, &n.text, &n.blocks, SLACK_CALL_TIMEOUT)
            .await
        {
            Ok(()) => {
                rec.facts.fill_from(&activity.facts);
                Ok(Some(Delivered::Updated { channel, ts }))
            }
            // The message is gone or can't be edited (deleted by someone): post anew.
            Err(ApiError::Rejected(why)) => {
                tracing::warn!(%channel, %ts, %why, "could not update the earlier message; posting a new one");
                Ok(None)
            }
            Err(e) => Err(DeliveryError::Slack(e)),
        }
    }

    /// A new message, in the agreement's thread when it has one in this channel.
    async fn post_new(
        &self,
        activity: &mut Activity,
        record: Option<&AgreementRecord>,
        note: Option<&str>,
        deadline: Instant,
    ) -> Result<Posted, DeliveryError> {
        if let Some(rec) = record {
            activity.facts.fill_from(&rec.facts);
        }
        let channel = self.routes.channel_for(&activity.kind);
        let thread_ts = record
            .filter(|r| r.channel == channel)
            .map(|r| r.thread_ts.clone());
        let n = render::notification(activity, self.mention_for(activity), note);
        let message = ChannelMessage::new(channel, n.text, n.blocks)
            .in_thread(thread_ts, activity.kind.is_cancellation());
        self.post(&message, deadline).await
    }

    /// Posts, paced per channel, retrying what can be retried inside the deadline. An attempt
    /// starts only before the deadline, but once started it runs to its end.
    async fn post(
        &self,
        message: &ChannelMessage,
        deadline: Instant,
    ) -> Result<Posted, DeliveryError> {
        let pacer = self.pacer(&message.channel);
        let attempt = || async {
            // Only take a slot that leaves time for the call itself: a post cut off by our own
            // timeout may still have reached Slack, and its retry would post it twice.
            pacer
                .wait_at_most(remaining(deadline).saturating_sub(CALL_ALLOWANCE))
                .await
                .map_err(|wait| DeliveryError::RetryAfter(wait.max(self.post_interval)))?;
            self.api
                .post_message(message, SLACK_CALL_TIMEOUT)
                .await
                .map_err(DeliveryError::Slack)
        };
        let result = Retry::until(deadline)
            .run(
                attempt,
                |err, _| match err {
                    DeliveryError::Slack(ApiError::RateLimited(after)) => Some(*after),
                    DeliveryError::Slack(ApiError::Transient(_)) => Some(Duration::from_millis(200)),
                    _ => None,
                },
                |err, wait| {
                    tracing::warn!(channel = %message.channel, error = %err, wait_ms = wait.as_millis() as u64, "chat.postMessage failed; retrying within the deadline");
                    self.metrics.slack_retries.inc();
                },
            )
            .await;
        // Rate limited past the deadline: the sender retries after Slack's wait.
        result.map_err(|e| match e {
            DeliveryError::Slack(ApiError::RateLimited(after)) => DeliveryError::RetryAfter(after),
            other => other,
        })
    }

    /// Adds DescribeAgreement's details, waiting at most [`DETAILS_BUDGET`]; a cancellation
    /// or change first forgets what was cached. Returns why details are missing, if they are.
    async fn enrich(&self, activity: &mut Activity) -> Option<String> {
        let (Some(agreements), Some(id)) = (&self.agreements, &activity.agreement_id) else {
            return None;
        };
        if activity.kind != ActivityKind::Purchase {
            agreements.invalidate(id);
        }
        agreements
            .enrich(std::slice::from_mut(activity), DETAILS_BUDGET)
            .await
            .map(|why| why.user_message().to_owned())
    }

    fn mention_for(&self, activity: &Activity) -> Option<&str> {
        activity
            .kind
            .is_cancellation()
            .then_some(self.routes.cancellation_mention.as_deref())
            .flatten()
    }

    /// An `AcceptAgreementRequest` takes the intent of its `CreateAgreementRequest`.
    async fn refine_kind(&self, activity: &mut Activity) -> Result<(), StoreError> {
        if activity.kind != ActivityKind::Purchase || activity.origin != Origin::CloudTrail {
            return Ok(());
        }
        let Some(request) = &activity.agreement_request_id else {
            return Ok(());
        };
        if let Some(intent) = self.recall::<Intent>(Table::Intents, request).await? {
            activity.take_intent(intent);
        }
        Ok(())
    }

    /// Records what was posted: the agreement's thread and posts, and the delivery ids. Slack
    /// already has the message, so this is retried for a while rather than given up: a
    /// delivery id not recorded would be posted again on the sender's next retry.
    async fn finish(&self, agreement: Option<&str>, record: &AgreementRecord, keys: &[String]) {
        let write = || async {
            if let Some(id) = agreement {
                let until = Utc::now() + THREAD_KEPT;
                self.store
                    .put(Table::Agreements, id, record, Some(until))
                    .await?;
            }
            self.mark_seen(keys).await
        };
        let written = Retry::attempts(5)
            .run(
                write,
                |e: &StoreError, attempt| {
                    e.is_retryable()
                        .then(|| Duration::from_millis(200 * 2u64.pow(attempt)))
                },
                |e, wait| tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, "could not record a post; retrying"),
            )
            .await;
        if let Err(e) = written {
            tracing::error!(error = %e, fix = %e.fix(), "a post reached Slack but could not be recorded: a retry of this event may be posted again");
        }
    }

    /// Whether any of the delivery's ids was delivered before.
    async fn seen_any(&self, keys: &[String]) -> Result<bool, StoreError> {
        for key in keys {
            if self.store.get::<i64>(Table::Seen, key).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn mark_seen(&self, keys: &[String]) -> Result<(), StoreError> {
        let now = Utc::now();
        for key in keys {
            self.store
                .put(Table::Seen, key, &now.timestamp(), Some(now + SEEN_KEPT))
                .await?;
        }
        Ok(())
    }

    async fn recall<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.store.get(table, key).await?.map(|entry| entry.value))
    }
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}
