//! Shared state: a small versioned key-value store that several replicas can share.
//!
//! Three back ends behind one [`StateStore`]:
//! - **memory** (`StateStore::memory`): one process, gone at restart (demo, tests).
//! - **disk** (`StateStore::open_redb`): `state.redb` in a directory, an embedded `redb`
//!   database. It survives restarts but serves ONE process: redb locks the file.
//! - **DynamoDB** (`StateStore::open_dynamodb`): one table shared by every replica.
//!
//! Every value lives in a namespace ([`Table`]) under a string key, as JSON, with a
//! `version` (changes on every write) and an optional expiry. Conditional writes
//! ([`StateStore::insert_new`], [`StateStore::replace`]) are atomic in every back end, and
//! [`StateStore::claim`] builds exactly-once work with leases on top of them (the same code
//! for all back ends, in `claim.rs`).
//!
//! # Expiry
//! An entry whose `expires_at` is in the past is absent: reads return `None`, `insert_new`
//! overwrites it and `replace` fails. Expiry has one-second granularity (epoch seconds, as the
//! DynamoDB TTL attribute): an entry is live while `expires_at >= now` in whole seconds.
//! The disk store deletes expired entries in [`StateStore::prune_expired`] (call it at
//! start-up); DynamoDB deletes them itself, lazily.
//!
//! # Versions
//! Versions are opaque: compare them only for equality. Every write of a key that exists
//! (even expired) adds one; a key written for the first time starts from the clock in
//! microseconds. So a key that was deleted (or expired and removed) and is created again
//! never repeats a version that an old [`ClaimToken`] may still hold.
//!
//! # DynamoDB table
//! One table for all namespaces. Key schema and attributes:
//!
//! | attribute    | type          | meaning                                                  |
//! |--------------|---------------|----------------------------------------------------------|
//! | `pk`         | String, HASH  | partition key: `"<table>#<key>"`, e.g. `"seen#eb:1234"`   |
//! | `ver`        | Number        | the entry's version                                      |
//! | `val`        | String        | the value, JSON                                          |
//! | `expires_at` | Number        | epoch seconds; absent = never. The table's TTL attribute |
//!
//! No sort key, no indexes, billing mode `PAY_PER_REQUEST`. `open_dynamodb` creates such a
//! table when it is missing (and turns TTL on for `expires_at`); a stack that creates it
//! instead needs exactly this key schema and TTL setting.
//!
//! DynamoDB's TTL deletes expired items in the background, typically within a few days of
//! expiry, and until then reads and conditions still see them, so expired items must be
//! filtered out by the reader
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TTL.html>,
//! <https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ttl-expired-items.html>).
//! Hence every read checks `expires_at` and every condition treats `expires_at < :now` as
//! absent (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html>):
//! - `insert_new`: `attribute_not_exists(pk) OR expires_at < :now`
//! - `replace`: `ver = :expected AND (attribute_not_exists(expires_at) OR expires_at >= :now)`
//!
//! Reads are strongly consistent (`ConsistentRead`), so a read right after a write from
//! another replica sees it
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html>).
//! All writes are `UpdateItem` (so the version is computed by DynamoDB, atomically); a
//! failed `insert_new` returns the existing item in the same call via
//! `ReturnValuesOnConditionCheckFailure = ALL_OLD`
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_UpdateItem.html>).
//! Attribute names go through `ExpressionAttributeNames`, so none can clash with a reserved
//! word (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ReservedWords.html>).
//!
//! ## IAM permissions (on the table's ARN)
//! - always: `dynamodb:GetItem`, `dynamodb:UpdateItem`, `dynamodb:DeleteItem`,
//!   `dynamodb:DescribeTable`;
//! - optional: `dynamodb:DescribeTimeToLive` (start-up warns when TTL is off);
//! - only if the app is to create the table: `dynamodb:CreateTable`,
//!   `dynamodb:UpdateTimeToLive`.
//!
//! The endpoint comes from the SDK configuration, which honours `AWS_ENDPOINT_URL_DYNAMODB`
//! (<https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html>). Requests
//! time out quickly (1 s per attempt, 2 s in all, 3 attempts) so that an event handler learns
//! of an outage well within EventBridge's 5 s budget.
//!
//! # Cost
//! Each primitive is exactly one back-end call (one DynamoDB request); [`StateStore::calls`]
//! counts them:
//!
//! | operation | DynamoDB requests |
//! |---|---|
//! | `get` | 1 GetItem |
//! | `insert_new`, `insert_or_get`, `replace`, `put` | 1 UpdateItem |
//! | `delete` | 1 DeleteItem |
//! | `probe` | 3: GetItem, UpdateItem, DeleteItem |
//! | `claim` on a fresh, held or done key | 1 UpdateItem (a failed condition returns the item) |
//! | `claim` taking over an expired lease | 2 UpdateItem |
//! | `complete`, `release` | 1 UpdateItem (+1 GetItem only when `complete` is refused) |
//!
//! SDK retries of a request are not counted again.
//!
//! A retried conditional write whose first attempt landed but whose answer was lost fails its
//! condition on our own write: `insert_new` then says `None`, `replace` says `None`. Claims
//! recognise their own writes (same owner and lease; `done` at the next version), other
//! callers of the primitives must allow for it.
//!
//! Conditions are atomic within one table in one region; a global table's replicas in other
//! regions are only eventually consistent, so all replicas must use the same region.

