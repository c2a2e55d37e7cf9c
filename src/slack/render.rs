//! How activity looks in Slack. The slash command's report and (later) channel notifications
//! share [`activity_line`], so both read as one product.

use super::blocks::{date_token, escape, Block, Message, ResponseType, MAX_BLOCKS};
use crate::domain::{Activity, ActivityKind, CommandError, TimeWindow, USAGE};
use crate::report::{headline, Report};

/// Where a person manages their subscriptions.
pub const CONSOLE_SUBSCRIPTIONS_URL: &str =
    "https://console.aws.amazon.com/marketplace/home#/subscriptions";

/// An emoji that tells the kind apart at a glance.
fn marker(activity: &Activity) -> &'static str {
    match &activity.kind {
        _ if activity.outcome.is_failed() => ":x:",
        ActivityKind::Purchase => ":large_green_circle:",
        k if k.is_purchase() => ":large_blue_circle:",
        ActivityKind::Cancellation => ":red_circle:",
        _ => ":white_circle:",
    }
}

/// One activity in two lines of mrkdwn: what and who, then when and where.
pub fn activity_line(a: &Activity) -> String {
    let agreement = a
        .agreement_id
        .as_ref()
        .map(|id| format!(" · `{id}`"))
        .unwrap_or_default();
    let account = a
        .account_id
        .as_deref()
        .map(|id| format!(" · account {}", escape(id)))
        .unwrap_or_default();
    format!(
        "{} *{}*{agreement}\nby *{}* · {}{account} · {}",
        marker(a),
        escape(&headline(a)),
        escape(&a.actor.to_string()),
        date_token(a.time),
        escape(&a.region)
    )
}

fn window_line(w: &TimeWindow) -> String {
    format!("{} to {}", date_token(w.start), date_token(w.end))
}

/// The slash command's answer.
pub fn report_message(report: &Report, share: bool) -> Message {
    if report.nothing_answered {
        let (region, err) = &report.failures[0];
        return error_message(&format!(
            "Couldn't look up Marketplace activity ({}): {}",
            escape(region),
            err.user_message()
        ));
    }
    let mut blocks = vec![Block::header(&report.title())];
    let parts = report.counts.parts();
    let summary = if parts.is_empty() {
        format!(
            "No Marketplace agreement activity {}.\n{}",
            report.window_phrase(),
            window_line(&report.window)
        )
    } else {
        format!("*{}*\n{}", parts.join(" · "), window_line(&report.window))
    };
    blocks.push(Block::section(&summary));
    let notes = notes(report);
    if !notes.is_empty() {
        blocks.push(Block::context(&notes));
    }
    let footer = vec![Block::link_button(
        "Open Marketplace subscriptions",
        CONSOLE_SUBSCRIPTIONS_URL,
        "open_subscriptions",
    )];
    if !report.activities.is_empty() {
        blocks.push(Block::Divider {});
        // Room for events: whatever the other blocks leave, minus one for "N more".
        let room = MAX_BLOCKS - blocks.len() - footer.len() - 1;
        let shown = report.activities.len().min(room);
        blocks.extend(
            report.activities[..shown]
                .iter()
                .map(|a| Block::section(&activity_line(a))),
        );
        let hidden = report.activities.len() - shown;
        if hidden > 0 {
            blocks.push(Block::context(&[format!(
                "…and *{hidden} more* older event{} not shown. Narrow the window or the filter, or run `marketplace-activity query` for the full list.",
                if hidden == 1 { "" } else { "s" }
            )]));
        }
    }
    blocks.extend(footer);
    let response_type = if share {
        ResponseType::InChannel
    } else {
        ResponseType::Ephemeral
    };
    Message::new(Some(response_type), &report.summary(), blocks)
}

fn notes(report: &Report) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(asked) = report.window.clamped_from {
        notes.push(format!(
            ":information_source: CloudTrail keeps 90 days, so this starts {} (you asked from {}). Older activity is in your trail's S3 logs.",
            date_token(report.window.start),
            asked.format("%Y-%m-%d")
        ));
    }
    for (region, err) in &report.failures {
        notes.push(format!(
            ":warning: {} is missing: {}",
            escape(region),
            err.user_message()
        ));
    }
    if report.skipped > 0 {
        notes.push(format!(
            ":warning: {} CloudTrail record{} could not be read and {} not shown.",
            report.skipped,
            if report.skipped == 1 { "" } else { "s" },
            if report.skipped == 1 { "is" } else { "are" }
        ));
    }
    if report.reads_hidden > 0 {
        notes.push(format!(
            "{} read-only call{} (DescribeAgreement and the like) not shown.",
            report.reads_hidden,
            if report.reads_hidden == 1 { "" } else { "s" }
        ));
    }
    notes
}

/// The immediate acknowledgement while the lookup runs.
pub fn looking_up(window: &TimeWindow) -> Message {
    let text = format!(
        ":hourglass_flowing_sand: Looking up Marketplace activity for the {}…",
        window.label
    );
    Message::ephemeral(&text, vec![])
}

pub fn usage() -> Message {
    Message::ephemeral(USAGE, vec![Block::section(USAGE)])
}

/// A mistake in the command: what was not understood, then the usage.
pub fn command_error(err: &CommandError) -> Message {
    let first = format!(":warning: {}", escape(&err.to_string()));
    Message::ephemeral(&first, vec![Block::section(&first), Block::section(USAGE)])
}

/// A failure the person can act on. Always ephemeral: errors don't belong in the channel.
pub fn error_message(text: &str) -> Message {
    let text = format!(":warning: {text}");
    Message::ephemeral(&text, vec![Block::section(&text)])
}

pub fn refused() -> Message {
    error_message(
        "Sorry, this workspace, channel or user isn't allowed to use `/marketplace-activity`. Ask the app's admins to add you.",
    )
}
