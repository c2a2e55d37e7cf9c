//! The form Slack POSTs for a slash command, parsed once it has been verified.

use serde::Deserialize;

/// The fields we use (DOMAIN.md 1.2); the deprecated `token` is ignored on purpose.
#[derive(Debug, Clone, Deserialize)]
pub struct SlashCommandRequest {
    #[serde(default)]
    pub team_id: String,
    #[serde(default)]
    pub channel_id: String,
    #[serde(default)]
    pub user_id: String,
    #[serde(default)]
    pub command: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub response_url: String,
    #[serde(default)]
    pub ssl_check: Option<String>,
}

impl SlashCommandRequest {
    pub fn parse(body: &[u8]) -> Result<Self, serde_urlencoded::de::Error> {
        serde_urlencoded::from_bytes(body)
    }

    pub fn is_ssl_check(&self) -> bool {
        self.ssl_check.as_deref() == Some("1")
    }
}
