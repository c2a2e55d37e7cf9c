//! marketplace-activity: AWS Marketplace procurement activity in Slack.
//!
//! # Layout
//! The layers, from the inside out:
//! - [`domain`]: what happened ([`domain::Activity`]), what was asked ([`domain::Command`]),
//!   when ([`domain::TimeWindow`]), in which [`domain::Account`], and what a lookup
//!   [`domain::Fetched`]. No HTTP, no SDK.
//! - [`report`]: one report built from a lookup (counts, sections per account), written for a
//!   terminal. Imports only `domain`.
//! - [`aws`]: where activity comes from: the accounts (written, or the organization's, with
//!   their roles assumed), CloudTrail LookupEvents (paced, paginated, a bounded number of
//!   account × region pairs at once), CloudTrail records, trail log files, agreement details, and
//!   [`aws::reports::Reporter`], the one path from a question to a report.
//! - [`slack`]: what Slack sends and sees: the request extractor (signature, then form), the
//!   slash command route and its state, every word Slack shows ([`slack::render`]), Block Kit,
//!   `response_url` delivery, the Web API, one retry loop.
//! - [`notify`]: channel notifications: EventBridge (or SNS) events to Slack messages, one per
//!   change, threaded per agreement, never twice, never lost. Its own router and state.
//! - [`state`]: what the notifier and the digest remember, shared by replicas: one store
//!   interface with conditional writes and leases, on redb (`STATE_DIR`), DynamoDB
//!   (`STATE_TABLE`) or memory.
//! - [`digest`]: the scheduled digest (DIGEST_EVERY / DIGEST_CRON).
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`.
//! - [`startup`]: builds each feature's router from the settings and merges them; graceful
//!   shutdown. Shared by `serve`, `demo` and the tests. No feature module imports it.
//! - [`server`]: the HTTP/1 accept loop on hyper that `startup` runs the router on: header
//!   and body timeouts, the connection cap, the shutdown budget.
//! - [`cli`]: the subcommands (`serve`, `query`, `demo`, `check`, `healthcheck`).
//!
//! Shared pieces: [`config`] (flags and environment, parsed once into typed settings),
//! [`metrics`] (Prometheus), [`pacer`] (spacing calls under a rate limit), [`telemetry`]
//! (logging), [`redact`] (escaping outside text, keeping URLs out of errors), [`sync`] (one
//! lock helper).

pub mod aws;
pub mod cli;
pub mod config;
pub mod digest;
pub mod domain;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod pacer;
pub mod redact;
pub mod report;
pub mod server;
pub mod slack;
pub mod startup;
pub mod state;
pub mod sync;
pub mod telemetry;
