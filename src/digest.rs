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

use crate::aws::reports::{Budget, Reporter};
use crate::domain::{Filter, Period, PeriodUnit, TimeWindow};
use crate::slack::render::{self, EndingSoon};
use crate::slack::retry::Retry;
use crate::slack::web_api::{ApiError, ChannelMessage, SlackApi};
use crate::state::{Claim, StateStore};

/// How far ahead the digest looks for agreements that end.
const ENDING_WITHIN_DAYS: i64 = 90;
/// How long a digest waits for agreement details before going without.
const DETAILS_BUDGET: Duration = Duration::from_secs(5);
/// Time for one `chat.postMessage`.
const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one replica may take to post a period's digest before another may.
const DIGEST_LEASE: Duration = Duration::from_secs(10 * 60);
/// How long a posted digest is remembered (replicas that start late don't post it again).
const DIGEST_KEPT_DAYS: i64 = 30;

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
        let period = Period::parse(&text.trim().to_ascii_lowercase()).ok_or(BadPeriod)?;
        let most = match period.unit {
            PeriodUnit::Days => 366,
            PeriodUnit::Hours => 24 * 366,
            PeriodUnit::Minutes => 60 * 24,
        };
        if !(1..=most).contains(&period.count) {
            return Err(BadPeriod);
        }
        Ok(Self::Every(period.duration()))
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
        TimeWindow::last(start, at)
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
    /// The times sleepers wait for, so a test can tell that a scheduler is idle (waiting for a
    /// time still ahead) instead of sleeping and hoping.
    sleeping: tokio::sync::watch::Sender<Vec<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: tokio::sync::watch::channel(start).0,
            sleeping: tokio::sync::watch::channel(Vec::new()).0,
        })
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|t| *t += by);
    }

    /// Waits until a sleeper waits for a time after now, and returns the earliest such time.
    pub async fn next_wake(&self) -> DateTime<Utc> {
        let now = self.now();
        let mut rx = self.sleeping.subscribe();
        let sleeping = rx
            .wait_for(|times| times.iter().any(|t| *t > now))
            .await
            .expect("the clock owns the sender");
        *sleeping
            .iter()
            .filter(|t| **t > now)
            .min()
            .expect("checked above")
    }

    /// Waits until `n` sleepers wait for exactly `at`.
    pub async fn sleepers_at(&self, at: DateTime<Utc>, n: usize) {
        let mut rx = self.sleeping.subscribe();
        let _ = rx
            .wait_for(|times| times.iter().filter(|t| **t == at).count() >= n)
            .await;
    }
}

/// Takes a sleeper off the clock's list when its sleep ends or is dropped.
struct Sleeper<'a> {
    clock: &'a ManualClock,
    at: DateTime<Utc>,
}

impl Drop for Sleeper<'_> {
    fn drop(&mut self) {
        self.clock.sleeping.send_modify(|times| {
            if let Some(i) = times.iter().position(|t| *t == self.at) {
                times.swap_remove(i);
            }
        });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(&self, t: DateTime<Utc>) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        let mut rx = self.now.subscribe();
        self.sleeping.send_modify(|times| times.push(t));
        let sleeper = Sleeper { clock: self, at: t };
        Box::pin(async move {
            let _sleeper = sleeper;
            let _ = rx.wait_for(|now| *now >= t).await;
        })
    }
}

/// Everything a digest needs: where reports come from, where they go, and when.
pub struct DigestJob {
    pub reports: Reporter,
    pub api: SlackApi,
    pub channel: String,
    pub schedule: Schedule,
    pub clock: Arc<dyn Clock>,
    /// The schedule counts from here.
    pub started_at: DateTime<Utc>,
    /// Where replicas agree on who posts each period's digest.
    pub store: StateStore,
}

/// Posts digests on the job's schedule until `stop` is cancelled.
pub async fn run(job: DigestJob, stop: CancellationToken) {
    let mut last: Option<DateTime<Utc>> = None;
    let mut from = job.started_at;
    loop {
        let Some(due) = job.schedule.next_after(from) else {
            tracing::error!("the digest schedule has no next time; no more digests");
            return;
        };
        tracing::info!(%due, "next digest");
        tokio::select! {
            () = job.clock.sleep_until(due) => {},
            () = stop.cancelled() => return,
        }
        let window = job.schedule.window_before(due, last);
        let channel = &job.channel;
        match post_once(&job, due, window).await {
            Ok(true) => tracing::info!(%channel, "digest posted"),
            Ok(false) => tracing::info!(%channel, "another replica posts this digest"),
            Err(e) => tracing::error!(%channel, error = %e, "digest could not be posted"),
        }
        last = Some(due);
        from = due;
    }
}

/// Posts the digest due at `due` unless another replica does: the first to claim the period
/// posts it. Returns whether this replica posted it.
async fn post_once(
    job: &DigestJob,
    due: DateTime<Utc>,
    window: TimeWindow,
) -> anyhow::Result<bool> {
    let key = format!("digest:{}:{}", job.channel, due.timestamp());
    let owner = uuid::Uuid::new_v4().simple().to_string();
    let token = match job
        .store
        .claim::<()>(&key, &owner, DIGEST_LEASE, job.clock.now())
        .await?
    {
        Claim::Won(token) => token,
        Claim::Busy { .. } | Claim::Done(()) => return Ok(false),
    };
    match post(job, window).await {
        Ok(()) => {
            let keep = job.clock.now() + chrono::Duration::days(DIGEST_KEPT_DAYS);
            if let Err(e) = job.store.complete(token, &(), keep).await {
                tracing::warn!(error = %e, "could not record the digest as posted");
            }
            Ok(true)
        }
        Err(e) => {
            // Let another replica (or a restart within the lease) try this period.
            let _ = job.store.release(token).await;
            Err(e)
        }
    }
}

/// Builds the period's report and the agreements ending soon, and posts them.
async fn post(job: &DigestJob, window: TimeWindow) -> anyhow::Result<()> {
    let end = window.end;
    let budget = Budget {
        lookup: None,
        details: DETAILS_BUDGET,
    };
    let report = job
        .reports
        .report(window, Filter::All, None, budget)
        .await?;
    let ending = job
        .reports
        .ending_before(end + chrono::Duration::days(ENDING_WITHIN_DAYS))
        .await;
    let ending = ending.as_ref().map(|(ending, failed)| EndingSoon {
        within_days: ENDING_WITHIN_DAYS,
        ending,
        failures: failed
            .iter()
            .map(|(account, why)| (account.clone(), why.user_message()))
            .collect(),
    });
    let message = render::digest(&report, ending.as_ref());
    let message = ChannelMessage::new(&job.channel, message.text, message.blocks);
    Retry::attempts(4)
        .run(
            || job.api.post_message(&message, POST_TIMEOUT),
            |err, attempt| match err {
                ApiError::RateLimited(wait) => Some(*wait),
                ApiError::Transient(_) => Some(Duration::from_secs(2u64.pow(attempt - 1))),
                ApiError::Config { .. } | ApiError::Rejected(_) => None,
            },
            |err, wait| tracing::warn!(error = %err, wait_ms = wait.as_millis() as u64, "digest post failed; retrying"),
        )
        .await?;
    Ok(())
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
