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
use crate::report::format::Format;
use crate::report::Report;
use crate::slack::blocks::{escape, Block};
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
    if let Some(word) = &query.account {
        let accounts = state.source.accounts();
        if !accounts.iter().any(|a| a.matches(word)) {
            let known: Vec<String> = accounts
                .iter()
                .filter_map(|a| a.alias.clone().or_else(|| a.id.clone()))
                .map(|a| format!("`{}`", escape(&a)))
                .collect();
            let known = if known.is_empty() {
                "No accounts are configured (ACCOUNTS); the app reports on its own account."
                    .to_owned()
            } else {
                format!("Known accounts: {}.", known.join(", "))
            };
            return Json(render::error_message(&format!(
                "I don't know the account `{}`. {known}",
                escape(word)
            )))
            .into_response();
        }
    }
    if query.csv && state.slack_api.is_none() {
        return Json(render::error_message(
            "CSV export needs the app's bot token: ask its admins to set SLACK_BOT_TOKEN (with the files:write scope).",
        ))
        .into_response();
    }
    let Ok(slot) = state.answer_slots.clone().try_acquire_owned() else {
        tracing::warn!("refused: too many answers already being prepared");
        return Json(render::error_message(
            "Too many lookups are running right now. Please try again in a minute.",
        ))
        .into_response();
    };
    tracing::info!(window = %window.label, share = query.share, account = ?query.account, csv = query.csv, "looking up");
    let ack = render::looking_up(&window);
    let task_state = state.clone();
    drop(_entered);
    state.tasks.spawn(
        async move {
            answer(task_state, request, query, window).await;
            // The slot is free again once the answer is delivered (or given up).
            drop(slot);
        }
        .instrument(span),
    );
    Json(ack).into_response()
}

/// How long a slash command answer waits for agreement details before going without.
const DETAILS_BUDGET: std::time::Duration = std::time::Duration::from_secs(3);

/// Looks up, renders and delivers the answer. Bounded by the query timeout, so shutdown's
/// drain can wait for it.
async fn answer(state: AppState, request: SlashCommandRequest, query: Query, window: TimeWindow) {
    let started = std::time::Instant::now();
    let lookup = tokio::time::timeout(
        state.query_timeout,
        state.source.lookup(&window, query.account.as_deref()),
    )
    .await;
    let mut message = match lookup {
        Ok(fetched) => {
            let calls = fetched.calls;
            let mut report = Report::build(fetched, query.filter.clone(), window);
            report.by_account = state.source.accounts().len() > 1;
            if let Some(agreements) = &state.agreements {
                report.details_unavailable = agreements
                    .enrich(&mut report.activities, DETAILS_BUDGET)
                    .await
                    .map(|why| why.user_message().to_owned());
            }
            tracing::info!(
                events = report.activities.len(),
                skipped = report.skipped,
                failures = report.failures.len(),
                calls,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "lookup done"
            );
            for f in &report.failures {
                tracing::error!(account = %f.account.label(), region = %f.region, error = %f.error, "CloudTrail lookup failed");
            }
            let mut message = render::report_message(&report, query.share);
            if query.csv && !report.nothing_answered {
                let note = export_csv(&state, &request, &report).await;
                message.blocks.insert(
                    message.blocks.len().saturating_sub(1),
                    Block::context(&[note]),
                );
            }
            message
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
    message.blocks.truncate(crate::slack::blocks::MAX_BLOCKS);
    if let Err(e) =
        response_url::send(&state.http, &state.metrics, &request.response_url, &message).await
    {
        tracing::error!(error = %e, "could not deliver the answer to response_url");
    }
}

/// Uploads the whole report as CSV to the conversation; returns the line the answer shows.
async fn export_csv(state: &AppState, request: &SlashCommandRequest, report: &Report) -> String {
    let Some(api) = &state.slack_api else {
        return ":warning: CSV export needs SLACK_BOT_TOKEN.".into();
    };
    let mut bytes = Vec::new();
    if let Err(e) = crate::report::format::write(report, Format::Csv, &mut bytes) {
        tracing::error!(error = %e, "could not write the CSV");
        return ":warning: The CSV could not be written; the app's log says why.".into();
    }
    let name = format!(
        "marketplace-activity-{}-{}.csv",
        report.window.start.format("%Y%m%d"),
        report.window.end.format("%Y%m%d")
    );
    let comment = format!("{} ({} rows)", report.title(), report.activities.len());
    match api
        .upload_file(&request.channel_id, &name, &report.title(), &comment, bytes, std::time::Duration::from_secs(20))
        .await
    {
        Ok(()) => format!(":page_facing_up: The full list ({} rows) was uploaded to this conversation as `{name}`.", report.activities.len()),
        Err(e) => {
            tracing::error!(error = %e, "CSV upload failed");
            match e {
                crate::slack::web_api::ApiError::Config { fix, .. } => format!(":warning: The CSV upload failed: {fix}"),
                _ => ":warning: The CSV upload failed; try again, or use `marketplace-activity query --format csv`.".into(),
            }
        }
    }
}
