//! The memory back end: one map behind a mutex. Every operation is one short critical
//! section, so conditional writes are atomic.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use super::{apply, Condition, Record, Table, Written};
use crate::sync::lock;

type Map = HashMap<(Table, String), Record>;

#[derive(Clone, Default)]
pub(crate) struct Memory {
    map: Arc<Mutex<Map>>,
}

impl Memory {
    pub fn get(&self, table: Table, key: &str) -> Option<Record> {
        lock(&self.map).get(&(table, key.to_owned())).cloned()
    }

    pub fn write(
        &self,
        table: Table,
        key: &str,
        condition: Condition,
        json: String,
        expires_at: Option<i64>,
        now: DateTime<Utc>,
    ) -> Written {
        let mut map = lock(&self.map);
        let slot = (table, key.to_owned());
        match apply(map.get(&slot), condition, json, expires_at, now) {
            Ok(record) => {
                let version = record.version;
                map.insert(slot, record);
                Written::Yes(version)
            }
            Err(refused) => refused,
        }
    }

    pub fn delete(&self, table: Table, key: &str) {
        lock(&self.map).remove(&(table, key.to_owned()));
    }

    pub fn prune(&self, now: DateTime<Utc>) -> usize {
        let mut map = lock(&self.map);
        let before = map.len();
        map.retain(|_, r| r.live_at(now));
        before - map.len()
    }
}
