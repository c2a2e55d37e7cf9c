//! Parsing one CloudTrail record (the JSON CloudTrail writes, which LookupEvents returns as a
//! string in `CloudTrailEvent` and EventBridge delivers as `detail`) into an [`Activity`].

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::{
    Activity, ActivityKind, Actor, AgreementFacts, AgreementId, Identity, Intent, Origin, Outcome,
};

/// The event source of every agreement API call.
pub const AGREEMENT_EVENT_SOURCE: &str = "agreement-marketplace.amazonaws.com";

/// Why a record could not be read. Such records are skipped and counted, never fatal.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not a CloudTrail record: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRecord {
    #[serde(rename = "eventID")]
    event_id: Option<String>,
    event_name: String,
    event_source: Option<String>,
    event_time: DateTime<Utc>,
    aws_region: Option<String>,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<String>,
    user_agent: Option<String>,
    user_identity: Option<UserIdentity>,
    request_parameters: Option<Parameters>,
    response_elements: Option<Parameters>,
    error_code: Option<String>,
    error_message: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    read_only: bool,
    recipient_account_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserIdentity {
    #[serde(rename = "type")]
    kind: Option<String>,
    arn: Option<String>,
    account_id: Option<String>,
    user_name: Option<String>,
    principal_id: Option<String>,
    session_context: Option<SessionContext>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionContext {
    session_issuer: Option<SessionIssuer>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionIssuer {
    user_name: Option<String>,
}

/// The fields of `requestParameters` / `responseElements` we use; the rest is ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Parameters {
    agreement_id: Option<String>,
    agreement_request_id: Option<String>,
    intent: Option<String>,
}

/// CloudTrail writes `readOnly` as a boolean; LookupEvents' outer field is a string. Take both.
fn bool_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum BoolOrString {
        Bool(bool),
        String(String),
    }
    Ok(match Option::<BoolOrString>::deserialize(d)? {
        Some(BoolOrString::Bool(b)) => b,
        Some(BoolOrString::String(s)) => s.eq_ignore_ascii_case("true"),
        None => false,
    })
}

/// Parses a record. `Ok(None)` when it is a valid record from another event source
/// (trail log files hold every service's events).
pub fn parse_record(json: &str) -> Result<Option<Activity>, RecordError> {
    let raw: RawRecord = serde_json::from_str(json)?;
    Ok(from_raw(raw))
}

/// Same as [`parse_record`] for a record already parsed as JSON (EventBridge's `detail`,
/// records inside a trail log file).
pub fn parse_record_value(value: serde_json::Value) -> Result<Option<Activity>, RecordError> {
    let raw: RawRecord = serde_json::from_value(value)?;
    Ok(from_raw(raw))
}

