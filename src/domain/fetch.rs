//! What a lookup found, wherever it looked (CloudTrail, archived trail files): the activities,
//! what could not be read, and which account and region failed and why.

use chrono::{DateTime, Utc};
use serde::Serialize;

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
    /// Accounts asked (0 for a file).
    pub accounts: usize,
    pub failures: Vec<Failure>,
    /// What was read, so an empty answer can say why it is empty.
    pub examined: Examined,
}

/// What a lookup read, whatever the window and filter kept: how much, and where the records
/// that fell outside the window are.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Examined {
    /// What was read: "CloudTrail in us-east-1", "trail.json", "20,000 files under ./trail".
    pub source: String,
    /// Files read (0 for CloudTrail).
    pub files: usize,
    /// Records read: every service's in trail files, LookupEvents' events for CloudTrail.
    pub records: usize,
    /// Marketplace agreement records among them (each once).
    pub agreement_records: usize,
    /// Records found again in another file (same `eventID`) and counted once.
    pub duplicates: usize,
    /// Files in a directory that hold no records (CloudTrail's digest files).
    pub files_without_records: usize,
    /// "path: why" for the first files that could not be read.
    pub unreadable_files: Vec<String>,
    pub unreadable_file_count: usize,
    /// Agreement records outside the window, when there are any.
    pub outside_window: Option<OutsideWindow>,
}

/// Agreement records that were read but fall outside the window. In JSON it also carries
/// `window`, the window that includes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideWindow {
    pub count: usize,
    pub first: DateTime<Utc>,
    pub last: DateTime<Utc>,
}

impl OutsideWindow {
    /// The window that includes them all, in the command's grammar: `2023-09-06..2023-09-07`.
    pub fn window_word(&self) -> String {
        format!("{}..{}", self.first.date_naive(), self.last.date_naive())
    }
}

impl Serialize for OutsideWindow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("OutsideWindow", 4)?;
        st.serialize_field("count", &self.count)?;
        st.serialize_field("first", &self.first)?;
        st.serialize_field("last", &self.last)?;
        st.serialize_field("window", &self.window_word())?;
        st.end()
    }
}

impl Examined {
    fn merge(&mut self, other: Examined) {
        if self.source.is_empty() {
            self.source = other.source;
        }
        self.files += other.files;
        self.records += other.records;
        self.agreement_records += other.agreement_records;
        self.duplicates += other.duplicates;
        self.files_without_records += other.files_without_records;
        self.unreadable_files.extend(other.unreadable_files);
        self.unreadable_file_count += other.unreadable_file_count;
        self.outside_window = match (self.outside_window.take(), other.outside_window) {
            (Some(a), Some(b)) => Some(OutsideWindow {
                count: a.count + b.count,
                first: a.first.min(b.first),
                last: a.last.max(b.last),
            }),
            (a, b) => a.or(b),
        };
    }
}

/// How far a lookup has got: accounts read (every region answered or failed) of those asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadSoFar {
    pub done: usize,
    pub total: usize,
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
        self.accounts += other.accounts;
        self.failures.extend(other.failures);
        self.examined.merge(other.examined);
    }

    pub fn sort_newest_first(&mut self) {
        self.activities.sort_by(|a, b| {
            b.time
                .cmp(&a.time)
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
    }
}

/// A lookup failure, sorted by what the person has to do about it. `Display` is one short
/// line for the log; [`LookupError::detail`] is the SDK's whole account (debug level);
/// [`LookupError::cause`] and [`LookupError::fix`] are what a person reads, worded for where
/// they are ([`Audience`]).
#[derive(Debug, Clone, thiserror::Error)]
pub enum LookupError {
    #[error("access denied: {0}")]
    AccessDenied(String),
    #[error("no AWS credentials")]
    NoCredentials(String),
    #[error("AWS rejected the credentials ({0})")]
    BadCredentials(String),
    #[error("could not assume the account's role")]
    AssumeRoleFailed(String),
    #[error("still throttled after retries")]
    Throttled,
    #[error("timed out")]
    Timeout,
    /// CloudTrail was never reached: DNS, a refused connection, TLS, a proxy.
    #[error("could not reach CloudTrail{}", reason(.0).map(|r| format!(" ({r})")).unwrap_or_default())]
    Unreachable(String),
    /// CloudTrail answered with an error code not sorted above.
    #[error("CloudTrail error {code}: {message}")]
    Service { code: String, message: String },
    /// CloudTrail (or something in its place) answered with something that is not its API:
    /// an HTML error page, garbage.
    #[error("CloudTrail's answer could not be read")]
    BadAnswer(String),
    #[error("the lookup failed")]
    Other(String),
    /// The organization's accounts could not be listed (ListAccounts), for this reason.
    #[error("could not list the organization's accounts: {0}")]
    Organization(Box<LookupError>),
}

/// Who reads an error, so its fix names what they can do: a person at a terminal running
/// `query` or `check` with their own credentials, or someone in Slack whose app runs elsewhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Terminal,
    Slack,
}

