//! A report: the activities in a window that match a filter, with counts and caveats.
//! Built once from a lookup, then rendered for Slack ([`crate::slack::render`]) or a terminal
//! ([`format`]).

pub mod format;

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::{
    Account, Activity, ActivityKind, Examined, Failure, Fetched, Filter, Intent, TimeWindow,
    WindowKind,
};

/// How many of each kind a report holds. Failed attempts count only as failed.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub purchases: usize,
    pub changes: usize,
    pub cancellations: usize,
    pub failed: usize,
    pub other: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub window: TimeWindow,
    #[serde(skip)]
    pub filter: Filter,
    /// Matching activities, newest first. Read-only calls are not included.
    pub activities: Vec<Activity>,
    pub counts: Counts,
    /// Read-only calls (DescribeAgreement…) in the window, left out of the list.
    pub reads_hidden: usize,
    /// Records that could not be parsed.
    pub skipped: usize,
    /// Agreement activities in the window that the filter left out.
    pub filtered_out: usize,
    /// What the lookup read, so an empty report can say why it is empty.
    pub examined: Examined,
    #[serde(serialize_with = "serialize_failures")]
    pub failures: Vec<Failure>,
    /// Set when every source failed: there is nothing to show but the error.
    #[serde(skip)]
    pub nothing_answered: bool,
    /// Several accounts are configured: show each account's activity under its own heading.
    #[serde(skip)]
    pub by_account: bool,
    /// Why agreement details (DescribeAgreement) are missing, when some are.
    #[serde(skip)]
    pub details_unavailable: Option<String>,
    /// Accounts asked (0 when the records came from files).
    pub accounts_asked: usize,
    /// Accounts with at least one activity in the whole report (a page keeps the count).
    pub accounts_with_activity: usize,
}

/// Beyond this many accounts, an answer lists only the accounts with activity and sums up
/// the failures in one line (the CSV and JSON keep every one).
pub const MANY_ACCOUNTS: usize = 10;

fn serialize_failures<S: serde::Serializer>(failures: &[Failure], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(failures.iter().map(|f| {
        serde_json::json!({
            "account": f.account.id,
            "alias": f.account.alias,
            "region": f.region,
            "error": f.error.cause(),
            "fix": f.error.fix(crate::domain::Audience::Terminal),
        })
    }))
}

/// One account's part of a report: its activities (newest first) and what failed there.
pub struct AccountSection<'a> {
    /// "prod (111122223333)".
    pub label: String,
    pub activities: Vec<&'a Activity>,
    pub counts: Counts,
    pub failures: Vec<&'a Failure>,
}

impl Report {
    /// The activities of `fetched` that `filter` wants, newest first, with their counts.
    /// `by_account` groups them under one heading per account.
    pub fn build(
        mut fetched: Fetched,
        filter: Filter,
        window: TimeWindow,
        by_account: bool,
    ) -> Self {
        refine_accept_kinds(&mut fetched.activities);
        let nothing_answered =
            !fetched.failures.is_empty() && fetched.failures.len() >= fetched.sources.max(1);
        let mut reads_hidden = 0;
        let mut filtered_out = 0;
        let activities: Vec<Activity> = fetched
            .activities
            .into_iter()
            .filter(|a| {
                let read = matches!(a.kind, ActivityKind::Read(_));
                let wanted = filter.matches(a);
                reads_hidden += usize::from(read && wanted);
                filtered_out += usize::from(!read && !wanted);
                !read && wanted
            })
            .collect();
        let counts = Counts::of(&activities);
        let mut active_accounts: Vec<(&Option<String>, &Option<String>)> = activities
            .iter()
            .map(|a| (&a.account_id, &a.account_alias))
            .collect();
        active_accounts.sort();
        active_accounts.dedup();
        let accounts_with_activity = active_accounts.len();
        Self {
            window,
            filter,
            activities,
            counts,
            reads_hidden,
            skipped: fetched.skipped,
            filtered_out,
            examined: fetched.examined,
            failures: fetched.failures,
            nothing_answered,
            by_account,
            details_unavailable: None,
            accounts_asked: fetched.accounts,
            accounts_with_activity,
        }
    }

    /// Whether the answer is about so many accounts that it lists only those with activity.
    pub fn many_accounts(&self) -> bool {
        self.accounts_asked > MANY_ACCOUNTS
    }

