//! What the app's buttons carry. Every button's `value` holds all its handler needs (the
//! absolute window, the command's words, the page; or the agreement and its account), so any
//! replica can answer a click and nothing is stored. Values are compact JSON, well under
//! Slack's 2,000 characters.

use serde::{Deserialize, Serialize};

use crate::domain::{AgreementId, TimeWindow};

/// `action_id`s.
pub const PAGE: &str = "page";
pub const DETAILS: &str = "details";
/// The link button to the console: Slack sends its click too; it is acknowledged, nothing more.
pub const OPEN_SUBSCRIPTIONS: &str = "open_subscriptions";

/// Longest command text a page button carries; a longer one gets no paging buttons.
pub const MAX_QUERY_TEXT: usize = 500;

/// One page of an answer: the window it covers (absolute, so the page does not move with the
/// clock), the command's words (filter, account), and which activities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageRef {
    #[serde(rename = "w", with = "window")]
    pub window: TimeWindow,
    #[serde(rename = "q")]
    pub text: String,
    #[serde(rename = "o")]
    pub offset: usize,
    #[serde(rename = "s", default, skip_serializing_if = "std::ops::Not::not")]
    pub share: bool,
}

/// An agreement to describe, and the account that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DetailsRef {
    #[serde(rename = "a")]
    pub agreement: AgreementId,
    #[serde(rename = "c", default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// A window as a page button carries it: start and end in epoch seconds, the label, its kind.
mod window {
    use chrono::DateTime;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::domain::{TimeWindow, WindowKind};

    #[derive(Serialize, Deserialize)]
    struct Compact {
        s: i64,
        e: i64,
        l: String,
        k: WindowKind,
    }

    pub fn serialize<S: Serializer>(w: &TimeWindow, s: S) -> Result<S::Ok, S::Error> {
        Compact {
            s: w.start.timestamp(),
            e: w.end.timestamp(),
            l: w.label.clone(),
            k: w.kind,
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<TimeWindow, D::Error> {
        let c = Compact::deserialize(d)?;
        let time = |t| {
            DateTime::from_timestamp(t, 0)
                .ok_or_else(|| serde::de::Error::custom("time out of range"))
        };
        let (start, end) = (time(c.s)?, time(c.e)?);
        if end < start || c.l.len() > 64 {
            return Err(serde::de::Error::custom("not a window"));
        }
        Ok(TimeWindow {
            start,
            end,
            label: c.l,
            clamped_from: None,
            kind: c.k,
        })
    }
}

/// A button value in, or the reason it isn't one of ours.
pub fn decode<T: for<'de> Deserialize<'de>>(value: &str) -> Result<T, serde_json::Error> {
    serde_json::from_str(value)
}

pub fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("button values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::WindowSpec;

    #[test]
    fn values_round_trip_and_stay_small() {
        let mut window = WindowSpec::LastDays(90)
            .resolve("2026-12-06T00:00:00Z".parse().unwrap())
            .unwrap();
        window.clamped_from = None;
        let page = PageRef {
            window,
            text: "x".repeat(MAX_QUERY_TEXT),
            offset: 40,
            share: true,
        };
        let value = encode(&page);
        assert!(value.len() < 1000, "{}", value.len());
        assert_eq!(decode::<PageRef>(&value).unwrap(), page);
        let details = DetailsRef {
            agreement: AgreementId::parse("agmt-1234567890abcdef").unwrap(),
            account: Some("111122223333".into()),
        };
        assert_eq!(decode::<DetailsRef>(&encode(&details)).unwrap(), details);
        assert!(decode::<DetailsRef>(r#"{"a":"not-an-agreement"}"#).is_err());
    }
}