/// A short reason from the SDK's account of a connection failure, when it has a known one.
fn reason(detail: &str) -> Option<&'static str> {
    let d = detail.to_ascii_lowercase();
    if d.contains("connection refused") {
        Some("connection refused")
    } else if d.contains("dns error") || d.contains("failed to lookup address") {
        Some("the host name does not resolve")
    } else if d.contains("certificate") || d.contains("tls") {
        Some("TLS failed")
    } else if d.contains("connection reset") {
        Some("connection reset")
    } else {
        None
    }
}

impl LookupError {
    /// What went wrong, as a sentence without its full stop.
    pub fn cause(&self) -> String {
        match self {
            Self::AccessDenied(_) => "AWS denied access to CloudTrail (LookupEvents)".into(),
            Self::NoCredentials(_) => "No AWS credentials were found (the environment, AWS profiles, web identity, container and instance metadata were tried)".into(),
            Self::BadCredentials(_) => "AWS rejected the credentials (unknown, expired or revoked)".into(),
            Self::AssumeRoleFailed(_) => "Could not assume this account's role".into(),
            Self::Throttled => "CloudTrail is throttling requests from this account (it allows 2 per second)".into(),
            Self::Timeout => "CloudTrail did not answer in time".into(),
            Self::Unreachable(detail) => match reason(detail) {
                Some("connection reset") => "The connection to CloudTrail was reset".into(),
                Some(r) => format!("Could not reach CloudTrail: {r}"),
                None => "Could not reach CloudTrail".into(),
            },
            Self::BadAnswer(_) => "CloudTrail answered with something the app could not read (not its API's answer)".into(),
            Self::Service { code, .. } => format!("CloudTrail refused the request ({code})"),
            Self::Other(_) => "The lookup failed for a reason the app does not recognise".into(),
            Self::Organization(inner) => match &**inner {
                Self::AccessDenied(_) => "AWS denied listing the organization's accounts (organizations:ListAccounts)".into(),
                Self::Unreachable(_) => "Could not reach AWS Organizations to list the organization's accounts".into(),
                Self::Timeout => "AWS Organizations did not answer in time".into(),
                Self::Service { code, .. } => format!("AWS Organizations refused to list the organization's accounts ({code})"),
                Self::NoCredentials(_) | Self::BadCredentials(_) => inner.cause(),
                _ => "Could not list the organization's accounts".into(),
            },
        }
    }

