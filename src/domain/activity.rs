//! One thing that happened to a Marketplace agreement, with who did it and when.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An AWS Marketplace agreement id (`agmt-…`). Parsed, so a filter or a record can't carry junk.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgreementId(String);

impl TryFrom<String> for AgreementId {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw).ok_or_else(|| "not an agreement id (agmt-…)".to_owned())
    }
}

impl From<AgreementId> for String {
    fn from(id: AgreementId) -> Self {
        id.0
    }
}

impl AgreementId {
    /// Accepts `agmt-` followed by 1..=64 ASCII letters or digits (real ids are 25 lower-case
    /// alphanumerics; we stay tolerant of case and length, not of punctuation).
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix("agmt-")?;
        let ok = (1..=64).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_alphanumeric());
        ok.then(|| Self(raw.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgreementId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an agreement request was made, as `CreateAgreementRequest` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Intent {
    New,
    Amend,
    Replace,
    Renew,
}

impl Intent {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_uppercase().as_str() {
            "NEW" => Some(Self::New),
            "AMEND" => Some(Self::Amend),
            "REPLACE" => Some(Self::Replace),
            "RENEW" => Some(Self::Renew),
            _ => None,
        }
    }
}

/// What kind of change an activity is. Unknown event names are kept as they are
/// ([`ActivityKind::Other`]): a new Marketplace API must show up, never vanish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum ActivityKind {
    /// `AcceptAgreementRequest` for a new agreement (or one whose intent we don't know).
    Purchase,
    /// `AcceptAgreementRequest` whose request was an amendment (units, auto-renew…).
    Amendment,
    /// `AcceptAgreementRequest` whose request replaced an agreement (agreement-based offer).
    Replacement,
    /// `AcceptAgreementRequest` whose request renewed an agreement.
    Renewal,
    /// `CancelAgreement`.
    Cancellation,
    /// `CancelAgreementRequest`: someone withdrew a pending request.
    RequestWithdrawn,
    /// `CreateAgreementRequest`: the first half of a purchase or change.
    RequestCreated,
    /// `AcceptAgreementApprovalRequest`.
    ApprovalAccepted,
    /// `RejectAgreementApprovalRequest`.
    ApprovalRejected,
    /// `UpdateAgreementApprovalRequest`.
    ApprovalUpdated,
    /// Marketplace's "Purchase Agreement Ended" for a reason other than a cancellation
    /// (EXPIRED, RENEWED, REPLACED): the status as sent.
    Ended(String),
    /// Marketplace's "Purchase Agreement Ending" warning, sent 180/120/90/60/30 days ahead.
    Ending,
    /// "Purchase Agreement Renewal Upcoming".
    RenewalUpcoming,
    /// "Purchase Agreement Renewal Terms Finalized".
    RenewalTermsFinalized,
    /// "Agreement Cancellation Request …": the stage (pending approval, approved, rejected,
    /// cancelled).
    CancellationRequest(String),
    /// "Purchase Agreement Billing Adjustment Completed": the seller's refund or credit on one
    /// of the agreement's invoices was processed.
    BillingAdjustment(Adjustment),
    /// Read-only calls (`DescribeAgreement`, `GetAgreementTerms`, `SearchAgreements`…).
    Read(String),
    /// Any other event name, shown as it is.
    Other(String),
}

impl ActivityKind {
    /// The kind for a CloudTrail `eventName` (an `AcceptAgreementRequest` starts as a purchase
    /// and is refined with [`ActivityKind::for_intent`] when its request's intent is known).
    pub fn from_event_name(name: &str, read_only: bool) -> Self {
        match name {
            "AcceptAgreementRequest" => Self::Purchase,
            "CancelAgreement" => Self::Cancellation,
            "CancelAgreementRequest" => Self::RequestWithdrawn,
            "CreateAgreementRequest" => Self::RequestCreated,
            "AcceptAgreementApprovalRequest" => Self::ApprovalAccepted,
            "RejectAgreementApprovalRequest" => Self::ApprovalRejected,
            "UpdateAgreementApprovalRequest" => Self::ApprovalUpdated,
            other if read_only || is_read_name(other) => Self::Read(other.to_owned()),
            other => Self::Other(other.to_owned()),
        }
    }

    /// What an accepted request with this intent amounts to.
    pub fn for_intent(intent: Intent) -> Self {
        match intent {
            Intent::New => Self::Purchase,
            Intent::Amend => Self::Amendment,
            Intent::Replace => Self::Replacement,
            Intent::Renew => Self::Renewal,
        }
    }

