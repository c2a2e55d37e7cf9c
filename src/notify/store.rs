//! The notifier's memory: which deliveries were already posted (de-duplication) and, per
//! agreement, the Slack thread its messages go to. On disk under `STATE_DIR` (an embedded
//! `redb` database, so it survives restarts), or in memory when there is no writable
//! `STATE_DIR`.
//!
//! Disk access runs on tokio's blocking pool, never on the async workers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::sync::lock;
use redb::{Database, ReadableTableMetadata, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One key-value table per kind of fact; values are JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Table {
    /// delivery id (`eb:…`, `ct:…`, `mp:…`) → when it was posted (unix seconds).
    Seen,
    /// agreement id → its thread and recent posts.
    Agreements,
    /// agreement request id → the intent its `CreateAgreementRequest` declared.
    Intents,
}

impl Table {
    fn definition(self) -> TableDefinition<'static, &'static str, &'static [u8]> {
        TableDefinition::new(match self {
            Self::Seen => "seen",
            Self::Agreements => "agreements",
            Self::Intents => "intents",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store: {0}")]
    Db(Box<redb::Error>),
    #[error("state store value: {0}")]
    Json(#[from] serde_json::Error),
    #[error("state store task: {0}")]
    Join(#[from] tokio::task::JoinError),
}

macro_rules! db_err {
    ($e:expr) => {
        $e.map_err(|e| StoreError::Db(Box::new(e.into())))
    };
}

#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// What could not be written to disk (a full or failing disk), kept here so that
    /// de-duplication and threads still hold until restart. redb refuses every write after one
    /// failed, so without this every EventBridge retry would be posted again.
    unwritten: Arc<Mutex<MemoryTables>>,
}

/// The in-memory stand-in: the same tables in one map.
type MemoryTables = HashMap<(Table, String), Vec<u8>>;

#[derive(Clone)]
enum Backend {
    Disk(Arc<Database>),
    Memory(Arc<Mutex<MemoryTables>>),
}

impl Store {
    pub fn memory() -> Self {
        Self {
            backend: Backend::Memory(Arc::default()),
            unwritten: Arc::default(),
        }
    }

    /// Opens (or creates) `state.redb` in `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        db_err!(std::fs::create_dir_all(dir))?;
        let db = db_err!(Database::create(dir.join("state.redb")))?;
        // Create the tables up front so readers never meet a missing one.
        let txn = db_err!(db.begin_write())?;
        for table in [Table::Seen, Table::Agreements, Table::Intents] {
            db_err!(txn.open_table(table.definition()))?;
        }
        db_err!(txn.commit())?;
        Ok(Self {
            backend: Backend::Disk(Arc::new(db)),
            unwritten: Arc::default(),
        })
    }

    pub fn is_persistent(&self) -> bool {
        matches!(self.backend, Backend::Disk(_))
    }

    pub async fn get<T: DeserializeOwned + Send + 'static>(
        &self,
        table: Table,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let unwritten = lock(&self.unwritten).get(&(table, key.to_owned())).cloned();
        if let Some(b) = unwritten {
            return Ok(Some(serde_json::from_slice(&b)?));
        }
        let bytes = match &self.backend {
            Backend::Memory(map) => lock(map).get(&(table, key.to_owned())).cloned(),
            Backend::Disk(db) => {
                let db = db.clone();
                let key = key.to_owned();
                tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, StoreError> {
                    let txn = db_err!(db.begin_read())?;
                    let t = db_err!(txn.open_table(table.definition()))?;
                    Ok(db_err!(t.get(key.as_str()))?.map(|v| v.value().to_vec()))
                })
                .await??
            }
        };
        Ok(match bytes {
            Some(b) => Some(serde_json::from_slice(&b)?),
            None => None,
        })
    }

    /// Writes several entries in one transaction.
    pub async fn put_all<T: Serialize>(
        &self,
        table: Table,
        entries: &[(String, T)],
    ) -> Result<(), StoreError> {
        let encoded = entries
            .iter()
            .map(|(k, v)| Ok((k.clone(), serde_json::to_vec(v)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        match &self.backend {
            Backend::Memory(map) => {
                let mut map = lock(map);
                for (k, v) in encoded {
                    map.insert((table, k), v);
                }
                Ok(())
            }
            Backend::Disk(db) => {
                let db = db.clone();
                let kept = encoded.clone();
                let written = tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
                    let txn = db_err!(db.begin_write())?;
                    {
                        let mut t = db_err!(txn.open_table(table.definition()))?;
                        for (k, v) in &encoded {
                            db_err!(t.insert(k.as_str(), v.as_slice()))?;
                        }
                    }
                    db_err!(txn.commit())
                })
                .await?;
                // Kept until written, so a later successful write is not shadowed.
                let mut unwritten = lock(&self.unwritten);
                for (k, v) in kept {
                    match written {
                        Ok(()) => unwritten.remove(&(table, k)),
                        Err(_) => unwritten.insert((table, k), v),
                    };
                }
                written
            }
        }
    }

    pub async fn put<T: Serialize>(
        &self,
        table: Table,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        self.put_all(table, &[(key.to_owned(), value)]).await
    }

    /// Forgets de-duplication entries older than `cutoff` (unix seconds). EventBridge retries
    /// for at most 24 hours, so a week is plenty.
    pub async fn prune_seen(&self, cutoff: i64) -> Result<usize, StoreError> {
        let old = move |v: &[u8]| serde_json::from_slice::<i64>(v).is_ok_and(|t| t < cutoff);
        match &self.backend {
            Backend::Memory(map) => {
                let mut map = lock(map);
                let before = map.len();
                map.retain(|(table, _), v| *table != Table::Seen || !old(v));
                Ok(before - map.len())
            }
            Backend::Disk(db) => {
                let db = db.clone();
                tokio::task::spawn_blocking(move || -> Result<usize, StoreError> {
                    let txn = db_err!(db.begin_write())?;
                    let removed = {
                        let mut t = db_err!(txn.open_table(Table::Seen.definition()))?;
                        let before = db_err!(t.len())?;
                        db_err!(t.retain(|_, v| !old(v)))?;
                        before - db_err!(t.len())?
                    };
                    db_err!(txn.commit())?;
                    Ok(removed as usize)
                })
                .await?
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn values_survive_reopening_the_disk_store() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store
                .put(Table::Agreements, "agmt-1", &"thread-1".to_owned())
                .await
                .unwrap();
            store
                .put_all(
                    Table::Seen,
                    &[("eb:1".into(), 100i64), ("eb:2".into(), 5_000)],
                )
                .await
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(
            store
                .get::<String>(Table::Agreements, "agmt-1")
                .await
                .unwrap()
                .as_deref(),
            Some("thread-1")
        );
        assert_eq!(
            store.get::<i64>(Table::Seen, "eb:2").await.unwrap(),
            Some(5_000)
        );
        assert_eq!(
            store.get::<String>(Table::Intents, "ar-1").await.unwrap(),
            None
        );
        assert_eq!(store.prune_seen(1_000).await.unwrap(), 1);
        assert_eq!(store.get::<i64>(Table::Seen, "eb:1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn the_memory_store_behaves_the_same() {
        let store = Store::memory();
        store
            .put_all(
                Table::Seen,
                &[("eb:1".into(), 100i64), ("eb:2".into(), 5_000)],
            )
            .await
            .unwrap();
        assert_eq!(store.prune_seen(1_000).await.unwrap(), 1);
        assert_eq!(
            store.get::<i64>(Table::Seen, "eb:2").await.unwrap(),
            Some(5_000)
        );
        assert!(!store.is_persistent());
    }
}
