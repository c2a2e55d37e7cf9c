//! The disk back end: `state.redb` in a directory, one redb table per [`Table`]. A
//! conditional write reads and writes in one write transaction (redb runs one at a time), so
//! it is atomic. All disk work runs on tokio's blocking pool.
//!
//! Values are a small envelope: format byte (1), version (u64 LE), expiry flag (u8), expiry
//! (i64 LE, epoch seconds), then the JSON.

use std::io;
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use redb::{Database, DatabaseError, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{apply, Condition, OpenError, Record, StoreError, Table, Written};

pub(crate) const FILE_NAME: &str = "state.redb";

const FORMAT: u8 = 1;
const HEADER: usize = 1 + 8 + 1 + 8;

/// The redb table of a namespace. Named apart from the tables of the notifier's older store
/// (`seen`, `agreements`, `intents`, raw JSON values) so that opening an old `STATE_DIR`
/// neither misreads nor overwrites them.
fn definition(table: Table) -> TableDefinition<'static, &'static str, &'static [u8]> {
    TableDefinition::new(match table {
        Table::Seen => "state/seen",
        Table::Agreements => "state/agreements",
        Table::Intents => "state/intents",
        Table::Claims => "state/claims",
        Table::Leases => "state/leases",
        Table::Replays => "state/replays",
        Table::Probe => "state/probe",
    })
}

pub(crate) fn encode_record(r: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + r.json.len());
    out.push(FORMAT);
    out.extend_from_slice(&r.version.to_le_bytes());
    out.push(u8::from(r.expires_at.is_some()));
    out.extend_from_slice(&r.expires_at.unwrap_or(0).to_le_bytes());
    out.extend_from_slice(r.json.as_bytes());
    out
}

pub(crate) fn decode_record(bytes: &[u8]) -> Result<Record, String> {
    if bytes.len() < HEADER {
        return Err(format!("{} bytes, shorter than the header", bytes.len()));
    }
    if bytes[0] != FORMAT {
        return Err(format!("unknown format {}", bytes[0]));
    }
    let word = |at: usize| <[u8; 8]>::try_from(&bytes[at..at + 8]).expect("8 bytes");
    let version = u64::from_le_bytes(word(1));
    let expires_at = match bytes[9] {
        0 => None,
        1 => Some(i64::from_le_bytes(word(10))),
        other => return Err(format!("bad expiry flag {other}")),
    };
    let json = String::from_utf8(bytes[HEADER..].to_vec()).map_err(|e| e.to_string())?;
    Ok(Record {
        version,
        expires_at,
        json,
    })
}

#[derive(Clone)]
pub(crate) struct Disk {
    db: Arc<Database>,
}

fn disk_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Disk {
        reason: e.into().to_string(),
    }
}

fn corrupt(table: Table, key: &str, reason: String) -> StoreError {
    StoreError::Corrupt {
        table,
        key: key.to_owned(),
        reason,
    }
}

/// Runs disk work on the blocking pool.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> Result<R, StoreError> + Send + 'static,
) -> Result<R, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Internal {
            reason: format!("disk task: {e}"),
        })?
}

