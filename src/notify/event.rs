//! An EventBridge event, as an API destination or SNS delivers it, read into an [`Activity`]
//! (or recognised as none of ours).
//!
//! Two families: CloudTrail API calls ("AWS API Call via CloudTrail", whose
//! `detail` is the CloudTrail record) and Marketplace's own buyer events
//! ("Purchase Agreement Created - Acceptor" and friends). See
//! <https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-cloudtrail.html>,
//! <https://docs.aws.amazon.com/marketplace/latest/buyerguide/buyer-eventbridge-integration.html>
//! and, for cancellation requests and billing adjustments,
//! <https://docs.aws.amazon.com/marketplace/latest/buyerguide/cancellation-adjustment-eventbridge.html>.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

use crate::aws::record::{parse_record_value, AGREEMENT_EVENT_SOURCE};
use crate::domain::{
    Activity, ActivityKind, Actor, Adjustment, AgreementFacts, AgreementId, Intent, Origin, Outcome,
};

/// The EventBridge envelope. Fields we don't use are ignored.
#[derive(Debug, Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    account: Option<String>,
    time: Option<DateTime<Utc>>,
    region: Option<String>,
    detail: Value,
}

/// What an incoming event is to us.
#[derive(Debug)]
pub enum Incoming {
    /// An agreement activity to tell the channel about.
    Activity(Box<Received>),
    /// Valid, but not ours to post (another service, a seller-side event, a read-only call).
    Unrelated(String),
}

/// An activity and every id that identifies its delivery, for de-duplication.
#[derive(Debug, Clone)]
pub struct Received {
    pub activity: Activity,
    /// `eb:<EventBridge id>`, `ct:<CloudTrail eventID>`, `mp:<Marketplace requestId>`.
    pub dedup_keys: Vec<String>,
}

/// A body that will never become a valid event: the sender gets 400 and this reason.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("body is not JSON")]
    NotJson,
    #[error("not an EventBridge event: {0}")]
    NotEventBridge(String),
    #[error("detail is not a CloudTrail record: {0}")]
    BadCloudTrailDetail(String),
    #[error("Marketplace event without detail.agreement.id")]
    NoAgreementId,
}

pub fn parse(body: &[u8]) -> Result<Incoming, EventError> {
    let value: Value = serde_json::from_slice(body).map_err(|_| EventError::NotJson)?;
    let envelope: Envelope = serde_json::from_value(value)
        .map_err(|e| EventError::NotEventBridge(e.to_string().chars().take(120).collect()))?;
    let eb_key = format!("eb:{}", envelope.id);
    if envelope.detail_type == "AWS API Call via CloudTrail" {
        return from_cloudtrail(envelope, eb_key);
    }
    if envelope.source == "aws.agreement-marketplace" {
        return from_marketplace(envelope, eb_key);
    }
    Ok(Incoming::Unrelated(format!(
        "{} from {}",
        envelope.detail_type, envelope.source
    )))
}

