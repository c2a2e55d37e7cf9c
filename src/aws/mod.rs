//! The AWS side: where agreement activity comes from.
//!
//! - [`accounts`]: the accounts written in the configuration, with their aliases and roles.
//! - [`organization`]: the organization's active accounts (ListAccounts), for
//!   `ACCOUNTS=organization`.
//! - [`role`]: credentials in another account (AssumeRole, bounded and cached).
//! - [`directory`]: the accounts reported on now (written, listed, or the app's own), each
//!   with the SDK configuration that acts in it.
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
pub mod directory;
pub mod events_file;
pub mod organization;
pub mod record;
pub mod reports;
pub mod role;

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

/// The SDK configuration from [`sdk_config_loader`], once the platform's trust roots are known
/// to be there: the SDK's HTTPS client panics while it loads when it finds none (it reads the
/// same roots, <https://docs.rs/aws-smithy-http-client/latest/aws_smithy_http_client/tls/struct.TrustStore.html>),
/// so that case is an error that says what to install instead.
pub async fn load_sdk_config() -> Result<aws_config::SdkConfig, crate::http::NoTrustRoots> {
    crate::http::trust_roots()?;
    Ok(sdk_config_loader().load().await)
}

pub use crate::domain::{Failure, Fetched, LookupError};

/// Everything the app asks AWS, built once at start-up for the configured accounts.
pub struct Aws {
    pub cloudtrail: CloudTrail,
    pub agreements: agreements::Agreements,
    pub directory: directory::Directory,
}

/// Which accounts and regions to read, and how many pairs at once.
#[derive(Debug, Clone)]
pub struct Scope {
    /// Accounts written in `ACCOUNTS` / the accounts file (with an organization: extra
    /// accounts, or aliases and roles for some of its accounts).
    pub accounts: Vec<accounts::Account>,
    /// `ACCOUNTS=organization`: every active account of the organization.
    pub organization: Option<organization::OrganizationSettings>,
    pub regions: Vec<String>,
    /// Account × region pairs read at once.
    pub in_flight: usize,
}

impl Scope {
    /// These accounts (none: the app's own) in these regions, the default pairs in flight.
    pub fn accounts(accounts: &[accounts::Account], regions: &[String]) -> Self {
        Self {
            accounts: accounts.to_vec(),
            organization: None,
            regions: regions.to_vec(),
            in_flight: cloudtrail::DEFAULT_IN_FLIGHT,
        }
    }
}

/// Builds the accounts' directory, CloudTrail over every account × region and the Agreement
/// API per account. Nothing is called: roles are assumed on first use, so a broken role fails
/// only its own account's lookups. With an organization, [`Aws::list_organization`] lists it.
pub fn connect(
    base: &aws_config::SdkConfig,
    scope: &Scope,
    metrics: &crate::metrics::Metrics,
) -> Aws {
    let directory =
        directory::Directory::new(base, scope.accounts.clone(), scope.organization.clone());
    Aws {
        cloudtrail: CloudTrail::for_directory(
            directory.clone(),
            &scope.regions,
            scope.in_flight,
            metrics,
        ),
        agreements: agreements::Agreements::new(directory.clone()),
        directory,
    }
}

impl Aws {
    /// Lists the organization's accounts now, when the accounts come from one; a failure is
    /// logged (the first lookup tries again and says why).
    pub async fn list_organization(&self) {
        if !self.directory.is_organization() {
            return;
        }
        if let Err(e) = self.directory.refresh_now().await {
            tracing::warn!(error = %e, detail = %e.detail(), "could not list the organization's accounts");
        }
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
        progress: &tokio::sync::watch::Sender<crate::domain::ReadSoFar>,
    ) -> Fetched {
        match self {
            Self::CloudTrail(ct) => ct.lookup(window, account, progress).await,
            Self::Fixed(loaded) => loaded.lookup(window, account, filter),
        }
    }

    /// The accounts as last listed (one ambient account when none are configured).
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
                let regions = ct.regions().collect::<Vec<_>>().join(", ");
                if ct.directory().is_organization() {
                    format!("CloudTrail in the organization's accounts in {regions}")
                } else {
                    format!("CloudTrail in {regions}")
                }
            }
            Self::Fixed(loaded) => loaded.origin.clone(),
        }
    }
}
