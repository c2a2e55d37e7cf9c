//! What the app says about things it did not write: text from outside (event fields, form
//! values, error messages that quote them) escaped before it reaches a log line or an error
//! body, and URLs (which may carry secrets: a `response_url`, a pre-signed query) left out of
//! error messages.

use std::fmt::Write as _;

/// `text` with every control character (newline, escape, NUL…) written as a Rust escape
/// (`\n`, `\u{1b}`), so a value can't start a forged log line or carry a terminal escape.
pub fn escape_control(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters of `text`, escaped, with `…` when cut: for quoting outside input
/// in an error body.
pub fn excerpt(text: &str, max: usize) -> String {
    let cut: String = text.chars().take(max).collect();
    let more = text.chars().nth(max).is_some();
    let mut out = escape_control(&cut);
    if more {
        out.push('…');
    }
    out
}

/// An error and its causes, joined with `: `, with every URL in them replaced by `<url>`.
/// HTTP client errors name the URL they failed on (reqwest's `Display` does), and some URLs
/// are secrets: a slash command's `response_url` lets anyone post into the conversation.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = without_urls(&e.to_string());
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        next = e.source();
    }
    escape_control(&parts.join(": "))
}

/// `text` with anything that looks like a URL (`scheme://…` up to whitespace or a closing
/// bracket or quote) replaced by `<url>`.
pub fn without_urls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters (and + - .) just before "://".
        let start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        if start == at {
            out.push_str(&rest[..at + 3]);
            rest = &rest[at + 3..];
            continue;
        }
        out.push_str(&rest[..start]);
        out.push_str("<url>");
        let after = &rest[at + 3..];
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | ']' | '>' | '"' | '\''))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("plain"), "plain");
        assert_eq!(
            escape_control("Notification\n2026-01-01 ERROR forged\u{1b}[31m"),
            "Notification\\n2026-01-01 ERROR forged\\u{1b}[31m"
        );
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("a\nb", 10), "a\\nb");
    }

    #[test]
    fn urls_never_survive_in_an_error_chain() {
        let cases = [
            (
                "error sending request for url (https://hooks.slack.com/commands/T1/123/abcSECRET)",
                "error sending request for url (<url>)",
            ),
            (
                "connect to http://127.0.0.1:9/x?token=s3cr3t failed",
                "connect to <url> failed",
            ),
            ("no url here", "no url here"),
            ("odd ://thing", "odd ://thing"),
        ];
        for (given, want) in cases {
            assert_eq!(without_urls(given), want, "case {given}");
        }
        #[derive(Debug, thiserror::Error)]
        #[error("could not reach https://hooks.slack.com/actions/T/1/SECRET")]
        struct Inner;
        #[derive(Debug, thiserror::Error)]
        #[error("answer not delivered")]
        struct Outer(#[source] Inner);
        let chain = error_chain(&Outer(Inner));
        assert_eq!(chain, "answer not delivered: could not reach <url>");
    }
}
