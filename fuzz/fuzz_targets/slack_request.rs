//! The `/slack/commands` intake: signature headers and the raw body as the route gets them,
//! then (for a body that verifies) the form and the command in it.
//!
//! Input: `timestamp \n signature \n body`. Each input is tried twice: as given (which must
//! be refused unless it happens to be signed), and signed with the secret at "now" (which must
//! be accepted), so the form and command parsing behind the check are reached too.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use marketplace_activity::domain::Command;
use marketplace_activity::slack::command_request::{SlashCommand, SlashCommandForm};
use marketplace_activity::slack::render;
use marketplace_activity::slack::signature::{sign, SigningSecrets};

const SECRET: &str = "fuzz-signing-secret";

fuzz_target!(|data: &[u8]| {
    let secrets = SigningSecrets::parse(&format!("old-secret,{SECRET}")).unwrap();
    let now = common::now().timestamp();
    let mut parts = data.splitn(3, |b| *b == b'\n');
    let ts = parts.next().unwrap_or_default();
    let sig = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();

    if secrets.verify(Some(ts), Some(sig), body, now).is_ok() {
        // Only possible with a correct MAC: a fuzzer finding one is a bug.
        let ts: i64 = std::str::from_utf8(ts).unwrap().parse().unwrap();
        assert_eq!(
            sign(SECRET, ts, body),
            String::from_utf8_lossy(sig)
        );
    }
    let _ = secrets.verify(None, Some(sig), body, now);
    let _ = secrets.verify(Some(ts), None, body, now);

    let signature = sign(SECRET, now, body);
    let ts = now.to_string();
    assert!(
        secrets
            .verify(Some(ts.as_bytes()), Some(signature.as_bytes()), body, now)
            .is_ok(),
        "a body signed with the secret must verify"
    );
    let Ok(form) = SlashCommandForm::parse(body) else {
        return;
    };
    let _ = form.is_ssl_check();
    let Ok(request) = SlashCommand::try_from(form) else {
        return;
    };
    match Command::parse(&request.text) {
        Ok(Command::Help) => {}
        Ok(Command::Report(query)) => {
            if let Ok(window) = query.window.resolve(common::now()) {
                let _ = serde_json::to_string(&render::looking_up(&window)).unwrap();
            }
        }
        Err(e) => {
            let _ = serde_json::to_string(&render::command_error(&e)).unwrap();
        }
    }
});
