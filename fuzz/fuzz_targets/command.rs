//! The command grammar (`[window] [filter] [share]`, `help`), as typed in Slack or a terminal,
//! through to the window it resolves to and the header of an empty report for it.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use marketplace_activity::domain::Fetched;
use marketplace_activity::domain::Command;
use marketplace_activity::report::Report;
use marketplace_activity::slack::render;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Command::parse(text) {
        Ok(Command::Help) => {}
        Ok(Command::Report(query)) => {
            let _ = query.window.resolve_unbounded(common::now());
            let Ok(window) = query.window.resolve(common::now()) else {
                return;
            };
            assert!(window.start <= window.end, "{text:?} gave {window:?}");
            let _ = render::looking_up(&window);
            let report = Report::build(Fetched::default(), query.filter, window, false);
            let _ = serde_json::to_string(&render::report_message(&report, query.share)).unwrap();
        }
        Err(e) => {
            let _ = serde_json::to_string(&render::command_error(&e)).unwrap();
        }
    }
});