fn from_raw(raw: RawRecord) -> Option<Activity> {
    if raw
        .event_source
        .as_deref()
        .is_some_and(|s| s != AGREEMENT_EVENT_SOURCE)
    {
        return None;
    }
    let request = raw.request_parameters.as_ref();
    let response = raw.response_elements.as_ref();
    let field = |f: fn(&Parameters) -> Option<&String>| {
        response
            .and_then(f)
            .or_else(|| request.and_then(f))
            .cloned()
    };
    let agreement_id = field(|p| p.agreement_id.as_ref()).and_then(|s| AgreementId::parse(&s));
    let agreement_request_id = field(|p| p.agreement_request_id.as_ref());
    let intent = request
        .and_then(|p| p.intent.as_deref())
        .and_then(Intent::parse);
    let identity = raw.user_identity.as_ref();
    let actor = Actor::from_identity(&Identity {
        kind: identity.and_then(|u| u.kind.as_deref()),
        arn: identity.and_then(|u| u.arn.as_deref()),
        user_name: identity.and_then(|u| u.user_name.as_deref()),
        principal_id: identity.and_then(|u| u.principal_id.as_deref()),
        issuer: identity
            .and_then(|u| u.session_context.as_ref())
            .and_then(|c| c.session_issuer.as_ref())
            .and_then(|i| i.user_name.as_deref()),
    });
    let outcome = match raw.error_code {
        Some(code) if !code.is_empty() => Outcome::Failed {
            code,
            message: raw.error_message,
        },
        _ => Outcome::Succeeded,
    };
    Some(Activity {
        kind: ActivityKind::from_event_name(&raw.event_name, raw.read_only),
        event_id: raw.event_id.unwrap_or_default(),
        event_name: raw.event_name,
        outcome,
        agreement_id,
        agreement_request_id,
        intent,
        account_id: identity
            .and_then(|u| u.account_id.clone())
            .or(raw.recipient_account_id),
        account_alias: None,
        actor,
        region: raw.aws_region.unwrap_or_else(|| "unknown".into()),
        time: raw.event_time,
        source_ip: raw.source_ip_address,
        user_agent: raw.user_agent,
        origin: Origin::CloudTrail,
        facts: AgreementFacts::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCEPT: &str =
        include_str!("../../tests/fixtures/cloudtrail-accept-agreement-request.json");
    const CANCEL: &str = include_str!("../../tests/fixtures/cloudtrail-cancel-agreement.json");
    const DENIED: &str =
        include_str!("../../tests/fixtures/cloudtrail-accept-agreement-request-denied.json");

    #[test]
    fn a_purchase() {
        let a = parse_record(ACCEPT).unwrap().unwrap();
        assert_eq!(a.kind, ActivityKind::Purchase);
        assert_eq!(a.outcome, Outcome::Succeeded);
        assert_eq!(
            a.agreement_id.unwrap().as_str(),
            "agmt-cx71281flrkxyks8eurk5nlyk"
        );
        assert_eq!(
            a.agreement_request_id.as_deref(),
            Some("ar-8rluzdknoucv62qj6ycv4nc1h")
        );
        assert_eq!(a.actor.to_string(), "alice@example.com (IAM user)");
        assert_eq!(a.account_id.as_deref(), Some("111122223333"));
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.time.to_rfc3339(), "2026-11-02T15:46:57+00:00");
        assert_eq!(a.event_id, "efed262e-da4d-4226-82a4-39dd37f5d92a");
    }

    #[test]
    fn activities_round_trip_through_json_for_the_state_store() {
        for json in [ACCEPT, CANCEL, DENIED] {
            let a = parse_record(json).unwrap().unwrap();
            let stored = serde_json::to_string(&a).unwrap();
            let back: Activity = serde_json::from_str(&stored).unwrap();
            assert_eq!(back, a);
        }
    }

    #[test]
    fn a_cancellation_by_a_role() {
        let a = parse_record(CANCEL).unwrap().unwrap();
        assert_eq!(a.kind, ActivityKind::Cancellation);
        assert_eq!(
            a.agreement_id.unwrap().as_str(),
            "agmt-cx71281flrkxyks8eurk5nlyk"
        );
        assert_eq!(a.actor.to_string(), "bob (role ProcurementAdmin)");
    }

    #[test]
    fn a_failed_attempt_is_failed_not_a_purchase() {
        let a = parse_record(DENIED).unwrap().unwrap();
        assert!(a.outcome.is_failed());
        assert!(a.agreement_id.is_none());
        match a.outcome {
            Outcome::Failed { code, .. } => assert_eq!(code, "AccessDeniedException"),
            Outcome::Succeeded => unreachable!(),
        }
    }

    #[test]
    fn create_request_carries_its_intent() {
        let json = r#"{"eventName":"CreateAgreementRequest","eventSource":"agreement-marketplace.amazonaws.com",
            "eventTime":"2026-11-02T15:40:00Z","requestParameters":{"intent":"AMEND","agreementId":"agmt-abc"},
            "responseElements":{"agreementRequestId":"ar-1"}}"#;
        let a = parse_record(json).unwrap().unwrap();
        assert_eq!(a.kind, ActivityKind::RequestCreated);
        assert_eq!(a.intent, Some(Intent::Amend));
        assert_eq!(a.agreement_request_id.as_deref(), Some("ar-1"));
        assert_eq!(a.actor.to_string(), "unknown");
    }

    /// `userIdentity` shapes from CloudTrail's documentation
    /// (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html>):
    /// the caller is named from `userName` or the session in `principalId` when there is no ARN.
    #[test]
    fn callers_without_an_arn_are_named() {
        let cases = [
            (
                r#"{"type":"SAMLUser","principalId":"SAMLExample:alice@example.com","userName":"alice@example.com","identityProvider":"bdGOnTesti4+ERRKjYjBUbXX8lk="}"#,
                "alice@example.com (SAMLUser)",
            ),
            (
                r#"{"type":"WebIdentityUser","principalId":"accounts.google.com:application-id.apps.googleusercontent.com:user-id","userName":"user-id","identityProvider":"accounts.google.com"}"#,
                "user-id (WebIdentityUser)",
            ),
            (
                r#"{"type":"Unknown","principalId":"AIDACKCEVSQ6C2EXAMPLE","accountId":"111122223333","userName":"carol"}"#,
                "carol",
            ),
            (
                r#"{"type":"IAMUser","principalId":"AIDAJ45Q7YFFAREXAMPLE","accountId":"111122223333","userName":"dave"}"#,
                "dave (IAM user)",
            ),
            (
                r#"{"type":"AssumedRole","principalId":"AROAIDPPEZS35WEXAMPLE:erin","accountId":"111122223333","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAIDPPEZS35WEXAMPLE","userName":"ProcurementAdmin"}}}"#,
                "erin (role ProcurementAdmin)",
            ),
            (
                r#"{"type":"AssumedRole","principalId":"AROAIDPPEZS35WEXAMPLE:erin"}"#,
                "erin (AssumedRole)",
            ),
            (
                r#"{"type":"Root","principalId":"111122223333","accountId":"111122223333"}"#,
                "root user",
            ),
            (
                r#"{"type":"AWSService","invokedBy":"marketplace.amazonaws.com"}"#,
                "AWSService",
            ),
            (
                r#"{"type":"Unknown","principalId":"","userName":"  "}"#,
                "Unknown",
            ),
        ];
        for (identity, want) in cases {
            let json = format!(
                r#"{{"eventName":"AcceptAgreementRequest","eventSource":"agreement-marketplace.amazonaws.com","eventTime":"2026-11-02T15:40:00Z","userIdentity":{identity}}}"#
            );
            let a = parse_record(&json).unwrap().unwrap();
            assert_eq!(a.actor.to_string(), want, "identity {identity}");
            let back: Activity = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
            assert_eq!(back.actor, a.actor, "round trip of {identity}");
        }
    }

    #[test]
    fn other_sources_are_not_ours_and_junk_is_an_error() {
        let s3 = r#"{"eventName":"PutObject","eventSource":"s3.amazonaws.com","eventTime":"2026-11-02T15:40:00Z"}"#;
        assert!(parse_record(s3).unwrap().is_none());
        for junk in [
            "",
            "{",
            "[]",
            r#"{"eventName":1}"#,
            r#"{"eventName":"X","eventTime":"yesterday"}"#,
        ] {
            assert!(parse_record(junk).is_err(), "{junk:?}");
        }
    }
}
