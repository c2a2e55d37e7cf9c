//! The accounts the app reports on right now: the ones written in `ACCOUNTS` / the accounts
//! file, the organization's active accounts (`ACCOUNTS=organization`), or the app's own. Each
//! comes with the SDK configuration that acts in it (its role's cached credentials).
//!
//! The organization is listed at start-up, again when a listing is older than
//! [`OrganizationSettings::refresh`] (hourly by default), and on `check`. A listing that fails
//! keeps the previous one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::organization::{Organization, OrganizationSettings};
use super::role::{self, AssumedRole, Sts};
use crate::domain::{Account, LookupError};
use crate::sync::lock;

/// After a failed listing, the previous one is used this long before listing again.
const RETRY_LISTING_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// One account and what acts in it.
#[derive(Clone)]
pub struct Member {
    pub account: Account,
    pub sdk: aws_config::SdkConfig,
    /// The role assumed there (none: the app's own credentials).
    pub role: Option<Arc<AssumedRole>>,
}

impl Member {
    /// Makes sure the account can be acted in: assumes its role (or reuses the credentials).
    pub async fn ready(&self) -> Result<(), LookupError> {
        match &self.role {
            Some(role) => role.credentials().await.map(drop),
            None => Ok(()),
        }
    }
}

/// The accounts, shared by CloudTrail, the Agreement API, the notifier and `check`.
#[derive(Clone)]
pub struct Directory {
    inner: Arc<Inner>,
}

struct Inner {
    base: aws_config::SdkConfig,
    explicit: Vec<Account>,
    organization: Option<(Organization, OrganizationSettings)>,
    sts: Sts,
    /// The account the app runs in, asked once: read with the app's own credentials.
    own_account: tokio::sync::OnceCell<Option<String>>,
    listing: Mutex<Listing>,
    /// One listing at a time; held across ListAccounts (a tokio lock).
    listing_now: tokio::sync::Mutex<()>,
}

struct Listing {
    members: Arc<[Member]>,
    at: Option<Instant>,
    /// Members by account id, kept across listings so their credentials are reused.
    known: HashMap<String, Member>,
}

/// What `check` says about the organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub accounts: usize,
}