    /// Accounts with at least one failure, and how many of them failed for each cause (an
    /// account counts once, under its first failure's cause), the commonest cause first.
    pub fn failed_accounts(&self) -> (usize, Vec<(&'static str, usize)>) {
        let mut seen: Vec<(&Option<String>, &Option<String>)> = Vec::new();
        let mut causes: Vec<(&'static str, usize)> = Vec::new();
        for f in &self.failures {
            let key = (&f.account.id, &f.account.alias);
            if seen.contains(&key) {
                continue;
            }
            seen.push(key);
            let cause = f.error.short();
            match causes.iter_mut().find(|(c, _)| *c == cause) {
                Some((_, n)) => *n += 1,
                None => causes.push((cause, 1)),
            }
        }
        causes.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        (seen.len(), causes)
    }

    /// The same report showing only the activities in `range` (one page of it); counts and
    /// caveats stay those of the whole report.
    pub fn page(&self, range: std::ops::Range<usize>) -> Self {
        let mut page = self.clone();
        let end = range.end.min(page.activities.len());
        let start = range.start.min(end);
        page.activities = page.activities.drain(start..end).collect();
        page
    }

    /// The report split by account (alias, then id), each with its own failures. Accounts
    /// with neither activity nor failure are left out.
    pub fn sections(&self) -> Vec<AccountSection<'_>> {
        type Key = (Option<String>, Option<String>);
        let mut keys: Vec<Key> = Vec::new();
        let pairs = self
            .activities
            .iter()
            .map(|a| (a.account_alias.clone(), a.account_id.clone()))
            .chain(
                self.failures
                    .iter()
                    .map(|f| (f.account.alias.clone(), f.account.id.clone())),
            );
        for k in pairs {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        keys.sort();
        keys.into_iter()
            .map(|(alias, id)| {
                let activities: Vec<&Activity> = self
                    .activities
                    .iter()
                    .filter(|a| a.account_alias == alias && a.account_id == id)
                    .collect();
                let failures = self
                    .failures
                    .iter()
                    .filter(|f| f.account.alias == alias && f.account.id == id)
                    .collect();
                let label = Account {
                    id,
                    alias,
                    role_arn: None,
                    external_id: None,
                }
                .label();
                AccountSection {
                    label,
                    counts: Counts::of(activities.iter().copied()),
                    activities,
                    failures,
                }
            })
            .collect()
    }
}

impl Counts {
    pub fn of<'a>(activities: impl IntoIterator<Item = &'a Activity>) -> Self {
        let mut counts = Self::default();
        for a in activities {
            let slot = match &a.kind {
                _ if a.outcome.is_failed() => &mut counts.failed,
                ActivityKind::Purchase => &mut counts.purchases,
                k if k.is_purchase() => &mut counts.changes,
                ActivityKind::Cancellation => &mut counts.cancellations,
                _ => &mut counts.other,
            };
            *slot += 1;
        }
        counts
    }

    /// "2 purchases", "1 cancellation"… for the kinds present, in a fixed order.
    pub fn parts(&self) -> Vec<String> {
        [
            (self.purchases, "purchase", "purchases"),
            (self.changes, "change", "changes"),
            (self.cancellations, "cancellation", "cancellations"),
            (self.failed, "failed attempt", "failed attempts"),
            (self.other, "other event", "other events"),
        ]
        .into_iter()
        .filter(|(n, ..)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect()
    }
}

impl Report {
    /// "Marketplace activity, last 7 days" or "Marketplace purchases, last 30 days".
    pub fn title(&self) -> String {
        match self.filter.describe() {
            None => format!("Marketplace activity, {}", self.window.label),
            Some(f) => format!("Marketplace activity, {} ({f})", self.window.label),
        }
    }

    /// One line: the title and the counts, or that nothing happened (where the lookup
    /// worked, when some of it failed).
    pub fn summary(&self) -> String {
        let parts = self.counts.parts();
        if !parts.is_empty() {
            format!("{}: {}.", self.title(), parts.join(", "))
        } else if self.nothing_answered {
            "Couldn't look up Marketplace activity.".to_owned()
        } else if !self.failures.is_empty() {
            format!(
                "No Marketplace agreement activity {} where the lookup worked.",
                self.window_phrase()
            )
        } else {
            format!(
                "No Marketplace agreement activity {}.",
                self.window_phrase()
            )
        }
    }

    /// What the activities the filter left out are: "not purchases", "about other
    /// agreements".
    pub fn left_out(&self) -> &'static str {
        match self.filter {
            Filter::All => "not listed",
            Filter::Purchases => "not purchases",
            Filter::Cancellations => "not cancellations",
            Filter::Agreement(_) => "about other agreements",
        }
    }

    /// Whether the activities came from files rather than CloudTrail.
    pub fn from_files(&self) -> bool {
        self.examined.files > 0
    }

    /// "in the last 7 days", "since 2026-11-01".
    pub fn window_phrase(&self) -> String {
        let label = &self.window.label;
        let filter = self
            .filter
            .describe()
            .map(|f| format!(" ({f})"))
            .unwrap_or_default();
        match self.window.kind {
            WindowKind::Last => format!("in the {label}{filter}"),
            WindowKind::Since | WindowKind::On => format!("{label}{filter}"),
            WindowKind::Range => format!("from {label}{filter}"),
        }
    }
}

/// What happened, in words: "Purchase", "Failed purchase attempt (AccessDeniedException)".
pub fn headline(activity: &Activity) -> String {
    match &activity.outcome {
        crate::domain::Outcome::Succeeded => match &activity.kind {
            ActivityKind::BillingAdjustment(adjustment) => match adjustment.money() {
                Some(money) => format!("Billing adjustment ({money})"),
                None => "Billing adjustment".to_owned(),
            },
            kind => kind.label().to_owned(),
        },
        crate::domain::Outcome::Failed { code, .. } => {
            let what = match &activity.kind {
                k if k.is_purchase() => "purchase attempt".to_owned(),
                ActivityKind::Cancellation => "cancellation attempt".to_owned(),
                k => k.label().to_owned(),
            };
            format!("Failed {what} ({code})")
        }
    }
}

/// When an `AcceptAgreementRequest` and its `CreateAgreementRequest` are both in the window,
/// the accept takes the request's intent ([`Activity::take_intent`]).
fn refine_accept_kinds(activities: &mut [Activity]) {
    let intents: HashMap<String, Intent> = activities
        .iter()
        .filter(|a| a.kind == ActivityKind::RequestCreated)
        .filter_map(|a| Some((a.agreement_request_id.clone()?, a.intent?)))
        .collect();
    if intents.is_empty() {
        return;
    }
    for a in activities.iter_mut() {
        if let Some(intent) = a
            .agreement_request_id
            .as_ref()
            .and_then(|id| intents.get(id))
        {
            a.take_intent(*intent);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::record::parse_record;
    use crate::domain::WindowSpec;

    fn record(name: &str, ar: &str, extra: &str) -> Activity {
        let json = format!(
            r#"{{"eventName":"{name}","eventSource":"agreement-marketplace.amazonaws.com","eventTime":"2026-11-02T15:40:00Z",
            "eventID":"{name}-{ar}","requestParameters":{{"agreementRequestId":"{ar}"{extra}}}}}"#
        );
        parse_record(&json).unwrap().unwrap()
    }

    #[test]
    fn accept_takes_the_intent_of_its_request_and_counts_follow() {
        let fetched = Fetched {
            activities: vec![
                record("AcceptAgreementRequest", "ar-1", ""),
                record("CreateAgreementRequest", "ar-1", r#","intent":"AMEND""#),
                record("AcceptAgreementRequest", "ar-2", ""),
                record("DescribeAgreement", "ar-2", ""),
            ],
            ..Fetched::default()
        };
        let window = WindowSpec::LastDays(7).resolve(chrono::Utc::now()).unwrap();
        let report = Report::build(fetched, Filter::All, window, false);
        let kinds: Vec<_> = report.activities.iter().map(|a| a.kind.clone()).collect();
        assert_eq!(
            kinds,
            [
                ActivityKind::Amendment,
                ActivityKind::RequestCreated,
                ActivityKind::Purchase
            ]
        );
        assert_eq!(
            report.counts,
            Counts {
                purchases: 1,
                changes: 1,
                other: 1,
                ..Counts::default()
            }
        );
        assert_eq!(report.reads_hidden, 1);
    }
}
