//! marketplace-activity: AWS Marketplace procurement activity in Slack.
//!
//! # Layout
//! - [`domain`]: what happened ([`domain::Activity`]), what was asked ([`domain::Command`]),
//!   and when ([`domain::TimeWindow`]). No HTTP, no SDK.
//! - [`aws`]: where activity comes from: CloudTrail LookupEvents (paced, paginated, across
//!   regions), CloudTrail records, and saved trail log files.
//! - [`slack`]: what Slack sends and sees: signature checks, the slash command route,
//!   Block Kit rendering, `response_url` delivery, allow-lists.
//! - [`notify`]: channel notifications: EventBridge (or SNS) events to Slack messages, one per
//!   change, threaded per agreement, never twice, never lost.
//! - [`report`]: one report, built from a lookup; rendered for Slack or a terminal.
//! - [`startup`]: the HTTP application (router, state, graceful shutdown), shared by
//!   `serve`, `demo` and the tests.
//! - [`pacer`]: spacing calls under an API's rate limit (CloudTrail, Slack).
//! - [`digest`]: the scheduled digest (DIGEST_EVERY / DIGEST_CRON).
//! - [`metrics`]: Prometheus counters and histograms for `/metrics`.
//! - [`config`]: flags and environment, parsed once into typed settings.
//! - [`serve`], [`query`], [`demo`], [`check`]: the subcommands.

pub mod aws;
pub mod check;
pub mod config;
pub mod demo;
pub mod digest;
pub mod domain;
pub mod metrics;
pub mod notify;
pub mod pacer;
pub mod query;
pub mod report;
pub mod serve;
pub mod slack;
pub mod startup;
pub mod state;
pub mod telemetry;