impl Directory {
    /// The accounts written in the configuration, and the organization's when `organization`
    /// is set. Nothing is called yet.
    pub fn new(
        base: &aws_config::SdkConfig,
        explicit: Vec<Account>,
        organization: Option<OrganizationSettings>,
    ) -> Self {
        let sts = Sts::new(base);
        let organization = organization.map(|s| (Organization::new(base), s));
        let mut listing = Listing {
            members: Arc::from(Vec::new()),
            at: None,
            known: HashMap::new(),
        };
        let explicit_members: Vec<Member> = if explicit.is_empty() && organization.is_none() {
            vec![member(base, &sts, Account::ambient())]
        } else {
            explicit
                .iter()
                .map(|a| member(base, &sts, a.clone()))
                .collect()
        };
        listing.members = Arc::from(explicit_members);
        Self {
            inner: Arc::new(Inner {
                base: base.clone(),
                explicit,
                organization,
                sts,
                own_account: tokio::sync::OnceCell::new(),
                listing: Mutex::new(listing),
                listing_now: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Whether the accounts come from the organization.
    pub fn is_organization(&self) -> bool {
        self.inner.organization.is_some()
    }

    /// The accounts as last listed, without waiting (for naming an account by its id).
    pub fn snapshot(&self) -> Arc<[Member]> {
        lock(&self.inner.listing).members.clone()
    }

    /// The accounts as last listed, plain.
    pub fn accounts(&self) -> Vec<Account> {
        self.snapshot().iter().map(|m| m.account.clone()).collect()
    }

    /// The accounts now: the organization is listed first when its listing is older than the
    /// refresh period. When listing fails, the previous listing is used; with none, the error
    /// is returned.
    pub async fn members(&self) -> Result<Arc<[Member]>, LookupError> {
        let Some((_, settings)) = &self.inner.organization else {
            return Ok(self.snapshot());
        };
        let stale = |l: &Listing| l.at.is_none_or(|at| at.elapsed() >= settings.refresh);
        if !stale(&lock(&self.inner.listing)) {
            return Ok(self.snapshot());
        }
        let _one = self.inner.listing_now.lock().await;
        if !stale(&lock(&self.inner.listing)) {
            return Ok(self.snapshot());
        }
        match self.refresh_now().await {
            Ok(_) => Ok(self.snapshot()),
            Err(e) => {
                let mut listing = lock(&self.inner.listing);
                if listing.at.is_some() {
                    tracing::warn!(error = %e, "listing the organization failed; using the previous listing");
                    // Tried again in a minute, not by every lookup meanwhile.
                    let retry_at = Instant::now()
                        .checked_sub(settings.refresh.saturating_sub(RETRY_LISTING_AFTER));
                    listing.at = retry_at.or(listing.at);
                    Ok(listing.members.clone())
                } else {
                    Err(e)
                }
            }
        }
    }

    /// Lists the organization now (for `check` and start-up). Without an organization, says
    /// how many accounts are configured.
    pub async fn refresh_now(&self) -> Result<Listed, LookupError> {
        let Some((organization, settings)) = &self.inner.organization else {
            return Ok(Listed {
                accounts: self.snapshot().len(),
            });
        };
        let listed = organization.active_accounts().await?;
        let own = self
            .inner
            .own_account
            .get_or_init(|| self.inner.sts.own_account())
            .await
            .clone();
        let mut listing = lock(&self.inner.listing);
        let mut members = Vec::with_capacity(listed.len() + self.inner.explicit.len());
        let mut known = HashMap::new();
        for found in &listed {
            // An entry in ACCOUNTS for this id wins: its alias, and its role (or none: the
            // app's own credentials, as for the management account).
            let account = match self
                .inner
                .explicit
                .iter()
                .find(|a| a.id.as_deref() == Some(found.id.as_str()))
            {
                Some(written) => Account {
                    alias: written.alias.clone().or_else(|| found.name.clone()),
                    ..written.clone()
                },
                // The account the app runs in (the management account, where a service-managed
                // StackSet puts no member role) is read with the app's own credentials.
                None if own.as_deref() == Some(found.id.as_str()) => Account {
                    id: Some(found.id.clone()),
                    alias: found.name.clone(),
                    role_arn: None,
                    external_id: None,
                },
                None => Account {
                    id: Some(found.id.clone()),
                    alias: found.name.clone(),
                    role_arn: Some(settings.role_arn(&found.id)),
                    external_id: settings.external_id.clone(),
                },
            };
            let m = match listing.known.get(&found.id) {
                Some(m) if m.account == account => m.clone(),
                _ => member(&self.inner.base, &self.inner.sts, account),
            };
            known.insert(found.id.clone(), m.clone());
            members.push(m);
        }
        // Accounts written in ACCOUNTS that the organization does not list (another
        // organization's, or one the app reaches some other way) are kept.
        for written in &self.inner.explicit {
            let listed_here = written
                .id
                .as_deref()
                .is_some_and(|id| listed.iter().any(|f| f.id == id));
            if !listed_here {
                let m = written
                    .id
                    .as_ref()
                    .and_then(|id| listing.known.get(id))
                    .filter(|m| &m.account == written)
                    .cloned()
                    .unwrap_or_else(|| member(&self.inner.base, &self.inner.sts, written.clone()));
                if let Some(id) = &written.id {
                    known.insert(id.clone(), m.clone());
                }
                members.push(m);
            }
        }
        let count = members.len();
        listing.members = Arc::from(members);
        listing.known = known;
        listing.at = Some(Instant::now());
        tracing::info!(
            accounts = listed.len(),
            "listed the organization's active accounts"
        );
        Ok(Listed { accounts: count })
    }
}

fn member(base: &aws_config::SdkConfig, sts: &Sts, account: Account) -> Member {
    let Some(role_arn) = account.role_arn.clone() else {
        return Member {
            account,
            sdk: base.clone(),
            role: None,
        };
    };
    let role = Arc::new(AssumedRole::new(
        role_arn,
        account.external_id.clone(),
        sts.clone(),
    ));
    let sdk = base
        .to_builder()
        .credentials_provider(role::shared(&role))
        .build();
    Member {
        account,
        sdk,
        role: Some(role),
    }
}
