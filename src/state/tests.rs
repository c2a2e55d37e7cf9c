//! The store's conformance suite, run against every back end: memory, redb in a temporary
//! directory, and DynamoDB on a real `moto_server` (one per test; see [`super::moto`]).
//! Then what only one back end has: reopening and locking (disk), table creation, error
//! mapping and timeouts (DynamoDB).

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};

use super::moto::{self, Moto};
use super::*;

/// `t` truncated to whole seconds, as the store keeps expiry times.
fn seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

const LEASE: StdDuration = StdDuration::from_secs(30);

/// The cases, each against a fresh, empty store.
mod cases {
    use super::*;

    pub async fn round_trip(s: &StateStore) {
        assert_eq!(s.get::<String>(Table::Seen, "eb:1").await.unwrap(), None);
        s.put(Table::Seen, "eb:1", "first", None).await.unwrap();
        let first = s.get::<String>(Table::Seen, "eb:1").await.unwrap().unwrap();
        assert_eq!(first.value, "first");
        assert_eq!(first.expires_at, None);
        // Namespaces are apart.
        assert_eq!(s.get::<String>(Table::Intents, "eb:1").await.unwrap(), None);

        let later = Utc::now() + Duration::hours(1);
        s.put(Table::Seen, "eb:1", "second", Some(later))
            .await
            .unwrap();
        let second = s.get::<String>(Table::Seen, "eb:1").await.unwrap().unwrap();
        assert_eq!(second.value, "second");
        assert_ne!(second.version, first.version, "put moves the version on");
        assert_eq!(second.expires_at, Some(seconds(later)));

        // Structured values, and keys with the separator in them.
        let thread = serde_json::json!({"ts": "1700000000.000100", "posts": [1, 2]});
        s.put(Table::Agreements, "agmt-1#x", &thread, None)
            .await
            .unwrap();
        let back = s
            .get::<serde_json::Value>(Table::Agreements, "agmt-1#x")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(back.value, thread);
        assert_eq!(
            s.get::<serde_json::Value>(Table::Agreements, "agmt-1")
                .await
                .unwrap(),
            None
        );

        s.delete(Table::Seen, "eb:1").await.unwrap();
        assert_eq!(s.get::<String>(Table::Seen, "eb:1").await.unwrap(), None);
        s.delete(Table::Seen, "eb:1").await.unwrap(); // absent: still fine
        assert!(s
            .get::<serde_json::Value>(Table::Agreements, "agmt-1#x")
            .await
            .unwrap()
            .is_some());
    }

