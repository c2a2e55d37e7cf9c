//! Credentials in another account: the app calls STS AssumeRole itself, at most
//! [`ASSUME_ROLE_IN_FLIGHT`] at a time across every account, and keeps the credentials until
//! shortly before they expire, so two commands a minute apart assume each role once.
//!
//! AssumeRole: <https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html>.
//! STS answers `AccessDenied` both when the role does not exist and when its trust policy
//! does not admit the caller, so the two cannot be told apart here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{error::CredentialsError, future, ProvideCredentials};
use aws_credential_types::Credentials;
use tokio::sync::Semaphore;

use crate::domain::LookupError;
use crate::sync::lock;

/// AssumeRole calls in flight at once, whatever the number of accounts (STS allows far more:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entities>).
pub const ASSUME_ROLE_IN_FLIGHT: usize = 16;
/// Credentials are renewed when fewer than this remain before they expire.
const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);
/// A refusal is remembered this long, so 300 accounts × 3 regions don't ask STS 900 times
/// for a role that is missing, and a role created meanwhile is found within a minute.
const REFUSAL_KEPT_FOR: Duration = Duration::from_secs(60);
/// The session name CloudTrail records in the member account.
pub const SESSION_NAME: &str = "marketplace-activity";

/// STS and the bound every role shares.
#[derive(Clone)]
pub struct Sts {
    client: aws_sdk_sts::Client,
    in_flight: Arc<Semaphore>,
}

impl Sts {
    pub fn new(base: &aws_config::SdkConfig) -> Self {
        Self {
            client: aws_sdk_sts::Client::new(base),
            in_flight: Arc::new(Semaphore::new(ASSUME_ROLE_IN_FLIGHT)),
        }
    }

    /// The account of the app's own credentials (GetCallerIdentity, which needs no
    /// permission: <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html>),
    /// or none when STS can't say.
    pub async fn own_account(&self) -> Option<String> {
        match self.client.get_caller_identity().send().await {
            Ok(out) => out.account().map(str::to_owned),
            Err(e) => {
                let sorted = LookupError::from_sdk(&e);
                tracing::debug!(error = %sorted, detail = %sorted.detail(), "GetCallerIdentity failed");
                None
            }
        }
    }
}

/// One role in one account, and its credentials once assumed.
pub struct AssumedRole {
    role_arn: String,
    external_id: Option<String>,
    sts: Sts,
    cached: Mutex<Option<Cached>>,
    /// One AssumeRole at a time per role: the regions of one account wait for the first.
    renewing: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
enum Cached {
    Granted(Credentials),
    Refused(LookupError, SystemTime),
}

impl std::fmt::Debug for AssumedRole {
    // The credentials stay out of Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssumedRole")
            .field("role_arn", &self.role_arn)
            .finish_non_exhaustive()
    }
}

impl AssumedRole {
    pub fn new(role_arn: String, external_id: Option<String>, sts: Sts) -> Self {
        Self {
            role_arn,
            external_id,
            sts,
            cached: Mutex::new(None),
            renewing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn role_arn(&self) -> &str {
        &self.role_arn
    }

    fn fresh(&self) -> Option<Result<Credentials, LookupError>> {
        let now = SystemTime::now();
        match lock(&self.cached).as_ref()? {
            Cached::Granted(c) => {
                let expiring = c.expiry().is_some_and(|e| e <= now + RENEW_BEFORE);
                (!expiring).then(|| Ok(c.clone()))
            }
            Cached::Refused(e, at) => now
                .duration_since(*at)
                .is_ok_and(|d| d < REFUSAL_KEPT_FOR)
                .then(|| Err(e.clone())),
        }
    }

    /// Credentials in the account: the cached ones while they last, else a new AssumeRole.
    pub async fn credentials(&self) -> Result<Credentials, LookupError> {
        if let Some(known) = self.fresh() {
            return known;
        }
        // Held across the call on purpose: it is a tokio lock, and the account's other
        // regions should wait for this AssumeRole rather than make their own.
        let _renewing = self.renewing.lock().await;
        if let Some(known) = self.fresh() {
            return known;
        }
        let result = self.assume().await;
        *lock(&self.cached) = Some(match &result {
            Ok(c) => Cached::Granted(c.clone()),
            Err(e) => Cached::Refused(e.clone(), SystemTime::now()),
        });
        result
    }

    async fn assume(&self) -> Result<Credentials, LookupError> {
        // The semaphore is never closed, so acquiring cannot fail.
        let _permit = self.sts.in_flight.acquire().await.ok();
        let answer = self
            .sts
            .client
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(SESSION_NAME)
            .set_external_id(self.external_id.clone())
            .send()
            .await;
        let out = match answer {
            Ok(out) => out,
            Err(err) => {
                let sorted = LookupError::from_sdk(&err);
                tracing::debug!(role = %self.role_arn, error = %sorted, detail = %sorted.detail(), "AssumeRole failed");
                return Err(match sorted {
                    LookupError::AccessDenied(m) => LookupError::AssumeRoleFailed(m),
                    other => other,
                });
            }
        };
        let Some(c) = out.credentials() else {
            return Err(LookupError::BadAnswer(
                "AssumeRole answered without credentials".into(),
            ));
        };
        let expiry = SystemTime::try_from(*c.expiration()).ok();
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            expiry,
            "marketplace-activity-assume-role",
        ))
    }
}

