//! What every target does with what it parsed: render it as Slack would get it and round-trip
//! it through JSON as the state store does. Parsing that succeeds must never make the rest of
//! the pipeline panic.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use marketplace_activity::domain::Fetched;
use marketplace_activity::domain::{Activity, Filter, WindowSpec};
use marketplace_activity::report::Report;
use marketplace_activity::slack::render;

/// A fixed "now", so a crash reproduces whatever day it is replayed on.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).unwrap()
}

/// Renders one activity every way the app does, and checks the store's JSON round trip.
pub fn exercise(activity: Activity) {
    let _ = render::activity_line(&activity);
    let n = render::notification(&activity, Some("<!here>"), Some("fuzz note"));
    let _ = serde_json::to_string(&n.blocks).expect("blocks serialise");
    let stored = serde_json::to_vec(&activity).expect("an activity serialises");
    let back: Activity = serde_json::from_slice(&stored).expect("a stored activity reads back");
    assert_eq!(
        back, activity,
        "the state store's JSON round trip changes the activity"
    );
    let window = WindowSpec::LastDays(3660)
        .resolve_unbounded(now())
        .expect("a fixed window resolves");
    let fetched = Fetched {
        activities: vec![activity],
        sources: 1,
        ..Fetched::default()
    };
    let report = Report::build(fetched, Filter::All, window, false);
    let message = render::report_message(&report, false);
    let _ = serde_json::to_string(&message).expect("a report serialises");
}
