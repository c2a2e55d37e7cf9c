//! CloudTrail LookupEvents for agreement activity: every page, every account × region, a
//! bounded number of pairs at once, each paced under CloudTrail's 2 requests per second per
//! account and region
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/API_LookupEvents.html>).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudtrail::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_cloudtrail::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cloudtrail::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsError;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_cloudtrail::Client;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use super::accounts::Account;
use super::directory::{Directory, Member};
use super::record::{parse_record, AGREEMENT_EVENT_SOURCE};
use super::{Failure, Fetched, LookupError};
use crate::domain::{ReadSoFar, TimeWindow};
use crate::metrics::{AttemptLabels, Metrics, RegionLabels};
use crate::pacer::Pacer;
use crate::sync::lock;

/// CloudTrail's documented limit is 2 LookupEvents per second per account and region; we
/// leave 5% headroom so clock jitter between us and AWS doesn't turn into throttling.
pub const LOOKUP_INTERVAL: Duration = Duration::from_millis(525);
/// The largest page LookupEvents returns.
const PAGE_SIZE: i32 = 50;

/// CloudTrail in every account × region the [`Directory`] names. Each pair has its own client
/// and pacer, kept for the life of the app (CloudTrail's limit is per account and region, so
/// each pair gets the whole budget, shared by everyone asking); at most `in_flight` pairs are
/// read at once.
#[derive(Clone)]
pub struct CloudTrail {
    inner: Arc<Inner>,
}

/// An account's id, the role the app acts through there, and a region.
type PairKey = (Option<String>, Option<String>, String);

struct Inner {
    directory: Directory,
    regions: Vec<String>,
    /// Clients by (account id, role, region), made when a pair is first asked.
    clients: Mutex<HashMap<PairKey, Arc<RegionClient>>>,
    in_flight: Arc<Semaphore>,
    metrics: Metrics,
}

/// What `check` found in one account and region.
#[derive(Debug)]
pub struct Probe {
    pub account: Account,
    pub region: String,
    /// Assuming the account's role (none: the app's own credentials).
    pub role: Option<Result<(), LookupError>>,
    /// The small LookupEvents (none: the role could not be assumed).
    pub lookup: Option<Result<(), LookupError>>,
}

impl Probe {
    /// "eu-west-1", or "prod (111122223333) eu-west-1" when accounts are configured.
    pub fn place(&self) -> String {
        Failure {
            account: self.account.clone(),
            region: self.region.clone(),
            error: LookupError::Other(String::new()),
        }
        .place()
    }
}

/// Pairs read at once when `LOOKUP_CONCURRENCY` is not set.
pub const DEFAULT_IN_FLIGHT: usize = 32;

struct RegionClient {
    region: String,
    client: Client,
    pacer: Pacer,
    metrics: Metrics,
}

/// Counts every HTTP attempt the SDK makes (its own retries included) and the throttled ones,
/// which our pacing should keep near zero.
#[derive(Debug)]
struct AttemptCounter {
    region: String,
    metrics: Metrics,
}

impl Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "AttemptCounter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let outcome = match context.output_or_error() {
            Some(Ok(_)) => "ok",
            Some(Err(e)) => {
                let code = e
                    .as_operation_error()
                    .and_then(|e| e.downcast_ref::<LookupEventsError>())
                    .and_then(|e| e.code());
                if code == Some("ThrottlingException") {
                    "throttled"
                } else {
                    "error"
                }
            }
            None => "error",
        };
        let region = self.region.clone();
        if outcome == "throttled" {
            self.metrics
                .cloudtrail_throttles
                .get_or_create(&RegionLabels {
                    region: region.clone(),
                })
                .inc();
        }
        self.metrics
            .cloudtrail_attempts
            .get_or_create(&AttemptLabels { region, outcome })
            .inc();
        Ok(())
    }
}

