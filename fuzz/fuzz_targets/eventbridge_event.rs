//! An EventBridge event as POSTed to `/events` (either family: a CloudTrail call or
//! Marketplace's own event): parsed, rendered, and round-tripped through the store.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use marketplace_activity::notify::event::{parse, Incoming};

fuzz_target!(|data: &[u8]| {
    if let Ok(Incoming::Activity(received)) = parse(data) {
        assert!(
            !received.dedup_keys.is_empty(),
            "an event without a delivery id cannot be de-duplicated"
        );
        common::exercise(received.activity);
    }
});