mod claim;
mod disk;
mod dynamo;
mod error;
mod memory;
#[cfg(test)]
mod moto;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use claim::{Claim, ClaimToken};
pub use error::{OpenError, StoreError};

/// A namespace of keys. Each is a redb table on disk and a `pk` prefix in DynamoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// Delivery ids already handled (de-duplication).
    Seen,
    /// Agreement id → its Slack thread and recent posts.
    Agreements,
    /// Agreement request id → the intent its request declared.
    Intents,
    /// Exactly-once work: see [`StateStore::claim`].
    Claims,
    /// Leases held by one replica at a time (e.g. the digest's scheduler).
    Leases,
    /// Replay protection (request ids already accepted).
    Replays,
    /// Scratch items of [`StateStore::probe`].
    Probe,
}

impl Table {
    pub const ALL: [Table; 7] = [
        Table::Seen,
        Table::Agreements,
        Table::Intents,
        Table::Claims,
        Table::Leases,
        Table::Replays,
        Table::Probe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seen => "seen",
            Self::Agreements => "agreements",
            Self::Intents => "intents",
            Self::Claims => "claims",
            Self::Leases => "leases",
            Self::Replays => "replays",
            Self::Probe => "probe",
        }
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value read back, with its version (for [`StateStore::replace`]) and expiry (whole
/// seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry<T> {
    pub value: T,
    pub version: u64,
    pub expires_at: Option<DateTime<Utc>>,
}

/// The result of [`StateStore::insert_or_get`].
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted<T> {
    /// Written, with this version.
    New(u64),
    /// A live entry was there already; it is unchanged.
    Existing(Entry<T>),
}

/// Which back end a store uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Disk,
    DynamoDb,
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory",
            Self::Disk => "disk",
            Self::DynamoDb => "dynamodb",
        })
    }
}

/// Back-end calls made so far, per kind; each is one DynamoDB request for that back end
/// (`get` = GetItem, `insert`/`replace`/`put` = UpdateItem, `delete` = DeleteItem). SDK
/// retries of one call are not counted again; calls that failed are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallCounts {
    pub get: u64,
    pub insert: u64,
    pub replace: u64,
    pub put: u64,
    pub delete: u64,
}

impl CallCounts {
    pub fn total(&self) -> u64 {
        self.get + self.insert + self.replace + self.put + self.delete
    }

    /// The calls made between `earlier` and `self`.
    pub fn since(&self, earlier: &CallCounts) -> CallCounts {
        CallCounts {
            get: self.get.saturating_sub(earlier.get),
            insert: self.insert.saturating_sub(earlier.insert),
            replace: self.replace.saturating_sub(earlier.replace),
            put: self.put.saturating_sub(earlier.put),
            delete: self.delete.saturating_sub(earlier.delete),
        }
    }
}

#[derive(Default)]
struct Counters {
    get: AtomicU64,
    insert: AtomicU64,
    replace: AtomicU64,
    put: AtomicU64,
    delete: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The store. Cheap to clone: clones share the back end and the call counts.
#[derive(Clone)]
pub struct StateStore {
    backend: Backend,
    calls: Arc<Counters>,
    /// Set when a damaged state file was moved aside at start-up: what happened, for the log,
    /// `/readyz` and `check`.
    recovered: Option<Arc<str>>,
}

#[derive(Clone)]
enum Backend {
    Memory(memory::Memory),
    Disk(disk::Disk),
    DynamoDb(dynamo::Dynamo),
}

/// Prints only the kind: no paths, endpoints or credentials.
impl fmt::Debug for StateStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StateStore")
            .field("kind", &self.kind().to_string())
            .finish()
    }
}

