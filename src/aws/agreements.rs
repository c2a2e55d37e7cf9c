//! Agreement details from the Marketplace Agreement API (`DescribeAgreement`, us-east-1):
//! product, seller, offer, status, term and estimated value, which CloudTrail records lack.
//!
//! Best-effort by design: every lookup has a short deadline, results (and failures) are cached,
//! and a caller always gets its activities back, with a reason when details are missing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_marketplaceagreement::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_marketplaceagreement::Client;
use chrono::{DateTime, Utc};
use tokio::time::Instant;

use super::directory::{Directory, Member};
use crate::domain::{Activity, AgreementFacts, AgreementId};
use crate::sync::lock;

/// The Agreement API is only served from us-east-1.
const AGREEMENT_REGION: &str = "us-east-1";
/// Agreements change rarely; a cancellation invalidates its entry at once.
const FRESH_FOR: Duration = Duration::from_secs(3600);
/// A failure (AccessDenied…) is not retried for every message.
const FAILURE_KEPT_FOR: Duration = Duration::from_secs(300);
/// At most this many DescribeAgreement calls at once.
const CONCURRENCY: usize = 8;

/// Why details are missing, in words for a person (the log has the detail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    AccessDenied,
    TimedOut,
    Failed,
    /// `GetAgreementTerms` was denied: the role lacks `aws-marketplace:GetAgreementTerms`.
    TermsDenied,
    /// No such agreement for this account.
    NotFound,
}

impl Unavailable {
    fn from_sdk<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> Self {
        match err {
            SdkError::ServiceError(e) if e.err().code() == Some("AccessDeniedException") => {
                Self::AccessDenied
            }
            SdkError::ServiceError(e) if e.err().code() == Some("ResourceNotFoundException") => {
                Self::NotFound
            }
            SdkError::TimeoutError(_) => Self::TimedOut,
            SdkError::DispatchFailure(d) if d.is_timeout() => Self::TimedOut,
            _ => Self::Failed,
        }
    }

    pub fn user_message(&self) -> &'static str {
        match self {
            Self::AccessDenied => "agreement details unavailable: the app's role needs aws-marketplace:DescribeAgreement",
            Self::TimedOut => "agreement details unavailable: the Marketplace Agreement API did not answer in time",
            Self::Failed => "agreement details unavailable: the Marketplace Agreement API returned an error (see the app's log)",
            Self::TermsDenied => "agreement terms unavailable: the app's role needs aws-marketplace:GetAgreementTerms",
            Self::NotFound => "the Marketplace Agreement API does not know this agreement in this account",
        }
    }
}

pub use crate::domain::Ending;
use crate::domain::{AgreementTerms, Charge, Price, PriceBasis};

