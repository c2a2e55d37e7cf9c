//! CloudTrail LookupEvents for agreement activity: every page, every region, paced under
//! CloudTrail's 2 requests per second per account and region.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_cloudtrail::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_cloudtrail::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_cloudtrail::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudtrail::operation::lookup_events::LookupEventsError;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use aws_sdk_cloudtrail::Client;
use tokio::task::JoinSet;

use super::accounts::Account;
use super::record::{parse_record, AGREEMENT_EVENT_SOURCE};
use super::{Failure, Fetched, LookupError};
use crate::domain::TimeWindow;
use crate::metrics::{AttemptLabels, Metrics, RegionLabels};
use crate::pacer::Pacer;

/// CloudTrail's documented limit is 2 LookupEvents per second per account and region; we
/// leave 5% headroom so clock jitter between us and AWS doesn't turn into throttling.
pub const LOOKUP_INTERVAL: Duration = Duration::from_millis(525);
/// The largest page LookupEvents returns.
const PAGE_SIZE: i32 = 50;

/// One client per account and region, each with its own pacer (CloudTrail's limit is per
/// account and region, so each pair gets the whole budget).
#[derive(Clone)]
pub struct CloudTrail {
    regions: Arc<[RegionClient]>,
}

struct RegionClient {
    account: Account,
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
    /// Builds one client per region from the shared SDK configuration (credentials, endpoint
    /// overrides such as `AWS_ENDPOINT_URL_CLOUDTRAIL`, retry and timeout settings).
    pub fn new(sdk: &aws_config::SdkConfig, regions: &[String], metrics: &Metrics) -> Self {
        Self::for_accounts(&[(Account::ambient(), sdk.clone())], regions, metrics)
    }

    /// Clients for every account × region; each account's SDK configuration carries its
    /// credentials (see [`Account::sdk_config`]).
    pub fn for_accounts(
        accounts: &[(Account, aws_config::SdkConfig)],
        regions: &[String],
        metrics: &Metrics,
    ) -> Self {
        let pairs = accounts
            .iter()
            .flat_map(|(account, sdk)| regions.iter().map(move |region| (account, sdk, region)));
        let regions = pairs
            .map(|(account, sdk, region)| {
                let conf = aws_sdk_cloudtrail::config::Builder::from(sdk)
                    .region(aws_config::Region::new(region.clone()))
                    .interceptor(AttemptCounter {
                        region: region.clone(),
                        metrics: metrics.clone(),
                    })
                    .build();
                RegionClient {
                    account: account.clone(),
                    region: region.clone(),
                    client: Client::from_conf(conf),
                    pacer: Pacer::new(LOOKUP_INTERVAL),
                    metrics: metrics.clone(),
                }
            })
            .collect();
        Self { regions }
    }

    /// One small LookupEvents per region (the last hour, one result): proves the credentials
    /// and the permission without reading much. For `marketplace-activity check`.
    pub async fn probe(&self) -> Vec<(Failure, Result<(), LookupError>)> {
        let mut results = Vec::new();
        for r in self.regions.iter() {
            r.pacer.wait().await;
            let end = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp());
            let start =
                aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp() - 3600);
            let result = r
                .client
                .lookup_events()
                .lookup_attributes(agreement_source())
                .start_time(start)
                .end_time(end)
                .max_results(1)
                .send()
                .await
                .map(drop)
                .map_err(|e| LookupError::from_sdk(&e));
            let place = Failure {
                account: r.account.clone(),
                region: r.region.clone(),
                error: LookupError::Other(String::new()),
            };
            results.push((place, result));
        }
        results
    }

    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regions.iter().map(|r| r.region.as_str())
    }

    /// The configured accounts, once each.
    pub fn accounts(&self) -> Vec<Account> {
        let mut out: Vec<Account> = Vec::new();
        for r in self.regions.iter() {
            if !out.contains(&r.account) {
                out.push(r.account.clone());
            }
        }
        out
    }

    /// Fetches the window from every account and region (or only the accounts `account`
    /// names) concurrently. A pair that fails is reported in [`Fetched::failures`] and does not
    /// hide the others' results.
    pub async fn lookup(&self, window: &TimeWindow, account: Option<&str>) -> Fetched {
        let mut set = JoinSet::new();
        for index in 0..self.regions.len() {
            if account.is_some_and(|a| !self.regions[index].account.matches(a)) {
                continue;
            }
            let this = self.clone();
            let window = window.clone();
            set.spawn(async move { this.regions[index].lookup(&window).await });
        }
        let mut fetched = Fetched::default();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(part) => fetched.merge(part),
                // A panic in a region task is a bug; report it rather than take the answer down.
                Err(e) => fetched.failures.push(Failure {
                    account: Account::ambient(),
                    region: "unknown".into(),
                    error: LookupError::Other(format!("lookup task failed: {e}")),
                }),
            }
        }
        fetched.sort_newest_first();
        fetched
    }
}

impl RegionClient {
    async fn lookup(&self, window: &TimeWindow) -> Fetched {
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
                    tracing::debug!(account = %self.account.label(), region = %self.region, error = %err, detail = %err.detail(), "LookupEvents failed");
                    fetched.failures.push(Failure {
                        account: self.account.clone(),
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
                        activity.account_alias.clone_from(&self.account.alias);
                        if activity.account_id.is_none() {
                            activity.account_id.clone_from(&self.account.id);
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