impl Disk {
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        let unwritable = |e: &dyn std::fmt::Display| OpenError::Unwritable {
            dir: dir.to_owned(),
            reason: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| unwritable(&e))?;
        let path = dir.join(FILE_NAME);
        let db = Database::create(&path).map_err(|e| match e {
            DatabaseError::DatabaseAlreadyOpen => OpenError::Locked {
                dir: dir.to_owned(),
            },
            DatabaseError::Storage(redb::StorageError::Io(io)) => io_open_error(dir, &path, io),
            other => OpenError::Damaged {
                path: path.clone(),
                reason: other.to_string(),
            },
        })?;
        // Create every table up front so that readers never meet a missing one.
        let damaged = |e: &dyn std::fmt::Display| OpenError::Damaged {
            path: path.clone(),
            reason: e.to_string(),
        };
        let txn = db.begin_write().map_err(|e| damaged(&e))?;
        for table in Table::ALL {
            txn.open_table(definition(table)).map_err(|e| damaged(&e))?;
        }
        txn.commit().map_err(|e| damaged(&e))?;
        Ok(Self { db: Arc::new(db) })
    }

    pub async fn get(&self, table: Table, key: &str) -> Result<Option<Record>, StoreError> {
        let db = self.db.clone();
        let key = key.to_owned();
        blocking(move || {
            let txn = db.begin_read().map_err(disk_err)?;
            let t = txn.open_table(definition(table)).map_err(disk_err)?;
            let Some(bytes) = t.get(key.as_str()).map_err(disk_err)? else {
                return Ok(None);
            };
            decode_record(bytes.value())
                .map(Some)
                .map_err(|reason| corrupt(table, &key, reason))
        })
        .await
    }

    pub async fn write(
        &self,
        table: Table,
        key: &str,
        condition: Condition,
        json: String,
        expires_at: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let db = self.db.clone();
        let key = key.to_owned();
        blocking(move || {
            let txn = db.begin_write().map_err(disk_err)?;
            let written = {
                let mut t = txn.open_table(definition(table)).map_err(disk_err)?;
                let existing = match t.get(key.as_str()).map_err(disk_err)? {
                    None => None,
                    Some(bytes) => match decode_record(bytes.value()) {
                        Ok(r) => Some(r),
                        // An unconditional write repairs a damaged entry.
                        Err(_) if condition == Condition::Any => None,
                        Err(reason) => return Err(corrupt(table, &key, reason)),
                    },
                };
                match apply(existing.as_ref(), condition, json, expires_at, now) {
                    Ok(record) => {
                        t.insert(key.as_str(), encode_record(&record).as_slice())
                            .map_err(disk_err)?;
                        Written::Yes(record.version)
                    }
                    Err(refused) => refused,
                }
            };
            match written {
                Written::Yes(_) => txn.commit().map_err(disk_err)?,
                Written::No(_) => txn.abort().map_err(disk_err)?,
            }
            Ok(written)
        })
        .await
    }

    pub async fn delete(&self, table: Table, key: &str) -> Result<(), StoreError> {
        let db = self.db.clone();
        let key = key.to_owned();
        blocking(move || {
            let txn = db.begin_write().map_err(disk_err)?;
            {
                let mut t = txn.open_table(definition(table)).map_err(disk_err)?;
                t.remove(key.as_str()).map_err(disk_err)?;
            }
            txn.commit().map_err(disk_err)
        })
        .await
    }

    /// Deletes the expired entries of every table, in one transaction. Entries that cannot be
    /// decoded are kept (a `get` names them).
    pub async fn prune(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(disk_err)?;
            let mut removed = 0;
            for table in Table::ALL {
                let mut t = txn.open_table(definition(table)).map_err(disk_err)?;
                let before = t.len().map_err(disk_err)?;
                t.retain(|_, v| decode_record(v).map_or(true, |r| r.live_at(now)))
                    .map_err(disk_err)?;
                removed += before - t.len().map_err(disk_err)?;
            }
            txn.commit().map_err(disk_err)?;
            Ok(usize::try_from(removed).unwrap_or(usize::MAX))
        })
        .await
    }
}

fn io_open_error(dir: &Path, path: &Path, io: io::Error) -> OpenError {
    match io.kind() {
        io::ErrorKind::PermissionDenied
        | io::ErrorKind::ReadOnlyFilesystem
        | io::ErrorKind::NotADirectory
        | io::ErrorKind::NotFound
        | io::ErrorKind::StorageFull => OpenError::Unwritable {
            dir: dir.to_owned(),
            reason: io.to_string(),
        },
        // Another process holding the lock shows up as `DatabaseAlreadyOpen`; this is what an
        // older redb or an unusual file system reports instead.
        io::ErrorKind::WouldBlock => OpenError::Locked {
            dir: dir.to_owned(),
        },
        _ => OpenError::Damaged {
            path: path.to_owned(),
            reason: io.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_damage_is_named() {
        for r in [
            Record {
                version: 7,
                expires_at: Some(-5),
                json: "\"x\"".into(),
            },
            Record {
                version: u64::MAX,
                expires_at: None,
                json: String::new(),
            },
        ] {
            assert_eq!(decode_record(&encode_record(&r)).unwrap(), r);
        }
        assert!(decode_record(b"\x01short").unwrap_err().contains("header"));
        let mut bad = encode_record(&Record {
            version: 1,
            expires_at: None,
            json: "1".into(),
        });
        bad[0] = 9;
        assert!(decode_record(&bad).unwrap_err().contains("format"));
    }
}