impl CloudTrail {
    /// CloudTrail in every account of `directory` × `regions`, at most `in_flight` pairs at once.
    pub fn for_directory(
        directory: Directory,
        regions: &[String],
        in_flight: usize,
        metrics: &Metrics,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                directory,
                regions: regions.to_vec(),
                clients: Mutex::default(),
                in_flight: Arc::new(Semaphore::new(in_flight.max(1))),
                metrics: metrics.clone(),
            }),
        }
    }

    pub fn directory(&self) -> &Directory {
        &self.inner.directory
    }

    /// The pair's client, made on first use from the account's SDK configuration.
    fn client(&self, member: &Member, region: &str) -> Arc<RegionClient> {
        let key = (
            member.account.id.clone(),
            member.account.role_arn.clone(),
            region.to_owned(),
        );
        let mut clients = lock(&self.inner.clients);
        clients
            .entry(key)
            .or_insert_with(|| {
                let conf = aws_sdk_cloudtrail::config::Builder::from(&member.sdk)
                    .region(aws_config::Region::new(region.to_owned()))
                    .interceptor(AttemptCounter {
                        region: region.to_owned(),
                        metrics: self.inner.metrics.clone(),
                    })
                    .build();
                Arc::new(RegionClient {
                    region: region.to_owned(),
                    client: Client::from_conf(conf),
                    pacer: Pacer::new(LOOKUP_INTERVAL),
                    metrics: self.inner.metrics.clone(),
                })
            })
            .clone()
    }

    /// One small LookupEvents per account and region (the last hour, one result), after
    /// assuming the account's role: proves the credentials and the permission without
    /// reading much. For `marketplace-activity check`; pairs are asked concurrently.
    pub async fn probe(&self) -> Result<Vec<Probe>, LookupError> {
        let members = self.inner.directory.members().await?;
        let mut set = JoinSet::new();
        for (order, (member, region)) in self.pairs(&members, None).into_iter().enumerate() {
            let client = self.client(&member, &region);
            let limit = self.inner.in_flight.clone();
            set.spawn(async move {
                // The semaphore is never closed.
                let _permit = limit.acquire_owned().await.ok();
                let role = match &member.role {
                    Some(_) => Some(member.ready().await),
                    None => None,
                };
                let lookup = match &role {
                    Some(Err(_)) => None,
                    _ => Some(client.probe().await),
                };
                let probe = Probe {
                    account: member.account.clone(),
                    region,
                    role,
                    lookup,
                };
                (order, probe)
            });
        }
        let mut results = Vec::new();
        while let Some(joined) = set.join_next().await {
            if let Ok(r) = joined {
                results.push(r);
            }
        }
        results.sort_by_key(|r| r.0);
        Ok(results.into_iter().map(|(_, p)| p).collect())
    }

    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.inner.regions.iter().map(String::as_str)
    }

    /// The accounts as last listed, once each.
    pub fn accounts(&self) -> Vec<Account> {
        self.inner.directory.accounts()
    }

    /// Every account (or those `account` names) × region.
    fn pairs(&self, members: &[Member], account: Option<&str>) -> Vec<(Member, String)> {
        members
            .iter()
            .filter(|m| account.is_none_or(|a| m.account.matches(a)))
            .flat_map(|m| {
                self.inner
                    .regions
                    .iter()
                    .map(move |r| (m.clone(), r.clone()))
            })
            .collect()
    }

    /// Fetches the window from every account and region (or only the accounts `account`
    /// names), at most `in_flight` pairs at once, each paced on its own. A pair that fails is
    /// reported in [`Fetched::failures`] and does not hide the others' results. `progress`
    /// counts the accounts read (every region of them answered or failed).
    pub async fn lookup(
        &self,
        window: &TimeWindow,
        account: Option<&str>,
        progress: &watch::Sender<ReadSoFar>,
    ) -> Fetched {
        let members = match self.inner.directory.members().await {
            Ok(m) => m,
            Err(error) => {
                return Fetched {
                    failures: vec![Failure {
                        account: Account::ambient(),
                        region: "the organization's account list".into(),
                        error,
                    }],
                    ..Fetched::default()
                }
            }
        };
        let pairs = self.pairs(&members, account);
        let mut left: HashMap<usize, usize> = HashMap::new();
        let mut set = JoinSet::new();
        let per_account = self.inner.regions.len().max(1);
        for (index, (member, region)) in pairs.into_iter().enumerate() {
            let account_index = index / per_account;
            *left.entry(account_index).or_default() += 1;
            let client = self.client(&member, &region);
            let limit = self.inner.in_flight.clone();
            let window = window.clone();
            set.spawn(async move {
                // The semaphore is never closed.
                let _permit = limit.acquire_owned().await.ok();
                let part = match member.ready().await {
                    Ok(()) => client.lookup(&window, &member.account).await,
                    Err(error) => Fetched {
                        sources: 1,
                        failures: vec![Failure {
                            account: member.account.clone(),
                            region: region.clone(),
                            error,
                        }],
                        ..Fetched::default()
                    },
                };
                (account_index, part)
            });
        }
        let total = left.len();
        progress.send_replace(ReadSoFar { done: 0, total });
        let mut done = 0;
        let mut fetched = Fetched::default();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((account_index, part)) => {
                    fetched.merge(part);
                    if let Some(n) = left.get_mut(&account_index) {
                        *n -= 1;
                        if *n == 0 {
                            done += 1;
                            progress.send_replace(ReadSoFar { done, total });
                        }
                    }
                }
                // A panic in a region task is a bug; report it rather than take the answer down.
                Err(e) => fetched.failures.push(Failure {
                    account: Account::ambient(),
                    region: "unknown".into(),
                    error: LookupError::Other(format!("lookup task failed: {e}")),
                }),
            }
        }
        fetched.accounts = total;
        fetched.sort_newest_first();
        fetched
    }
}

