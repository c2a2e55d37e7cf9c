//! How activity looks in Slack. The slash command's report and (later) channel notifications
//! share [`activity_line`], so both read as one product.

use super::blocks::{date_token, escape, Block, Message, ResponseType, MAX_BLOCKS};
use crate::domain::{Activity, ActivityKind, Actor, CommandError, Origin, TimeWindow, USAGE};
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
    let who = match a.actor {
        Actor::Unknown => String::new(),
        ref actor => format!("by *{}* · ", escape(&actor.to_string())),
    };
    let account = match (&a.account_alias, &a.account_id) {
        (Some(alias), _) => format!(" · {}", escape(alias)),
        _ => account,
    };
    let mut line = format!(
        "{} *{}*{agreement}\n{who}{}{account} · {}",
        marker(a),
        escape(&headline(a)),
        date_token(a.time),
        escape(&a.region)
    );
    if let Some(details) = details_line(a) {
        line.push('\n');
        line.push_str(&details);
    }
    line
}

/// What the agreement is, when known: "Example Platform from Example Inc. · 12000.00 USD ·
/// until 2027-11-01".
fn details_line(a: &Activity) -> Option<String> {
    let f = &a.facts;
    let mut parts = Vec::new();
    if f.product_title.is_some() || f.product_id.is_some() {
        let mut what = product_name(a);
        if let Some(seller) = seller_name(a) {
            what.push_str(&format!(" from {seller}"));
        }
        parts.push(what);
    }
    if let Some(value) = money(f) {
        parts.push(value);
    }
    if let Some(ends) = f.ends {
        parts.push(format!("until {}", ends.format("%Y-%m-%d")));
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

fn money(f: &crate::domain::AgreementFacts) -> Option<String> {
    let value = f.value.as_deref()?;
    Some(match &f.currency {
        Some(c) => format!("{} {}", escape(value), escape(c)),
        None => escape(value),
    })
}

fn window_line(w: &TimeWindow) -> String {
    format!("{} to {}", date_token(w.start), date_token(w.end))
}

/// The slash command's answer.
pub fn report_message(report: &Report, share: bool) -> Message {
    if report.nothing_answered {
        let f = &report.failures[0];
        return error_message(&format!(
            "Couldn't look up Marketplace activity ({}): {}",
            escape(&f.place()),
            f.error.user_message()
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
    if report.by_account {
        push_by_account(report, &mut blocks, footer.len());
    } else if !report.activities.is_empty() {
        blocks.push(Block::Divider {});
        let all: Vec<&Activity> = report.activities.iter().collect();
        push_events(&all, &mut blocks, MAX_BLOCKS - footer.len());
    }
    blocks.extend(footer);
    let response_type = if share {
        ResponseType::InChannel
    } else {
        ResponseType::Ephemeral
    };
    Message::new(Some(response_type), &report.summary(), blocks)
}

/// Adds the newest events that fit before `limit` blocks (keeping one for "N more").
fn push_events(events: &[&Activity], blocks: &mut Vec<Block>, limit: usize) {
    let room = limit.saturating_sub(blocks.len() + 1);
    let shown = events.len().min(room);
    blocks.extend(
        events[..shown]
            .iter()
            .map(|a| Block::section(&activity_line(a))),
    );
    let hidden = events.len() - shown;
    if hidden > 0 {
        blocks.push(Block::context(&[format!(
            "…and *{hidden} more* older event{} not shown. Narrow the window or the filter, or add `csv` for the full list.",
            if hidden == 1 { "" } else { "s" }
        )]));
    }
}

/// One heading per account with its counts and failures, then its events; the room for events
/// is shared so every account gets its heading.
fn push_by_account(report: &Report, blocks: &mut Vec<Block>, footer: usize) {
    let sections = report.sections();
    let headings = sections.len() * 2;
    let mut room_left = MAX_BLOCKS.saturating_sub(blocks.len() + footer + headings);
    for section in &sections {
        blocks.push(Block::Divider {});
        let parts = section.counts.parts();
        let mut text = format!(
            "*{}*: {}",
            escape(&section.label),
            if parts.is_empty() {
                "no activity".to_owned()
            } else {
                parts.join(" · ")
            }
        );
        for f in &section.failures {
            text.push_str(&format!(
                "\n:warning: {}: {}",
                escape(&f.region),
                f.error.user_message()
            ));
        }
        blocks.push(Block::section(&text));
        let share = room_left.min(section.activities.len() + 1);
        let limit = blocks.len() + share;
        push_events(&section.activities, blocks, limit);
        room_left = room_left.saturating_sub(share);
    }
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
    if !report.by_account {
        for f in &report.failures {
            notes.push(format!(
                ":warning: {} is missing: {}",
                escape(&f.place()),
                f.error.user_message()
            ));
        }
    }
    if let Some(why) = &report.details_unavailable {
        notes.push(format!(":information_source: Some {why}."));
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

/// A channel notification: the text fallback and the blocks.
pub struct Notification {
    pub text: String,
    pub blocks: Vec<Block>,
}

/// Whether an activity deserves a loud message (header, fields, button): purchases, changes
/// and cancellations that happened. Everything else is one quiet line.
pub fn is_loud(a: &Activity) -> bool {
    !a.outcome.is_failed() && (a.kind.is_purchase() || a.kind.is_cancellation())
}

fn loud_title(kind: &ActivityKind) -> &'static str {
    match kind {
        ActivityKind::Purchase => ":large_green_circle: New Marketplace purchase",
        ActivityKind::Amendment => ":large_blue_circle: Marketplace agreement amended",
        ActivityKind::Replacement => ":large_blue_circle: Marketplace agreement replaced",
        ActivityKind::Renewal => ":large_blue_circle: Marketplace agreement renewed",
        _ => ":red_circle: Marketplace subscription cancelled",
    }
}

/// What was bought, as a person names it: the product title, else its id, else the agreement.
fn product_name(a: &Activity) -> String {
    let f = &a.facts;
    match (&f.product_title, &f.product_id, &a.agreement_id) {
        (Some(title), _, _) => escape(title),
        (None, Some(id), _) => format!("product `{}`", escape(id)),
        (None, None, Some(agreement)) => format!("agreement `{agreement}`"),
        (None, None, None) => "an agreement".into(),
    }
}

fn seller_name(a: &Activity) -> Option<String> {
    let f = &a.facts;
    match (&f.seller_name, &f.seller_account) {
        (Some(name), _) => Some(escape(name)),
        (None, Some(account)) => Some(format!("seller account {}", escape(account))),
        _ => None,
    }
}

/// One message per activity. `mention` (e.g. `<!here>`) leads cancellations.
pub fn notification(a: &Activity, mention: Option<&str>, note: Option<&str>) -> Notification {
    let product = product_name(a);
    let seller = seller_name(a);
    let lead = mention.map(|m| format!("{m} ")).unwrap_or_default();
    if !is_loud(a) {
        let mut line = activity_line(a);
        if !a.facts.is_empty() {
            line.push_str(&format!("\n{product}"));
            if let Some(seller) = &seller {
                line.push_str(&format!(" from {seller}"));
            }
            if let (ActivityKind::Ending, Some(ends)) = (&a.kind, a.facts.ends) {
                line.push_str(&format!(" · ends {}", date_token(ends)));
            }
        }
        let subject = match (&a.agreement_id, &a.actor) {
            (Some(id), _) => format!(": {id}"),
            (None, Actor::Unknown) => String::new(),
            (None, actor) => format!(" by {actor}"),
        };
        let text = format!("{}{subject}", headline(a));
        let mut blocks = vec![Block::section(&line)];
        if let Some(n) = note {
            blocks.push(Block::context(&[format!("Some {n}.")]));
        }
        return Notification { text, blocks };
    }
    let title = loud_title(&a.kind);
    let mut summary = format!("{lead}*{product}*");
    if let Some(seller) = &seller {
        summary.push_str(&format!(" from *{seller}*"));
    }
    let mut fields = vec![format!("*When*\n{}", date_token(a.time))];
    if a.actor != Actor::Unknown {
        fields.push(format!("*Who*\n{}", escape(&a.actor.to_string())));
    }
    if let Some(id) = &a.agreement_id {
        fields.push(format!("*Agreement*\n`{id}`"));
    }
    if let Some(offer) = a.facts.offer_name.as_ref().or(a.facts.offer_id.as_ref()) {
        fields.push(format!("*Offer*\n{}", escape(offer)));
    }
    match (&a.account_alias, &a.account_id) {
        (Some(alias), Some(id)) => {
            fields.push(format!("*Account*\n{} ({})", escape(alias), escape(id)))
        }
        (None, Some(id)) => fields.push(format!("*Account*\n{}", escape(id))),
        (Some(alias), None) => fields.push(format!("*Account*\n{}", escape(alias))),
        (None, None) => {}
    }
    if let Some(value) = money(&a.facts) {
        fields.push(format!("*Estimated value*\n{value}"));
    }
    fields.push(format!("*Region*\n{}", escape(&a.region)));
    if let (Some(start), Some(end)) = (a.facts.starts, a.facts.ends) {
        if !a.kind.is_cancellation() {
            fields.push(format!(
                "*Term*\n{} to {}",
                start.format("%Y-%m-%d"),
                end.format("%Y-%m-%d")
            ));
        }
    }
    let mut context: Vec<String> = note.map(|n| format!("Some {n}.")).into_iter().collect();
    if a.actor == Actor::Unknown {
        context.push("Who did it is not in Marketplace's event; the CloudTrail call, when it arrives, adds it here.".to_owned());
    }
    if a.origin == Origin::CloudTrail
        && a.facts.product_title.is_none()
        && a.facts.product_id.is_none()
    {
        context.push("The product is not in the CloudTrail record; Marketplace's own event, when it arrives, adds it here.".to_owned());
    }
    let text = format!(
        "{lead}{}: {} ({})",
        title.split_once(' ').map_or(title, |(_, t)| t),
        product.replace('`', ""),
        a.agreement_id.as_ref().map_or("", |id| id.as_str())
    );
    let mut blocks = vec![
        Block::header(title),
        Block::section_with_fields(&summary, &fields),
    ];
    if !context.is_empty() {
        blocks.push(Block::context(&context));
    }
    blocks.push(Block::link_button(
        "Open Marketplace subscriptions",
        CONSOLE_SUBSCRIPTIONS_URL,
        "open_subscriptions",
    ));
    Notification { text, blocks }
}
