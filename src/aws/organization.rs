//! The organization's accounts, for `ACCOUNTS=organization`: ListAccounts, every page, keeping
//! the accounts whose `State` is `ACTIVE`.
//!
//! ListAccounts: <https://docs.aws.amazon.com/organizations/latest/APIReference/API_ListAccounts.html>
//! (callable from the management account or a delegated administrator). The older `Status`
//! field was retired on 2026-09-09 in favour of `State`
//! (<https://docs.aws.amazon.com/organizations/latest/APIReference/API_Account.html>), so it is
//! never read here.

use std::time::Duration;

use aws_sdk_organizations::types::AccountState;

use crate::domain::LookupError;

/// The role assumed in each member account when `MEMBER_ROLE_NAME` is not set.
pub const DEFAULT_MEMBER_ROLE: &str = "MarketplaceActivityRead";
/// How often the list is read again when `ORGANIZATION_REFRESH_SECS` is not set.
pub const DEFAULT_REFRESH: Duration = Duration::from_secs(3600);
/// Organizations is served from one region per partition (us-east-1 for `aws`):
/// <https://docs.aws.amazon.com/general/latest/gr/ao.html>.
const ORGANIZATIONS_REGION: &str = "us-east-1";
/// Pages read at most (20 accounts a page: 10,000 accounts, Organizations' own ceiling).
const MAX_PAGES: usize = 500;

/// How the organization's accounts are reached.
#[derive(Clone, PartialEq, Eq)]
pub struct OrganizationSettings {
    /// The role assumed in every member account: `arn:aws:iam::<id>:role/<name>`.
    pub role_name: String,
    /// The external id its trust policy asks for, if any.
    pub external_id: Option<String>,
    /// How long a listing is used before the organization is listed again.
    pub refresh: Duration,
}

impl std::fmt::Debug for OrganizationSettings {
    // The external id is a shared secret of sorts: it stays out of Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrganizationSettings")
            .field("role_name", &self.role_name)
            .field(
                "external_id",
                &self.external_id.as_ref().map(|_| "[redacted]"),
            )
            .field("refresh", &self.refresh)
            .finish()
    }
}

impl OrganizationSettings {
    /// The member role's ARN in `account_id` (the partition of the commercial regions).
    pub fn role_arn(&self, account_id: &str) -> String {
        format!("arn:aws:iam::{account_id}:role/{}", self.role_name)
    }
}

/// An active account of the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: Option<String>,
}

/// The Organizations client.
#[derive(Clone)]
pub struct Organization {
    client: aws_sdk_organizations::Client,
}

impl Organization {
    /// A client from the shared configuration (`AWS_ENDPOINT_URL_ORGANIZATIONS` honoured).
    pub fn new(base: &aws_config::SdkConfig) -> Self {
        let conf = aws_sdk_organizations::config::Builder::from(base)
            .region(aws_config::Region::new(ORGANIZATIONS_REGION))
            .build();
        Self {
            client: aws_sdk_organizations::Client::from_conf(conf),
        }
    }

    /// Every ACTIVE account, every page.
    pub async fn active_accounts(&self) -> Result<Vec<Member>, LookupError> {
        let mut members = Vec::new();
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let page = self
                .client
                .list_accounts()
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| {
                    let sorted = LookupError::from_sdk(&e);
                    tracing::debug!(error = %sorted, detail = %sorted.detail(), "ListAccounts failed");
                    LookupError::Organization(Box::new(sorted))
                })?;
            for account in page.accounts() {
                if account.state() != Some(&AccountState::Active) {
                    continue;
                }
                let Some(id) = account.id() else { continue };
                members.push(Member {
                    id: id.to_owned(),
                    name: account
                        .name()
                        .map(str::trim)
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned),
                });
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => return Ok(members),
            }
        }
        tracing::warn!(
            pages = MAX_PAGES,
            "ListAccounts still had pages; the rest are left out"
        );
        Ok(members)
    }
}