/// A stored entry as the back ends hold it: the value still JSON, expiry in epoch seconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub version: u64,
    pub expires_at: Option<i64>,
    pub json: String,
}

impl Record {
    /// Live while `expires_at >= now` (whole seconds), as DynamoDB's conditions say it.
    pub fn live_at(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|e| e >= now.timestamp())
    }

    fn decode<T: DeserializeOwned>(self, table: Table, key: &str) -> Result<Entry<T>, StoreError> {
        let value = serde_json::from_str(&self.json).map_err(|e| StoreError::Corrupt {
            table,
            key: key.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Entry {
            value,
            version: self.version,
            expires_at: self
                .expires_at
                .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0)),
        })
    }
}

/// The version a key gets when written for the first time (see "Versions" above): one
/// more than the clock in microseconds.
pub(crate) fn version_base(now: DateTime<Utc>) -> u64 {
    u64::try_from(now.timestamp_micros()).unwrap_or(0)
}

/// When a write may happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Condition {
    /// No live entry (absent or expired).
    Absent,
    /// A live entry with this version.
    Version(u64),
    /// Always.
    Any,
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Written {
    /// Written, with this version.
    Yes(u64),
    /// The condition failed. For [`Condition::Absent`], the live entry that was there.
    No(Option<Record>),
}

/// The write rule of the memory and disk back ends (DynamoDB states the same rule as
/// condition and update expressions): the new record, or why not.
pub(crate) fn apply(
    existing: Option<&Record>,
    condition: Condition,
    json: String,
    expires_at: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Record, Written> {
    let live = existing.filter(|r| r.live_at(now));
    let allowed = match condition {
        Condition::Absent => live.is_none(),
        Condition::Version(v) => live.is_some_and(|r| r.version == v),
        Condition::Any => true,
    };
    if !allowed {
        return Err(Written::No(match condition {
            Condition::Absent => live.cloned(),
            _ => None,
        }));
    }
    let version = existing
        .map_or_else(|| version_base(now), |r| r.version)
        .wrapping_add(1);
    Ok(Record {
        version,
        expires_at,
        json,
    })
}

fn encode<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(StoreError::Encode)
}

/// redb panics on some damaged files (a truncated one) instead of returning an error: opening
/// is done on a thread whose panic becomes [`OpenError::Damaged`], so a bad file never takes
/// the process down (nor crash-loops a container).
fn open_catching_panics(dir: &Path) -> Result<StateStore, OpenError> {
    quiet_panics::install();
    let owned = dir.to_owned();
    let opened = std::thread::spawn(move || {
        quiet_panics::QUIET.with(|q| q.set(true));
        StateStore::open_redb(&owned)
    })
    .join();
    opened.unwrap_or_else(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("redb failed while opening it");
        Err(OpenError::Damaged {
            path: dir.join(disk::FILE_NAME),
            reason: reason.chars().take(200).collect(),
        })
    })
}

/// A panic on the thread that opens the file is expected (and becomes an error with its
/// message): it is not printed as a crash. Every other panic goes to the hook in place before.
mod quiet_panics {
    use std::cell::Cell;
    use std::sync::Once;

    thread_local! {
        pub static QUIET: Cell<bool> = const { Cell::new(false) };
    }

    pub fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if !QUIET.with(Cell::get) {
                    previous(info);
                }
            }));
        });
    }
}

fn epoch_seconds(t: Option<DateTime<Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp())
}

impl StateStore {
    fn with(backend: Backend) -> Self {
        Self {
            backend,
            calls: Arc::default(),
            recovered: None,
        }
    }

    /// When a damaged state file was moved aside at start-up: which file, where to, and why.
    pub fn recovered(&self) -> Option<&str> {
        self.recovered.as_deref()
    }

    /// A store in this process's memory.
    pub fn memory() -> Self {
        Self::with(Backend::Memory(memory::Memory::default()))
    }

    /// Opens (or creates) `state.redb` in `dir`, creating `dir` if needed. Fails when
    /// another process has it open: one directory serves one replica.
    pub fn open_redb(dir: &Path) -> Result<Self, OpenError> {
        Ok(Self::with(Backend::Disk(disk::Disk::open(dir)?)))
    }

