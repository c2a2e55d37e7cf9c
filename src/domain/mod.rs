//! The domain between Slack and AWS: what happened on AWS Marketplace (an [`Activity`]),
//! what a person asked for (a [`Command`]), and the [`TimeWindow`] it covers.
//!
//! Nothing in here knows about HTTP, Slack payloads or the AWS SDK: raw JSON and form
//! strings are parsed at the edges (`aws::record`, `slack::command_request`) into these types.

mod activity;
mod command;
mod window;

pub use activity::{
    Activity, ActivityKind, Actor, AgreementFacts, AgreementId, Intent, Origin, Outcome,
};
pub use command::{Command, CommandError, Filter, Query, USAGE};
pub use window::{TimeWindow, WindowError, WindowSpec, CLOUDTRAIL_RETENTION_DAYS};
