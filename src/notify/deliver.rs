//! Turning one received activity into exactly one Slack message, within the sender's deadline.
//!
//! - Nothing twice: every delivery id (`eb:`, `ct:`, `mp:`) is remembered once Slack has the
//!   message; a delivery seen before is acknowledged and not posted.
//! - One message per change: a purchase (or cancellation) usually arrives twice, as the
//!   CloudTrail call (who) and as Marketplace's event (product, seller). The first to arrive is
//!   posted; the second, if it comes within [`MERGE_WINDOW`], updates that message in place
//!   with `chat.update`, so the channel shows one complete message.
//! - One thread per agreement: the first message about an agreement becomes its thread; later
//!   amendments, warnings and cancellations go there (a cancellation is also broadcast).
//! - Nothing lost: the caller answers 2xx only when this returns `Ok`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::event::Received;
use super::store::{Store, StoreError, Table};
use crate::aws::agreements::Agreements;
use crate::domain::Account;
use crate::domain::{Activity, ActivityKind, AgreementFacts, Intent, Origin};
use crate::metrics::Metrics;
use crate::pacer::Pacer;
use crate::slack::render;
use crate::slack::retry::Retry;
use crate::slack::web_api::{ApiError, ChannelMessage, Posted, SlackApi};
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
        let special = if kind.is_purchase() {
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
    accounts: Vec<Account>,
    api: SlackApi,
    routes: Routes,
    store: Store,
    /// Least time between two posts to one channel.
    post_interval: Duration,
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

impl Notifier {
    pub fn new(
        out: SlackOut,
        store: Store,
        metrics: Metrics,
        agreements: Option<Agreements>,
        accounts: Vec<Account>,
    ) -> Self {
        Self {
            metrics,
            agreements,
            accounts,
            api: out.api,
            routes: out.routes,
            store,
            post_interval: out.post_interval,
            pacers: Mutex::default(),
            locks: Mutex::default(),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn pacer(&self, channel: &str) -> Arc<Pacer> {
        let mut pacers = lock(&self.pacers);
        pacers
            .entry(channel.to_owned())
            .or_insert_with(|| Arc::new(Pacer::new(self.post_interval)))
            .clone()
    }

    /// One lock per agreement (or per delivery without one): the two reports of a purchase
    /// arriving together must not both post. Locks of finished deliveries are dropped.
    fn lock_for(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = lock(&self.locks);
        locks.retain(|_, l| Arc::strong_count(l) > 1);
        locks.entry(key.to_owned()).or_default().clone()
    }

    /// Delivers within `deadline`. `Ok` means Slack has it (or it was a duplicate).
    pub async fn deliver(
        &self,
        received: Received,
        deadline: Instant,
    ) -> Result<Delivered, DeliveryError> {
        let Received {
            mut activity,
            dedup_keys,
        } = received;
        let lock_key = activity
            .agreement_id
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_else(|| dedup_keys.first().cloned().unwrap_or_default());
        let lock = self.lock_for(&lock_key);
        let _guard = lock.lock().await;

        if self.seen_any(&dedup_keys).await {
            self.metrics.duplicates_dropped.inc();
            return Ok(Delivered::Duplicate);
        }
        if self.record_intent(&activity, &dedup_keys).await {
            return Ok(Delivered::Recorded);
        }
        let note = self.complete(&mut activity).await;
        let agreement = activity.agreement_id.as_ref().map(|id| id.to_string());
        let mut record = match &agreement {
            Some(id) => self.recall::<AgreementRecord>(Table::Agreements, id).await,
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
            None => self.mark_seen(&dedup_keys).await,
        }
        Ok(Delivered::Posted {
            channel: posted.channel,
            ts: posted.ts,
        })
    }

    /// A `CreateAgreementRequest` is remembered for the intent it declares, not posted.
    /// Returns whether `activity` was one.
    async fn record_intent(&self, activity: &Activity, dedup_keys: &[String]) -> bool {
        if activity.kind != ActivityKind::RequestCreated || activity.outcome.is_failed() {
            return false;
        }
        if let (Some(request), Some(intent)) = (&activity.agreement_request_id, activity.intent) {
            self.remember(Table::Intents, request, &intent).await;
        }
        self.mark_seen(dedup_keys).await;
        true
    }

    /// Fills in what the event doesn't say: the intent of its request, the account's alias,
    /// and agreement details. Returns why details are missing, if they are.
    async fn complete(&self, activity: &mut Activity) -> Option<String> {
        self.refine_kind(activity).await;
        if activity.account_alias.is_none() {
            activity.account_alias = self
                .accounts
                .iter()
                .find(|a| a.id.is_some() && a.id == activity.account_id)
                .and_then(|a| a.alias.clone());
        }
        self.enrich(activity).await
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
        let timeout = remaining(deadline).max(CALL_ALLOWANCE);
        match self
            .api
            .update(&channel, &ts, &n.text, &n.blocks, timeout)
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

    /// Posts, paced per channel, retrying what can be retried inside the deadline.
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
            let timeout = remaining(deadline).max(CALL_ALLOWANCE);
            self.api
                .post_message(message, timeout)
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
    async fn refine_kind(&self, activity: &mut Activity) {
        if activity.kind != ActivityKind::Purchase || activity.origin != Origin::CloudTrail {
            return;
        }
        let Some(request) = &activity.agreement_request_id else {
            return;
        };
        if let Some(intent) = self.recall::<Intent>(Table::Intents, request).await {
            activity.take_intent(intent);
        }
    }

    async fn finish(&self, agreement: Option<&str>, record: &AgreementRecord, keys: &[String]) {
        if let Some(id) = agreement {
            self.remember(Table::Agreements, id, record).await;
        }
        self.mark_seen(keys).await;
    }

    async fn seen_any(&self, keys: &[String]) -> bool {
        for key in keys {
            if self.recall::<i64>(Table::Seen, key).await.is_some() {
                return true;
            }
        }
        false
    }

    async fn mark_seen(&self, keys: &[String]) {
        let now = Utc::now().timestamp();
        let entries: Vec<(String, i64)> = keys.iter().map(|k| (k.clone(), now)).collect();
        if let Err(e) = self.store.put_all(Table::Seen, &entries).await {
            log_store_error("remember delivery ids", &e);
        }
    }

    /// Reads from the store; a failing store reads as "not known" (risking a duplicate
    /// rather than losing a message).
    async fn recall<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        table: Table,
        key: &str,
    ) -> Option<T> {
        match self.store.get(table, key).await {
            Ok(v) => v,
            Err(e) => {
                log_store_error("read", &e);
                None
            }
        }
    }

    async fn remember<T: Serialize>(&self, table: Table, key: &str, value: &T) {
        if let Err(e) = self.store.put(table, key, value).await {
            log_store_error("write", &e);
        }
    }
}

fn log_store_error(what: &str, e: &StoreError) {
    tracing::error!(error = %e, "state store could not {what}; duplicates may be posted after a restart until STATE_DIR is writable again");
}

fn remaining(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}
