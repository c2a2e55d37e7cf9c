//! The Slack side: verifying what Slack sends, answering slash commands, and rendering
//! activity as Block Kit.
//!
//! - [`signature`]: request signing (v0 HMAC-SHA256), checked on raw bytes first.
//! - [`command_request`]: the slash command form.
//! - [`commands`]: the `/slack/commands` route.
//! - [`access`]: allow-lists of workspaces, channels and users.
//! - [`render`]: reports and errors as messages; [`blocks`]: typed Block Kit within limits.
//! - [`response_url`]: delivering the answer.
//! - [`web_api`]: `chat.postMessage` / `chat.update` for channel notifications.

pub mod access;
pub mod blocks;
pub mod command_request;
pub mod commands;
pub mod render;
pub mod response_url;
pub mod signature;
pub mod web_api;