    /// [`open_redb`](Self::open_redb), but a damaged file is an error, never a panic, and an
    /// empty (0-byte) file counts as damaged: redb would silently start it afresh, forgetting
    /// every delivery. Changes nothing on disk when the file is damaged (for `check`).
    pub fn open_redb_checked(dir: &Path) -> Result<Self, OpenError> {
        let path = dir.join(disk::FILE_NAME);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            return Err(OpenError::Damaged {
                path,
                reason: "the file is empty".into(),
            });
        }
        open_catching_panics(dir)
    }

    /// [`open_redb`](Self::open_redb) that survives a damaged `state.redb` (truncated, empty,
    /// garbage, or one that makes redb panic): the file is moved aside, to a name that says
    /// when and why, and a fresh store is opened; [`recovered`](Self::recovered) says so.
    /// A file that is not a regular file (a device, a dangling link) is never moved: that is
    /// the operator's setup, and its error stands. So is a directory that can't be written.
    pub fn open_redb_recovering(dir: &Path) -> Result<Self, OpenError> {
        let path = dir.join(disk::FILE_NAME);
        let regular = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file());
        let why = match Self::open_redb_checked(dir) {
            Ok(store) => return Ok(store),
            Err(OpenError::Damaged { reason, .. }) if regular => reason,
            Err(e) => return Err(e),
        };
        let stamp = Utc::now().format("%Y%m%dT%H%M%SZ");
        let aside = dir.join(format!("{}.damaged-{stamp}", disk::FILE_NAME));
        std::fs::rename(&path, &aside).map_err(|e| OpenError::Unwritable {
            dir: dir.to_owned(),
            reason: format!("could not move the damaged {} aside: {e}", path.display()),
        })?;
        let mut store = Self::open_redb_checked(dir)?;
        store.recovered = Some(
            format!(
                "{} was damaged ({}) and was moved aside to {}; a fresh store was started, so events delivered again soon may be posted a second time and new messages start new threads",
                path.display(),
                why.chars().take(200).collect::<String>(),
                aside.display()
            )
            .into(),
        );
        Ok(store)
    }

    /// Uses the DynamoDB table `table`, creating it (with TTL on `expires_at`) when it does
    /// not exist. Checks that an existing table has the key schema above.
    pub async fn open_dynamodb(
        sdk: &aws_config::SdkConfig,
        table: &str,
    ) -> Result<Self, OpenError> {
        let dynamo = dynamo::Dynamo::new(sdk, table);
        dynamo.ensure_table().await?;
        Ok(Self::with(Backend::DynamoDb(dynamo)))
    }

    /// Uses the DynamoDB table `table` without a single call: no check that it exists, no
    /// creation. For callers that manage the table themselves (and for tests).
    pub fn connect_dynamodb(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        Self::with(Backend::DynamoDb(dynamo::Dynamo::new(sdk, table)))
    }

    pub fn kind(&self) -> StoreKind {
        match self.backend {
            Backend::Memory(_) => StoreKind::Memory,
            Backend::Disk(_) => StoreKind::Disk,
            Backend::DynamoDb(_) => StoreKind::DynamoDb,
        }
    }

    /// The calls made so far by this store and its clones.
    pub fn calls(&self) -> CallCounts {
        let c = &self.calls;
        CallCounts {
            get: c.get.load(Ordering::Relaxed),
            insert: c.insert.load(Ordering::Relaxed),
            replace: c.replace.load(Ordering::Relaxed),
            put: c.put.load(Ordering::Relaxed),
            delete: c.delete.load(Ordering::Relaxed),
        }
    }

    async fn raw_get(&self, table: Table, key: &str) -> Result<Option<Record>, StoreError> {
        bump(&self.calls.get);
        let now = Utc::now();
        let record = match &self.backend {
            Backend::Memory(m) => m.get(table, key),
            Backend::Disk(d) => d.get(table, key).await?,
            Backend::DynamoDb(d) => d.get(table, key).await?,
        };
        Ok(record.filter(|r| r.live_at(now)))
    }

    async fn raw_write(
        &self,
        table: Table,
        key: &str,
        condition: Condition,
        json: String,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Written, StoreError> {
        bump(match condition {
            Condition::Absent => &self.calls.insert,
            Condition::Version(_) => &self.calls.replace,
            Condition::Any => &self.calls.put,
        });
        let now = Utc::now();
        let expires_at = epoch_seconds(expires_at);
        match &self.backend {
            Backend::Memory(m) => Ok(m.write(table, key, condition, json, expires_at, now)),
            Backend::Disk(d) => d.write(table, key, condition, json, expires_at, now).await,
            Backend::DynamoDb(d) => d.write(table, key, condition, json, expires_at, now).await,
        }
    }

    /// The live entry under `key`, or `None` (absent or expired).
    pub async fn get<T: DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<Entry<T>>, StoreError> {
        self.raw_get(table, key)
            .await?
            .map(|r| r.decode(table, key))
            .transpose()
    }

    /// Writes `value` unless a live entry exists: `Some(version)` when written, `None` when
    /// not. An expired entry is overwritten.
    pub async fn insert_new<T: Serialize + ?Sized>(
        &self,
        table: Table,
        key: &str,
        value: &T,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Option<u64>, StoreError> {
        let json = encode(value)?;
        match self
            .raw_write(table, key, Condition::Absent, json, expires_at)
            .await?
        {
            Written::Yes(v) => Ok(Some(v)),
            Written::No(_) => Ok(None),
        }
    }

    /// [`insert_new`](Self::insert_new) that, when a live entry exists, returns it, in the
    /// same single call.
    pub async fn insert_or_get<V: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        table: Table,
        key: &str,
        value: &V,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Inserted<T>, StoreError> {
        let json = encode(value)?;
        match self
            .raw_write(table, key, Condition::Absent, json, expires_at)
            .await?
        {
            Written::Yes(v) => Ok(Inserted::New(v)),
            Written::No(Some(existing)) => Ok(Inserted::Existing(existing.decode(table, key)?)),
            // A DynamoDB look-alike that does not return the item on a failed condition:
            // read it (one more call, only there).
            Written::No(None) => match self.raw_get(table, key).await? {
                Some(existing) => Ok(Inserted::Existing(existing.decode(table, key)?)),
                None => Err(StoreError::Unavailable {
                    reason: format!("{table}/{key} changed during the insert; try again"),
                }),
            },
        }
    }

    /// Compare-and-set: writes `value` if the live entry's version is still
    /// `expected_version`. `Some(new version)`, or `None` when the version moved on or the
    /// entry is gone (deleted or expired).
    pub async fn replace<T: Serialize + ?Sized>(
        &self,
        table: Table,
        key: &str,
        expected_version: u64,
        value: &T,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<Option<u64>, StoreError> {
        let json = encode(value)?;
        match self
            .raw_write(
                table,
                key,
                Condition::Version(expected_version),
                json,
                expires_at,
            )
            .await?
        {
            Written::Yes(v) => Ok(Some(v)),
            Written::No(_) => Ok(None),
        }
    }

    /// Writes `value` whatever is there.
    pub async fn put<T: Serialize + ?Sized>(
        &self,
        table: Table,
        key: &str,
        value: &T,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let json = encode(value)?;
        match self
            .raw_write(table, key, Condition::Any, json, expires_at)
            .await?
        {
            Written::Yes(_) => Ok(()),
            Written::No(_) => Err(StoreError::Internal {
                reason: format!("{table}/{key}: unconditional write refused"),
            }),
        }
    }

    /// Removes `key` (nothing happens when it is absent).
    pub async fn delete(&self, table: Table, key: &str) -> Result<(), StoreError> {
        bump(&self.calls.delete);
        match &self.backend {
            Backend::Memory(m) => {
                m.delete(table, key);
                Ok(())
            }
            Backend::Disk(d) => d.delete(table, key).await,
            Backend::DynamoDb(d) => d.delete(table, key).await,
        }
    }

    /// Deletes expired entries; returns how many. The disk store needs this (call it at
    /// start-up); in memory it frees memory; DynamoDB's TTL does it by itself (0).
    pub async fn prune_expired(&self) -> Result<usize, StoreError> {
        let now = Utc::now();
        match &self.backend {
            Backend::Memory(m) => Ok(m.prune(now)),
            Backend::Disk(d) => d.prune(now).await,
            Backend::DynamoDb(_) => Ok(0),
        }
    }

    /// Checks that the store works end to end: reads, conditionally writes and deletes a
    /// scratch item of its own (3 calls). For `check` and `/readyz`.
    pub async fn probe(&self) -> Result<(), StoreError> {
        let key = uuid::Uuid::new_v4().to_string();
        let expires_at = Some(Utc::now() + chrono::Duration::minutes(5));
        if self.get::<u8>(Table::Probe, &key).await?.is_some() {
            return Err(StoreError::Internal {
                reason: format!("probe: a fresh key {key} was found"),
            });
        }
        if self
            .insert_new(Table::Probe, &key, &1u8, expires_at)
            .await?
            .is_none()
        {
            return Err(StoreError::Internal {
                reason: format!("probe: a fresh key {key} could not be inserted"),
            });
        }
        self.delete(Table::Probe, &key).await
    }
}
