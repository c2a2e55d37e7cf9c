//! The form Slack POSTs for a slash command, parsed once it has been verified, and turned
//! into a [`SlashCommand`] whose `response_url` is a checked URL. Socket Mode sends the same
//! fields as JSON ([`SlashCommandForm::from_json`]); both become a `SlashCommand` the same way.
//! See <https://api.slack.com/interactivity/slash-commands#app_command_handling>.

use std::borrow::Cow;

use serde::Deserialize;

use super::response_url::ResponseUrl;

/// The fields we read; the deprecated `token` is ignored on purpose (requests are verified by
/// their signature). [`SlashCommandForm::parse`] reads them the way `serde_urlencoded` reads
/// this struct (the derive stays, and a test holds the two to the same answers). A value with
/// nothing to decode borrows the body (most of them: ids, `help`); serde's derive, used for
/// Socket Mode's JSON, always owns them.
#[derive(Deserialize, Default)]
#[cfg_attr(test, derive(Debug, PartialEq))]
pub struct SlashCommandForm<'a> {
    #[serde(default)]
    team_id: Cow<'a, str>,
    #[serde(default)]
    channel_id: Cow<'a, str>,
    #[serde(default)]
    user_id: Cow<'a, str>,
    #[serde(default)]
    command: Option<Cow<'a, str>>,
    #[serde(default)]
    text: Cow<'a, str>,
    #[serde(default)]
    response_url: Option<Cow<'a, str>>,
    #[serde(default)]
    ssl_check: Option<Cow<'a, str>>,
    /// Interactions (shortcuts, button clicks) come as one `payload` field: not a command.
    #[serde(default)]
    payload: Option<Cow<'a, str>>,
}

impl<'a> SlashCommandForm<'a> {
    /// Parses the form as `serde_urlencoded::from_bytes` does (pairs split on `&` and the
    /// first `=`, `+` a space, `%XX` a byte, invalid UTF-8 replaced, unknown fields ignored, a
    /// field given twice an error), decoding only the values of the fields kept: the rest of a
    /// slash command's ~500 bytes (token, names, trigger id) are skipped, not decoded.
    pub fn parse(body: &'a [u8]) -> Result<Self, serde_urlencoded::de::Error> {
        let mut form = Self::default();
        let mut seen = [false; 8];
        for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (key, value) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let (n, name) = match &*decode(key) {
                "team_id" => (0, "team_id"),
                "channel_id" => (1, "channel_id"),
                "user_id" => (2, "user_id"),
                "command" => (3, "command"),
                "text" => (4, "text"),
                "response_url" => (5, "response_url"),
                "ssl_check" => (6, "ssl_check"),
                "payload" => (7, "payload"),
                _ => continue,
            };
            if std::mem::replace(&mut seen[n], true) {
                return Err(serde::de::Error::duplicate_field(name));
            }
            let value = decode(value);
            match n {
                0 => form.team_id = value,
                1 => form.channel_id = value,
                2 => form.user_id = value,
                3 => form.command = Some(value),
                4 => form.text = value,
                5 => form.response_url = Some(value),
                6 => form.ssl_check = Some(value),
                _ => form.payload = Some(value),
            }
        }
        Ok(form)
    }

    /// The same fields as a JSON object: a Socket Mode `slash_commands` envelope's `payload`.
    /// See <https://api.slack.com/apis/socket-mode#command>.
    pub fn from_json(
        payload: serde_json::Value,
    ) -> Result<SlashCommandForm<'static>, serde_json::Error> {
        serde_json::from_value(payload)
    }

    /// Slack's periodic certificate check (`ssl_check=1`): answered with an empty 200.
    pub fn is_ssl_check(&self) -> bool {
        self.ssl_check.as_deref() == Some("1")
    }
}