fn from_cloudtrail(envelope: Envelope, eb_key: String) -> Result<Incoming, EventError> {
    let source = envelope.detail.get("eventSource").and_then(Value::as_str);
    if source != Some(AGREEMENT_EVENT_SOURCE) {
        return Ok(Incoming::Unrelated(format!(
            "CloudTrail call from {}",
            source.unwrap_or("an unknown source")
        )));
    }
    let activity = match parse_record_value(envelope.detail) {
        Ok(Some(a)) => a,
        Ok(None) => {
            return Ok(Incoming::Unrelated(
                "CloudTrail call from another source".into(),
            ))
        }
        Err(e) => {
            return Err(EventError::BadCloudTrailDetail(
                e.to_string().chars().take(120).collect(),
            ))
        }
    };
    if matches!(activity.kind, ActivityKind::Read(_)) {
        return Ok(Incoming::Unrelated(format!(
            "read-only call {}",
            activity.event_name
        )));
    }
    let mut dedup_keys = vec![eb_key];
    if !activity.event_id.is_empty() {
        dedup_keys.push(format!("ct:{}", activity.event_id));
    }
    Ok(Incoming::Activity(Box::new(Received {
        activity,
        dedup_keys,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NativeDetail {
    request_id: Option<String>,
    #[serde(default)]
    agreement: NativeAgreement,
    #[serde(default)]
    acceptor: Party,
    #[serde(default)]
    proposer: Party,
    #[serde(default)]
    offer: Named,
    #[serde(default)]
    product: Named,
    /// Billing adjustment events: the adjustment (amount, currency, reason).
    #[serde(default)]
    billing_adjustment_request: NativeAdjustment,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NativeAdjustment {
    id: Option<String>,
    adjustment_amount: Option<Value>,
    currency_code: Option<String>,
    adjustment_reason_code: Option<String>,
}

impl NativeAdjustment {
    fn into_adjustment(self) -> Adjustment {
        // The documented amount is a string ("-1000.00"); a number is taken as written.
        let amount = match self.adjustment_amount {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        Adjustment::new(
            self.id,
            amount,
            self.currency_code,
            self.adjustment_reason_code,
        )
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NativeAgreement {
    id: Option<String>,
    intent: Option<String>,
    status: Option<String>,
    start_time: Option<DateTime<Utc>>,
    end_time: Option<DateTime<Utc>>,
    acceptance_time: Option<DateTime<Utc>>,
    /// Cancellation request events name the seller, product and offer here rather than in
    /// `proposer`, `product` and `offer`.
    proposer_id: Option<String>,
    product_id: Option<String>,
    offer_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Party {
    account_id: Option<String>,
    name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Named {
    id: Option<String>,
    #[serde(alias = "title")]
    name: Option<String>,
}

/// "Purchase Agreement Amended - Acceptor", "Purchase Agreement Amended Acceptor" (as one
/// doc page prints it) and other spacing all read the same.
fn normalise(detail_type: &str) -> String {
    detail_type
        .split(|c: char| c.is_whitespace() || c == '-')
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

fn native_kind(detail_type: &str, agreement: &NativeAgreement) -> Option<ActivityKind> {
    let name = normalise(detail_type);
    let base = name.strip_suffix(" acceptor")?;
    let status = agreement
        .status
        .clone()
        .unwrap_or_default()
        .to_ascii_uppercase();
    Some(match base {
        "purchase agreement created" => match agreement.intent.as_deref().and_then(Intent::parse) {
            Some(intent) => ActivityKind::for_intent(intent),
            None => ActivityKind::Purchase,
        },
        "purchase agreement amended" => ActivityKind::Amendment,
        "purchase agreement ended" => match status.as_str() {
            "CANCELLED" | "TERMINATED" => ActivityKind::Cancellation,
            _ => ActivityKind::Ended(if status.is_empty() {
                "UNKNOWN".into()
            } else {
                status
            }),
        },
        "purchase agreement ending" => ActivityKind::Ending,
        "purchase agreement renewal upcoming" => ActivityKind::RenewalUpcoming,
        "purchase agreement renewal terms finalized" => ActivityKind::RenewalTermsFinalized,
        // The documented name, and the shorter one people use for it.
        "purchase agreement billing adjustment completed" | "billing adjustment completed" => {
            ActivityKind::BillingAdjustment(Adjustment::default())
        }
        other => {
            let stage = other.strip_prefix("agreement cancellation request ")?;
            ActivityKind::CancellationRequest(stage.to_owned())
        }
    })
}

fn from_marketplace(envelope: Envelope, eb_key: String) -> Result<Incoming, EventError> {
    let detail: NativeDetail = serde_json::from_value(envelope.detail).unwrap_or_default();
    let Some(mut kind) = native_kind(&envelope.detail_type, &detail.agreement) else {
        return Ok(Incoming::Unrelated(format!(
            "Marketplace event {} (not a buyer event)",
            envelope.detail_type
        )));
    };
    let agreement_id = detail
        .agreement
        .id
        .as_deref()
        .and_then(AgreementId::parse)
        .ok_or(EventError::NoAgreementId)?;
    if let ActivityKind::BillingAdjustment(adjustment) = &mut kind {
        *adjustment = detail.billing_adjustment_request.into_adjustment();
    }
    let mut dedup_keys = vec![eb_key];
    if let Some(request_id) = &detail.request_id {
        dedup_keys.push(format!("mp:{request_id}"));
    }
    let time = detail
        .agreement
        .acceptance_time
        .filter(|_| kind.is_purchase())
        .or(envelope.time)
        .unwrap_or_else(Utc::now);
    let activity = Activity {
        event_id: detail
            .request_id
            .clone()
            .unwrap_or_else(|| envelope.id.clone()),
        event_name: envelope.detail_type.clone(),
        kind,
        outcome: Outcome::Succeeded,
        agreement_id: Some(agreement_id),
        agreement_request_id: None,
        intent: detail.agreement.intent.as_deref().and_then(Intent::parse),
        actor: Actor::Unknown,
        account_id: detail.acceptor.account_id.or(envelope.account),
        account_alias: None,
        region: envelope.region.unwrap_or_else(|| "us-east-1".into()),
        time,
        source_ip: None,
        user_agent: None,
        origin: Origin::MarketplaceEvent,
        facts: AgreementFacts {
            product_id: detail.product.id.or(detail.agreement.product_id),
            product_title: detail.product.name,
            offer_id: detail.offer.id.or(detail.agreement.offer_id),
            offer_name: detail.offer.name,
            seller_account: detail.proposer.account_id.or(detail.agreement.proposer_id),
            seller_name: detail.proposer.name,
            status: detail.agreement.status,
            starts: detail.agreement.start_time,
            ends: detail.agreement.end_time,
            ..AgreementFacts::default()
        },
    };
    Ok(Incoming::Activity(Box::new(Received {
        activity,
        dedup_keys,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    fn received(body: &[u8]) -> Received {
        match parse(body).unwrap() {
            Incoming::Activity(r) => *r,
            Incoming::Unrelated(why) => panic!("unrelated: {why}"),
        }
    }

    #[test]
    fn cloudtrail_via_eventbridge() {
        let r = received(&fixture(
            "eventbridge-cloudtrail-accept-agreement-request.json",
        ));
        assert_eq!(r.activity.kind, ActivityKind::Purchase);
        assert_eq!(r.activity.actor.to_string(), "alice@example.com (IAM user)");
        assert_eq!(
            r.dedup_keys,
            [
                "eb:7bf73129-1428-4cd3-a780-95db273d1602",
                "ct:efed262e-da4d-4226-82a4-39dd37f5d92a"
            ]
        );
    }

    #[test]
    fn native_created_and_ended() {
        let r = received(&fixture(
            "eventbridge-purchase-agreement-created-acceptor.json",
        ));
        let a = &r.activity;
        assert_eq!(a.kind, ActivityKind::Purchase);
        assert_eq!(a.origin, Origin::MarketplaceEvent);
        assert_eq!(
            a.facts.product_title.as_deref(),
            Some("Example Observability Platform")
        );
        assert_eq!(
            a.facts.seller_name.as_deref(),
            Some("Example Observability Inc.")
        );
        assert_eq!(
            a.facts.offer_name.as_deref(),
            Some("Annual contract, 50 hosts")
        );
        assert_eq!(
            a.agreement_id.as_ref().unwrap().as_str(),
            "agmt-cx71281flrkxyks8eurk5nlyk"
        );
        assert!(r
            .dedup_keys
            .contains(&"mp:5e0b8f3a-2c4d-4e6f-8a1b-3c5d7e9f1a2b".to_owned()));
        let r = received(&fixture(
            "eventbridge-purchase-agreement-ended-acceptor.json",
        ));
        assert_eq!(r.activity.kind, ActivityKind::Cancellation);
    }

    /// AWS's documented example of the event, as its buyer guide prints it.
    const BILLING_ADJUSTMENT: &str = r#"{
      "version": "0",
      "id": "01234567-0123-0123-0123-0123456789ab",
      "detail-type": "Purchase Agreement Billing Adjustment Completed - Acceptor",
      "source": "aws.agreement-marketplace",
      "account": "123456789012",
      "time": "2025-01-01T14:00:00Z",
      "region": "us-east-1",
      "resources": [],
      "detail": {
        "requestId": "3d4c9f9b-b809-4f5e-9fac-a9ae98b05cbb",
        "catalog": "AWSMarketplace",
        "agreement": {"id": "agmt-abcdexampleid"},
        "billingAdjustmentRequest": {
          "id": "ba-abcdexampleid",
          "adjustmentAmount": "-1000.00",
          "currencyCode": "USD",
          "adjustmentReasonCode": "INCORRECT_TERMS_ACCEPTED"
        },
        "invoice": {"originalInvoiceId": "2028746221"}
      }
    }"#;

    #[test]
    fn a_billing_adjustment_with_its_amount() {
        let r = received(BILLING_ADJUSTMENT.as_bytes());
        let a = &r.activity;
        let ActivityKind::BillingAdjustment(adjustment) = &a.kind else {
            panic!("{:?}", a.kind)
        };
        assert_eq!(adjustment.money().as_deref(), Some("-1000.00 USD"));
        assert_eq!(adjustment.id.as_deref(), Some("ba-abcdexampleid"));
        assert_eq!(
            adjustment.reason.as_deref(),
            Some("INCORRECT_TERMS_ACCEPTED")
        );
        assert_eq!(
            a.agreement_id.as_ref().unwrap().as_str(),
            "agmt-abcdexampleid"
        );
        assert_eq!(a.account_id.as_deref(), Some("123456789012"));
        assert_eq!(a.time.to_rfc3339(), "2025-01-01T14:00:00+00:00");
        assert!(r
            .dedup_keys
            .contains(&"mp:3d4c9f9b-b809-4f5e-9fac-a9ae98b05cbb".to_owned()));
        assert_eq!(
            crate::report::headline(a),
            "Billing adjustment (-1000.00 USD)"
        );

        // Without the adjustment (or with values of another shape) it is still posted, without
        // an amount; the shorter detail-type reads the same.
        let bare = BILLING_ADJUSTMENT
            .replace(
                "Purchase Agreement Billing Adjustment Completed",
                "Billing Adjustment Completed",
            )
            .replace(
                r#""adjustmentAmount": "-1000.00""#,
                r#""adjustmentAmount": "a lot""#,
            );
        let r = received(bare.as_bytes());
        let ActivityKind::BillingAdjustment(adjustment) = &r.activity.kind else {
            panic!("{:?}", r.activity.kind)
        };
        assert_eq!(adjustment.money(), None);
        assert_eq!(crate::report::headline(&r.activity), "Billing adjustment");
    }

    /// The documented cancellation request event names the seller, product and offer inside
    /// `agreement`.
    #[test]
    fn a_cancellation_request_names_the_product_and_seller() {
        let body = r#"{"version":"0","id":"01234567-0123-0123-0123-0123456789ab",
          "detail-type":"Agreement Cancellation Request Pending Approval - Acceptor",
          "source":"aws.agreement-marketplace","account":"123456789012","time":"2025-01-01T13:12:22Z",
          "region":"us-east-1","resources":[],
          "detail":{"requestId":"3d4c9f9b-b809-4f5e-9fac-a9ae98b05cbb","catalog":"AWSMarketplace",
            "agreement":{"id":"agmt-abcdexampleid","proposerId":"123456789012","productId":"prod-exampleid","offerId":"offer-exampleid"},
            "agreementCancellationRequest":{"id":"acr-abcdexampleid","reasonCode":"INCORRECT_TERMS_ACCEPTED","statusCode":"PENDING_APPROVAL"}}}"#;
        let r = received(body.as_bytes());
        let a = &r.activity;
        assert_eq!(
            a.kind,
            ActivityKind::CancellationRequest("pending approval".into())
        );
        assert_eq!(a.facts.product_id.as_deref(), Some("prod-exampleid"));
        assert_eq!(a.facts.seller_account.as_deref(), Some("123456789012"));
        assert_eq!(a.facts.offer_id.as_deref(), Some("offer-exampleid"));
    }

    #[test]
    fn detail_types_are_matched_tolerantly() {
        let agreement = NativeAgreement {
            status: Some("EXPIRED".into()),
            ..NativeAgreement::default()
        };
        let cases = [
            (
                "Purchase Agreement Amended - Acceptor",
                Some(ActivityKind::Amendment),
            ),
            (
                "Purchase Agreement Amended Acceptor",
                Some(ActivityKind::Amendment),
            ),
            (
                "Purchase Agreement Ended - Acceptor",
                Some(ActivityKind::Ended("EXPIRED".into())),
            ),
            (
                "Purchase Agreement Ending - Acceptor",
                Some(ActivityKind::Ending),
            ),
            (
                "Purchase Agreement Renewal Upcoming - Acceptor",
                Some(ActivityKind::RenewalUpcoming),
            ),
            (
                "Agreement Cancellation Request Pending Approval - Acceptor",
                Some(ActivityKind::CancellationRequest("pending approval".into())),
            ),
            ("Purchase Agreement Created - Proposer", None),
            ("Purchase Agreement Created - Manufacturer", None),
            ("Something Else - Acceptor", None),
        ];
        for (detail_type, want) in cases {
            assert_eq!(native_kind(detail_type, &agreement), want, "{detail_type}");
        }
    }

    #[test]
    fn unrelated_and_malformed() {
        let s3 = br#"{"id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.s3","detail":{"eventSource":"s3.amazonaws.com"}}"#;
        assert!(matches!(parse(s3).unwrap(), Incoming::Unrelated(_)));
        let ec2 = br#"{"id":"1","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{}}"#;
        assert!(matches!(parse(ec2).unwrap(), Incoming::Unrelated(_)));
        assert!(matches!(parse(b"nope"), Err(EventError::NotJson)));
        assert!(matches!(parse(b"{}"), Err(EventError::NotEventBridge(_))));
        let no_time = br#"{"id":"1","detail-type":"AWS API Call via CloudTrail","source":"aws.agreement-marketplace","detail":{"eventSource":"agreement-marketplace.amazonaws.com","eventName":"CancelAgreement"}}"#;
        assert!(matches!(
            parse(no_time),
            Err(EventError::BadCloudTrailDetail(_))
        ));
        let no_id = br#"{"id":"1","detail-type":"Purchase Agreement Created - Acceptor","source":"aws.agreement-marketplace","detail":{}}"#;
        assert!(matches!(parse(no_id), Err(EventError::NoAgreementId)));
    }

    proptest::proptest! {
        #[test]
        fn no_body_makes_the_parser_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let _ = parse(&body);
        }
    }
}
