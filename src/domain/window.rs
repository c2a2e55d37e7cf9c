//! The time window a report covers, and how CloudTrail's 90-day retention bounds it.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, SubsecRound as _, Utc};
use serde::Serialize;

/// CloudTrail event history keeps management events this long.
pub const CLOUDTRAIL_RETENTION_DAYS: i64 = 90;

/// A window as the person typed it, before it is pinned to the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowSpec {
    /// The last N hours.
    LastHours(u32),
    /// The last N days.
    LastDays(u32),
    /// From the start of that day (UTC) until now.
    Since(NaiveDate),
    /// From the start of the first day to the end of the second (UTC), both included.
    Between(NaiveDate, NaiveDate),
}

impl Default for WindowSpec {
    fn default() -> Self {
        Self::LastDays(7)
    }
}

/// Why a window can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("the window starts in the future")]
    StartsInFuture,
    #[error("the window ends before it starts")]
    Reversed,
    #[error(
        "the window ends more than {CLOUDTRAIL_RETENTION_DAYS} days ago, and CloudTrail keeps only \
         {CLOUDTRAIL_RETENTION_DAYS} days (older activity is in your trail's S3 logs: \
         `marketplace-activity query --events-file`)"
    )]
    BeyondRetention,
}

/// A resolved window: inclusive `start..=end`, in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimeWindow {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// How the person asked for it, for headers: "last 7 days", "since 2026-11-01".
    pub label: String,
    /// Set when the start was moved forward to CloudTrail's retention limit.
    pub clamped_from: Option<DateTime<Utc>>,
    /// Which shape the label has, so sentences around it read right.
    #[serde(skip)]
    pub kind: WindowKind,
}

/// The shape of a window's label: "last 7 days", "since 2026-11-01", "on 2026-11-01", or
/// "2026-11-01 to 2026-11-15".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowKind {
    #[default]
    Last,
    Since,
    On,
    Range,
}

/// A span written `<N><unit>`: `7d`, `24h`, `30m`. Used by the command's windows and the
/// digest's period, each with its own bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// As written; a number too large for `u64` reads as `u64::MAX` (surely out of bounds).
    pub count: u64,
    pub unit: PeriodUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeriodUnit {
    Minutes,
    Hours,
    Days,
}

impl Period {
    /// `None` when `word` is not digits followed by `m`, `h` or `d`.
    pub fn parse(word: &str) -> Option<Self> {
        let (digits, unit) = if let Some(d) = word.strip_suffix('d') {
            (d, PeriodUnit::Days)
        } else if let Some(d) = word.strip_suffix('h') {
            (d, PeriodUnit::Hours)
        } else if let Some(d) = word.strip_suffix('m') {
            (d, PeriodUnit::Minutes)
        } else {
            return None;
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let count = digits.parse().unwrap_or(u64::MAX);
        Some(Self { count, unit })
    }

    /// The span; saturates for counts no bound would accept.
    pub fn duration(self) -> Duration {
        let n = i64::try_from(self.count).unwrap_or(i64::MAX / 86_400_000);
        let n = n.min(i64::MAX / 86_400_000);
        match self.unit {
            PeriodUnit::Minutes => Duration::minutes(n),
            PeriodUnit::Hours => Duration::hours(n),
            PeriodUnit::Days => Duration::days(n),
        }
    }
}

impl WindowSpec {
    /// Pins the window to `now`, clamping its start to what CloudTrail still keeps.
    pub fn resolve(self, now: DateTime<Utc>) -> Result<TimeWindow, WindowError> {
        let mut window = self.resolve_unbounded(now)?;
        let oldest = now - Duration::days(CLOUDTRAIL_RETENTION_DAYS);
        if window.end < oldest {
            return Err(WindowError::BeyondRetention);
        }
        if window.start < oldest {
            window.clamped_from = Some(window.start);
            window.start = oldest;
        }
        Ok(window)
    }