    /// A purchase in the wide sense: anything that starts or changes what the company pays for.
    pub fn is_purchase(&self) -> bool {
        matches!(
            self,
            Self::Purchase | Self::Amendment | Self::Replacement | Self::Renewal
        )
    }

    pub fn is_cancellation(&self) -> bool {
        matches!(self, Self::Cancellation)
    }

    /// A short human label: "Purchase", "Cancellation", or the raw event name for others.
    pub fn label(&self) -> &str {
        match self {
            Self::Read(name) | Self::Other(name) => name,
            known => known.metric_label(),
        }
    }

    /// The kind as a metric label, from a fixed set: a known kind's [`label`](Self::label),
    /// `read` for any read-only call and `other` for any other event name. Never the raw event
    /// name: it comes from whoever sent the event, and every label value is a new time series.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Self::Purchase => "Purchase",
            Self::Amendment => "Amendment",
            Self::Replacement => "Replacement",
            Self::Renewal => "Renewal",
            Self::Cancellation => "Cancellation",
            Self::RequestWithdrawn => "Agreement request withdrawn",
            Self::RequestCreated => "Agreement request created",
            Self::ApprovalAccepted => "Approval request accepted",
            Self::ApprovalRejected => "Approval request rejected",
            Self::ApprovalUpdated => "Approval request updated",
            Self::Ended(_) => "Agreement ended",
            Self::Ending => "Agreement ending soon",
            Self::RenewalUpcoming => "Renewal upcoming",
            Self::RenewalTermsFinalized => "Renewal terms finalized",
            Self::CancellationRequest(_) => "Cancellation request",
            Self::BillingAdjustment(_) => "Billing adjustment",
            Self::Read(_) => "read",
            Self::Other(_) => "other",
        }
    }
}

fn is_read_name(name: &str) -> bool {
    ["Describe", "Get", "List", "Search"]
        .iter()
        .any(|p| name.starts_with(p))
}

/// A billing adjustment as Marketplace's event states it. Amounts stay decimal strings, as
/// sent (negative is money back to the buyer); values that don't look like an amount or a
/// currency code are dropped rather than shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adjustment {
    /// `ba-…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// `adjustmentReasonCode`, e.g. `INCORRECT_TERMS_ACCEPTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Adjustment {
    /// Keeps the fields that have the documented shape: an amount like `-1000.00`, a
    /// three-letter currency code, ids and reason codes of letters, digits, `-` and `_`.
    pub fn new(
        id: Option<String>,
        amount: Option<String>,
        currency: Option<String>,
        reason: Option<String>,
    ) -> Self {
        fn token(s: Option<String>) -> Option<String> {
            s.filter(|s| {
                (1..=64).contains(&s.len())
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            })
        }
        let amount = amount.map(|a| a.trim().to_owned()).filter(|a| {
            let digits = a.strip_prefix(['-', '+']).unwrap_or(a);
            let mut parts = digits.splitn(2, '.');
            let whole = parts.next().unwrap_or("");
            let fraction = parts.next().unwrap_or("0");
            (1..=20).contains(&whole.len())
                && (1..=10).contains(&fraction.len())
                && whole.bytes().all(|b| b.is_ascii_digit())
                && fraction.bytes().all(|b| b.is_ascii_digit())
        });
        let currency = currency
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_alphabetic()));
        Self {
            id: token(id),
            amount,
            currency,
            reason: token(reason),
        }
    }

    /// "-1000.00 USD", "-1000.00", or `None` when the event gave no amount.
    pub fn money(&self) -> Option<String> {
        let amount = self.amount.as_deref()?;
        Some(match &self.currency {
            Some(c) => format!("{amount} {c}"),
            None => amount.to_owned(),
        })
    }
}

/// Whether the call succeeded. A failed `AcceptAgreementRequest` is not a purchase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    Succeeded,
    Failed {
        code: String,
        message: Option<String>,
    },
}

impl Outcome {
    pub fn is_failed(&self) -> bool {
        matches!(self, Self::Failed { .. })
    }
}

/// Who made the call, derived from `userIdentity` (its `arn` when there is one, else its
/// `userName` or `principalId`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Actor {
    User {
        name: String,
    },
    Role {
        role: String,
        session: String,
    },
    Root,
    /// A caller the record names without an ARN (a SAML or web identity user, an identity
    /// whose `type` is `Unknown`): the name, and the identity type when it says something.
    Named {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        identity: Option<String>,
    },
    /// The event doesn't say (Marketplace's own events carry no caller).
    Unknown,
    /// A principal we don't break down (federated user, service…): its ARN or identity type.
    Other {
        description: String,
    },
}