/// One name or value of an `application/x-www-form-urlencoded` body, decoded as
/// `form_urlencoded` does: `+` is a space, `%XX` a byte (a `%` not followed by two hex digits
/// stays), then UTF-8 with invalid sequences replaced. Borrowed when there is nothing to decode.
fn decode(input: &[u8]) -> Cow<'_, str> {
    if !input.iter().any(|&b| b == b'+' || b == b'%') {
        // The validating fast path first; the lossy one only for bytes that are not UTF-8.
        return match std::str::from_utf8(input) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(input),
        };
    }
    let hex = |i: usize| input.get(i).and_then(|&b| char::from(b).to_digit(16));
    let mut bytes = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let byte = match input[i] {
            b'+' => b' ',
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(high), Some(low)) => {
                    i += 2;
                    (high * 16 + low) as u8
                }
                _ => b'%',
            },
            b => b,
        };
        bytes.push(byte);
        i += 1;
    }
    match String::from_utf8(bytes) {
        Ok(text) => Cow::Owned(text),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

/// A slash command as the app uses it: borrowing the request's body while it is answered at
/// once, [`SlashCommand::into_owned`] for work that outlives the request.
#[derive(Debug, Clone)]
pub struct SlashCommand<'a> {
    pub team_id: Cow<'a, str>,
    pub channel_id: Cow<'a, str>,
    pub user_id: Cow<'a, str>,
    pub text: Cow<'a, str>,
    pub response_url: ResponseUrl,
}

impl SlashCommand<'_> {
    /// The same command, owning its text.
    pub fn into_owned(self) -> SlashCommand<'static> {
        SlashCommand {
            team_id: Cow::Owned(self.team_id.into_owned()),
            channel_id: Cow::Owned(self.channel_id.into_owned()),
            user_id: Cow::Owned(self.user_id.into_owned()),
            text: Cow::Owned(self.text.into_owned()),
            response_url: self.response_url,
        }
    }
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

impl<'a> TryFrom<SlashCommandForm<'a>> for SlashCommand<'a> {
    type Error = NotACommand;

    fn try_from(form: SlashCommandForm<'a>) -> Result<Self, Self::Error> {
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

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    fn both(
        body: &[u8],
    ) -> (
        Result<SlashCommandForm<'_>, String>,
        Result<SlashCommandForm<'static>, String>,
    ) {
        (
            SlashCommandForm::parse(body).map_err(|e| e.to_string()),
            serde_urlencoded::from_bytes::<SlashCommandForm>(body).map_err(|e| e.to_string()),
        )
    }

    #[test]
    fn a_slash_command_is_read_as_serde_urlencoded_reads_it() {
        for body in [
            &b"token=x&team_id=T1&channel_id=C1&user_id=U1&command=%2Fmarketplace-activity&text=30d+purchases%20share&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1%2F1%2Fabc&trigger_id=1.2.3"[..],
            b"",
            b"&&&",
            b"text",
            b"text=&text",
            b"text=a&text=b",
            b"payload=%7B%22type%22%3A%22block_actions%22%7D",
            b"ssl_check=1&token=x",
            b"te%78t=escaped+name&user_id=%",
            b"text=%zz%4%41%e2%82%ac%ff+%2B",
            b"text=\xff\xfe&team_id=a=b=c",
            b"unknown=1&unknown=2&=empty&text=ok",
        ] {
            let (ours, theirs) = both(body);
            assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(body));
        }
    }

    proptest::proptest! {
        #[test]
        fn any_body_is_read_as_serde_urlencoded_reads_it(
            parts in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        "team_id", "channel_id", "user_id", "command", "text", "response_url",
                        "ssl_check", "payload", "token", "te%78t", "=", "&", "+", "%", "%2", "%41",
                        "%e2%82%ac", "%ff", "%zz",
                    ]).prop_map(|s| s.as_bytes().to_vec()),
                    proptest::collection::vec(proptest::num::u8::ANY, 0..4),
                ],
                0..24,
            )
        ) {
            let body = parts.concat();
            let (ours, theirs) = both(&body);
            proptest::prop_assert_eq!(ours, theirs);
        }
    }
}