    /// The window without CloudTrail's retention rule, for archived trail logs read from a file.
    pub fn resolve_unbounded(self, now: DateTime<Utc>) -> Result<TimeWindow, WindowError> {
        // Whole seconds, as CloudTrail's times are and as a page button carries the window.
        let now = now.trunc_subsecs(0);
        let (start, end, label, kind) = match self {
            Self::LastHours(h) => (
                now - Duration::hours(i64::from(h)),
                now,
                plural(h, "hour"),
                WindowKind::Last,
            ),
            Self::LastDays(d) => (
                now - Duration::days(i64::from(d)),
                now,
                plural(d, "day"),
                WindowKind::Last,
            ),
            Self::Since(day) => (
                start_of(day),
                now,
                format!("since {day}"),
                WindowKind::Since,
            ),
            Self::Between(a, b) if a == b => (
                start_of(a),
                end_of(b).min(now),
                format!("on {a}"),
                WindowKind::On,
            ),
            Self::Between(a, b) => (
                start_of(a),
                end_of(b).min(now),
                format!("{a} to {b}"),
                WindowKind::Range,
            ),
        };
        if start > now {
            return Err(WindowError::StartsInFuture);
        }
        if end < start {
            return Err(WindowError::Reversed);
        }
        Ok(TimeWindow {
            start,
            end,
            label,
            clamped_from: None,
            kind,
        })
    }
}

impl TimeWindow {
    /// The window from `start` to `end`, labelled as the time before `end`: "last 7 days",
    /// "last day", "last 36 hours" (the digest's period).
    pub fn last(start: DateTime<Utc>, end: DateTime<Utc>) -> Self {
        let hours = (end - start).num_hours();
        let label = if hours % 24 == 0 {
            plural(u32::try_from(hours / 24).unwrap_or(u32::MAX), "day")
        } else {
            plural(u32::try_from(hours).unwrap_or(u32::MAX), "hour")
        };
        Self {
            start,
            end,
            label,
            clamped_from: None,
            kind: WindowKind::Last,
        }
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t <= self.end
    }
}

fn start_of(day: NaiveDate) -> DateTime<Utc> {
    day.and_time(NaiveTime::MIN).and_utc()
}

fn end_of(day: NaiveDate) -> DateTime<Utc> {
    start_of(day) + Duration::days(1) - Duration::seconds(1)
}

fn plural(n: u32, unit: &str) -> String {
    if n == 1 {
        format!("last {unit}")
    } else {
        format!("last {n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-30T12:00:00Z".parse().unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn last_days_and_hours() {
        let w = WindowSpec::LastDays(7).resolve(now()).unwrap();
        assert_eq!(
            w.start,
            "2026-11-23T12:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(w.end, now());
        assert_eq!(w.label, "last 7 days");
        assert!(w.clamped_from.is_none());
        let w = WindowSpec::LastHours(24).resolve(now()).unwrap();
        assert_eq!(w.label, "last 24 hours");
    }

    #[test]
    fn longer_than_retention_is_clamped_and_says_so() {
        let w = WindowSpec::LastDays(365).resolve(now()).unwrap();
        assert_eq!(w.start, now() - Duration::days(90));
        assert_eq!(w.clamped_from, Some(now() - Duration::days(365)));
    }

    #[test]
    fn between_covers_whole_days_and_stops_at_now() {
        let w = WindowSpec::Between(day("2026-11-01"), day("2026-11-15"))
            .resolve(now())
            .unwrap();
        assert_eq!(
            w.start,
            "2026-11-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            w.end,
            "2026-11-15T23:59:59Z".parse::<DateTime<Utc>>().unwrap()
        );
        let w = WindowSpec::Between(day("2026-11-29"), day("2026-12-31"))
            .resolve(now())
            .unwrap();
        assert_eq!(w.end, now());
    }

    #[test]
    fn bad_windows() {
        assert_eq!(
            WindowSpec::Since(day("2026-12-25")).resolve(now()),
            Err(WindowError::StartsInFuture)
        );
        assert_eq!(
            WindowSpec::Between(day("2026-11-15"), day("2026-11-01")).resolve(now()),
            Err(WindowError::Reversed)
        );
        assert_eq!(
            WindowSpec::Between(day("2025-01-01"), day("2025-02-01")).resolve(now()),
            Err(WindowError::BeyondRetention)
        );
    }

    #[test]
    fn unbounded_keeps_old_windows_for_archives() {
        let w = WindowSpec::Between(day("2025-01-01"), day("2025-02-01"))
            .resolve_unbounded(now())
            .unwrap();
        assert_eq!(
            w.start,
            "2025-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            w.end,
            "2025-02-01T23:59:59Z".parse::<DateTime<Utc>>().unwrap()
        );
        let w = WindowSpec::LastDays(365).resolve_unbounded(now()).unwrap();
        assert_eq!(w.start, now() - Duration::days(365));
        assert!(w.clamped_from.is_none());
    }
}
