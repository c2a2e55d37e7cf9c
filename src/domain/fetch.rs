//! What a lookup found, wherever it looked (CloudTrail, archived trail files): the activities,
//! what could not be read, and which account and region failed and why.

use chrono::{DateTime, Utc};

use super::{Account, Activity, AgreementId};

/// What a lookup found: activities newest first, records that could not be read, and the
/// regions that failed (each with why).
#[derive(Debug, Default, Clone)]
pub struct Fetched {
    pub activities: Vec<Activity>,
    /// Records skipped because they could not be parsed.
    pub skipped: usize,
    /// LookupEvents calls made (0 for a file).
    pub calls: u32,
    /// Account × region pairs asked (1 for a file).
    pub sources: usize,
    pub failures: Vec<Failure>,
}

/// One account and region whose lookup failed, and why.
#[derive(Debug, Clone)]
pub struct Failure {
    pub account: Account,
    pub region: String,
    pub error: LookupError,
}

impl Failure {
    /// "eu-west-1", or "prod (111122223333) eu-west-1" when accounts are configured.
    pub fn place(&self) -> String {
        if self.account == Account::ambient() {
            self.region.clone()
        } else {
            format!("{} {}", self.account.label(), self.region)
        }
    }
}

impl Fetched {
    pub fn merge(&mut self, other: Fetched) {
        self.activities.extend(other.activities);
        self.skipped += other.skipped;
        self.calls += other.calls;
        self.sources += other.sources;
        self.failures.extend(other.failures);
    }

    pub fn sort_newest_first(&mut self) {
        self.activities.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
    }
}

/// A lookup failure, sorted by what the person has to do about it. `Display` is for the log;
/// [`LookupError::user_message`] is for Slack.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LookupError {
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("no AWS credentials: {0}")]
    NoCredentials(String),
    #[error("AWS rejected the credentials: {0}")]
    BadCredentials(String),
    #[error("could not assume the account's role: {0}")]
    AssumeRoleFailed(String),
    #[error("still throttled after retries")]
    Throttled,
    #[error("timed out")]
    Timeout,
    #[error("{0}")]
    Other(String),
}

impl LookupError {
    /// What the Slack user reads: what went wrong and what to fix, without internals.
    pub fn user_message(&self) -> &'static str {
        match self {
            Self::AccessDenied(_) => "AWS denied access to CloudTrail. The app's IAM role needs `cloudtrail:LookupEvents` (on `*`).",
            Self::NoCredentials(_) => "The app has no AWS credentials. Give its container an IAM role, or set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.",
            Self::BadCredentials(_) => "AWS rejected the app's credentials (unknown or expired). Check the role or keys the app runs with.",
            Self::AssumeRoleFailed(_) => "Could not assume this account's role: check that it exists, that its trust policy allows the app's role (and the external id), and that the app may call sts:AssumeRole on it.",
            Self::Throttled => "CloudTrail is throttling requests from this account right now (its limit is 2 per second). Try again in a minute, or with a shorter window.",
            Self::Timeout => "CloudTrail did not answer in time. Try again, or with a shorter window.",
            Self::Other(_) => "CloudTrail returned an unexpected error. The app's log has the details.",
        }
    }
}

/// An active agreement that ends soon.
#[derive(Debug, Clone)]
pub struct Ending {
    pub agreement_id: AgreementId,
    pub account: Account,
    pub ends: DateTime<Utc>,
    pub product_id: Option<String>,
    pub seller_account: Option<String>,
}
