//! `POST /slack/interactions`: button clicks. Verified like a slash command (the extractor),
//! the form's `payload` parsed into a typed interaction, the allow-lists applied to the person
//! who clicked, acknowledged with an empty 200 at once; the answer (a page, or details) goes
//! through the payload's `response_url` from a tracked task.
//! See <https://api.slack.com/interactivity/handling> and
//! <https://api.slack.com/reference/interaction-payloads/block-actions>.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tracing::Instrument;

use super::actions::{self, DetailsRef, PageRef};
use super::render;
use super::request::SlackRequest;
use super::response_url::{self, ResponseUrl};
use super::SlackState;
use crate::aws::reports::Budget;
use crate::domain::Command;

/// Largest body we read; a click's payload carries the message it was in, a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// How long a "Details" click waits for the Agreement API.
const DETAILS_BUDGET: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct Form {
    payload: String,
}

/// An interaction payload, parsed: the form's `payload` field over HTTP, the envelope's
/// `payload` object in Socket Mode. [`act`] does the rest for both.
pub struct Interaction(Kind);

impl Interaction {
    /// From the JSON text of the HTTP form's `payload` field.
    pub fn from_json_str(payload: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(payload).map(Self)
    }

    /// From a Socket Mode `interactive` envelope's `payload` object.
    pub fn from_json(payload: serde_json::Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value(payload).map(Self)
    }
}