/// The SDK asks through this when a client in the account signs a request.
impl ProvideCredentials for AssumedRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.credentials()
                .await
                .map_err(|e| CredentialsError::provider_error(RoleError(e.to_string())))
        })
    }
}

/// Why the role's credentials could not be had, as the SDK's error source.
#[derive(Debug, thiserror::Error)]
#[error("AssumeRole failed: {0}")]
struct RoleError(String);

/// [`AssumedRole`] shared between the SDK clients of one account.
pub fn shared(
    role: &Arc<AssumedRole>,
) -> aws_credential_types::provider::SharedCredentialsProvider {
    aws_credential_types::provider::SharedCredentialsProvider::new(ArcRole(role.clone()))
}

#[derive(Debug)]
struct ArcRole(Arc<AssumedRole>);

impl ProvideCredentials for ArcRole {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        self.0.provide_credentials()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role() -> AssumedRole {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        AssumedRole::new(
            "arn:aws:iam::111122223333:role/MarketplaceActivityRead".into(),
            Some("ext-secret".into()),
            Sts::new(&sdk),
        )
    }

    fn expiring_in(secs: u64) -> Credentials {
        Credentials::new(
            "ASIA111122223333",
            "secret",
            Some("token".into()),
            Some(SystemTime::now() + Duration::from_secs(secs)),
            "test",
        )
    }

    #[test]
    fn credentials_are_kept_until_five_minutes_before_they_expire() {
        let r = role();
        assert!(r.fresh().is_none(), "nothing assumed yet");
        *lock(&r.cached) = Some(Cached::Granted(expiring_in(3600)));
        assert!(matches!(r.fresh(), Some(Ok(_))), "an hour left: reused");
        *lock(&r.cached) = Some(Cached::Granted(expiring_in(240)));
        assert!(r.fresh().is_none(), "four minutes left: renewed");
    }

    #[test]
    fn a_refusal_is_remembered_for_a_minute() {
        let r = role();
        let refused = LookupError::AssumeRoleFailed("denied".into());
        *lock(&r.cached) = Some(Cached::Refused(refused.clone(), SystemTime::now()));
        assert!(matches!(
            r.fresh(),
            Some(Err(LookupError::AssumeRoleFailed(_)))
        ));
        let long_ago = SystemTime::now() - Duration::from_secs(61);
        *lock(&r.cached) = Some(Cached::Refused(refused, long_ago));
        assert!(r.fresh().is_none(), "asked again after a minute");
    }

    #[test]
    fn debug_shows_the_role_not_the_external_id_or_credentials() {
        let r = role();
        *lock(&r.cached) = Some(Cached::Granted(expiring_in(3600)));
        let shown = format!("{r:?}");
        assert!(shown.contains("MarketplaceActivityRead"), "{shown}");
        assert!(
            !shown.contains("ext-secret") && !shown.contains("secret\""),
            "{shown}"
        );
    }
}
