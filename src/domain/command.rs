//! The slash command's grammar: `[window] [filter] [share]`, or `help`.
//!
//! The same grammar is used by `/marketplace-activity` in Slack and by
//! `marketplace-activity query` in a terminal.

use chrono::NaiveDate;

use super::{AgreementId, Period, PeriodUnit, WindowSpec, CLOUDTRAIL_RETENTION_DAYS};
use crate::domain::Activity;

/// Shown by `help` and after every mistake.
pub const USAGE: &str = "\
*Usage:* `/marketplace-activity [window] [filter] [account:<alias>] [csv] [share]`
• *window*: `24h`, `7d` (default), `30d`, `90d`, any `<N>h` or `<N>d`, `since 2026-11-01`, or `2026-11-01..2026-11-15` (CloudTrail keeps 90 days)
• *filter*: `all` (default), `purchases`, `cancellations`, or an agreement id like `agmt-cx71281flrkxyks8eurk5nlyk` for its history (without a window: the last 90 days, all CloudTrail keeps)
• `account:<alias or id>`: only that AWS account
• `csv`: also upload the full result as a CSV file
• `share`: post the answer in the channel instead of only to you
• `help`: show this
Examples: `/marketplace-activity` · `/marketplace-activity 30d purchases` · `/marketplace-activity since 2026-11-01 cancellations share`";

/// The window of an agreement filter given without one: everything CloudTrail keeps.
const AGREEMENT_DAYS: u32 = CLOUDTRAIL_RETENTION_DAYS as u32;

/// Longest window a person may type; far beyond CloudTrail's retention but keeps date
/// arithmetic well inside its range whatever number is typed.
const MAX_DAYS: u32 = 3660;

/// Which activities a report shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Filter {
    #[default]
    All,
    Purchases,
    Cancellations,
    Agreement(AgreementId),
}

impl Filter {
    pub fn matches(&self, activity: &Activity) -> bool {
        match self {
            Self::All => true,
            Self::Purchases => activity.kind.is_purchase(),
            Self::Cancellations => activity.kind.is_cancellation(),
            Self::Agreement(id) => activity.agreement_id.as_ref() == Some(id),
        }
    }

    /// How a header names it: "purchases", "agreement agmt-…".
    pub fn describe(&self) -> Option<String> {
        match self {
            Self::All => None,
            Self::Purchases => Some("purchases".into()),
            Self::Cancellations => Some("cancellations".into()),
            Self::Agreement(id) => Some(format!("agreement {id}")),
        }
    }
}

/// A report request: what window, which activities, and who sees the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub window: WindowSpec,
    pub filter: Filter,
    /// Post the answer in the channel (`in_channel`) rather than only to the caller.
    pub share: bool,
    /// Only this account (`account:<alias or id>`).
    pub account: Option<String>,
    /// Also upload the full result as a CSV file (`csv`).
    pub csv: bool,
}

/// What the person asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Help,
    Report(Query),
}

/// A command we could not understand; the message quotes what was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("I didn't understand {}.", quote_all(.0))]
    NotUnderstood(Vec<String>),
    #[error("`{0}` is not a date I can read: use YYYY-MM-DD, like 2026-11-01.")]
    BadDate(String),
    #[error("`since` needs a date after it, like `since 2026-11-01`.")]
    SinceWithoutDate,
    #[error("Give one window, not two (`{0}` and `{1}`).")]
    TwoWindows(String, String),
    #[error("Give one filter, not two (`{0}` and `{1}`).")]
    TwoFilters(String, String),
    #[error("`{0}` is longer than I can look back: the most is {MAX_DAYS} days.")]
    WindowTooLong(String),
    #[error("`{0}` is an empty window.")]
    EmptyWindow(String),
    #[error("`account:` needs an alias or an account id after it, like `account:prod`.")]
    AccountWithoutName,
}

