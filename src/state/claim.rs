//! Exactly-once work across replicas: claims with leases, built on the store's primitives
//! (the same code for every back end).
//!
//! A claim is one item in [`Table::Claims`]:
//! `{"state":"held","owner":…,"lease_until":…}` while someone works on it, then
//! `{"state":"done","value":…}` once the outcome is recorded.
//!
//! - The first caller inserts `held` ([`StateStore::insert_or_get`]) and wins.
//! - While the holder's lease runs, others get [`Claim::Busy`].
//! - After the lease ran out (the holder died or hangs), the next caller takes over with a
//!   compare-and-set on the version it read, so of several replicas racing for it exactly
//!   one wins. The old holder's [`StateStore::complete`] then fails with
//!   [`StoreError::ClaimLost`]: its outcome is not recorded, the new holder's is.
//! - Once completed, everyone gets [`Claim::Done`] with the recorded value, until
//!   `keep_until`; after that the key is free again.
//! - [`StateStore::release`] gives a claim up so that the next caller wins at once.
//!
//! Cost in back-end calls (= DynamoDB requests): `claim` on a fresh key, a held key or a done
//! key: 1 (a conditional UpdateItem, which returns the existing item when it fails);
//! taking over an expired lease: 2 (that, plus the compare-and-set); `complete`: 1;
//! `release`: 1.
//!
//! A held claim's item expires [`HELD_RETENTION`] after its lease, so claims abandoned for
//! good are eventually deleted; expiry counts on the store's clock, leases on the `now` the
//! caller passes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{Entry, Inserted, StateStore, StoreError, Table};

/// How long a held claim's item stays after its lease ran out (then it expires).
pub const HELD_RETENTION: chrono::Duration = chrono::Duration::days(1);

/// How many times `claim` re-reads when the item changes under it before it answers `Busy`.
const ROUNDS: usize = 3;

/// What [`StateStore::claim`] found.
#[derive(Debug, PartialEq)]
pub enum Claim<T> {
    /// The work is yours: do it, then [`StateStore::complete`] (or
    /// [`StateStore::release`]).
    Won(ClaimToken),
    /// Someone else holds it until `until`; ask again later.
    Busy { until: DateTime<Utc> },
    /// It was done already; this is the recorded outcome.
    Done(T),
}

/// Proof of a won claim, for [`StateStore::complete`] or [`StateStore::release`].
#[derive(Debug, PartialEq, Eq)]
#[must_use = "complete or release the claim"]
pub struct ClaimToken {
    key: String,
    owner: String,
    version: u64,
    lease_until: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    /// The claim's item did not exist before: nobody held this key in the last
    /// [`HELD_RETENTION`] (or since it was completed and forgotten).
    first: bool,
}

