//! The domain between Slack and AWS: what happened on AWS Marketplace (an [`Activity`]),
//! what a person asked for (a [`Command`]), the [`TimeWindow`] it covers, the [`Account`]s
//! asked, and what a lookup [`Fetched`].
//!
//! Nothing in here knows about HTTP, Slack payloads or the AWS SDK: raw JSON and form
//! strings are parsed at the edges (`aws::record`, `slack::command_request`) into these types.

mod account;
mod activity;
mod command;
mod fetch;
mod terms;
mod window;

pub use account::{names_account, Account};
pub use activity::{
    Activity, ActivityKind, Actor, Adjustment, AgreementFacts, AgreementId, Identity, Intent,
    Origin, Outcome,
};
pub use command::{Command, CommandError, Filter, Query, USAGE};
pub use fetch::{
    Audience, Ending, Examined, Failure, Fetched, LookupError, OutsideWindow, ReadSoFar,
};
pub use terms::{AgreementTerms, Charge, Price, PriceBasis};
pub use window::{
    Period, PeriodUnit, TimeWindow, WindowError, WindowKind, WindowSpec, CLOUDTRAIL_RETENTION_DAYS,
};