impl RegionClient {
    async fn probe(&self) -> Result<(), LookupError> {
        self.pacer.wait().await;
        let end = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp());
        let start = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp() - 3600);
        self.client
            .lookup_events()
            .lookup_attributes(agreement_source())
            .start_time(start)
            .end_time(end)
            .max_results(1)
            .send()
            .await
            .map(drop)
            .map_err(|e| LookupError::from_sdk(&e))
    }

    async fn lookup(&self, window: &TimeWindow, account: &Account) -> Fetched {
        let mut fetched = Fetched {
            sources: 1,
            ..Fetched::default()
        };
        let attribute = agreement_source();
        let start = aws_smithy_types::DateTime::from_secs(window.start.timestamp());
        let end = aws_smithy_types::DateTime::from_secs(window.end.timestamp());
        let mut next_token: Option<String> = None;
        loop {
            self.pacer.wait().await;
            fetched.calls += 1;
            let started = std::time::Instant::now();
            let result = self
                .client
                .lookup_events()
                .lookup_attributes(attribute.clone())
                .start_time(start)
                .end_time(end)
                .max_results(PAGE_SIZE)
                .set_next_token(next_token.take())
                .send()
                .await;
            self.metrics
                .cloudtrail_latency
                .get_or_create(&RegionLabels {
                    region: self.region.clone(),
                })
                .observe(started.elapsed().as_secs_f64());
            let page = match result {
                Ok(page) => page,
                Err(err) => {
                    let err = LookupError::from_sdk(&err);
                    tracing::debug!(account = %account.label(), region = %self.region, error = %err, detail = %err.detail(), "LookupEvents failed");
                    fetched.failures.push(Failure {
                        account: account.clone(),
                        region: self.region.clone(),
                        error: err,
                    });
                    return fetched;
                }
            };
            fetched.examined.records += page.events().len();
            tracing::debug!(
                region = %self.region,
                events = page.events().len(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "LookupEvents page"
            );
            for event in page.events() {
                match event.cloud_trail_event().map(parse_record) {
                    Some(Ok(Some(mut activity))) => {
                        activity.account_alias.clone_from(&account.alias);
                        if activity.account_id.is_none() {
                            activity.account_id.clone_from(&account.id);
                        }
                        fetched.examined.agreement_records += 1;
                        fetched.activities.push(activity);
                    }
                    Some(Ok(None)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(region = %self.region, event_id = ?event.event_id(), error = %e, "skipping unreadable CloudTrail record");
                        fetched.skipped += 1;
                    }
                    None => fetched.skipped += 1,
                }
            }
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => return fetched,
            }
        }
    }
}

/// The one lookup attribute every call uses.
fn agreement_source() -> LookupAttribute {
    LookupAttribute::builder()
        .attribute_key(LookupAttributeKey::EventSource)
        .attribute_value(AGREEMENT_EVENT_SOURCE)
        .build()
        .expect("key and value are both set")
}

impl LookupError {
    /// Sorts an SDK failure into what a person can act on; the detail stays for the log.
    pub fn from_sdk<E, R>(err: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match err {
            SdkError::ServiceError(service) => {
                let e = service.err();
                let Some(code) = e.code() else {
                    return Self::BadAnswer(DisplayErrorContext(err).to_string());
                };
                let message = e.message().unwrap_or("").to_owned();
                match code {
                    "AccessDeniedException"
                    | "AccessDenied"
                    | "UnauthorizedOperation"
                    | "OperationNotPermittedException" => Self::AccessDenied(message),
                    "UnrecognizedClientException"
                    | "InvalidClientTokenId"
                    | "ExpiredTokenException"
                    | "ExpiredToken"
                    | "InvalidSignatureException"
                    | "SignatureDoesNotMatch" => Self::BadCredentials(code.to_owned()),
                    "ThrottlingException" | "Throttling" | "TooManyRequestsException" => {
                        Self::Throttled
                    }
                    _ => Self::Service {
                        code: code.to_owned(),
                        message,
                    },
                }
            }
            SdkError::TimeoutError(_) => Self::Timeout,
            SdkError::DispatchFailure(d) if d.is_timeout() => Self::Timeout,
            other => {
                let detail = DisplayErrorContext(other).to_string();
                if detail.contains("AssumeRole") || detail.contains("assume role") {
                    Self::AssumeRoleFailed(detail)
                } else if detail.contains("credentials") || detail.contains("Credentials") {
                    Self::NoCredentials(detail)
                } else if matches!(other, SdkError::DispatchFailure(_)) {
                    Self::Unreachable(detail)
                } else if matches!(other, SdkError::ResponseError(_)) {
                    Self::BadAnswer(detail)
                } else {
                    Self::Other(detail)
                }
            }
        }
    }
}
