//! What can go wrong, sorted by what to do about it. Messages name the cause and never carry
//! credentials or endpoint URLs (see `dynamo::scrub`).

use std::path::PathBuf;

use super::Table;

/// A failed store operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Throttled, timed out, no connection, a server error: try again later.
    #[error("state store unavailable: {reason}")]
    Unavailable { reason: String },
    /// The app's IAM identity may not do `action` (e.g. `dynamodb:UpdateItem`).
    #[error("state store: access denied: the app may not call {action}")]
    Denied { action: &'static str },
    /// AWS did not accept (or the app could not find) its credentials.
    #[error("state store: AWS credentials: {reason}")]
    Credentials { reason: String },
    /// A stored value could not be read back (not the JSON of the type asked for).
    #[error("state store: the value of {table}/{key} cannot be read: {reason}")]
    Corrupt {
        table: Table,
        key: String,
        reason: String,
    },
    /// A value could not be serialized.
    #[error("state store: the value cannot be written as JSON: {0}")]
    Encode(#[source] serde_json::Error),
    /// [`StateStore::complete`](super::StateStore::complete) after the lease ran out and
    /// another owner took the claim over: the outcome was not recorded.
    #[error(
        "state store: the claim on {key} was taken over by another owner after its lease ran out"
    )]
    ClaimLost { key: String },
    /// The disk store failed to read or write its file.
    #[error("state store: disk: {reason}")]
    Disk { reason: String },
    /// Anything else (an unexpected answer, a bug).
    #[error("state store: {reason}")]
    Internal { reason: String },
}

impl StoreError {
    /// Whether the same call may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. })
    }

    /// What to do about it, in one plain line.
    pub fn fix(&self) -> String {
        match self {
            Self::Unavailable { .. } => "Try again shortly; if it lasts, check the network path to DynamoDB (or AWS_ENDPOINT_URL_DYNAMODB) and the AWS service health.".into(),
            Self::Denied { action } => format!("Allow {action} on the state table in the app's IAM role policy."),
            Self::Credentials { .. } => "Check the AWS credentials the app runs with (its task or instance role, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).".into(),
            Self::Corrupt { .. } => "Delete the damaged entry (it is written again when next needed), and report it if it happens again.".into(),
            Self::Encode(_) => "This is a bug in the app: report it with the log line.".into(),
            Self::ClaimLost { .. } => "Give the claim a lease longer than the work takes; the owner that took over does the work again.".into(),
            Self::Disk { .. } => "Check free space and the health of the STATE_DIR volume, then restart the app (redb refuses writes after a failed one).".into(),
            Self::Internal { .. } => "Report it with the app's log.".into(),
        }
    }
}

/// A store that could not be opened. The message names the cause and the fix, on one line.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("state directory {dir} is in use by another process (redb locks {file}): one STATE_DIR serves one replica; to run several replicas, set STATE_TABLE to share state in DynamoDB", dir = .dir.display(), file = super::disk::FILE_NAME)]
    Locked { dir: PathBuf },
    #[error("cannot write to the state directory {dir}: {reason}; make it writable by the app's user, or set STATE_DIR to a writable directory", dir = .dir.display())]
    Unwritable { dir: PathBuf, reason: String },
    #[error("cannot open the state file {path}: {reason}; move it aside to start empty", path = .path.display())]
    Damaged { path: PathBuf, reason: String },
    #[error("DynamoDB table {table} does not exist and the app may not create it (dynamodb:CreateTable denied): create the table (or deploy the stack) with partition key pk (String) and TTL on expires_at, or allow dynamodb:CreateTable")]
    CannotCreate { table: String },
    #[error("DynamoDB denied {action} on table {table}: allow {action} on the table in the app's IAM role policy")]
    Denied { table: String, action: &'static str },
    #[error("DynamoDB table {table} has key schema {found}, not partition key pk (String) alone: point STATE_TABLE at a table made for this app")]
    WrongSchema { table: String, found: String },
    #[error("DynamoDB table {table} is not ACTIVE (status {status}) after waiting {waited_s} s: wait for it to become ACTIVE, then start again")]
    NotActive {
        table: String,
        status: String,
        waited_s: u64,
    },
    #[error("DynamoDB is unavailable for table {table} ({reason}): check the network path to DynamoDB (or AWS_ENDPOINT_URL_DYNAMODB) and the region, then start again")]
    Unavailable { table: String, reason: String },
    #[error("AWS credentials for DynamoDB table {table}: {reason}; check the credentials the app runs with (its role, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")]
    Credentials { table: String, reason: String },
    #[error("DynamoDB table {table}: {reason}; see the app's log and report it")]
    Other { table: String, reason: String },
}