    pub async fn a_value_of_another_type_is_corrupt(s: &StateStore) {
        s.put(Table::Intents, "ar-1", "not a number", None)
            .await
            .unwrap();
        match s.get::<u64>(Table::Intents, "ar-1").await {
            Err(e @ StoreError::Corrupt { .. }) => {
                assert!(!e.is_retryable());
                assert!(e.to_string().contains("intents/ar-1"), "{e}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    pub async fn insert_new_only_once(s: &StateStore) {
        let v = s.insert_new(Table::Seen, "eb:2", &1, None).await.unwrap();
        assert!(v.is_some());
        assert_eq!(
            s.insert_new(Table::Seen, "eb:2", &2, None).await.unwrap(),
            None
        );
        let e = s.get::<i32>(Table::Seen, "eb:2").await.unwrap().unwrap();
        assert_eq!((e.value, Some(e.version)), (1, v));
        match s
            .insert_or_get::<_, i32>(Table::Seen, "eb:2", &3, None)
            .await
            .unwrap()
        {
            Inserted::Existing(existing) => assert_eq!(existing, e),
            other => panic!("expected the existing entry, got {other:?}"),
        }
        assert!(matches!(
            s.insert_or_get::<_, i32>(Table::Seen, "eb:3", &3, None)
                .await
                .unwrap(),
            Inserted::New(_)
        ));
    }

    pub async fn replace_is_compare_and_set(s: &StateStore) {
        let v1 = s
            .insert_new(Table::Leases, "digest", "a", None)
            .await
            .unwrap()
            .unwrap();
        let v2 = s
            .replace(Table::Leases, "digest", v1, "b", None)
            .await
            .unwrap()
            .expect("the right version wins");
        assert_ne!(v1, v2);
        assert_eq!(
            s.replace(Table::Leases, "digest", v1, "stale", None)
                .await
                .unwrap(),
            None,
            "a stale version loses"
        );
        let e = s
            .get::<String>(Table::Leases, "digest")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((e.value.as_str(), e.version), ("b", v2));
        // The entry is gone: nothing to replace, whatever the version.
        s.delete(Table::Leases, "digest").await.unwrap();
        assert_eq!(
            s.replace(Table::Leases, "digest", v2, "c", None)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.replace(Table::Leases, "never", 1, "c", None)
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            s.get::<String>(Table::Leases, "digest").await.unwrap(),
            None
        );
    }

    pub async fn expired_entries_are_absent(s: &StateStore) {
        let past = Some(Utc::now() - Duration::seconds(10));
        let old = s
            .insert_new(Table::Replays, "r1", "old", past)
            .await
            .unwrap()
            .expect("absent key");
        assert_eq!(s.get::<String>(Table::Replays, "r1").await.unwrap(), None);
        assert_eq!(
            s.replace(Table::Replays, "r1", old, "cas", None)
                .await
                .unwrap(),
            None,
            "an expired entry cannot be replaced"
        );
        let new = s
            .insert_new(Table::Replays, "r1", "new", None)
            .await
            .unwrap()
            .expect("insert_new overwrites an expired entry");
        assert_ne!(new, old, "versions never repeat");
        let e = s
            .get::<String>(Table::Replays, "r1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((e.value.as_str(), e.version), ("new", new));

        // A future expiry is live.
        let soon = Some(Utc::now() + Duration::seconds(60));
        s.put(Table::Replays, "r2", "live", soon).await.unwrap();
        assert!(s
            .get::<String>(Table::Replays, "r2")
            .await
            .unwrap()
            .is_some());
        assert_eq!(
            s.insert_new(Table::Replays, "r2", "again", soon)
                .await
                .unwrap(),
            None
        );
        // put over an expired entry.
        s.put(Table::Replays, "r3", "gone", past).await.unwrap();
        assert_eq!(s.get::<String>(Table::Replays, "r3").await.unwrap(), None);
    }

    pub async fn concurrent_insert_new_has_one_winner(s: &StateStore) {
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.insert_new(Table::Seen, "race", &i, None)
                        .await
                        .unwrap()
                        .map(|v| (i, v))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "winners: {winners:?}");
        let e = s.get::<i32>(Table::Seen, "race").await.unwrap().unwrap();
        assert_eq!((e.value, e.version), winners[0]);
    }

    pub async fn concurrent_replace_has_one_winner(s: &StateStore) {
        let v = s
            .insert_new(Table::Leases, "cas", &-1, None)
            .await
            .unwrap()
            .unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.replace(Table::Leases, "cas", v, &i, None)
                        .await
                        .unwrap()
                        .map(|v| (i, v))
                })
            })
            .collect();
        let mut winners = Vec::new();
        for t in tasks {
            winners.extend(t.await.unwrap());
        }
        assert_eq!(winners.len(), 1, "winners: {winners:?}");
        let e = s.get::<i32>(Table::Leases, "cas").await.unwrap().unwrap();
        assert_eq!((e.value, e.version), winners[0]);
    }

    pub async fn claim_busy_then_done(s: &StateStore) {
        let now = Utc::now();
        let Claim::Won(token) = s.claim::<String>("ev-1", "a", LEASE, now).await.unwrap() else {
            panic!("the first caller wins")
        };
        assert_eq!((token.key(), token.owner()), ("ev-1", "a"));
        assert_eq!(token.lease_until(), now + Duration::seconds(30));
        assert_eq!(
            s.claim::<String>("ev-1", "b", LEASE, now + Duration::seconds(1))
                .await
                .unwrap(),
            Claim::Busy {
                until: now + Duration::seconds(30)
            }
        );
        s.complete(token, &"posted 1.2".to_owned(), now + Duration::hours(1))
            .await
            .unwrap();
        for owner in ["a", "b", "c"] {
            assert_eq!(
                s.claim::<String>("ev-1", owner, LEASE, now + Duration::seconds(60))
                    .await
                    .unwrap(),
                Claim::Done("posted 1.2".to_owned()),
                "after completion, {owner} gets the outcome"
            );
        }
        // Another key is independent.
        assert!(matches!(
            s.claim::<String>("ev-2", "b", LEASE, now).await.unwrap(),
            Claim::Won(_)
        ));
    }

    pub async fn lease_expiry_hands_over(s: &StateStore) {
        let now = Utc::now();
        let Claim::Won(old) = s.claim::<u32>("ev", "a", LEASE, now).await.unwrap() else {
            panic!("a wins")
        };
        // a died (or hangs): after its lease, b takes over.
        let later = now + Duration::seconds(31);
        let Claim::Won(new) = s.claim::<u32>("ev", "b", LEASE, later).await.unwrap() else {
            panic!("b takes the expired claim over")
        };
        assert_eq!(
            s.claim::<u32>("ev", "c", LEASE, later).await.unwrap(),
            Claim::Busy {
                until: later + Duration::seconds(30)
            }
        );
        // a comes back: its outcome is refused, and nothing is recorded.
        match s.complete(old, &1u32, later + Duration::hours(1)).await {
            Err(StoreError::ClaimLost { key }) => assert_eq!(key, "ev"),
            other => panic!("the old holder's complete must fail, got {other:?}"),
        }
        assert!(matches!(
            s.claim::<u32>("ev", "c", LEASE, later).await.unwrap(),
            Claim::Busy { .. }
        ));
        s.complete(new, &2u32, later + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            s.claim::<u32>("ev", "c", LEASE, later).await.unwrap(),
            Claim::Done(2)
        );
    }

    pub async fn takeover_race_has_one_winner(s: &StateStore) {
        let now = Utc::now();
        let Claim::Won(_dead) = s
            .claim::<u32>("ev", "dead", StdDuration::from_secs(1), now)
            .await
            .unwrap()
        else {
            panic!("first claim wins")
        };
        let later = now + Duration::seconds(5);
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    s.claim::<u32>("ev", &format!("r{i}"), LEASE, later)
                        .await
                        .unwrap()
                })
            })
            .collect();
        let (mut won, mut busy) = (0, 0);
        for t in tasks {
            match t.await.unwrap() {
                Claim::Won(_) => won += 1,
                Claim::Busy { .. } => busy += 1,
                Claim::Done(v) => panic!("nobody completed, yet Done({v})"),
            }
        }
        assert_eq!((won, busy), (1, 19));
    }

    pub async fn release_frees_at_once(s: &StateStore) {
        let now = Utc::now();
        let Claim::Won(token) = s.claim::<u32>("ev", "a", LEASE, now).await.unwrap() else {
            panic!("a wins")
        };
        assert!(token.is_first(), "nobody held the key before");
        s.release(token).await.unwrap();
        let Claim::Won(next) = s.claim::<u32>("ev", "b", LEASE, now).await.unwrap() else {
            panic!("after a release the next caller wins at once, lease or not")
        };
        assert!(!next.is_first(), "a held it before: its work may be done");
        s.complete(next, &7u32, now + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            s.claim::<u32>("ev", "c", LEASE, now).await.unwrap(),
            Claim::Done(7)
        );
    }

    /// What a claim costs in back-end calls (DynamoDB requests); the module docs quote these.
    pub async fn claim_costs(s: &StateStore) {
        let now = Utc::now();
        let only = |f: fn(&mut CallCounts) -> &mut u64| {
            let mut c = CallCounts::default();
            *f(&mut c) = 1;
            c
        };

        let before = s.calls();
        let Claim::Won(token) = s.claim::<u32>("ev", "a", LEASE, now).await.unwrap() else {
            panic!("a fresh key is won")
        };
        assert_eq!(
            s.calls().since(&before),
            only(|c| &mut c.insert),
            "fresh key"
        );

        let before = s.calls();
        let busy = s.claim::<u32>("ev", "b", LEASE, now).await.unwrap();
        assert!(matches!(busy, Claim::Busy { .. }));
        assert_eq!(
            s.calls().since(&before),
            only(|c| &mut c.insert),
            "held key"
        );

        let before = s.calls();
        s.complete(token, &5u32, now + Duration::hours(1))
            .await
            .unwrap();
        assert_eq!(
            s.calls().since(&before),
            only(|c| &mut c.replace),
            "complete"
        );

        let before = s.calls();
        let done = s.claim::<u32>("ev", "b", LEASE, now).await.unwrap();
        assert_eq!(done, Claim::Done(5));
        assert_eq!(
            s.calls().since(&before),
            only(|c| &mut c.insert),
            "done key"
        );

        let Claim::Won(stale) = s.claim::<u32>("ev2", "a", LEASE, now).await.unwrap() else {
            panic!("a fresh key is won")
        };
        let before = s.calls();
        let took = s
            .claim::<u32>("ev2", "b", LEASE, now + Duration::seconds(60))
            .await
            .unwrap();
        assert!(matches!(took, Claim::Won(_)));
        let mut two = only(|c| &mut c.insert);
        two.replace = 1;
        assert_eq!(s.calls().since(&before), two, "takeover");

        let before = s.calls();
        s.release(stale).await.unwrap();
        assert_eq!(
            s.calls().since(&before),
            only(|c| &mut c.replace),
            "release"
        );

        let before = s.calls();
        s.get::<u32>(Table::Seen, "x").await.unwrap();
        s.put(Table::Seen, "x", &1, None).await.unwrap();
        s.delete(Table::Seen, "x").await.unwrap();
        let used = s.calls().since(&before);
        assert_eq!(
            (used.get, used.put, used.delete, used.total()),
            (1, 1, 1, 3)
        );
    }

    pub async fn probe_works(s: &StateStore) {
        let before = s.calls();
        s.probe().await.unwrap();
        s.probe().await.unwrap();
        let used = s.calls().since(&before);
        assert_eq!((used.get, used.insert, used.delete), (2, 2, 2));
    }
}