/// Adds what one accepted term says to `terms`. Terms the app doesn't show (legal, support,
/// free trial, BYOL…) are left out.
fn add_term(terms: &mut AgreementTerms, term: &aws_sdk_marketplaceagreement::types::AcceptedTerm) {
    use aws_sdk_marketplaceagreement::types::AcceptedTerm as T;
    let date = |t: Option<&aws_smithy_types::DateTime>| {
        t.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
    };
    let mut currency = |c: Option<&str>| {
        if terms.currency.is_none() {
            terms.currency = c.map(str::to_owned);
        }
    };
    match term {
        T::UsageBasedPricingTerm(t) => {
            currency(t.currency_code());
            for item in t.rate_cards().iter().flat_map(|c| c.rate_card()) {
                if let (Some(dimension), Some(amount)) = (item.dimension_key(), item.price()) {
                    terms.prices.push(Price {
                        dimension: dimension.to_owned(),
                        amount: amount.to_owned(),
                        basis: PriceBasis::Usage,
                        quantity: None,
                    });
                }
            }
        }
        T::ConfigurableUpfrontPricingTerm(t) => {
            currency(t.currency_code());
            let bought = t
                .configuration()
                .map(|c| c.dimensions())
                .unwrap_or_default();
            for item in t.rate_cards().iter().flat_map(|c| c.rate_card()) {
                if let (Some(dimension), Some(amount)) = (item.dimension_key(), item.price()) {
                    let quantity = bought
                        .iter()
                        .find(|d| d.dimension_key() == dimension)
                        .map(|d| d.dimension_value());
                    terms.prices.push(Price {
                        dimension: dimension.to_owned(),
                        amount: amount.to_owned(),
                        basis: PriceBasis::Upfront,
                        quantity,
                    });
                }
            }
        }
        T::RecurringPaymentTerm(t) => {
            currency(t.currency_code());
            if let Some(amount) = t.price() {
                terms.prices.push(Price {
                    dimension: t.billing_period().unwrap_or("each period").to_owned(),
                    amount: amount.to_owned(),
                    basis: PriceBasis::Recurring,
                    quantity: None,
                });
            }
        }
        T::FixedUpfrontPricingTerm(t) => {
            currency(t.currency_code());
            if let Some(amount) = t.price() {
                terms.schedule.push(Charge {
                    date: None,
                    amount: amount.to_owned(),
                });
            }
        }
        T::PaymentScheduleTerm(t) => {
            currency(t.currency_code());
            for item in t.schedule() {
                if let Some(amount) = item.charge_amount() {
                    terms.schedule.push(Charge {
                        date: date(item.charge_date()),
                        amount: amount.to_owned(),
                    });
                }
            }
        }
        T::RenewalTerm(t) => {
            terms.auto_renew = t.configuration().map(|c| c.enable_auto_renew());
        }
        T::ValidityTerm(t) => {
            terms.duration = t.agreement_duration().map(str::to_owned);
        }
        _ => {}
    }
}

#[derive(Clone)]
enum Entry {
    Known(Box<AgreementFacts>, Instant),
    Missing(Unavailable, Instant),
}

/// DescribeAgreement clients (one per account: an agreement is described by the account that
/// accepted it) and the cache they share.
/// An account's id and the role the app acts through there.
type ClientKey = (Option<String>, Option<String>);

#[derive(Clone)]
pub struct Agreements {
    directory: Directory,
    /// Clients by (account id, role), made on first use.
    clients: Arc<Mutex<HashMap<ClientKey, Client>>>,
    cache: Arc<Mutex<HashMap<AgreementId, Entry>>>,
    limit: Arc<tokio::sync::Semaphore>,
}

impl Agreements {
    pub fn new(directory: Directory) -> Self {
        Self {
            directory,
            clients: Arc::default(),
            cache: Arc::default(),
            limit: Arc::new(tokio::sync::Semaphore::new(CONCURRENCY)),
        }
    }

    fn client(&self, member: &Member) -> Client {
        let key = (member.account.id.clone(), member.account.role_arn.clone());
        lock(&self.clients)
            .entry(key)
            .or_insert_with(|| {
                let conf = aws_sdk_marketplaceagreement::config::Builder::from(&member.sdk)
                    .region(aws_config::Region::new(AGREEMENT_REGION))
                    .build();
                Client::from_conf(conf)
            })
            .clone()
    }

    /// The client of the account that holds the agreement, else the first account's.
    fn client_for(&self, account_id: Option<&str>) -> Option<Client> {
        let members = self.directory.snapshot();
        let member = members
            .iter()
            .find(|m| m.account.id.is_some() && m.account.id.as_deref() == account_id)
            .or_else(|| members.first())?;
        Some(self.client(member))
    }

    /// Forgets an agreement (it was just cancelled or changed).
    pub fn invalidate(&self, id: &AgreementId) {
        lock(&self.cache).remove(id);
    }

    fn cached(&self, id: &AgreementId) -> Option<Entry> {
        let cache = lock(&self.cache);
        match cache.get(id)? {
            e @ Entry::Known(_, at) if at.elapsed() < FRESH_FOR => Some(e.clone()),
            e @ Entry::Missing(_, at) if at.elapsed() < FAILURE_KEPT_FOR => Some(e.clone()),
            _ => None,
        }
    }

