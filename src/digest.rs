//! The scheduled digest: every period (`DIGEST_EVERY=7d`) or on a cron schedule
//! (`DIGEST_CRON="0 9 * * MON"`), the report for the period since the last one is posted to
//! `DIGEST_CHANNEL`, with the agreements that end within 90 days.
//!
//! Time comes from a [`Clock`], so tests drive the schedule without waiting a week.

use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use crate::domain::{Filter, TimeWindow};
use crate::report::Report;
use crate::slack::blocks::{date_token, escape, Block, MAX_BLOCKS};
use crate::slack::render;
use crate::slack::web_api::{ChannelMessage, SlackApi};
use crate::startup::AppState;

/// How far ahead the digest looks for agreements that end.
const ENDING_WITHIN_DAYS: i64 = 90;
/// Ending agreements listed by name; the rest are counted.
const ENDING_LISTED: usize = 15;

/// A `DIGEST_EVERY` that isn't `<N>d`, `<N>h` or `<N>m`.
#[derive(Debug, thiserror::Error)]
#[error("not a period like 7d, 24h or 30m")]
pub struct BadPeriod;

/// When digests are due.
#[derive(Debug, Clone)]
pub enum Schedule {
    Every(chrono::Duration),
    Cron(Box<croner::Cron>),
}

impl Schedule {
    /// `7d`, `24h`, `1d`…
    pub fn every(text: &str) -> Result<Self, BadPeriod> {
        let text = text.trim().to_ascii_lowercase();
        let (digits, unit) = text.split_at(text.len().saturating_sub(1));
        let n: i64 = digits.parse().map_err(|_| BadPeriod)?;
        let period = match unit {
            "d" if (1..=366).contains(&n) => chrono::Duration::days(n),
            "h" if (1..=24 * 366).contains(&n) => chrono::Duration::hours(n),
            "m" if (1..=60 * 24).contains(&n) => chrono::Duration::minutes(n),
            _ => return Err(BadPeriod),
        };
        Ok(Self::Every(period))
    }

    /// A 5-field cron pattern, in UTC.
    pub fn cron(pattern: &str) -> Result<Self, String> {
        croner::Cron::from_str(pattern.trim())
            .map(|c| Self::Cron(Box::new(c)))
            .map_err(|e| e.to_string())
    }

    /// The next time after `t` (a digest period after the last one, for `Every`).
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Self::Every(period) => Some(t + *period),
            Self::Cron(cron) => cron.find_next_occurrence(&t, false).ok(),
        }
    }

    /// The window a digest due at `at` covers: back to the previous due time.
    fn window_before(&self, at: DateTime<Utc>, last: Option<DateTime<Utc>>) -> TimeWindow {
        let start = match self {
            Self::Every(period) => at - *period,
            Self::Cron(cron) => last
                .or_else(|| cron.find_previous_occurrence(&at, false).ok())
                .unwrap_or(at - chrono::Duration::days(7)),
        };
        let hours = (at - start).num_hours();
        let label = if hours % 24 == 0 {
            let days = hours / 24;
            if days == 1 {
                "last day".to_owned()
            } else {
                format!("last {days} days")
            }
        } else {
            format!("last {hours} hours")
        };
        TimeWindow {
            start,
            end: at,
            label,
            clamped_from: None,
        }
    }
}

/// The time, and waiting for a time.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            // Re-check at least hourly, so a wall-clock jump doesn't push a digest far off.
            loop {
                let left = (t - Utc::now()).to_std().unwrap_or_default();
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(Duration::from_secs(3600))).await;
            }
        })
    }
}

