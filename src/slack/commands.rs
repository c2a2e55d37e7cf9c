//! `POST /slack/commands`: verify, answer within Slack's 3 seconds, then look up and reply
//! through `response_url` from a tracked background task.
//! See <https://api.slack.com/interactivity/slash-commands>.

use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Bytes;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use tracing::Instrument;

use super::blocks::Message;
use super::command_request::{SlashCommand, SlashCommandForm};
use super::render::{self, CsvExport};
use super::request::SlackRequest;
use super::response_url;
use super::web_api::ApiError;
use super::SlackState;
use crate::aws::reports::Budget;
use crate::domain::{Command, Query, ReadSoFar, TimeWindow};
use crate::report::format::Format;
use crate::report::Report;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::watch;

/// Largest body we read; a slash command is well under 4 KiB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// How long a slash command answer waits for agreement details before going without.
const DETAILS_BUDGET: Duration = Duration::from_secs(3);
/// How long a CSV upload may take.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(20);

/// Verify (the extractor) → parse → [`run`]: the immediate answer is the HTTP response body.
pub async fn handle(
    State(state): State<SlackState>,
    request: SlackRequest<MAX_BODY_BYTES>,
) -> Response {
    let form = match SlashCommandForm::parse(&request.body) {
        Ok(form) => form,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable slash command form");
            return (StatusCode::BAD_REQUEST, "unreadable form body").into_response();
        }
    };
    if form.is_ssl_check() {
        return StatusCode::OK.into_response();
    }
    let command = match SlashCommand::try_from(form) {
        Ok(command) => command,
        Err(e) => {
            tracing::warn!(error = %e, "refused: not a slash command");
            return (StatusCode::BAD_REQUEST, format!("not a slash command: {e}")).into_response();
        }
    };
    run(state, command, request.received_at)
        .await
        .into_response()
}

