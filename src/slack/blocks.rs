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
    /// For `response_url`: `true` replaces the message a button was clicked in (a page),
    /// `false` adds a new one (details for the person who clicked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace_original: Option<bool>,
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
            replace_original: None,
        }
    }

    /// The same message, replacing the one a button was clicked in (`true`) or not.
    pub fn replacing_original(self, replace: bool) -> Self {
        Self {
            replace_original: Some(replace),
            ..self
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
        /// A button beside the text.
        #[serde(skip_serializing_if = "Option::is_none")]
        accessory: Option<Button>,
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

/// A button: a link (Slack still sends the click, which is acknowledged and nothing more) or an
/// action whose `value` carries everything its handler needs (so any replica can serve it).
/// See <https://api.slack.com/reference/block-kit/block-elements#button>.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Button {
    #[serde(rename = "type")]
    kind: &'static str,
    text: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    action_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
}

/// Slack's limits on a button: `value` and `url` up to 2,000 characters, `action_id` 255.
pub const MAX_BUTTON_VALUE: usize = 2000;

impl Button {
    pub fn link(label: &str, url: &str, action_id: &str) -> Self {
        Self {
            kind: "button",
            text: Text::plain(label, MAX_BUTTON_TEXT),
            url: Some(url.to_owned()),
            action_id: action_id.to_owned(),
            value: None,
        }
    }

    /// An action button. A `value` over Slack's limit would make the whole message invalid,
    /// so the caller keeps it short (it carries ids and a window, never free text).
    pub fn action(label: &str, action_id: &str, value: String) -> Self {
        debug_assert!(value.len() <= MAX_BUTTON_VALUE, "{value}");
        Self {
            kind: "button",
            text: Text::plain(label, MAX_BUTTON_TEXT),
            url: None,
            action_id: action_id.to_owned(),
            value: Some(value),
        }
    }

    pub fn action_id(&self) -> &str {
        &self.action_id
    }

    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
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
            accessory: None,
        }
    }

    /// A section with a button beside it.
    pub fn section_with_button(mrkdwn: &str, button: Button) -> Self {
        Self::Section {
            text: Text::mrkdwn(mrkdwn, MAX_SECTION_TEXT),
            fields: Vec::new(),
            accessory: Some(button),
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
            accessory: None,
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
        Self::actions(vec![Button::link(label, url, action_id)])
    }

    /// A row of buttons.
    pub fn actions(buttons: Vec<Button>) -> Self {
        Self::Actions { elements: buttons }
    }
}

impl Text {
    fn plain(text: &str, max: usize) -> Self {
        Self::PlainText {
            text: truncate(text, max),
            emoji: true,
        }
    }

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
