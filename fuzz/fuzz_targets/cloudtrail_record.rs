//! A CloudTrail record (as LookupEvents returns it in `CloudTrailEvent`), and the same bytes as
//! a trail log file (`--events-file`): parsed, rendered, and round-tripped through the store.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use marketplace_activity::aws::events_file::Loaded;
use marketplace_activity::aws::record::parse_record;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(Some(activity)) = parse_record(text) {
            common::exercise(activity);
        }
    }
    if let Ok(loaded) = Loaded::from_json(data, "fuzz".into()) {
        let window = marketplace_activity::domain::WindowSpec::LastDays(3660)
            .resolve_unbounded(common::now())
            .unwrap();
        for activity in loaded.within(&window).activities {
            common::exercise(activity);
        }
    }
});