/// Everything after verification, shared by the HTTP route and Socket Mode
/// ([`super::socket`]): the allow-lists, the grammar, the background answer through
/// `response_url` (holding an answer slot). Returns the immediate (ephemeral) message: the
/// HTTP response body, or the Socket Mode acknowledgement's `payload`.
pub async fn run(
    state: SlackState,
    command: SlashCommand<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Immediate {
    let span = tracing::info_span!(
        "slash_command",
        team = %command.team_id,
        channel = %command.channel_id,
        user = %command.user_id,
    );
    admit(state, command, now).instrument(span).await
}

/// Answers at once what can be answered at once; otherwise acknowledges and spawns the lookup.
async fn admit(
    state: SlackState,
    command: SlashCommand<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Immediate {
    if !state
        .access
        .allows(&command.team_id, &command.channel_id, &command.user_id)
    {
        tracing::info!("refused: caller not on the allow-lists");
        return Immediate::Message(render::refused());
    }
    let query = match Command::parse(&command.text) {
        Ok(Command::Help) => return Immediate::Usage,
        Ok(Command::Report(query)) => query,
        Err(e) => {
            tracing::info!(text = %command.text, error = %e, "command not understood");
            return Immediate::Message(render::command_error(&e));
        }
    };
    let window = match query.window.resolve(now) {
        Ok(w) => w,
        Err(e) => return Immediate::Message(render::bad_window(&command.text, &e)),
    };
    if let Some(word) = &query.account {
        let accounts = state.reports.accounts();
        // An organization not listed yet (its listing failed at start-up): the lookup lists
        // it and says what it found.
        let unlisted = state.reports.is_organization() && accounts.is_empty();
        if !unlisted && !accounts.iter().any(|a| a.matches(word)) {
            return Immediate::Message(render::unknown_account(word, &accounts));
        }
    }
    if query.csv && state.slack_api.is_none() {
        return Immediate::Message(render::csv_needs_bot_token());
    }
    let Ok(slot) = state.answer_slots.clone().try_acquire_owned() else {
        tracing::warn!("refused: too many answers already being prepared");
        return Immediate::Message(render::too_busy());
    };
    tracing::info!(window = %window.label, share = query.share, account = ?query.account, csv = query.csv, "looking up");
    let looking_up = render::looking_up(&window);
    let command = command.into_owned();
    let tasks = state.tasks.clone();
    tasks.spawn(
        async move {
            answer(state, command, query, window).await;
            // The slot is free again once the answer is delivered (or given up).
            drop(slot);
        }
        .in_current_span(),
    );
    Immediate::Message(looking_up)
}

/// A command's immediate (ephemeral) answer.
pub enum Immediate {
    /// The usage (`help`): the same every time, so serialised once ([`USAGE_JSON`]).
    Usage,
    Message(Message),
}

/// `help`'s answer as `Json(render::usage())` writes it; `None` only if serialising failed,
/// which a `Message` (strings and enums) cannot, and then each answer is serialised anew.
static USAGE_JSON: LazyLock<Option<Bytes>> =
    LazyLock::new(|| serde_json::to_vec(&render::usage()).ok().map(Bytes::from));

impl Immediate {
    /// The message itself, for Socket Mode's acknowledgement payload or `response_url`.
    pub fn into_message(self) -> Message {
        match self {
            Immediate::Usage => render::usage(),
            Immediate::Message(message) => message,
        }
    }
}

impl IntoResponse for Immediate {
    fn into_response(self) -> Response {
        match (self, USAGE_JSON.as_ref()) {
            (Immediate::Usage, Some(json)) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                json.clone(),
            )
                .into_response(),
            (immediate, _) => Json(immediate.into_message()).into_response(),
        }
    }
}

/// Looks up, renders and delivers the answer. The lookup is bounded by the query timeout, so
/// shutdown's drain can wait for it.
async fn answer(
    state: SlackState,
    command: SlashCommand<'static>,
    query: Query,
    window: TimeWindow,
) {
    let budget = Budget {
        lookup: Some(state.query_timeout),
        details: DETAILS_BUDGET,
    };
    let label = window.label.clone();
    let (progress, seen) = watch::channel(ReadSoFar::default());
    let lookup = state.reports.report_watched(
        window,
        query.filter.clone(),
        query.account.as_deref(),
        budget,
        &progress,
    );
    let shown = AtomicU32::new(0);
    let report = tokio::select! {
        report = lookup => report,
        never = show_progress(&state, &command, &label, seen, &shown) => match never {},
    };
    let progress_shown = shown.load(Ordering::Relaxed);
    let message = match report {
        Ok(report) => {
            let mut message = render::report_page(&report, query.share, &command.text, 0);
            if progress_shown > 0 && !query.share {
                // In place of "read 120 of 278 accounts…".
                message = message.replacing_original(true);
            }
            if query.csv && !report.nothing_answered {
                let export = export_csv(&state, &command, &report).await;
                render::with_csv_note(message, &export)
            } else {
                message
            }
        }
        Err(e) => {
            tracing::error!(error = %e, "lookup timed out");
            render::lookup_timed_out()
        }
    };
    // What progress used of the URL's five posts, the answer may have less one spare.
    let attempts = response_url::USES - progress_shown - 1;
    if let Err(e) = response_url::send_within(
        &state.http,
        &state.metrics,
        &command.response_url,
        &message,
        attempts,
    )
    .await
    {
        tracing::error!(error = %e, "could not deliver the answer to response_url");
    }
}

/// The first progress update comes after this long (most answers come sooner)…
const PROGRESS_AFTER: Duration = Duration::from_secs(3);
/// …and the next ones at most this often,
const PROGRESS_EVERY: Duration = Duration::from_secs(3);
/// …and no more than this many, so `response_url`'s five posts keep room for the answer
/// and one retry.
const PROGRESS_UPDATES: u32 = 3;

/// Replaces the "looking up…" message in place with how many accounts have been read, while
/// the lookup runs (it is dropped when the lookup ends). Never returns.
async fn show_progress(
    state: &SlackState,
    command: &SlashCommand<'_>,
    label: &str,
    seen: watch::Receiver<ReadSoFar>,
    shown: &AtomicU32,
) -> std::convert::Infallible {
    tokio::time::sleep(PROGRESS_AFTER).await;
    let mut last = None;
    loop {
        let now = *seen.borrow();
        if shown.load(Ordering::Relaxed) < PROGRESS_UPDATES
            && now.total > 1
            && now.done < now.total
            && last != Some(now)
        {
            let message = render::progress(label, now.done, now.total);
            // Counted before the post: one cut short by the answer may still have used the URL.
            shown.fetch_add(1, Ordering::Relaxed);
            match response_url::send_once(
                &state.http,
                &state.metrics,
                &command.response_url,
                &message,
            )
            .await
            {
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "progress update not delivered"),
            }
            last = Some(now);
        }
        tokio::time::sleep(PROGRESS_EVERY).await;
    }
}

/// Uploads the whole report as CSV to the conversation.
async fn export_csv(state: &SlackState, command: &SlashCommand<'_>, report: &Report) -> CsvExport {
    let Some(api) = &state.slack_api else {
        return CsvExport::Misconfigured("CSV export needs SLACK_BOT_TOKEN.");
    };
    let mut bytes = Vec::new();
    if let Err(e) = crate::report::format::write(report, Format::Csv, &mut bytes) {
        tracing::error!(error = %e, "could not write the CSV");
        return CsvExport::NotWritten;
    }
    let (name, title, comment) = render::csv_file(report);
    let uploaded = api
        .upload_file(
            &command.channel_id,
            &name,
            &title,
            &comment,
            bytes,
            UPLOAD_TIMEOUT,
        )
        .await;
    match uploaded {
        Ok(()) => CsvExport::Uploaded {
            // Activities, then the accounts and regions that could not be read.
            rows: report.activities.len() + report.failures.len(),
            name,
        },
        Err(e) => {
            tracing::error!(error = %e, "CSV upload failed");
            match e {
                ApiError::Config { fix, .. } => CsvExport::Misconfigured(fix),
                _ => CsvExport::Failed,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_rendered_usage_is_what_json_would_answer() {
        let ours = Immediate::Usage.into_response();
        let json = Json(render::usage()).into_response();
        assert_eq!(ours.status(), json.status());
        assert_eq!(ours.headers(), json.headers());
        let body = |r: Response| axum::body::to_bytes(r.into_body(), usize::MAX);
        assert_eq!(body(ours).await.unwrap(), body(json).await.unwrap());
    }
}
