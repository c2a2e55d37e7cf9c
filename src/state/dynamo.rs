//! The DynamoDB back end: one table, one item per entry (key schema in the module doc of
//! [`state`](super)). Each operation is one request; conditions are evaluated by DynamoDB.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TableDescription, TableStatus,
    TimeToLiveSpecification, TimeToLiveStatus,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use super::{version_base, Condition, OpenError, Record, StoreError, Table, Written};

pub(crate) const PK: &str = "pk";
pub(crate) const VER: &str = "ver";
pub(crate) const VAL: &str = "val";
pub(crate) const EXPIRES_AT: &str = "expires_at";

/// How long `open_dynamodb` waits for a table it created to become ACTIVE.
const ACTIVE_WAIT: Duration = Duration::from_secs(90);

#[derive(Clone)]
pub(crate) struct Dynamo {
    client: Client,
    table: Arc<str>,
}

/// The item's key for `key` in namespace `table`.
pub(crate) fn partition_key(table: Table, key: &str) -> String {
    format!("{}#{key}", table.as_str())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// An item back into a record; `Err` names what is wrong with it.
fn parse(item: &HashMap<String, AttributeValue>) -> Result<Record, String> {
    let number = |name: &str| -> Result<Option<&str>, String> {
        match item.get(name) {
            None => Ok(None),
            Some(AttributeValue::N(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(format!("{name} is not a Number")),
        }
    };
    let version = number(VER)?
        .ok_or_else(|| format!("no {VER}"))?
        .parse::<u64>()
        .map_err(|e| format!("{VER}: {e}"))?;
    let expires_at = number(EXPIRES_AT)?
        .map(|v| v.parse::<i64>().map_err(|e| format!("{EXPIRES_AT}: {e}")))
        .transpose()?;
    let json = match item.get(VAL) {
        Some(AttributeValue::S(s)) => s.clone(),
        Some(_) => return Err(format!("{VAL} is not a String")),
        None => return Err(format!("no {VAL}")),
    };
    Ok(Record {
        version,
        expires_at,
        json,
    })
}

/// Removes the user-info part (`user:password@`) of any URL in `text`, so that an endpoint
/// configured with credentials in it never reaches a log line.
pub(crate) fn scrub(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || "\"'<>)]},;".contains(c))
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(i) => {
                out.push_str("***@");
                out.push_str(&authority[i + 1..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

const THROTTLED: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "ReplicatedWriteConflictException",
];

const BAD_CREDENTIALS: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "ExpiredTokenException",
    "ExpiredToken",
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
];

/// Sorts an SDK failure of `action` (e.g. `dynamodb:GetItem`) into what to do about it.
/// Conditional-check failures are handled by the callers before this.
pub(crate) fn classify<E>(err: &SdkError<E, HttpResponse>, action: &'static str) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::ServiceError(ctx) => {
            let code = ctx.err().code().unwrap_or("");
            let status = ctx.raw().status().as_u16();
            if code == "AccessDeniedException" || code == "AccessDenied" {
                StoreError::Denied { action }
            } else if BAD_CREDENTIALS.contains(&code) {
                StoreError::Credentials {
                    reason: format!("DynamoDB answered {code}"),
                }
            } else if THROTTLED.contains(&code) || status >= 500 || status == 429 {
                StoreError::Unavailable {
                    reason: format!("{action}: HTTP {status} {code}"),
                }
            } else {
                let message = scrub(ctx.err().message().unwrap_or(""));
                StoreError::Internal {
                    reason: format!("{action}: HTTP {status} {code}: {message}"),
                }
            }
        }
        SdkError::TimeoutError(_) => StoreError::Unavailable {
            reason: format!("{action}: timed out"),
        },
        SdkError::DispatchFailure(d) => {
            let detail = scrub(&DisplayErrorContext(err).to_string());
            if d.is_timeout() {
                StoreError::Unavailable {
                    reason: format!("{action}: timed out"),
                }
            } else if d.is_io() {
                StoreError::Unavailable {
                    reason: format!("{action}: cannot reach DynamoDB: {detail}"),
                }
            } else if detail.to_lowercase().contains("credential") {
                StoreError::Credentials { reason: detail }
            } else {
                StoreError::Unavailable {
                    reason: format!("{action}: {detail}"),
                }
            }
        }
        SdkError::ResponseError(_) => StoreError::Unavailable {
            reason: format!(
                "{action}: unreadable response: {}",
                scrub(&DisplayErrorContext(err).to_string())
            ),
        },
        _ => {
            let detail = scrub(&DisplayErrorContext(err).to_string());
            if detail.to_lowercase().contains("credential") {
                StoreError::Credentials { reason: detail }
            } else {
                StoreError::Internal {
                    reason: format!("{action}: {detail}"),
                }
            }
        }
    }
}

fn service_code<E: ProvideErrorMetadata>(err: &SdkError<E, HttpResponse>) -> Option<&str> {
    match err {
        SdkError::ServiceError(ctx) => ctx.err().code(),
        _ => None,
    }
}

impl Dynamo {
    /// The client, with timeouts short enough to answer within an EventBridge delivery
    /// (5 s): 1 s per attempt, 3 attempts, 2 s in all.
    pub fn new(sdk: &aws_config::SdkConfig, table: &str) -> Self {
        let config = aws_sdk_dynamodb::config::Builder::from(sdk)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(1))
                    .operation_attempt_timeout(Duration::from_secs(1))
                    .operation_timeout(Duration::from_secs(2))
                    .build(),
            )
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(50))
                    .with_max_backoff(Duration::from_millis(400)),
            )
            .build();
        Self {
            client: Client::from_conf(config),
            table: table.into(),
        }
    }

    pub async fn get(&self, table: Table, key: &str) -> Result<Option<Record>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&*self.table)
            .key(PK, AttributeValue::S(partition_key(table, key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| classify(&e, "dynamodb:GetItem"))?;
        out.item()
            .map(parse)
            .transpose()
            .map_err(|reason| StoreError::Corrupt {
                table,
                key: key.to_owned(),
                reason,
            })
    }

    pub async fn write(
        &self,
        table: Table,
        key: &str,
        condition: Condition,
        json: String,
        expires_at: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<Written, StoreError> {
        let mut names = HashMap::from([
            ("#val".to_owned(), VAL.to_owned()),
            ("#ver".to_owned(), VER.to_owned()),
            ("#exp".to_owned(), EXPIRES_AT.to_owned()),
        ]);
        let mut values = HashMap::from([(":val".to_owned(), AttributeValue::S(json))]);
        let mut update = match condition {
            Condition::Version(v) => {
                values.insert(":next".into(), n(v.wrapping_add(1)));
                "SET #val = :val, #ver = :next".to_owned()
            }
            Condition::Absent | Condition::Any => {
                values.insert(":base".into(), n(version_base(now)));
                values.insert(":one".into(), n(1));
                "SET #val = :val, #ver = if_not_exists(#ver, :base) + :one".to_owned()
            }
        };
        match expires_at {
            Some(e) => {
                values.insert(":exp".into(), n(e));
                update.push_str(", #exp = :exp");
            }
            None => update.push_str(" REMOVE #exp"),
        }
        let condition_expression = match condition {
            Condition::Absent => {
                names.insert("#pk".into(), PK.into());
                values.insert(":now".into(), n(now.timestamp()));
                Some("attribute_not_exists(#pk) OR #exp < :now")
            }
            Condition::Version(v) => {
                values.insert(":expected".into(), n(v));
                values.insert(":now".into(), n(now.timestamp()));
                Some("#ver = :expected AND (attribute_not_exists(#exp) OR #exp >= :now)")
            }
            Condition::Any => None,
        };
        let result = self
            .client
            .update_item()
            .table_name(&*self.table)
            .key(PK, AttributeValue::S(partition_key(table, key)))
            .update_expression(update)
            .set_condition_expression(condition_expression.map(str::to_owned))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .return_values(match condition {
                Condition::Version(_) => ReturnValue::None,
                _ => ReturnValue::UpdatedNew,
            })
            .return_values_on_condition_check_failure(match condition {
                Condition::Absent => ReturnValuesOnConditionCheckFailure::AllOld,
                _ => ReturnValuesOnConditionCheckFailure::None,
            })
            .send()
            .await;
        let corrupt = |reason: String| StoreError::Corrupt {
            table,
            key: key.to_owned(),
            reason,
        };
        match result {
            Ok(out) => match condition {
                Condition::Version(v) => Ok(Written::Yes(v.wrapping_add(1))),
                _ => {
                    let version = match out.attributes().and_then(|a| a.get(VER)) {
                        Some(AttributeValue::N(v)) => v.parse::<u64>().ok(),
                        _ => None,
                    };
                    version
                        .map(Written::Yes)
                        .ok_or_else(|| corrupt(format!("UpdateItem returned no {VER}")))
                }
            },
            Err(SdkError::ServiceError(ctx))
                if matches!(
                    ctx.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                let UpdateItemError::ConditionalCheckFailedException(failed) = ctx.err() else {
                    unreachable!("matched above")
                };
                let existing = match (condition, failed.item()) {
                    (Condition::Absent, Some(item)) => Some(parse(item).map_err(corrupt)?),
                    _ => None,
                };
                Ok(Written::No(existing))
            }
            Err(e) => Err(classify(&e, "dynamodb:UpdateItem")),
        }
    }

    pub async fn delete(&self, table: Table, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&*self.table)
            .key(PK, AttributeValue::S(partition_key(table, key)))
            .send()
            .await
            .map_err(|e| classify(&e, "dynamodb:DeleteItem"))?;
        Ok(())
    }

    fn open_error(&self, e: StoreError) -> OpenError {
        let table = self.table.to_string();
        match e {
            StoreError::Denied { action } => OpenError::Denied { table, action },
            StoreError::Unavailable { reason } => OpenError::Unavailable { table, reason },
            StoreError::Credentials { reason } => OpenError::Credentials { table, reason },
            other => OpenError::Other {
                table,
                reason: other.to_string(),
            },
        }
    }

    /// Makes sure the table exists with our key schema, creating it (and turning on TTL)
    /// when it does not.
    pub async fn ensure_table(&self) -> Result<(), OpenError> {
        match self
            .client
            .describe_table()
            .table_name(&*self.table)
            .send()
            .await
        {
            Ok(out) => {
                let Some(description) = out.table() else {
                    return Err(OpenError::Other {
                        table: self.table.to_string(),
                        reason: "DescribeTable returned no table".into(),
                    });
                };
                self.check_schema(description)?;
                if description.table_status() == Some(&TableStatus::Creating) {
                    self.wait_active().await?;
                }
                self.warn_unless_ttl().await;
                Ok(())
            }
            Err(e) if service_code(&e) == Some("ResourceNotFoundException") => self.create().await,
            Err(e) => Err(self.open_error(classify(&e, "dynamodb:DescribeTable"))),
        }
    }

    fn check_schema(&self, description: &TableDescription) -> Result<(), OpenError> {
        let keys = description.key_schema();
        let pk_is_string = description
            .attribute_definitions()
            .iter()
            .any(|a| a.attribute_name() == PK && a.attribute_type() == &ScalarAttributeType::S);
        let ours = keys.len() == 1
            && keys[0].attribute_name() == PK
            && keys[0].key_type() == &KeyType::Hash
            && pk_is_string;
        if ours {
            return Ok(());
        }
        let found = keys
            .iter()
            .map(|k| {
                let ty = description
                    .attribute_definitions()
                    .iter()
                    .find(|a| a.attribute_name() == k.attribute_name())
                    .map_or("?", |a| a.attribute_type().as_str());
                format!("{} ({}, {ty})", k.attribute_name(), k.key_type().as_str())
            })
            .collect::<Vec<_>>()
            .join(", ");
        Err(OpenError::WrongSchema {
            table: self.table.to_string(),
            found,
        })
    }

    async fn create(&self) -> Result<(), OpenError> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| OpenError::Other {
            table: self.table.to_string(),
            reason: e.to_string(),
        };
        let created = self
            .client
            .create_table()
            .table_name(&*self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(PK)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(build)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(PK)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await;
        match created {
            Ok(_) => tracing::info!(table = %self.table, "created the DynamoDB state table"),
            // Another replica is creating it at the same moment.
            Err(e) if service_code(&e) == Some("ResourceInUseException") => {}
            Err(e) => {
                return Err(match classify(&e, "dynamodb:CreateTable") {
                    StoreError::Denied { .. } => OpenError::CannotCreate {
                        table: self.table.to_string(),
                    },
                    other => self.open_error(other),
                })
            }
        }
        self.wait_active().await?;
        let ttl = self
            .client
            .update_time_to_live()
            .table_name(&*self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(EXPIRES_AT)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await;
        match ttl {
            Ok(_) => Ok(()),
            // A replica racing us turned it on first ("TimeToLive is already enabled").
            Err(_) if self.ttl_on().await == Some(true) => Ok(()),
            Err(e) => Err(self.open_error(classify(&e, "dynamodb:UpdateTimeToLive"))),
        }
    }

    async fn wait_active(&self) -> Result<(), OpenError> {
        let started = Instant::now();
        loop {
            let out = self
                .client
                .describe_table()
                .table_name(&*self.table)
                .send()
                .await
                .map_err(|e| self.open_error(classify(&e, "dynamodb:DescribeTable")))?;
            let status = out.table().and_then(|t| t.table_status()).cloned();
            if status == Some(TableStatus::Active) {
                return Ok(());
            }
            if started.elapsed() >= ACTIVE_WAIT {
                return Err(OpenError::NotActive {
                    table: self.table.to_string(),
                    status: status.map_or("unknown".into(), |s| s.as_str().to_owned()),
                    waited_s: ACTIVE_WAIT.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Whether TTL is on (or turning on) for `expires_at`; `None` when it cannot be told.
    async fn ttl_on(&self) -> Option<bool> {
        let out = self
            .client
            .describe_time_to_live()
            .table_name(&*self.table)
            .send()
            .await
            .ok()?;
        let d = out.time_to_live_description()?;
        Some(
            matches!(
                d.time_to_live_status(),
                Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
            ) && d.attribute_name() == Some(EXPIRES_AT),
        )
    }

    async fn warn_unless_ttl(&self) {
        match self.ttl_on().await {
            Some(true) => {}
            Some(false) => tracing::warn!(
                table = %self.table,
                "TTL is not enabled on {EXPIRES_AT}: expired entries are ignored but never deleted; enable TTL on {EXPIRES_AT}"
            ),
            None => tracing::debug!(table = %self.table, "could not read the table's TTL setting"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_user_info() {
        assert_eq!(
            scrub("error sending to http://AKIA:s3cret@127.0.0.1:8000/x: refused"),
            "error sending to http://***@127.0.0.1:8000/x: refused"
        );
        assert_eq!(
            scrub("a https://h.example/p and http://u@h2 end"),
            "a https://h.example/p and http://***@h2 end"
        );
        assert_eq!(scrub("no url here"), "no url here");
    }

    #[test]
    fn items_parse_back_and_damage_is_named() {
        let item = HashMap::from([
            (PK.to_owned(), AttributeValue::S("seen#a".into())),
            (VER.to_owned(), n(42)),
            (VAL.to_owned(), AttributeValue::S("\"x\"".into())),
            (EXPIRES_AT.to_owned(), n(1_700_000_000)),
        ]);
        assert_eq!(
            parse(&item).unwrap(),
            Record {
                version: 42,
                expires_at: Some(1_700_000_000),
                json: "\"x\"".into()
            }
        );
        let mut bad = item.clone();
        bad.insert(VER.into(), AttributeValue::S("42".into()));
        assert!(parse(&bad).unwrap_err().contains("ver"));
        bad.remove(VER);
        assert!(parse(&bad).unwrap_err().contains("no ver"));
        assert_eq!(partition_key(Table::Seen, "eb:1#2"), "seen#eb:1#2");
    }
}
