//! `POST /slack/commands`: verify, answer within Slack's 3 seconds, then look up and reply
//! through `response_url` from a tracked background task.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tracing::Instrument;

use super::command_request::SlashCommandRequest;
use super::{render, response_url};
use crate::domain::{Command, Query, TimeWindow};
use crate::report::Report;
use crate::startup::AppState;

/// Largest body we read; a slash command is well under 4 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub async fn handle(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let now = chrono::Utc::now();
    if let Err(reason) = state.signing.verify(
        headers
            .get("x-slack-request-timestamp")
            .map(|v| v.as_bytes()),
        headers.get("x-slack-signature").map(|v| v.as_bytes()),
        &body,
        now.timestamp(),
    ) {
        state.metrics.signature_failures.inc();
        tracing::warn!(%reason, "refused slash command: bad signature");
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    let form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !form {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/x-www-form-urlencoded",
        )
            .into_response();
    }
    let request = match SlashCommandRequest::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable slash command form");
            return (StatusCode::BAD_REQUEST, "unreadable form body").into_response();
        }
    };
    if request.is_ssl_check() {
        return StatusCode::OK.into_response();
    }
    let span = tracing::info_span!(
        "slash_command",
        team = %request.team_id,
        channel = %request.channel_id,
        user = %request.user_id,
    );
    let _entered = span.enter();
    if !state
        .access
        .allows(&request.team_id, &request.channel_id, &request.user_id)
    {
        tracing::info!("refused: caller not on the allow-lists");
        return Json(render::refused()).into_response();
    }
    let query = match Command::parse(&request.text) {
        Ok(Command::Help) => return Json(render::usage()).into_response(),
        Ok(Command::Report(query)) => query,
        Err(e) => {
            tracing::info!(text = %request.text, error = %e, "command not understood");
            return Json(render::command_error(&e)).into_response();
        }
    };
    let window = match query.window.resolve(now) {
        Ok(w) => w,
        Err(e) => {
            return Json(render::error_message(&format!(
                "{}: {e}.\n{}",
                crate::slack::blocks::escape(&request.text),
                "Try `/marketplace-activity help`."
            )))
            .into_response()
        }
    };
    tracing::info!(window = %window.label, share = query.share, "looking up");
    let ack = render::looking_up(&window);
    let task_state = state.clone();
    drop(_entered);
    state.tasks.spawn(
        async move { answer(task_state, request.response_url, query, window).await }
            .instrument(span),
    );
    Json(ack).into_response()
}

/// Looks up, renders and delivers the answer. Bounded by the query timeout, so shutdown's
/// drain can wait for it.
async fn answer(state: AppState, response_url: String, query: Query, window: TimeWindow) {
    let started = std::time::Instant::now();
    let lookup = tokio::time::timeout(state.query_timeout, state.source.lookup(&window)).await;
    let message = match lookup {
        Ok(fetched) => {
            let calls = fetched.calls;
            let report = Report::build(fetched, query.filter, window, state.source.source_count());
            tracing::info!(
                events = report.activities.len(),
                skipped = report.skipped,
                failures = report.failures.len(),
                calls,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "lookup done"
            );
            for (region, err) in &report.failures {
                tracing::error!(%region, error = %err, "CloudTrail lookup failed");
            }
            render::report_message(&report, query.share)
        }
        Err(_) => {
            tracing::error!(
                timeout_s = state.query_timeout.as_secs(),
                "lookup timed out"
            );
            render::error_message(
                "The lookup took too long and was stopped. Try a shorter window or a filter.",
            )
        }
    };
    if let Err(e) = response_url::send(&state.http, &state.metrics, &response_url, &message).await {
        tracing::error!(error = %e, "could not deliver the answer to response_url");
    }
}
