//! The AWS side: where agreement activity comes from.
//!
//! - [`accounts`]: the accounts to report on, with their aliases and roles.
//! - [`agreements`]: agreement details (product, seller, value, term) from DescribeAgreement.
//! - [`cloudtrail`]: CloudTrail LookupEvents, paced and paginated, across regions.
//! - [`record`]: one CloudTrail record (JSON) into an [`Activity`].
//! - [`events_file`]: records saved to a file (trail logs from S3, saved LookupEvents output),
//!   for `query --events-file` and the demo.

pub mod accounts;
pub mod agreements;
pub mod cloudtrail;
pub mod events_file;
pub mod record;

use std::sync::Arc;

use crate::domain::{Activity, TimeWindow};

pub use cloudtrail::CloudTrail;

/// The SDK configuration loader with our timeouts: a LookupEvents page normally answers in
/// well under a second, so a stuck connection is cut off rather than holding an answer.
/// Credentials, region and endpoint overrides (`AWS_ENDPOINT_URL_CLOUDTRAIL`) come from the
/// standard chain.
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    use aws_config::timeout::TimeoutConfig;
    use std::time::Duration;
    aws_config::defaults(aws_config::BehaviorVersion::latest()).timeout_config(
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_secs(3))
            .operation_attempt_timeout(Duration::from_secs(10))
            .operation_timeout(Duration::from_secs(30))
            .build(),
    )
}

/// What a lookup found: activities newest first, records that could not be read, and the
/// regions that failed (each with why).
#[derive(Debug, Default)]
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
    pub account: accounts::Account,
    pub region: String,
    pub error: LookupError,
}

impl Failure {
    /// "eu-west-1", or "prod (111122223333) eu-west-1" when accounts are configured.
    pub fn place(&self) -> String {
        if self.account == accounts::Account::ambient() {
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

/// Everything the app asks AWS, built once at start-up for the configured accounts.
pub struct Aws {
    pub cloudtrail: CloudTrail,
    pub agreements: agreements::Agreements,
}

/// Builds one CloudTrail client per account × region and one DescribeAgreement client per
/// account. Accounts with a role get credentials from assuming it (lazily, on first use, and
/// refreshed by the SDK), so a broken role fails only its own account's lookups.
pub async fn connect(
    base: &aws_config::SdkConfig,
    accounts: &[accounts::Account],
    regions: &[String],
    metrics: &crate::metrics::Metrics,
) -> Aws {
    let mut configs = Vec::new();
    let ambient = [accounts::Account::ambient()];
    let accounts = if accounts.is_empty() {
        &ambient[..]
    } else {
        accounts
    };
    for account in accounts {
        configs.push((account.clone(), account.sdk_config(base).await));
    }
    Aws {
        cloudtrail: CloudTrail::for_accounts(&configs, regions, metrics),
        agreements: agreements::Agreements::new(&configs),
    }
}

/// Where a report's activities come from: CloudTrail, or records loaded once from a file
/// (archived trail logs, or the demo's sample events).
#[derive(Clone)]
pub enum ActivitySource {
    CloudTrail(CloudTrail),
    Fixed(Arc<events_file::Loaded>),
}

impl ActivitySource {
    /// The activities in `window`, from every account (or the one `account` names).
    pub async fn lookup(&self, window: &TimeWindow, account: Option<&str>) -> Fetched {
        match self {
            Self::CloudTrail(ct) => ct.lookup(window, account).await,
            Self::Fixed(loaded) => {
                let mut fetched = loaded.within(window);
                if let Some(word) = account {
                    fetched.activities.retain(|a| {
                        a.account_alias
                            .as_deref()
                            .is_some_and(|x| x.eq_ignore_ascii_case(word))
                            || a.account_id.as_deref() == Some(word)
                    });
                }
                fetched
            }
        }
    }

    /// The configured accounts (one ambient account when none are).
    pub fn accounts(&self) -> Vec<accounts::Account> {
        match self {
            Self::CloudTrail(ct) => ct.accounts(),
            Self::Fixed(_) => vec![accounts::Account::ambient()],
        }
    }

    /// Names the source for the start-up log and the report footer.
    pub fn describe(&self) -> String {
        match self {
            Self::CloudTrail(ct) => {
                format!(
                    "CloudTrail in {}",
                    ct.regions().collect::<Vec<_>>().join(", ")
                )
            }
            Self::Fixed(loaded) => format!("{} records from {}", loaded.len(), loaded.origin),
        }
    }
}