/// The interactions we act on; everything else is acknowledged and left alone.
#[derive(Deserialize)]
#[serde(tag = "type")]
enum Kind {
    #[serde(rename = "block_actions")]
    BlockActions(BlockActions),
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct BlockActions {
    user: Party,
    #[serde(default)]
    team: Option<Party>,
    #[serde(default)]
    channel: Option<Party>,
    #[serde(default)]
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
}

#[derive(Deserialize)]
struct Party {
    id: String,
    #[serde(default)]
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct Action {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
}

/// What a click asks for.
enum Click {
    Page(PageRef),
    Details(DetailsRef),
}

/// Verify (the extractor) → parse the form's `payload` → [`act`]; an empty 200 acknowledges.
pub async fn handle(
    State(state): State<SlackState>,
    request: SlackRequest<MAX_BODY_BYTES>,
) -> Response {
    let interaction = serde_urlencoded::from_bytes::<Form>(&request.body)
        .map_err(|e| e.to_string())
        .and_then(|form| Interaction::from_json_str(&form.payload).map_err(|e| e.to_string()));
    match interaction {
        Ok(interaction) => {
            act(&state, interaction);
            StatusCode::OK.into_response()
        }
        Err(e) => {
            tracing::warn!(error = %e, "unreadable interaction payload");
            (StatusCode::BAD_REQUEST, "unreadable interaction payload").into_response()
        }
    }
}

/// Everything after verification, shared by the HTTP route and Socket Mode
/// ([`super::socket`]): the allow-lists applied to the person who clicked, then the answer (a
/// page, details) from a tracked task holding an answer slot. Never waits on anything: the
/// caller acknowledges right after.
pub fn act(state: &SlackState, interaction: Interaction) {
    let actions = match interaction.0 {
        Kind::BlockActions(actions) => actions,
        Kind::Other => {
            tracing::debug!("interaction of a type the app doesn't handle; acknowledged");
            return;
        }
    };
    let team = actions
        .team
        .as_ref()
        .map(|t| t.id.clone())
        .or(actions.user.team_id.clone())
        .unwrap_or_default();
    let channel = actions
        .channel
        .as_ref()
        .map(|c| c.id.clone())
        .unwrap_or_default();
    let span = tracing::info_span!("interaction", team = %team, channel = %channel, user = %actions.user.id);
    let url = actions.response_url.as_deref().and_then(ResponseUrl::parse);
    if !state.access.allows(&team, &channel, &actions.user.id) {
        span.in_scope(|| tracing::info!("refused: caller not on the allow-lists"));
        if let Some(url) = url {
            tell(state, url, render::refused().replacing_original(false));
        }
        return;
    }
    let clicks: Vec<Click> = actions
        .actions
        .iter()
        .filter_map(|a| click(a).inspect_err(|why| span.in_scope(|| tracing::debug!(action_id = %a.action_id, %why, "click acknowledged, nothing to do"))).ok())
        .collect();
    if clicks.is_empty() {
        return;
    }
    let Some(url) = url else {
        span.in_scope(|| tracing::warn!("a click without a response_url; acknowledged"));
        return;
    };
    let Ok(slot) = state.answer_slots.clone().try_acquire_owned() else {
        span.in_scope(|| tracing::warn!("refused: too many answers already being prepared"));
        tell(state, url, render::too_busy().replacing_original(false));
        return;
    };
    let task_state = state.clone();
    state.tasks.spawn(
        async move {
            for click in clicks {
                answer(&task_state, &url, click).await;
            }
            drop(slot);
        }
        .instrument(span),
    );
}

/// Sends `message` to the clicking person from a tracked task (the click is acknowledged first).
fn tell(state: &SlackState, url: ResponseUrl, message: super::blocks::Message) {
    let (http, metrics) = (state.http.clone(), state.metrics.clone());
    state.tasks.spawn(
        async move {
            if let Err(e) = response_url::send(&http, &metrics, &url, &message).await {
                tracing::warn!(error = %e, "could not tell the person who clicked");
            }
        }
        .in_current_span(),
    );
}

/// What an action asks for; `Err` for the ones acknowledged and left alone (the console link,
/// unknown actions, values that aren't ours).
fn click(action: &Action) -> Result<Click, String> {
    let value = action.value.as_deref().unwrap_or_default();
    match action.action_id.as_str() {
        actions::PAGE => actions::decode(value)
            .map(Click::Page)
            .map_err(|e| e.to_string()),
        actions::DETAILS => actions::decode(value)
            .map(Click::Details)
            .map_err(|e| e.to_string()),
        actions::OPEN_SUBSCRIPTIONS => Err("a link button".into()),
        other => Err(format!("unknown action {other}")),
    }
}

async fn answer(state: &SlackState, url: &ResponseUrl, click: Click) {
    let message = match click {
        Click::Page(page) => page_message(state, page).await,
        Click::Details(details) => details_message(state, details).await,
    };
    if let Err(e) = response_url::send(&state.http, &state.metrics, url, &message).await {
        tracing::error!(error = %e, "could not deliver the click's answer to response_url");
    }
}

/// The page a "Newer"/"Older" click asks for, replacing the message it was clicked in. The
/// lookup is the one the answer made (reused for a few minutes), so paging calls CloudTrail
/// once.
async fn page_message(state: &SlackState, page: PageRef) -> super::blocks::Message {
    let query = match Command::parse(&page.text) {
        Ok(Command::Report(query)) => query,
        _ => return render::page_unavailable("That page's command can no longer be read."),
    };
    let budget = Budget {
        lookup: Some(state.query_timeout),
        details: Duration::from_secs(3),
    };
    let report = state
        .reports
        .report(page.window, query.filter, query.account.as_deref(), budget)
        .await;
    match report {
        Ok(report) => render::report_page(&report, page.share, &page.text, page.offset)
            .replacing_original(true),
        Err(e) => {
            tracing::error!(error = %e, "page lookup timed out");
            render::lookup_timed_out().replacing_original(false)
        }
    }
}

/// Details of one agreement, for the person who clicked only.
async fn details_message(state: &SlackState, details: DetailsRef) -> super::blocks::Message {
    let Some(agreements) = state.reports.agreements() else {
        return render::details_unavailable(
            &details.agreement,
            "agreement details come from the Marketplace Agreement API, which this app instance doesn't use",
        );
    };
    match agreements
        .details(
            &details.agreement,
            details.account.as_deref(),
            DETAILS_BUDGET,
        )
        .await
    {
        Ok((facts, terms)) => render::agreement_details(
            &details.agreement,
            details.account.as_deref(),
            &facts,
            &terms,
        ),
        Err(why) => render::details_unavailable(&details.agreement, why.user_message()),
    }
}