    /// Fills in what DescribeAgreement knows for every activity with an agreement id, waiting
    /// at most `budget`. Lookups still running then finish in the background and fill the
    /// cache for next time. Returns why details are missing, if any are.
    pub async fn enrich(
        &self,
        activities: &mut [Activity],
        budget: Duration,
    ) -> Option<Unavailable> {
        let deadline = Instant::now() + budget;
        let mut wanted: Vec<(AgreementId, Option<String>)> = Vec::new();
        for a in activities.iter() {
            if let Some(id) = &a.agreement_id {
                if self.cached(id).is_none() && !wanted.iter().any(|(w, _)| w == id) {
                    wanted.push((id.clone(), a.account_id.clone()));
                }
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for (id, account) in wanted {
            let this = self.clone();
            tasks.spawn(async move { this.fetch(&id, account.as_deref()).await });
        }
        let waited = tokio::time::timeout_at(deadline, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if waited.is_err() {
            // Let them finish for the cache; nobody waits for them.
            tasks.detach_all();
        }
        let mut missing = None;
        for a in activities.iter_mut() {
            let Some(id) = &a.agreement_id else { continue };
            match self.cached(id) {
                Some(Entry::Known(facts, _)) => a.facts.fill_from(&facts),
                Some(Entry::Missing(why, _)) => missing = Some(why),
                None => missing = Some(Unavailable::TimedOut),
            }
        }
        missing
    }

    /// Active purchase agreements, in every account, that end before `before`
    /// (SearchAgreements as the acceptor; end times are compared here), asked in a few
    /// accounts at once. Accounts that fail are reported by label.
    pub async fn ending_before(
        &self,
        before: DateTime<Utc>,
    ) -> (Vec<Ending>, Vec<(String, Unavailable)>) {
        let members = match self.directory.members().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "no accounts to search for agreements ending soon");
                return (
                    Vec::new(),
                    vec![("the organization".into(), Unavailable::Failed)],
                );
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for member in members.iter() {
            let this = self.clone();
            let member = member.clone();
            tasks.spawn(async move {
                // The semaphore is never closed.
                let _permit = this.limit.clone().acquire_owned().await.ok();
                this.ending_in(&member, before).await
            });
        }
        let mut ending = Vec::new();
        let mut failed = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((found, failure)) => {
                    ending.extend(found);
                    failed.extend(failure);
                }
                Err(e) => tracing::error!(error = %e, "agreement search task failed"),
            }
        }
        failed.sort_by(|a, b| a.0.cmp(&b.0));
        ending.sort_by_key(|e| e.ends);
        (ending, failed)
    }

    /// One account's active agreements that end before `before`.
    async fn ending_in(
        &self,
        member: &Member,
        before: DateTime<Utc>,
    ) -> (Vec<Ending>, Option<(String, Unavailable)>) {
        use aws_sdk_marketplaceagreement::types::Filter;
        let account = &member.account;
        if let Err(e) = member.ready().await {
            tracing::warn!(account = %account.label(), error = %e, "SearchAgreements skipped");
            return (Vec::new(), Some((account.label(), Unavailable::Failed)));
        }
        let client = self.client(member);
        let mut ending = Vec::new();
        let mut next: Option<String> = None;
        for _page in 0..50 {
            let result = client
                .search_agreements()
                .catalog("AWSMarketplace")
                .filters(
                    Filter::builder()
                        .name("PartyType")
                        .values("Acceptor")
                        .build(),
                )
                .filters(
                    Filter::builder()
                        .name("AgreementType")
                        .values("PurchaseAgreement")
                        .build(),
                )
                .filters(Filter::builder().name("Status").values("ACTIVE").build())
                .set_next_token(next.take())
                .send()
                .await;
            let out = match result {
                Ok(out) => out,
                Err(err) => {
                    let why = Unavailable::from_sdk(&err);
                    tracing::warn!(account = %account.label(), error = %DisplayErrorContext(&err), "SearchAgreements failed");
                    return (ending, Some((account.label(), why)));
                }
            };
            for s in out.agreement_view_summaries() {
                let ends = s
                    .end_time()
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
                let (Some(id), Some(ends)) = (s.agreement_id().and_then(AgreementId::parse), ends)
                else {
                    continue;
                };
                if ends <= before {
                    ending.push(Ending {
                        agreement_id: id,
                        account: account.clone(),
                        ends,
                        product_id: s
                            .proposal_summary()
                            .and_then(|p| p.resources().first())
                            .and_then(|r| r.id())
                            .map(str::to_owned),
                        seller_account: s
                            .proposer()
                            .and_then(|p| p.account_id())
                            .map(str::to_owned),
                    });
                }
            }
            match out.next_token() {
                Some(t) if !t.is_empty() => next = Some(t.to_owned()),
                _ => break,
            }
        }
        (ending, None)
    }

