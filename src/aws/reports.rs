//! One path from a question to a report, for every asker (the slash command, the digest,
//! `query` and the demo): look up the window, build the report (filter, refine, count), group
//! it by account when there are several, and add agreement details within a budget.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::agreements::{Agreements, Ending, Unavailable};
use super::ActivitySource;
use crate::domain::{Account, Filter, TimeWindow};
use crate::domain::{Fetched, ReadSoFar};
use crate::report::Report;
use crate::sync::lock;
use tokio::sync::watch;

/// What a report may spend: the lookup's time limit (none for a terminal, which can wait) and
/// how long agreement details may hold the answer up.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub lookup: Option<Duration>,
    pub details: Duration,
}

/// The lookup did not finish within its budget.
#[derive(Debug, thiserror::Error)]
#[error("the lookup took longer than {0:?}")]
pub struct TimedOut(pub Duration);

/// Where reports come from: an activity source, and agreement details when the source is AWS.
#[derive(Clone)]
pub struct Reporter {
    source: ActivitySource,
    agreements: Option<Agreements>,
    recent: Arc<Mutex<VecDeque<Recent>>>,
}

/// How long a lookup is reused, so paging through one answer asks CloudTrail once.
const RECENT_FOR: Duration = Duration::from_secs(5 * 60);
/// Lookups kept at once; the oldest goes first.
const RECENT_KEPT: usize = 32;

/// A lookup that answered without failures, kept for [`RECENT_FOR`].
struct Recent {
    key: (DateTime<Utc>, DateTime<Utc>, Option<String>, String),
    at: Instant,
    fetched: Fetched,
}

impl Reporter {
    pub fn new(source: ActivitySource, agreements: Option<Agreements>) -> Self {
        Self {
            source,
            agreements,
            recent: Arc::default(),
        }
    }

    /// The activities in `window` (from every account, or the one `account` names): a
    /// complete lookup of the same window in the last few minutes, else a new one.
    async fn lookup(
        &self,
        window: &TimeWindow,
        account: Option<&str>,
        filter: &Filter,
        progress: &watch::Sender<ReadSoFar>,
    ) -> Fetched {
        // What the lookup notes about records outside the window depends on the filter.
        let key = (
            window.start,
            window.end,
            account.map(str::to_owned),
            format!("{filter:?}"),
        );
        {
            let mut recent = lock(&self.recent);
            recent.retain(|r| r.at.elapsed() < RECENT_FOR);
            if let Some(hit) = recent.iter().find(|r| r.key == key) {
                let mut fetched = hit.fetched.clone();
                fetched.calls = 0;
                return fetched;
            }
        }
        let fetched = self.source.lookup(window, account, filter, progress).await;
        if fetched.failures.is_empty() {
            let mut recent = lock(&self.recent);
            if recent.len() >= RECENT_KEPT {
                recent.pop_front();
            }
            recent.push_back(Recent {
                key,
                at: Instant::now(),
                fetched: fetched.clone(),
            });
        }
        fetched
    }

    pub fn source(&self) -> &ActivitySource {
        &self.source
    }

    pub fn agreements(&self) -> Option<&Agreements> {
        self.agreements.as_ref()
    }

    /// The accounts a report covers, as last listed (one ambient account when none are
    /// configured).
    pub fn accounts(&self) -> Vec<Account> {
        self.source.accounts()
    }

    /// Whether the accounts come from the organization (and so may not be listed yet).
    pub fn is_organization(&self) -> bool {
        matches!(&self.source, ActivitySource::CloudTrail(ct) if ct.directory().is_organization())
    }

    /// The report for `window` and `filter`, from every account or the one `account` names.
    pub async fn report(
        &self,
        window: TimeWindow,
        filter: Filter,
        account: Option<&str>,
        budget: Budget,
    ) -> Result<Report, TimedOut> {
        let (progress, _) = watch::channel(ReadSoFar::default());
        self.report_watched(window, filter, account, budget, &progress)
            .await
    }

    /// [`Reporter::report`], counting the accounts read in `progress` as they answer.
    pub async fn report_watched(
        &self,
        window: TimeWindow,
        filter: Filter,
        account: Option<&str>,
        budget: Budget,
        progress: &watch::Sender<ReadSoFar>,
    ) -> Result<Report, TimedOut> {
        let started = Instant::now();
        let lookup = self.lookup(&window, account, &filter, progress);
        let fetched = match budget.lookup {
            Some(limit) => tokio::time::timeout(limit, lookup)
                .await
                .map_err(|_| TimedOut(limit))?,
            None => lookup.await,
        };
        let calls = fetched.calls;
        let lookup_ms = started.elapsed().as_millis() as u64;
        let by_account = self.source.accounts().len() > 1 || self.is_organization();
        let mut fetched = fetched;
        fetched.examined.source = self.source.describe();
        let mut report = Report::build(fetched, filter, window, by_account);
        if let Some(agreements) = &self.agreements {
            let missing = agreements
                .enrich(&mut report.activities, budget.details)
                .await;
            report.details_unavailable = missing.map(|why| why.user_message().to_owned());
        }
        tracing::info!(
            events = report.activities.len(),
            skipped = report.skipped,
            failures = report.failures.len(),
            calls,
            lookup_ms,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "lookup done"
        );
        for f in report.failures.iter().take(20) {
            // One short line; the SDK's whole account was logged at debug where it failed.
            tracing::warn!(account = %f.account.label(), region = %f.region, error = %f.error, "CloudTrail lookup failed");
        }
        if report.failures.len() > 20 {
            tracing::warn!(
                more = report.failures.len() - 20,
                "more CloudTrail lookups failed"
            );
        }
        Ok(report)
    }

    /// Active agreements that end before `before`, in every account, and the accounts that
    /// could not be asked. Empty when there is no Agreement API (the demo).
    pub async fn ending_before(
        &self,
        before: DateTime<Utc>,
    ) -> Option<(Vec<Ending>, Vec<(String, Unavailable)>)> {
        Some(self.agreements.as_ref()?.ending_before(before).await)
    }
}
