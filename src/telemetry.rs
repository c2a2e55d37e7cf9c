//! Logging: pretty for people, JSON for log pipelines; level from `RUST_LOG`.
//!
//! Log lines carry values from outside (event names, form fields, error messages quoting
//! them). JSON escapes control characters by itself; the pretty format writes every field
//! through [`EscapedFields`], so a newline or a terminal escape in a value can't forge a line
//! or repaint a terminal. Colours only when stderr is a terminal.

use std::fmt;
use std::io::IsTerminal;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;
use crate::redact::escape_control;

/// `default_level` applies when `RUST_LOG` is unset, empty or not a filter (the demo keeps its
/// console quiet). `RUST_LOG` is a list of levels per target, as `tracing-subscriber`'s
/// [`Targets`] reads it: `debug`, `warn,marketplace_activity=debug`, `aws_smithy_runtime=trace`
/// (<https://docs.rs/tracing-subscriber/0.3/tracing_subscriber/filter/targets/struct.Targets.html>).
pub fn init(format: LogFormat, default_level: &str) {
    let wanted = std::env::var("RUST_LOG").ok();
    let (filter, refused) = filter(wanted.as_deref(), default_level);
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    // `try_init`: a second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Pretty => builder
            .fmt_fields(EscapedFields)
            .finish()
            .with(filter)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            // Every enclosing span's fields, so each line of a request carries its request_id.
            .with_span_list(true)
            .finish()
            .with(filter)
            .try_init(),
    };
    // At error level, so it shows whatever the default level is.
    if let Some(rust_log) = refused {
        tracing::error!(
            %rust_log,
            level = default_level,
            "RUST_LOG is not a list of levels per target (e.g. `debug` or `warn,marketplace_activity=debug`); logging at the default level"
        );
    }
}

/// The filter for `RUST_LOG` (`wanted`), and `wanted` again when it could not be read.
fn filter<'a>(wanted: Option<&'a str>, default_level: &str) -> (Targets, Option<&'a str>) {
    let default = || default_level.parse().unwrap_or_else(|_| Targets::new());
    match wanted.map(str::trim) {
        None | Some("") => (default(), None),
        Some(text) => match text.parse() {
            Ok(targets) => (targets, None),
            Err(_) => (default(), wanted),
        },
    }
}

/// tracing-subscriber's default field format (`message key=value …`), with every value's
/// control characters escaped.
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Escaping {
            writer,
            result: Ok(()),
            first: true,
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Escaping<'a> {
    writer: Writer<'a>,
    result: fmt::Result,
    first: bool,
}

impl Escaping<'_> {
    fn write(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        let sep = if self.first { "" } else { " " };
        self.first = false;
        let value = escape_control(value);
        self.result = if field.name() == "message" {
            write!(self.writer, "{sep}{value}")
        } else if let Some(name) = field.name().strip_prefix("r#") {
            write!(self.writer, "{sep}{name}={value}")
        } else {
            write!(self.writer, "{sep}{}={value}", field.name())
        };
    }
}

impl Visit for Escaping<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.write(field, &format!("{value:?}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.write(field, &format!("{value:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing::Level;

    #[test]
    fn rust_log_sets_levels_per_target_and_a_bad_one_falls_back() {
        let app = "marketplace_activity::slack::commands";
        let (unset, refused) = filter(None, "info");
        assert!(unset.would_enable(app, &Level::INFO) && !unset.would_enable(app, &Level::DEBUG));
        assert_eq!(refused, None);
        let (empty, refused) = filter(Some("  "), "error");
        assert!(empty.would_enable(app, &Level::ERROR) && !empty.would_enable(app, &Level::WARN));
        assert_eq!(refused, None);

        let (mixed, refused) = filter(Some("warn,marketplace_activity=debug"), "info");
        assert!(mixed.would_enable(app, &Level::DEBUG));
        assert!(!mixed.would_enable("aws_smithy_runtime::client", &Level::INFO));
        assert!(mixed.would_enable("aws_smithy_runtime::client", &Level::WARN));
        assert_eq!(refused, None);
        let (debug, _) = filter(Some("debug"), "info");
        assert!(debug.would_enable("aws_config", &Level::DEBUG));
        let (off, _) = filter(Some("off"), "info");
        assert!(!off.would_enable(app, &Level::ERROR));

        let (bad, refused) = filter(Some("marketplace_activity=loud"), "info");
        assert_eq!(refused, Some("marketplace_activity=loud"));
        assert!(bad.would_enable(app, &Level::INFO) && !bad.would_enable(app, &Level::DEBUG));
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_value_cannot_forge_a_line_or_carry_an_escape() {
        let buffer = Buffer::default();
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .fmt_fields(EscapedFields)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let kind = "Notification\n2026-12-06T00:00:00Z ERROR forged line\u{1b}[2J";
            tracing::warn!(%kind, quoted = kind, "refused SNS message: {kind}");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(out.matches('\n').count(), 1, "one line: {out:?}");
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(out.contains("kind=Notification\\n2026"), "{out:?}");
    }
}