    /// A few words for the cause, to group failures in one line: "the role could not be
    /// assumed in 10, CloudTrail denied access in 2".
    pub fn short(&self) -> &'static str {
        match self {
            Self::AccessDenied(_) => "CloudTrail denied access",
            Self::NoCredentials(_) => "no credentials",
            Self::BadCredentials(_) => "credentials rejected",
            Self::AssumeRoleFailed(_) => "the role could not be assumed",
            Self::Throttled => "throttled",
            Self::Timeout => "timed out",
            Self::Unreachable(_) => "CloudTrail unreachable",
            Self::Service { .. } => "a CloudTrail error",
            Self::BadAnswer(_) => "an unreadable answer",
            Self::Other(_) => "an unknown failure",
            Self::Organization(_) => "the organization could not be listed",
        }
    }

    /// What to do about it, where the reader is.
    pub fn fix(&self, audience: Audience) -> &'static str {
        use Audience::{Slack, Terminal};
        match (self, audience) {
            (Self::AccessDenied(_), Slack) => "The app's IAM role needs `cloudtrail:LookupEvents` on `*` (manifest/iam-policy.json).",
            (Self::AccessDenied(_), Terminal) => "Your AWS identity needs cloudtrail:LookupEvents on *; `aws sts get-caller-identity` shows which identity is used.",
            (Self::NoCredentials(_), Slack) => "Give the app an IAM role where it runs (ECS task role, EKS pod identity, instance profile), or set `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.",
            (Self::NoCredentials(_), Terminal) => "Sign in (`aws sso login`, then `export AWS_PROFILE=NAME`; or `aws configure`) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; a container on AWS needs an IAM role.",
            (Self::BadCredentials(_), Slack) => "Check the role or keys the app runs with.",
            (Self::BadCredentials(_), Terminal) => "Sign in again (`aws sso login`) or use current keys; `aws sts get-caller-identity` checks them.",
            (Self::AssumeRoleFailed(_), Slack) => "Check that the role exists, that its trust policy allows the app's role (and the external id), and that the app may call `sts:AssumeRole` on it.",
            (Self::AssumeRoleFailed(_), Terminal) => "Check that the role exists, that its trust policy allows your identity (and the external id), and that you may call sts:AssumeRole on it.",
            (Self::Throttled, _) => "Try again in a minute, or with a shorter window.",
            (Self::Timeout, _) => "Try again, or with a shorter window.",
            (Self::Unreachable(_), Slack) => "Try again; if it persists, the app's host needs outbound HTTPS to CloudTrail (a NAT gateway or a VPC endpoint, any proxy; `AWS_ENDPOINT_URL` if set).",
            (Self::Unreachable(_), Terminal) => "Check your network or proxy, and AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_CLOUDTRAIL if you set them; then try again.",
            (Self::BadAnswer(_), Slack) => "Try again; if it persists, a proxy or `AWS_ENDPOINT_URL` may point somewhere else than CloudTrail (the app's log has the answer at debug level).",
            (Self::BadAnswer(_), Terminal) => "Try again; if it persists, check any proxy and AWS_ENDPOINT_URL; `RUST_LOG=debug` shows the answer.",
            (Self::Service { .. }, Slack) => "Try again; if it persists, the app's log has AWS's message.",
            (Self::Service { .. }, Terminal) => "Try again; `RUST_LOG=debug` shows AWS's whole answer.",
            (Self::Other(_), Slack) => "Try again; if it persists, the app's log has the details at debug level (`RUST_LOG=debug`).",
            (Self::Other(_), Terminal) => "Try again; `RUST_LOG=debug` shows the details.",
            (Self::Organization(_), Slack) => "The app must run in the organization's management account or a delegated administrator, and its role needs `organizations:ListAccounts` (manifest/iam-policy.json).",
            (Self::Organization(_), Terminal) => "Use credentials of the organization's management account or a delegated administrator with organizations:ListAccounts; `aws organizations list-accounts` checks them.",
        }
    }

    /// Cause and fix in one paragraph, for Slack.
    pub fn user_message(&self) -> String {
        format!("{}. {}", self.cause(), self.fix(Audience::Slack))
    }

    /// Everything the SDK said, for the log at debug level.
    pub fn detail(&self) -> &str {
        match self {
            Self::AccessDenied(d)
            | Self::NoCredentials(d)
            | Self::BadCredentials(d)
            | Self::AssumeRoleFailed(d)
            | Self::Unreachable(d)
            | Self::BadAnswer(d)
            | Self::Other(d) => d,
            Self::Service { message, .. } => message,
            Self::Organization(inner) => inner.detail(),
            Self::Throttled | Self::Timeout => "",
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
