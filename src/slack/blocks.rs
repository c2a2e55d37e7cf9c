//! Block Kit, typed, with Slack's limits applied where text is made
//! (a message over them is rejected with `invalid_blocks`).

use serde::Serialize;

/// Slack's limits: <https://api.slack.com/reference/block-kit/blocks> and
/// <https://api.slack.com/methods/chat.postMessage#truncating>.
pub const MAX_BLOCKS: usize = 50;
pub const MAX_SECTION_TEXT: usize = 3000;
pub const MAX_FIELD_TEXT: usize = 2000;
pub const MAX_FIELDS: usize = 10;
pub const MAX_HEADER_TEXT: usize = 150;
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_FALLBACK_TEXT: usize = 4000;

/// A message body: what `response_url` and `chat.postMessage` both take.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Message {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_type: Option<ResponseType>,
    /// The notification and screen-reader fallback; always set.
    pub text: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ResponseType {
    Ephemeral,
    InChannel,
}

impl Message {
    pub fn new(response_type: Option<ResponseType>, text: &str, blocks: Vec<Block>) -> Self {
        Self {
            response_type,
            text: truncate(text, MAX_FALLBACK_TEXT),
            blocks,
        }
    }

    pub fn ephemeral(text: &str, blocks: Vec<Block>) -> Self {
        Self::new(Some(ResponseType::Ephemeral), text, blocks)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Header {
        text: Text,
    },
    Section {
        text: Text,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        fields: Vec<Text>,
    },
    Context {
        elements: Vec<Text>,
    },
    Divider {},
    Actions {
        elements: Vec<Button>,
    },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Text {
    PlainText { text: String, emoji: bool },
    Mrkdwn { text: String },
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Button {
    #[serde(rename = "type")]
    kind: &'static str,
    text: Text,
    url: String,
    action_id: String,
}

impl Block {
    pub fn header(text: &str) -> Self {
        Self::Header {
            text: Text::PlainText {
                text: truncate(text, MAX_HEADER_TEXT),
                emoji: true,
            },
        }
    }

    /// A section of mrkdwn. The caller escapes what it didn't write itself ([`escape`]).
    pub fn section(mrkdwn: &str) -> Self {
        Self::Section {
            text: Text::mrkdwn(mrkdwn, MAX_SECTION_TEXT),
            fields: Vec::new(),
        }
    }

    pub fn section_with_fields(mrkdwn: &str, fields: &[String]) -> Self {
        Self::Section {
            text: Text::mrkdwn(mrkdwn, MAX_SECTION_TEXT),
            fields: fields
                .iter()
                .take(MAX_FIELDS)
                .map(|f| Text::mrkdwn(f, MAX_FIELD_TEXT))
                .collect(),
        }
    }

    pub fn context(lines: &[String]) -> Self {
        Self::Context {
            elements: lines
                .iter()
                .take(MAX_CONTEXT_ELEMENTS)
                .map(|l| Text::mrkdwn(l, MAX_SECTION_TEXT))
                .collect(),
        }
    }

    pub fn link_button(label: &str, url: &str, action_id: &str) -> Self {
        Self::Actions {
            elements: vec![Button {
                kind: "button",
                text: Text::PlainText {
                    text: truncate(label, MAX_BUTTON_TEXT),
                    emoji: true,
                },
                url: url.to_owned(),
                action_id: action_id.to_owned(),
            }],
        }
    }
}

impl Text {
    fn mrkdwn(text: &str, max: usize) -> Self {
        Self::Mrkdwn {
            text: truncate(text, max),
        }
    }
}

/// Escapes the three characters mrkdwn treats as control characters, for text we didn't write
/// (names, error messages): `<!channel>` in a role session name must not ping a channel.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Cuts `text` to at most `max` characters, ending with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

/// A date every reader sees in their own time zone, with a UTC fallback.
pub fn date_token(time: chrono::DateTime<chrono::Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        time.timestamp(),
        time.format("%Y-%m-%d %H:%M UTC")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_applied_where_text_is_made() {
        let long = "x".repeat(5000);
        let Block::Header {
            text: Text::PlainText { text, .. },
        } = Block::header(&long)
        else {
            unreachable!()
        };
        assert_eq!(text.chars().count(), MAX_HEADER_TEXT);
        let Block::Section {
            text: Text::Mrkdwn { text },
            ..
        } = Block::section(&long)
        else {
            unreachable!()
        };
        assert_eq!(text.chars().count(), MAX_SECTION_TEXT);
        assert!(text.ends_with('…'));
        assert_eq!(
            Message::ephemeral(&long, vec![]).text.chars().count(),
            MAX_FALLBACK_TEXT
        );
    }

    #[test]
    fn escape_and_date() {
        assert_eq!(escape("<!channel> & co"), "&lt;!channel&gt; &amp; co");
        let t = "2023-09-06T06:46:57Z".parse().unwrap();
        assert_eq!(
            date_token(t),
            "<!date^1693982817^{date_short_pretty} {time}|2023-09-06 06:46 UTC>"
        );
    }
}
