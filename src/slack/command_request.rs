//! The form Slack POSTs for a slash command, parsed once it has been verified, and turned
//! into a [`SlashCommand`] whose `response_url` is a checked URL. Socket Mode sends the same
//! fields as JSON ([`SlashCommandForm::from_json`]); both become a `SlashCommand` the same way.
//! See <https://api.slack.com/interactivity/slash-commands#app_command_handling>.

use serde::Deserialize;

use super::response_url::ResponseUrl;

/// The fields we read; the deprecated `token` is ignored on purpose (requests are verified by
/// their signature).
#[derive(Deserialize)]
pub struct SlashCommandForm {
    #[serde(default)]
    team_id: String,
    #[serde(default)]
    channel_id: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    command: Option<String>,
    #[serde(default)]
    text: String,
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    ssl_check: Option<String>,
    /// Interactions (shortcuts, button clicks) come as one `payload` field: not a command.
    #[serde(default)]
    payload: Option<String>,
}

impl SlashCommandForm {
    pub fn parse(body: &[u8]) -> Result<Self, serde_urlencoded::de::Error> {
        serde_urlencoded::from_bytes(body)
    }

    /// The same fields as a JSON object: a Socket Mode `slash_commands` envelope's `payload`.
    /// See <https://api.slack.com/apis/socket-mode#command>.
    pub fn from_json(payload: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(payload)
    }

    /// Slack's periodic certificate check (`ssl_check=1`): answered with an empty 200.
    pub fn is_ssl_check(&self) -> bool {
        self.ssl_check.as_deref() == Some("1")
    }
}

/// A slash command as the app uses it.
#[derive(Debug, Clone)]
pub struct SlashCommand {
    pub team_id: String,
    pub channel_id: String,
    pub user_id: String,
    pub text: String,
    pub response_url: ResponseUrl,
}

/// A form that is not a slash command we can answer.
#[derive(Debug, thiserror::Error)]
pub enum NotACommand {
    #[error("an interaction payload, not a slash command")]
    Interaction,
    #[error("no command")]
    NoCommand,
    #[error("no response_url, or not an http(s) URL")]
    ResponseUrl,
}

impl TryFrom<SlashCommandForm> for SlashCommand {
    type Error = NotACommand;

    fn try_from(form: SlashCommandForm) -> Result<Self, Self::Error> {
        if form.payload.is_some() {
            return Err(NotACommand::Interaction);
        }
        if !form.command.as_deref().is_some_and(|c| c.starts_with('/')) {
            return Err(NotACommand::NoCommand);
        }
        let response_url = form
            .response_url
            .as_deref()
            .and_then(ResponseUrl::parse)
            .ok_or(NotACommand::ResponseUrl)?;
        Ok(Self {
            team_id: form.team_id,
            channel_id: form.channel_id,
            user_id: form.user_id,
            text: form.text,
            response_url,
        })
    }
}
