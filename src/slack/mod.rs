//! The Slack side: verifying what Slack sends, answering slash commands, and rendering
//! activity as Block Kit.
//!
//! - [`request`]: the extractor every Slack route starts with (signature, then form).
//! - [`signature`]: request signing (v0 HMAC-SHA256), checked on raw bytes first.
//! - [`command_request`]: the slash command form, parsed into a [`command_request::SlashCommand`].
//! - [`commands`]: the `/slack/commands` route; [`interactions`]: `/slack/interactions`
//!   (button clicks); [`actions`]: what the buttons carry.
//! - [`access`]: allow-lists of workspaces, channels and users.
//! - [`render`]: every word Slack shows; [`blocks`]: typed Block Kit within limits.
//! - [`response_url`]: delivering the answer; [`retry`]: one retry loop for Slack calls.
//! - [`socket`]: Socket Mode (SLACK_APP_TOKEN): the same commands and clicks over WebSocket
//!   connections the app opens, for deployments without a public endpoint.
//! - [`web_api`]: the Web API calls (`chat.postMessage`, `chat.update`, file uploads,
//!   `auth.test`).

pub mod access;
pub mod actions;
pub mod blocks;
pub mod command_request;
pub mod commands;
pub mod interactions;
pub mod render;
pub mod request;
pub mod response_url;
pub mod retry;
pub mod signature;
pub mod socket;
pub mod web_api;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::routing::post;
use axum::Router;
use tokio_util::task::TaskTracker;

use crate::aws::reports::Reporter;
use crate::metrics::Metrics;

/// What the Slack routes need, built once at start-up. Cheap to clone: one reference count
/// (axum clones a route's state several times per request).
#[derive(Clone)]
pub struct SlackState(Arc<SlackContext>);

impl SlackState {
    pub fn new(context: SlackContext) -> Self {
        Self(Arc::new(context))
    }
}

impl std::ops::Deref for SlackState {
    type Target = SlackContext;

    fn deref(&self) -> &SlackContext {
        &self.0
    }
}

/// The fields of [`SlackState`].
pub struct SlackContext {
    pub signing: Arc<signature::SigningSecrets>,
    /// Signatures already accepted (replays are refused).
    pub replays: Arc<request::Replays>,
    pub access: Arc<access::AccessPolicy>,
    pub reports: Reporter,
    /// One HTTP client for every call to Slack.
    pub http: reqwest::Client,
    /// Background answers; closed and drained on shutdown.
    pub tasks: TaskTracker,
    /// Room for answers being prepared. A flood of commands must not queue lookups without
    /// bound (each waits for CloudTrail's 2 calls per second): past this, callers are asked to
    /// try again.
    pub answer_slots: Arc<tokio::sync::Semaphore>,
    pub query_timeout: Duration,
    pub metrics: Metrics,
    /// The Web API with the bot token, when SLACK_BOT_TOKEN is set (CSV exports).
    pub slack_api: Option<web_api::SlackApi>,
}

impl FromRef<SlackState> for request::Verifier {
    fn from_ref(state: &SlackState) -> Self {
        Self {
            secrets: state.signing.clone(),
            seen: state.replays.clone(),
            failures: state.metrics.signature_failures.clone(),
        }
    }
}

/// `POST /slack/commands` and `POST /slack/interactions`.
/// Not mounted without a signing secret (Socket Mode only): nothing could be verified there.
pub fn router(state: SlackState) -> Router {
    if state.signing.is_empty() {
        return Router::new();
    }
    Router::new()
        .route(
            "/slack/commands",
            // The body limit is the extractor's (`SlackRequest<MAX>`).
            post(commands::handle),
        )
        .route("/slack/interactions", post(interactions::handle))
        .with_state(state)
}