/// One `#[tokio::test]` per case and back end.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod memory {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let s = StateStore::memory();
                    assert_eq!(s.kind(), StoreKind::Memory);
                    cases::$case(&s).await;
                }
            )*
        }
        mod disk {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let s = StateStore::open_redb(dir.path()).unwrap();
                    assert_eq!(s.kind(), StoreKind::Disk);
                    cases::$case(&s).await;
                }
            )*
        }
        mod dynamodb {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let moto = Moto::start().await;
                    let table = moto::table_name(stringify!($case));
                    let s = StateStore::open_dynamodb(&moto.sdk(), &table).await.unwrap();
                    assert_eq!(s.kind(), StoreKind::DynamoDb);
                    cases::$case(&s).await;
                }
            )*
        }
    };
}

conformance!(
    round_trip,
    a_value_of_another_type_is_corrupt,
    insert_new_only_once,
    replace_is_compare_and_set,
    expired_entries_are_absent,
    concurrent_insert_new_has_one_winner,
    concurrent_replace_has_one_winner,
    claim_busy_then_done,
    lease_expiry_hands_over,
    takeover_race_has_one_winner,
    release_frees_at_once,
    claim_costs,
    probe_works,
);

#[test]
fn kinds_and_debug_say_only_the_kind() {
    assert_eq!(StoreKind::Memory.to_string(), "memory");
    assert_eq!(StoreKind::Disk.to_string(), "disk");
    assert_eq!(StoreKind::DynamoDb.to_string(), "dynamodb");
    assert_eq!(
        format!("{:?}", StateStore::memory()),
        r#"StateStore { kind: "memory" }"#
    );
    assert_eq!(Table::Seen.as_str(), "seen");
    assert_eq!(Table::Claims.to_string(), "claims");
}