    /// Everything known about one agreement, for a "Details" click: its description
    /// (DescribeAgreement, cached) and its accepted terms (GetAgreementTerms, all pages).
    pub async fn details(
        &self,
        id: &AgreementId,
        account_id: Option<&str>,
        budget: Duration,
    ) -> Result<(AgreementFacts, AgreementTerms), Unavailable> {
        let mut one = [Activity::placeholder_for(id.clone(), account_id)];
        if let Some(why) = self.enrich(&mut one, budget).await {
            return Err(why);
        }
        let [activity] = one;
        let client = self.client_for(account_id).ok_or(Unavailable::Failed)?;
        let _permit = self.limit.acquire().await;
        let mut terms = AgreementTerms::default();
        let mut next: Option<String> = None;
        for _page in 0..10 {
            let call = client
                .get_agreement_terms()
                .agreement_id(id.as_str())
                .set_next_token(next.take())
                .send();
            let out = match tokio::time::timeout(budget, call).await {
                Err(_) => return Err(Unavailable::TimedOut),
                Ok(Err(err)) => {
                    tracing::warn!(agreement_id = %id, error = %DisplayErrorContext(&err), "GetAgreementTerms failed");
                    return Err(match Unavailable::from_sdk(&err) {
                        Unavailable::AccessDenied => Unavailable::TermsDenied,
                        other => other,
                    });
                }
                Ok(Ok(out)) => out,
            };
            for term in out.accepted_terms() {
                add_term(&mut terms, term);
            }
            match out.next_token() {
                Some(token) if !token.is_empty() => next = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok((activity.facts, terms))
    }

    async fn fetch(&self, id: &AgreementId, account_id: Option<&str>) {
        let Some(client) = self.client_for(account_id) else {
            return;
        };
        let _permit = self.limit.acquire().await;
        let result = client
            .describe_agreement()
            .agreement_id(id.as_str())
            .send()
            .await;
        let entry = match result {
            Ok(out) => {
                let time = |t: Option<&aws_smithy_types::DateTime>| {
                    t.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
                };
                let summary = out.proposal_summary();
                let charges = out.estimated_charges();
                Entry::Known(
                    Box::new(AgreementFacts {
                        product_id: summary
                            .and_then(|s| s.resources().first())
                            .and_then(|r| r.id())
                            .map(str::to_owned),
                        offer_id: summary.and_then(|s| s.offer_id()).map(str::to_owned),
                        seller_account: out
                            .proposer()
                            .and_then(|p| p.account_id())
                            .map(str::to_owned),
                        status: out.status().map(|s| s.as_str().to_owned()),
                        starts: time(out.start_time()),
                        ends: time(out.end_time()),
                        value: charges.and_then(|c| c.agreement_value()).map(str::to_owned),
                        currency: charges.and_then(|c| c.currency_code()).map(str::to_owned),
                        ..AgreementFacts::default()
                    }),
                    Instant::now(),
                )
            }
            Err(err) => {
                let why = Unavailable::from_sdk(&err);
                tracing::warn!(agreement_id = %id, error = %DisplayErrorContext(&err), "DescribeAgreement failed; showing the activity without its details");
                Entry::Missing(why, Instant::now())
            }
        };
        lock(&self.cache).insert(id.clone(), entry);
    }
}