fn quote_all(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("`{}`", w.replace('`', "'")))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Command {
    /// Parses the text typed after the command. Case and extra spaces don't matter.
    pub fn parse(text: &str) -> Result<Self, CommandError> {
        // `help` without collecting the words.
        let mut first_two = text.split_whitespace();
        if let (Some(only), None) = (first_two.next(), first_two.next()) {
            if only.eq_ignore_ascii_case("help") {
                return Ok(Self::Help);
            }
        }
        let words: Vec<&str> = text.split_whitespace().collect();
        let mut query = Query::default();
        let mut window_word: Option<String> = None;
        let mut filter_word: Option<String> = None;
        let mut not_understood = Vec::new();
        let mut i = 0;
        while i < words.len() {
            let raw = words[i];
            let word = raw.to_ascii_lowercase();
            i += 1;
            let window = if word == "since" {
                let Some(date) = words.get(i) else {
                    return Err(CommandError::SinceWithoutDate);
                };
                i += 1;
                Some(WindowSpec::Since(parse_date(date)?))
            } else {
                parse_window_word(&word)?
            };
            if let Some(window) = window {
                if let Some(previous) = window_word.replace(raw.to_owned()) {
                    return Err(CommandError::TwoWindows(previous, raw.to_owned()));
                }
                query.window = window;
                continue;
            }
            let filter = match word.as_str() {
                "all" => Some(Filter::All),
                "purchases" | "purchase" | "subscriptions" => Some(Filter::Purchases),
                "cancellations" | "cancellation" | "cancels" => Some(Filter::Cancellations),
                _ => AgreementId::parse(&word).map(Filter::Agreement),
            };
            if let Some(filter) = filter {
                if let Some(previous) = filter_word.replace(raw.to_owned()) {
                    return Err(CommandError::TwoFilters(previous, raw.to_owned()));
                }
                query.filter = filter;
                continue;
            }
            if let Some(account) = word.strip_prefix("account:") {
                if account.is_empty() {
                    return Err(CommandError::AccountWithoutName);
                }
                query.account = Some(raw["account:".len()..].to_owned());
                continue;
            }
            match word.as_str() {
                "share" | "public" => query.share = true,
                "csv" | "export" => query.csv = true,
                "help" => return Ok(Self::Help),
                _ => not_understood.push(truncate(raw, 60)),
            }
        }
        if !not_understood.is_empty() {
            return Err(CommandError::NotUnderstood(not_understood));
        }
        // An agreement's history is what someone asking about one agreement wants: without a
        // window, all that CloudTrail keeps rather than the default week.
        if window_word.is_none() && matches!(query.filter, Filter::Agreement(_)) {
            query.window = WindowSpec::LastDays(AGREEMENT_DAYS);
        }
        Ok(Self::Report(query))
    }
}

/// `24h`, `7d`, `2026-11-01..2026-11-15`; `None` when the word is not a window at all.
fn parse_window_word(word: &str) -> Result<Option<WindowSpec>, CommandError> {
    if let Some((a, b)) = word.split_once("..") {
        return Ok(Some(WindowSpec::Between(parse_date(a)?, parse_date(b)?)));
    }
    let Some(period) = Period::parse(word) else {
        return Ok(None);
    };
    let (limit, make): (u32, fn(u32) -> WindowSpec) = match period.unit {
        PeriodUnit::Hours => (MAX_DAYS * 24, WindowSpec::LastHours),
        PeriodUnit::Days => (MAX_DAYS, WindowSpec::LastDays),
        PeriodUnit::Minutes => return Ok(None),
    };
    match u32::try_from(period.count) {
        Ok(0) => Err(CommandError::EmptyWindow(word.to_owned())),
        Ok(n) if n <= limit => Ok(Some(make(n))),
        _ => Err(CommandError::WindowTooLong(word.to_owned())),
    }
}

fn parse_date(raw: &str) -> Result<NaiveDate, CommandError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| CommandError::BadDate(truncate(raw, 40)))
}

fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(window: WindowSpec, filter: Filter, share: bool) -> Command {
        Command::Report(Query {
            window,
            filter,
            share,
            ..Query::default()
        })
    }

    #[test]
    fn account_and_csv() {
        let Ok(Command::Report(q)) = Command::parse("90d csv account:Prod purchases") else {
            panic!()
        };
        assert_eq!(q.account.as_deref(), Some("Prod"));
        assert!(q.csv);
        assert_eq!(q.filter, Filter::Purchases);
        assert_eq!(
            Command::parse("account:"),
            Err(CommandError::AccountWithoutName)
        );
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn grammar_table() {
        let agmt = AgreementId::parse("agmt-cx71281flrkxyks8eurk5nlyk").unwrap();
        let cases: Vec<(&str, Command)> = vec![
            ("", report(WindowSpec::LastDays(7), Filter::All, false)),
            ("   ", report(WindowSpec::LastDays(7), Filter::All, false)),
            ("help", Command::Help),
            ("HELP", Command::Help),
            ("24h", report(WindowSpec::LastHours(24), Filter::All, false)),
            ("30d", report(WindowSpec::LastDays(30), Filter::All, false)),
            ("90D", report(WindowSpec::LastDays(90), Filter::All, false)),
            (
                "365d",
                report(WindowSpec::LastDays(365), Filter::All, false),
            ),
            (
                "since 2026-11-01",
                report(WindowSpec::Since(day("2026-11-01")), Filter::All, false),
            ),
            (
                "2026-11-01..2026-11-15",
                report(
                    WindowSpec::Between(day("2026-11-01"), day("2026-11-15")),
                    Filter::All,
                    false,
                ),
            ),
            (
                "purchases",
                report(WindowSpec::LastDays(7), Filter::Purchases, false),
            ),
            (
                "cancellations 30d",
                report(WindowSpec::LastDays(30), Filter::Cancellations, false),
            ),
            (
                "all share",
                report(WindowSpec::LastDays(7), Filter::All, true),
            ),
            (
                "agmt-CX71281flrkxyks8eurk5nlyk 90d share",
                report(
                    WindowSpec::LastDays(90),
                    Filter::Agreement(agmt.clone()),
                    true,
                ),
            ),
            (
                "agmt-cx71281flrkxyks8eurk5nlyk 24h",
                report(
                    WindowSpec::LastHours(24),
                    Filter::Agreement(agmt.clone()),
                    false,
                ),
            ),
            (
                "2026-11-01..2026-11-02 agmt-cx71281flrkxyks8eurk5nlyk",
                report(
                    WindowSpec::Between(day("2026-11-01"), day("2026-11-02")),
                    Filter::Agreement(agmt.clone()),
                    false,
                ),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(Command::parse(text), Ok(want), "text {text:?}");
        }
    }

    #[test]
    fn mistakes_table() {
        let cases: Vec<(&str, CommandError)> = vec![
            (
                "yesterday",
                CommandError::NotUnderstood(vec!["yesterday".into()]),
            ),
            (
                "7d purchses foo",
                CommandError::NotUnderstood(vec!["purchses".into(), "foo".into()]),
            ),
            ("since", CommandError::SinceWithoutDate),
            (
                "since 2026-13-01",
                CommandError::BadDate("2026-13-01".into()),
            ),
            ("2026-11-01..", CommandError::BadDate("".into())),
            (
                "7d 30d",
                CommandError::TwoWindows("7d".into(), "30d".into()),
            ),
            (
                "purchases cancellations",
                CommandError::TwoFilters("purchases".into(), "cancellations".into()),
            ),
            ("0d", CommandError::EmptyWindow("0d".into())),
            (
                "99999999999d",
                CommandError::WindowTooLong("99999999999d".into()),
            ),
            ("4000d", CommandError::WindowTooLong("4000d".into())),
            // Found by proptest: a multi-byte last character once split a char in two.
            ("7é", CommandError::NotUnderstood(vec!["7é".into()])),
        ];
        for (text, want) in cases {
            assert_eq!(Command::parse(text), Err(want), "text {text:?}");
        }
    }

    #[test]
    fn an_agreement_alone_covers_all_that_cloudtrail_keeps() {
        let Ok(Command::Report(q)) = Command::parse("agmt-cx71281flrkxyks8eurk5nlyk") else {
            panic!()
        };
        assert_eq!(q.window, WindowSpec::LastDays(90));
        let now: chrono::DateTime<chrono::Utc> = "2026-11-30T12:00:00Z".parse().unwrap();
        let w = q.window.resolve(now).unwrap();
        assert_eq!(w.start, now - chrono::Duration::days(90));
        assert!(w.clamped_from.is_none(), "90 days is not shortened");
        // Other filters keep the default week.
        let Ok(Command::Report(q)) = Command::parse("purchases") else {
            panic!()
        };
        assert_eq!(q.window, WindowSpec::LastDays(7));
    }

    #[test]
    fn the_message_quotes_what_was_not_understood() {
        let err = Command::parse("7d lastweek").unwrap_err();
        assert_eq!(err.to_string(), "I didn't understand `lastweek`.");
    }

    proptest::proptest! {
        #[test]
        fn no_text_makes_the_parser_panic(text in "\\PC{0,80}") {
            if let Ok(Command::Report(q)) = Command::parse(&text) {
                let _ = q.window.resolve(chrono::Utc::now());
            }
        }

        #[test]
        fn grammar_words_in_any_order(
            w in proptest::sample::select(vec!["24h", "7d", "since 2026-11-01", "2026-11-01..2026-11-02", ""]),
            f in proptest::sample::select(vec!["purchases", "cancellations", "all", "agmt-abc123", ""]),
            s in proptest::bool::ANY,
            swap in proptest::bool::ANY,
        ) {
            let share = if s { "share" } else { "" };
            let text = if swap { format!("{share} {f} {w}") } else { format!("{w} {f} {share}") };
            let parsed = Command::parse(&text);
            proptest::prop_assert!(matches!(parsed, Ok(Command::Report(ref q)) if q.share == s), "{text:?} -> {parsed:?}");
        }
    }
}