/// What a CloudTrail record's `userIdentity` says about the caller, for
/// [`Actor::from_identity`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity<'a> {
    /// `type`: `IAMUser`, `AssumedRole`, `Root`, `SAMLUser`, `WebIdentityUser`, `Unknown`…
    pub kind: Option<&'a str>,
    pub arn: Option<&'a str>,
    /// `userName`.
    pub user_name: Option<&'a str>,
    /// `principalId`: an opaque id, or `ID:session` for a role session.
    pub principal_id: Option<&'a str>,
    /// `sessionContext.sessionIssuer.userName`: the role a session belongs to.
    pub issuer: Option<&'a str>,
}

impl Actor {
    /// The caller from a record's `userIdentity`: its ARN when there is one; otherwise its
    /// `userName`, or the session part of its `principalId`, with the identity type.
    pub fn from_identity(identity: &Identity<'_>) -> Self {
        fn present(v: Option<&str>) -> Option<&str> {
            v.filter(|s| !s.trim().is_empty())
        }
        if let Some(arn) = present(identity.arn) {
            return Self::from_arn(arn);
        }
        let kind = present(identity.kind);
        let user_name = present(identity.user_name);
        // `AROA…:session` names the session; a bare id (`AIDA…`) names nobody a person knows.
        let session = present(identity.principal_id)
            .and_then(|p| p.rsplit_once(':'))
            .map(|(_, s)| s)
            .filter(|s| !s.is_empty());
        match (kind, user_name, session) {
            (Some("Root"), ..) => Self::Root,
            (Some("IAMUser"), Some(name), _) => Self::User {
                name: name.to_owned(),
            },
            (Some("AssumedRole"), _, Some(session)) if present(identity.issuer).is_some() => {
                Self::Role {
                    role: identity.issuer.unwrap_or_default().to_owned(),
                    session: session.to_owned(),
                }
            }
            (_, Some(name), _) | (_, None, Some(name)) => Self::Named {
                name: name.to_owned(),
                identity: kind.filter(|k| *k != "Unknown").map(str::to_owned),
            },
            (kind, None, None) => Self::Other {
                description: kind.unwrap_or("unknown").to_owned(),
            },
        }
    }

    /// Reads an IAM or STS ARN: `…:user/PATH/NAME`, `…:assumed-role/ROLE/SESSION`, `…:root`.
    pub fn from_arn(arn: &str) -> Self {
        let resource = arn.splitn(6, ':').nth(5).unwrap_or("");
        if resource == "root" {
            return Self::Root;
        }
        if let Some(rest) = resource.strip_prefix("assumed-role/") {
            if let Some((role, session)) = rest.rsplit_once('/') {
                let role = role.rsplit('/').next().unwrap_or(role);
                return Self::Role {
                    role: role.to_owned(),
                    session: session.to_owned(),
                };
            }
        }
        if let Some(rest) = resource.strip_prefix("user/") {
            let name = rest.rsplit('/').next().unwrap_or(rest);
            if !name.is_empty() {
                return Self::User {
                    name: name.to_owned(),
                };
            }
        }
        Self::Other {
            description: if arn.is_empty() {
                "unknown".to_owned()
            } else {
                arn.to_owned()
            },
        }
    }

    /// The name a person recognises: the user, or the role session.
    pub fn display_name(&self) -> &str {
        match self {
            Self::User { name } => name,
            Self::Role { session, .. } => session,
            Self::Root => "root",
            Self::Named { name, .. } => name,
            Self::Unknown => "unknown",
            Self::Other { description } => description,
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User { name } => write!(f, "{name} (IAM user)"),
            Self::Role { role, session } => write!(f, "{session} (role {role})"),
            Self::Root => f.write_str("root user"),
            Self::Named {
                name,
                identity: Some(identity),
            } => write!(f, "{name} ({identity})"),
            Self::Named { name, .. } => f.write_str(name),
            Self::Unknown => f.write_str("unknown"),
            Self::Other { description } => f.write_str(description),
        }
    }
}

/// Where an activity was learnt from: the two event families tell different things (the
/// CloudTrail call knows who; Marketplace's own event knows the product and seller).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    #[default]
    CloudTrail,
    MarketplaceEvent,
}

/// What is known about the agreement itself, beyond its id. Empty for CloudTrail records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreementFacts {
    pub product_id: Option<String>,
    pub product_title: Option<String>,
    pub offer_id: Option<String>,
    pub offer_name: Option<String>,
    pub seller_account: Option<String>,
    pub seller_name: Option<String>,
    pub status: Option<String>,
    pub starts: Option<DateTime<Utc>>,
    pub ends: Option<DateTime<Utc>>,
    /// DescribeAgreement's estimated agreement value, as sent (a decimal string).
    pub value: Option<String>,
    pub currency: Option<String>,
}