impl ClaimToken {
    /// Whether this claim is the first on its key (nobody held it before, within the item's
    /// retention), so no earlier holder can have done the work. A caller that checks "already
    /// done?" before claiming need not check again after a first claim.
    pub fn is_first(&self) -> bool {
        self.first
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// When the lease runs out: finish (complete) before then, or another owner may take
    /// the claim over.
    pub fn lease_until(&self) -> DateTime<Utc> {
        self.lease_until
    }

    /// The version of the claim's item this token holds.
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// The stored item.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "state", rename_all = "lowercase")]
enum ClaimItem<T> {
    Held {
        owner: String,
        lease_until: DateTime<Utc>,
    },
    Done {
        value: T,
    },
}

impl StateStore {
    /// Exactly-once work across replicas: the first caller wins; while the holder's lease
    /// runs, others get Busy; after the lease expires (the holder died) the next caller
    /// takes it over; once completed, everyone gets Done(value).
    ///
    /// `now` is the caller's clock, against which leases are judged. After a few rounds of
    /// contention (the item keeps changing under it) this answers `Busy { until: now }`:
    /// ask again.
    ///
    /// `owner` should name this attempt, not just this replica (e.g. replica id and request
    /// id): finding a held item with the same owner and the same `lease_until` is taken as
    /// this very call's own write, retried by the SDK after a lost answer, and answered `Won`.
    pub async fn claim<T: DeserializeOwned>(
        &self,
        key: &str,
        owner: &str,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Claim<T>, StoreError> {
        let lease = chrono::Duration::from_std(lease).map_err(|e| StoreError::Internal {
            reason: format!("claim {key}: lease too long: {e}"),
        })?;
        let lease_until = now + lease;
        let expires_at = lease_until + HELD_RETENTION;
        let held = ClaimItem::<()>::Held {
            owner: owner.to_owned(),
            lease_until,
        };
        let won = |version, first| {
            Claim::Won(ClaimToken {
                key: key.to_owned(),
                owner: owner.to_owned(),
                version,
                lease_until,
                expires_at,
                first,
            })
        };
        for _ in 0..ROUNDS {
            let existing: Entry<ClaimItem<T>> = match self
                .insert_or_get(Table::Claims, key, &held, Some(expires_at))
                .await?
            {
                Inserted::New(version) => return Ok(won(version, true)),
                Inserted::Existing(entry) => entry,
            };
            match existing.value {
                ClaimItem::Done { value } => return Ok(Claim::Done(value)),
                // Our own write, whose answer was lost and retried by the SDK.
                ClaimItem::Held {
                    owner: ref holder,
                    lease_until: until,
                } if holder == owner && until == lease_until => {
                    return Ok(won(existing.version, false))
                }
                ClaimItem::Held {
                    lease_until: until, ..
                } if until > now => return Ok(Claim::Busy { until }),
                ClaimItem::Held { .. } => {
                    if let Some(version) = self
                        .replace(
                            Table::Claims,
                            key,
                            existing.version,
                            &held,
                            Some(expires_at),
                        )
                        .await?
                    {
                        return Ok(won(version, false));
                    }
                    // Someone else took it over (or completed, or released) first: look again.
                }
            }
        }
        Ok(Claim::Busy { until: now })
    }

    /// Records the outcome of won work: from now on (until `keep_until`) every `claim` of the
    /// key answers `Done(value)`. Fails with [`StoreError::ClaimLost`] when the lease ran out
    /// and another owner took the claim over meanwhile (then nothing is recorded; if the
    /// lease ran out but nobody took over, the outcome is recorded).
    pub async fn complete<T: Serialize>(
        &self,
        token: ClaimToken,
        value: &T,
        keep_until: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let done = ClaimItem::Done { value };
        if self
            .replace(
                Table::Claims,
                &token.key,
                token.version,
                &done,
                Some(keep_until),
            )
            .await?
            .is_some()
        {
            return Ok(());
        }
        // Did our own write land, with its answer lost and the SDK's retry refused? Then the
        // item is `done` at exactly the next version. (Only on this failure path: one read.)
        let now = self
            .get::<ClaimItem<serde::de::IgnoredAny>>(Table::Claims, &token.key)
            .await?;
        match now {
            Some(Entry {
                value: ClaimItem::Done { .. },
                version,
                ..
            }) if version == token.version.wrapping_add(1) => Ok(()),
            _ => Err(StoreError::ClaimLost { key: token.key }),
        }
    }

    /// Gives a won claim up (the work failed): the next `claim` wins at once. A claim that
    /// was already taken over is left alone (`Ok`).
    pub async fn release(&self, token: ClaimToken) -> Result<(), StoreError> {
        // Not a delete: the item keeps its version history, so no old token can ever match
        // a later holder's item.
        let free = ClaimItem::<()>::Held {
            owner: token.owner,
            lease_until: DateTime::<Utc>::UNIX_EPOCH,
        };
        self.replace(
            Table::Claims,
            &token.key,
            token.version,
            &free,
            Some(token.expires_at),
        )
        .await?;
        Ok(())
    }
}