#[test]
fn errors_say_what_to_do() {
    let unavailable = StoreError::Unavailable {
        reason: "timed out".into(),
    };
    assert!(unavailable.is_retryable());
    let denied = StoreError::Denied {
        action: "dynamodb:UpdateItem",
    };
    assert!(!denied.is_retryable());
    assert!(
        denied.fix().contains("dynamodb:UpdateItem"),
        "{}",
        denied.fix()
    );
    assert!(!StoreError::ClaimLost { key: "k".into() }.is_retryable());
    for e in [unavailable, denied] {
        assert!(!e.fix().contains('\n'));
    }
}

mod disk_only {
    use super::*;

    #[tokio::test]
    async fn reopening_keeps_values_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let version = {
            let s = StateStore::open_redb(dir.path()).unwrap();
            s.put(Table::Agreements, "agmt-1", "thread-1", None)
                .await
                .unwrap();
            s.insert_new(Table::Seen, "eb:1", &1, None)
                .await
                .unwrap()
                .unwrap()
        };
        let s = StateStore::open_redb(dir.path()).unwrap();
        assert_eq!(
            s.get::<String>(Table::Agreements, "agmt-1")
                .await
                .unwrap()
                .unwrap()
                .value,
            "thread-1"
        );
        assert_eq!(
            s.get::<i32>(Table::Seen, "eb:1")
                .await
                .unwrap()
                .unwrap()
                .version,
            version
        );
        assert_eq!(
            s.insert_new(Table::Seen, "eb:1", &2, None).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_second_open_of_the_same_directory_points_at_state_table() {
        let dir = tempfile::tempdir().unwrap();
        let _first = StateStore::open_redb(dir.path()).unwrap();
        match StateStore::open_redb(dir.path()) {
            Err(e @ OpenError::Locked { .. }) => {
                let m = e.to_string();
                assert!(m.contains("STATE_TABLE"), "{m}");
                assert!(m.contains(&dir.path().display().to_string()), "{m}");
            }
            other => panic!("expected Locked, got {other:?}"),
        }
        drop(_first);
        StateStore::open_redb(dir.path()).expect("free again once closed");
    }

    #[test]
    fn a_directory_that_cannot_be_written_is_named() {
        // Root ignores permission bits, so make the directory impossible instead: a path
        // below a regular file.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let state_dir = file.join("state");
        match StateStore::open_redb(&state_dir) {
            Err(e @ OpenError::Unwritable { .. }) => {
                assert!(
                    e.to_string().contains(&state_dir.display().to_string()),
                    "{e}"
                )
            }
            other => panic!("expected Unwritable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn pruning_deletes_only_expired_entries() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateStore::open_redb(dir.path()).unwrap();
        let past = Some(Utc::now() - Duration::seconds(5));
        let future = Some(Utc::now() + Duration::hours(1));
        s.put(Table::Seen, "old", &1, past).await.unwrap();
        s.put(Table::Claims, "old", &1, past).await.unwrap();
        s.put(Table::Seen, "new", &1, future).await.unwrap();
        s.put(Table::Seen, "forever", &1, None).await.unwrap();
        assert_eq!(s.prune_expired().await.unwrap(), 2);
        assert_eq!(s.prune_expired().await.unwrap(), 0);
        assert!(s.get::<i32>(Table::Seen, "new").await.unwrap().is_some());
        assert!(s
            .get::<i32>(Table::Seen, "forever")
            .await
            .unwrap()
            .is_some());
    }
}

mod dynamodb_only {
    use super::*;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveStatus,
    };
    use std::time::Instant;

    #[tokio::test]
    async fn open_creates_a_missing_table_with_ttl_and_reuses_it() {
        let moto = Moto::start().await;
        let table = moto::table_name("create");
        let client = moto.client();
        assert!(client
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .is_err());

        let first = StateStore::open_dynamodb(&moto.sdk(), &table)
            .await
            .unwrap();
        let described = client
            .describe_table()
            .table_name(&table)
            .send()
            .await
            .unwrap();
        let t = described.table().unwrap();
        let keys = t.key_schema();
        assert_eq!(keys.len(), 1);
        assert_eq!(
            (keys[0].attribute_name(), keys[0].key_type()),
            ("pk", &KeyType::Hash)
        );
        assert_eq!(
            t.billing_mode_summary().and_then(|b| b.billing_mode()),
            Some(&BillingMode::PayPerRequest)
        );
        let ttl = client
            .describe_time_to_live()
            .table_name(&table)
            .send()
            .await
            .unwrap();
        let ttl = ttl.time_to_live_description().unwrap();
        assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
        assert_eq!(ttl.attribute_name(), Some("expires_at"));

        // The item layout the docs promise.
        first
            .put(
                Table::Seen,
                "eb:1",
                "x",
                Some(Utc::now() + Duration::hours(1)),
            )
            .await
            .unwrap();
        let item = client
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("seen#eb:1".into()))
            .send()
            .await
            .unwrap();
        let item = item.item().expect("the item is under pk = seen#eb:1");
        assert_eq!(item.get("val"), Some(&AttributeValue::S("\"x\"".into())));
        assert!(matches!(item.get("ver"), Some(AttributeValue::N(_))));
        assert!(matches!(item.get("expires_at"), Some(AttributeValue::N(_))));

        // Opening again reuses the table and its data.
        let second = StateStore::open_dynamodb(&moto.sdk(), &table)
            .await
            .unwrap();
        assert_eq!(
            second
                .get::<String>(Table::Seen, "eb:1")
                .await
                .unwrap()
                .unwrap()
                .value,
            "x"
        );
        let listed = client.list_tables().send().await.unwrap();
        assert_eq!(listed.table_names(), [table]);
    }

    use aws_sdk_dynamodb::types::AttributeValue;

    #[tokio::test]
    async fn a_table_with_another_key_schema_is_refused() {
        let moto = Moto::start().await;
        let table = moto::table_name("schema");
        moto.client()
            .create_table()
            .table_name(&table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .unwrap(),
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        match StateStore::open_dynamodb(&moto.sdk(), &table).await {
            Err(e @ OpenError::WrongSchema { .. }) => {
                assert!(e.to_string().contains("id (HASH, S)"), "{e}")
            }
            other => panic!("expected WrongSchema, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable_within_3_s() {
        let url = format!("http://127.0.0.1:{}", moto::free_port());
        let s = StateStore::connect_dynamodb(&moto::sdk_config(&url), "t");
        let started = Instant::now();
        let err = s.get::<u32>(Table::Seen, "k").await.unwrap_err();
        assert!(
            started.elapsed() < StdDuration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
        assert!(err.is_retryable());

        let started = Instant::now();
        let err = s.put(Table::Seen, "k", &1, None).await.unwrap_err();
        assert!(started.elapsed() < StdDuration::from_secs(3));
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");

        let started = Instant::now();
        let err = StateStore::open_dynamodb(&moto::sdk_config(&url), "t")
            .await
            .unwrap_err();
        assert!(started.elapsed() < StdDuration::from_secs(3));
        assert!(matches!(err, OpenError::Unavailable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_silent_endpoint_times_out_within_3_s() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hold = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let s = StateStore::connect_dynamodb(&moto::sdk_config(&url), "t");
        let started = Instant::now();
        let err = s.get::<u32>(Table::Seen, "k").await.unwrap_err();
        let took = started.elapsed();
        hold.abort();
        assert!(took < StdDuration::from_secs(3), "{took:?}");
        assert!(matches!(err, StoreError::Unavailable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn credentials_in_the_endpoint_never_reach_messages() {
        let url = format!(
            "http://AKIDLEAK:hunter2secret@127.0.0.1:{}",
            moto::free_port()
        );
        let s = StateStore::connect_dynamodb(&moto::sdk_config(&url), "t");
        let err = s.get::<u32>(Table::Seen, "k").await.unwrap_err();
        let open = StateStore::open_dynamodb(&moto::sdk_config(&url), "t")
            .await
            .unwrap_err();
        for text in [
            err.to_string(),
            format!("{err:?}"),
            err.fix(),
            open.to_string(),
            format!("{open:?}"),
            format!("{s:?}"),
        ] {
            assert!(!text.contains("hunter2secret"), "{text}");
            assert!(!text.contains("test-secret-not-real"), "{text}");
        }
    }

    #[tokio::test]
    async fn access_denied_names_the_permission() {
        let fake = moto::Fake::start(|_| (400, moto::error_body("AccessDeniedException"))).await;
        let s = StateStore::connect_dynamodb(&moto::sdk_config(&fake.url), "t");
        let err = s.get::<u32>(Table::Seen, "k").await.unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Denied {
                    action: "dynamodb:GetItem"
                }
            ),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        let err = s.insert_new(Table::Seen, "k", &1, None).await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::Denied {
                action: "dynamodb:UpdateItem"
            }
        ));
        assert!(err.fix().contains("dynamodb:UpdateItem"));
        let err = s.delete(Table::Seen, "k").await.unwrap_err();
        assert!(matches!(
            err,
            StoreError::Denied {
                action: "dynamodb:DeleteItem"
            }
        ));
        let err = StateStore::open_dynamodb(&moto::sdk_config(&fake.url), "t")
            .await
            .unwrap_err();
        assert!(err.to_string().contains("dynamodb:DescribeTable"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_table_the_app_may_not_create_says_so() {
        let fake = moto::Fake::start(|op| match op {
            "DescribeTable" => (400, moto::error_body("ResourceNotFoundException")),
            _ => (400, moto::error_body("AccessDeniedException")),
        })
        .await;
        let err = StateStore::open_dynamodb(&moto::sdk_config(&fake.url), "app-state")
            .await
            .unwrap_err();
        assert!(matches!(err, OpenError::CannotCreate { .. }), "{err:?}");
        let m = err.to_string();
        assert!(m.contains("dynamodb:CreateTable"), "{m}");
        assert!(m.contains("create the table"), "{m}");
        assert!(m.contains("app-state"), "{m}");
    }

    #[tokio::test]
    async fn throttling_and_server_errors_are_retried_then_unavailable() {
        for (status, code) in [
            (400, "ProvisionedThroughputExceededException"),
            (400, "ThrottlingException"),
            (400, "RequestLimitExceeded"),
            (500, "InternalServerError"),
            (503, "ServiceUnavailable"),
        ] {
            let fake = moto::Fake::start(move |_| (status, moto::error_body(code))).await;
            let s = StateStore::connect_dynamodb(&moto::sdk_config(&fake.url), "t");
            let started = Instant::now();
            let err = s.put(Table::Seen, "k", &1, None).await.unwrap_err();
            assert!(started.elapsed() < StdDuration::from_secs(3));
            assert!(
                matches!(&err, StoreError::Unavailable { reason } if reason.contains(code)),
                "{code}: {err:?}"
            );
            assert!(err.is_retryable());
            let asked = fake.requests.load(std::sync::atomic::Ordering::SeqCst);
            assert!(asked >= 2, "{code}: retried, {asked} requests");
            assert_eq!(s.calls().put, 1, "retries are not counted as calls");
        }
    }

    /// An answer lost on the way back (attempt timeout) makes the SDK send the write again,
    /// which then fails its condition because of our own first write. Claims recognise
    /// that rather than reporting Busy or ClaimLost.
    #[tokio::test]
    async fn claims_recognise_their_own_write_behind_a_lost_answer() {
        let now = Utc::now();
        let lease_until = now + Duration::seconds(30);
        let held = serde_json::json!({"state": "held", "owner": "a", "lease_until": lease_until})
            .to_string();
        let done = serde_json::json!({"state": "done", "value": 7}).to_string();
        let updates = std::sync::atomic::AtomicUsize::new(0);
        let fake = moto::Fake::start(move |op| {
            let item = |val: &str, ver: u64| {
                serde_json::json!({
                    "pk": {"S": "claims#ev"}, "ver": {"N": ver.to_string()}, "val": {"S": val}
                })
            };
            match op {
                "UpdateItem" => match updates.fetch_add(1, std::sync::atomic::Ordering::SeqCst) {
                    // claim: the insert lands, its answer is lost; the retry meets our item.
                    0 | 2 => (0, String::new()),
                    1 | 3 => (
                        400,
                        serde_json::json!({
                            "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                            "message": "The conditional request failed",
                            "Item": item(&held, 10),
                        })
                        .to_string(),
                    ),
                    _ => (500, moto::error_body("InternalServerError")),
                },
                // complete: the retry was refused (version 10 moved on); the item is done at 11.
                "GetItem" => (200, serde_json::json!({"Item": item(&done, 11)}).to_string()),
                _ => (500, moto::error_body("InternalServerError")),
            }
        })
        .await;
        let s = StateStore::connect_dynamodb(&moto::sdk_config(&fake.url), "t");
        let Claim::Won(token) = s.claim::<u32>("ev", "a", LEASE, now).await.unwrap() else {
            panic!("our own held item is ours")
        };
        assert_eq!(token.version(), 10);
        s.complete(token, &7u32, now + Duration::hours(1))
            .await
            .expect("our own done item at the next version means it was recorded");
        // Someone else meeting the same held item is Busy.
        let other = moto::Fake::start(move |_| {
            (
                400,
                serde_json::json!({
                    "__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                    "Item": {"pk": {"S": "claims#ev"}, "ver": {"N": "10"},
                             "val": {"S": serde_json::json!({"state": "held", "owner": "a", "lease_until": lease_until}).to_string()}},
                })
                .to_string(),
            )
        })
        .await;
        let s = StateStore::connect_dynamodb(&moto::sdk_config(&other.url), "t");
        assert_eq!(
            s.claim::<u32>("ev", "b", LEASE, now).await.unwrap(),
            Claim::Busy { until: lease_until }
        );
    }

    #[tokio::test]
    async fn a_refused_condition_is_an_answer_not_an_error() {
        let fake =
            moto::Fake::start(|_| (400, moto::error_body("ConditionalCheckFailedException"))).await;
        let s = StateStore::connect_dynamodb(&moto::sdk_config(&fake.url), "t");
        assert_eq!(
            s.replace(Table::Seen, "k", 3, &1, None).await.unwrap(),
            None
        );
        assert_eq!(fake.requests.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