impl AgreementFacts {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// Fills what `self` doesn't know from `other`.
    pub fn fill_from(&mut self, other: &AgreementFacts) {
        fn fill<T: Clone>(mine: &mut Option<T>, theirs: &Option<T>) {
            if mine.is_none() {
                mine.clone_from(theirs);
            }
        }
        fill(&mut self.product_id, &other.product_id);
        fill(&mut self.product_title, &other.product_title);
        fill(&mut self.offer_id, &other.offer_id);
        fill(&mut self.offer_name, &other.offer_name);
        fill(&mut self.seller_account, &other.seller_account);
        fill(&mut self.seller_name, &other.seller_name);
        fill(&mut self.status, &other.status);
        fill(&mut self.starts, &other.starts);
        fill(&mut self.ends, &other.ends);
        fill(&mut self.value, &other.value);
        fill(&mut self.currency, &other.currency);
    }
}

/// One agreement activity, from a CloudTrail record or a Marketplace event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub event_id: String,
    pub event_name: String,
    #[serde(flatten)]
    pub kind: ActivityKind,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub agreement_id: Option<AgreementId>,
    pub agreement_request_id: Option<String>,
    /// `CreateAgreementRequest`'s intent, when the record carries one.
    pub intent: Option<Intent>,
    pub actor: Actor,
    pub account_id: Option<String>,
    /// The alias configured for the account (`ACCOUNTS`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_alias: Option<String>,
    pub region: String,
    pub time: DateTime<Utc>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    #[serde(default)]
    pub origin: Origin,
    #[serde(default, skip_serializing_if = "AgreementFacts::is_empty")]
    pub facts: AgreementFacts,
}

impl Activity {
    /// No event, just an agreement (and the account that holds it): what a "Details" click
    /// knows before the Agreement API is asked.
    pub fn placeholder_for(agreement: AgreementId, account_id: Option<&str>) -> Self {
        Self {
            event_id: String::new(),
            event_name: String::new(),
            kind: ActivityKind::Other(String::new()),
            outcome: Outcome::Succeeded,
            agreement_id: Some(agreement),
            agreement_request_id: None,
            intent: None,
            actor: Actor::Unknown,
            account_id: account_id.map(str::to_owned),
            account_alias: None,
            region: String::new(),
            time: DateTime::<Utc>::UNIX_EPOCH,
            source_ip: None,
            user_agent: None,
            origin: Origin::CloudTrail,
            facts: AgreementFacts::default(),
        }
    }

    /// An `AcceptAgreementRequest` record doesn't say whether it bought something new or
    /// changed an existing agreement; the `CreateAgreementRequest` of the same request id does
    /// (its `intent`: NEW, AMEND, REPLACE, RENEW). An accepted purchase takes that intent; any
    /// other activity is left as it is. Returns whether it changed.
    pub fn take_intent(&mut self, intent: Intent) -> bool {
        if self.kind != ActivityKind::Purchase {
            return false;
        }
        self.intent = Some(intent);
        self.kind = ActivityKind::for_intent(intent);
        true
    }