/// A clock that moves only when told to. For tests (and dry runs).
pub struct ManualClock {
    now: tokio::sync::watch::Sender<DateTime<Utc>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: tokio::sync::watch::channel(start).0,
        })
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|t| *t += by);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut rx = self.now.subscribe();
        Box::pin(async move {
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

/// Posts digests on `schedule` until `stop` is cancelled.
pub async fn run(
    state: AppState,
    schedule: Schedule,
    channel: String,
    clock: Arc<dyn Clock>,
    started_at: DateTime<Utc>,
    stop: CancellationToken,
) {
    let Some(api) = state.slack_api.clone() else {
        return;
    };
    let mut last: Option<DateTime<Utc>> = None;
    let mut from = started_at;
    loop {
        let Some(due) = schedule.next_after(from) else {
            tracing::error!("the digest schedule has no next time; no more digests");
            return;
        };
        tracing::info!(%due, "next digest");
        tokio::select! {
            () = clock.sleep_until(due) => {},
            () = stop.cancelled() => return,
        }
        let window = schedule.window_before(due, last);
        match post(&state, &api, &channel, window).await {
            Ok(()) => tracing::info!(%channel, "digest posted"),
            Err(e) => tracing::error!(%channel, error = %e, "digest could not be posted"),
        }
        last = Some(due);
        from = due;
    }
}

async fn post(
    state: &AppState,
    api: &SlackApi,
    channel: &str,
    window: TimeWindow,
) -> Result<(), crate::slack::web_api::ApiError> {
    let end = window.end;
    let fetched = state.source.lookup(&window, None).await;
    let mut report = Report::build(fetched, Filter::All, window);
    report.by_account = state.source.accounts().len() > 1;
    let mut ending_lines = Vec::new();
    if let Some(agreements) = &state.agreements {
        report.details_unavailable = agreements
            .enrich(&mut report.activities, Duration::from_secs(5))
            .await
            .map(|why| why.user_message().to_owned());
        let (ending, failed) = agreements
            .ending_before(end + chrono::Duration::days(ENDING_WITHIN_DAYS))
            .await;
        for e in ending.iter().take(ENDING_LISTED) {
            let what = e
                .product_id
                .as_deref()
                .map(|p| format!(" · product `{}`", escape(p)))
                .unwrap_or_default();
            ending_lines.push(format!(
                "• `{}`{what} · {} · ends {}",
                e.agreement_id,
                escape(&e.account.label()),
                date_token(e.ends)
            ));
        }
        if ending.len() > ENDING_LISTED {
            ending_lines.push(format!("…and {} more.", ending.len() - ENDING_LISTED));
        }
        if ending.is_empty() && failed.is_empty() {
            ending_lines.push(format!(
                "No active agreement ends in the next {ENDING_WITHIN_DAYS} days."
            ));
        }
        for (account, why) in failed {
            ending_lines.push(format!(
                ":warning: {}: {}",
                escape(&account),
                why.user_message()
            ));
        }
    }
    let mut message = render::report_message(&report, true);
    if let Some(Block::Header { .. }) = message.blocks.first() {
        message.blocks[0] = Block::header(&format!("Marketplace digest, {}", report.window.label));
    }
    if !ending_lines.is_empty() {
        let at = message.blocks.len().saturating_sub(1);
        let text = format!(
            "*Ending within {ENDING_WITHIN_DAYS} days*\n{}",
            ending_lines.join("\n")
        );
        message.blocks.insert(at, Block::section(&text));
        message.blocks.insert(at, Block::Divider {});
    }
    if message.blocks.len() > MAX_BLOCKS {
        let excess = message.blocks.len() - MAX_BLOCKS;
        // Drop events from the middle rather than the header or the ending list.
        message.blocks.drain(3..3 + excess);
    }
    let text = format!("Marketplace digest: {}", message.text);
    let mut attempt = 0;
    loop {
        let result = api
            .post_message(
                &ChannelMessage {
                    channel: channel.to_owned(),
                    text: text.clone(),
                    blocks: message.blocks.clone(),
                    thread_ts: None,
                    reply_broadcast: false,
                    unfurl_links: false,
                    unfurl_media: false,
                },
                Duration::from_secs(10),
            )
            .await;
        match result {
            Ok(_) => return Ok(()),
            Err(crate::slack::web_api::ApiError::RateLimited(wait)) if attempt < 3 => {
                tokio::time::sleep(wait).await
            }
            Err(crate::slack::web_api::ApiError::Transient(_)) if attempt < 3 => {
                tokio::time::sleep(Duration::from_secs(2u64.pow(attempt))).await
            }
            Err(e) => return Err(e),
        }
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        let t: DateTime<Utc> = "2026-11-30T10:00:00Z".parse().unwrap();
        let every = Schedule::every("7d").unwrap();
        assert_eq!(every.next_after(t), Some(t + chrono::Duration::days(7)));
        assert_eq!(every.window_before(t, None).label, "last 7 days");
        let monday_nine = Schedule::cron("0 9 * * MON").unwrap();
        assert_eq!(
            monday_nine.next_after(t).unwrap(),
            "2026-12-07T09:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        for bad in ["7", "7w", "0d", "d", ""] {
            assert!(Schedule::every(bad).is_err(), "{bad}");
        }
        assert!(Schedule::cron("every monday").is_err());
    }
}
