//! The AWS side: where agreement activity comes from.
//!
//! - [`accounts`]: the accounts to report on, with their aliases and roles.
//! - [`agreements`]: agreement details (product, seller, value, term) from DescribeAgreement.
//! - [`cloudtrail`]: CloudTrail LookupEvents, paced and paginated, across regions.
//! - [`record`]: one CloudTrail record (JSON) into an [`Activity`].
//! - [`reports`]: one path from a question to a report (lookup, build, details).
//! - [`events_file`]: records saved to files (trail logs synced from S3, saved LookupEvents
//!   output, JSON Lines), read from files and directories, for `query --events-file` and the
//!   demo.

pub mod accounts;
pub mod agreements;
pub mod cloudtrail;
pub mod events_file;
pub mod record;
pub mod reports;

use std::sync::Arc;

use crate::domain::{Filter, TimeWindow};

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

pub use crate::domain::{Failure, Fetched, LookupError};

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
        configs.push((account.clone(), accounts::sdk_config(account, base).await));
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
    /// The activities in `window`, from every account (or the one `account` names). `filter`
    /// only sharpens what is said about records outside the window (files keep them all).
    pub async fn lookup(
        &self,
        window: &TimeWindow,
        account: Option<&str>,
        filter: &Filter,
    ) -> Fetched {
        match self {
            Self::CloudTrail(ct) => ct.lookup(window, account).await,
            Self::Fixed(loaded) => loaded.lookup(window, account, filter),
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
            Self::Fixed(loaded) => loaded.origin.clone(),
        }
    }
}