    /// Combines the two reports of one change (a CloudTrail call and Marketplace's event) into
    /// one: who and when from the call, product and seller from the event, and the more specific
    /// kind (Marketplace's "Amended" beats a bare `AcceptAgreementRequest`).
    pub fn merge(&mut self, other: &Activity) {
        if self.actor == Actor::Unknown {
            self.actor = other.actor.clone();
        }
        if self.origin == Origin::MarketplaceEvent && other.origin == Origin::CloudTrail {
            self.time = other.time;
            self.source_ip.clone_from(&other.source_ip);
            self.user_agent.clone_from(&other.user_agent);
            self.event_name.clone_from(&other.event_name);
        }
        if self.kind == ActivityKind::Purchase && other.kind.is_purchase() {
            self.kind = other.kind.clone();
        }
        if self.agreement_request_id.is_none() {
            self.agreement_request_id
                .clone_from(&other.agreement_request_id);
        }
        if self.intent.is_none() {
            self.intent = other.intent;
        }
        if self.account_id.is_none() {
            self.account_id.clone_from(&other.account_id);
        }
        self.facts.fill_from(&other.facts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_labels_are_the_known_labels_and_never_an_event_name() {
        let known = [
            ActivityKind::Purchase,
            ActivityKind::Amendment,
            ActivityKind::Replacement,
            ActivityKind::Renewal,
            ActivityKind::Cancellation,
            ActivityKind::RequestWithdrawn,
            ActivityKind::RequestCreated,
            ActivityKind::ApprovalAccepted,
            ActivityKind::ApprovalRejected,
            ActivityKind::ApprovalUpdated,
            ActivityKind::Ended("EXPIRED".into()),
            ActivityKind::Ending,
            ActivityKind::RenewalUpcoming,
            ActivityKind::RenewalTermsFinalized,
            ActivityKind::CancellationRequest("approved".into()),
            ActivityKind::BillingAdjustment(Adjustment::default()),
        ];
        for kind in &known {
            assert_eq!(kind.metric_label(), kind.label(), "case {kind:?}");
        }
        let from_outside = [
            (ActivityKind::Other("EvilCall\n{x=\"y\"}".into()), "other"),
            (ActivityKind::Read("DescribeAnything".into()), "read"),
            (
                ActivityKind::Ended("SOMETHING NEW".into()),
                "Agreement ended",
            ),
            (
                ActivityKind::CancellationRequest("a new stage".into()),
                "Cancellation request",
            ),
        ];
        for (kind, want) in from_outside {
            assert_eq!(kind.metric_label(), want, "case {kind:?}");
        }
    }

    #[test]
    fn actor_from_arn_table() {
        let cases = [
            (
                "arn:aws:iam::111122223333:user/alice@example.com",
                Actor::User {
                    name: "alice@example.com".into(),
                },
            ),
            (
                "arn:aws:iam::111122223333:user/division/team/dave",
                Actor::User {
                    name: "dave".into(),
                },
            ),
            (
                "arn:aws:sts::111122223333:assumed-role/ProcurementAdmin/bob",
                Actor::Role {
                    role: "ProcurementAdmin".into(),
                    session: "bob".into(),
                },
            ),
            ("arn:aws:iam::111122223333:root", Actor::Root),
            (
                "arn:aws:sts::111122223333:federated-user/eve",
                Actor::Other {
                    description: "arn:aws:sts::111122223333:federated-user/eve".into(),
                },
            ),
            (
                "",
                Actor::Other {
                    description: "unknown".into(),
                },
            ),
            (
                "arn:aws:iam::1:user/",
                Actor::Other {
                    description: "arn:aws:iam::1:user/".into(),
                },
            ),
        ];
        for (arn, want) in cases {
            assert_eq!(Actor::from_arn(arn), want, "arn {arn:?}");
        }
    }

    #[test]
    fn adjustments_keep_only_well_formed_values() {
        let ok = Adjustment::new(
            Some("ba-abcdexampleid".into()),
            Some("-1000.00".into()),
            Some("usd".into()),
            Some("INCORRECT_TERMS_ACCEPTED".into()),
        );
        assert_eq!(ok.money().as_deref(), Some("-1000.00 USD"));
        assert_eq!(ok.reason.as_deref(), Some("INCORRECT_TERMS_ACCEPTED"));
        for bad in ["", "-", "1e9", "12.", "<b>5</b>", "1,000.00", "NaN", "--5"] {
            let a = Adjustment::new(None, Some(bad.into()), Some("USD".into()), None);
            assert_eq!(a.amount, None, "{bad:?}");
            assert_eq!(a.money(), None, "{bad:?}");
        }
        for good in ["5", "+5.5", "-0.01", "1000"] {
            let a = Adjustment::new(None, Some(good.into()), None, None);
            assert_eq!(a.money().as_deref(), Some(good), "{good:?}");
        }
        let odd = Adjustment::new(
            Some("ba x".into()),
            None,
            Some("US$".into()),
            Some("a\nb".into()),
        );
        assert_eq!(odd, Adjustment::default());
    }

    #[test]
    fn agreement_id_parse() {
        assert!(AgreementId::parse("agmt-cx71281flrkxyks8eurk5nlyk").is_some());
        assert_eq!(AgreementId::parse("agmt-ABC").unwrap().as_str(), "agmt-abc");
        for bad in ["agmt-", "agmt", "ar-123", "agmt-a;b", "agmt-<x>", ""] {
            assert!(AgreementId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn event_names_map_to_kinds_and_unknowns_are_kept() {
        assert_eq!(
            ActivityKind::from_event_name("AcceptAgreementRequest", false),
            ActivityKind::Purchase
        );
        assert_eq!(
            ActivityKind::from_event_name("CancelAgreement", false),
            ActivityKind::Cancellation
        );
        assert_eq!(
            ActivityKind::from_event_name("DescribeAgreement", true),
            ActivityKind::Read("DescribeAgreement".into())
        );
        assert_eq!(
            ActivityKind::from_event_name("TransferAgreement", false),
            ActivityKind::Other("TransferAgreement".into())
        );
    }
}
