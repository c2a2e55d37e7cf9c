//! Every word Slack shows, in one place: the slash command's answers and errors, the digest,
//! and channel notifications. Reports and notifications share [`activity_line`], so both read
//! as one product. Handlers and jobs decide *what* to say; this module says it.

use super::actions::{self, DetailsRef, PageRef};
use super::blocks::{date_token, escape, Block, Button, Message, ResponseType, MAX_BLOCKS};
use crate::domain::{
    Account, Activity, ActivityKind, Actor, AgreementFacts, AgreementId, AgreementTerms,
    CommandError, Ending, Origin, PriceBasis, TimeWindow, WindowError, USAGE,
};
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
    if report.nothing_answered && report.many_accounts() {
        return error_message(&format!(
            "Couldn't look up Marketplace activity: {}",
            failures_line(report).unwrap_or_default()
        ));
    }
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
        let mut text = format!(
            "{}\n{}",
            escape(&report.summary()),
            window_line(&report.window)
        );
        for line in why_empty(report) {
            text.push('\n');
            text.push_str(&line);
        }
        text
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
        actions::OPEN_SUBSCRIPTIONS,
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

/// One activity as a section, with a "Details" button when it has an agreement.
fn activity_block(a: &Activity) -> Block {
    match details_button(a) {
        Some(button) => Block::section_with_button(&activity_line(a), button),
        None => Block::section(&activity_line(a)),
    }
}

/// "Details" for an activity's agreement: answered to the clicking person only.
fn details_button(a: &Activity) -> Option<Button> {
    let agreement = a.agreement_id.clone()?;
    let value = actions::encode(&DetailsRef {
        agreement,
        account: a.account_id.clone(),
    });
    Some(Button::action("Details", actions::DETAILS, value))
}

/// Activities on one page of an answer (fewer when several accounts each take a heading).
pub const PAGE_SIZE: usize = 40;

fn page_size(report: &Report) -> usize {
    if report.by_account {
        PAGE_SIZE
            .saturating_sub(2 * report.sections().len())
            .max(10)
    } else {
        PAGE_SIZE
    }
}

/// The slash command's answer, one page of it: when the activities don't fit one message, the
/// page at `offset` (newest first) with its position and "Newer"/"Older" buttons, whose values
/// say how to build the neighbouring page (see [`PageRef`]).
pub fn report_page(report: &Report, share: bool, text: &str, offset: usize) -> Message {
    let size = page_size(report);
    let total = report.activities.len();
    let pageable = !report.nothing_answered && text.len() <= actions::MAX_QUERY_TEXT;
    if !pageable || (total <= size && offset == 0) {
        return report_message(report, share);
    }
    let start = offset.min(total.saturating_sub(1) / size * size);
    let end = (start + size).min(total);
    let mut message = report_message(&report.page(start..end), share);
    let page = |offset| PageRef {
        window: report.window.clone(),
        text: text.to_owned(),
        offset,
        share,
    };
    let mut buttons = Vec::new();
    if start > 0 {
        let value = actions::encode(&page(start.saturating_sub(size)));
        buttons.push(Button::action("Newer", actions::PAGE, value));
    }
    if end < total {
        buttons.push(Button::action(
            "Older",
            actions::PAGE,
            actions::encode(&page(end)),
        ));
    }
    let position = Block::context(&[format!(
        "Activities {}–{end} of {total}, newest first.",
        start + 1
    )]);
    let at = message.blocks.len().saturating_sub(1);
    message.blocks.insert(at, Block::actions(buttons));
    message.blocks.insert(at, position);
    message.blocks.truncate(MAX_BLOCKS);
    message
}

/// Why an answer lists nothing, from what the lookup read: what was searched, what the
/// filter left out, and when records outside the window happened (with a window that
/// includes them).
fn why_empty(report: &Report) -> Vec<String> {
    let e = &report.examined;
    let source = escape(&e.source);
    let mut lines = Vec::new();
    if report.from_files() {
        lines.push(format!(
            "Read {} record{} from {source}, {} about Marketplace agreements.",
            e.records,
            if e.records == 1 { "" } else { "s" },
            e.agreement_records
        ));
    } else if e.records == 0 && report.failures.is_empty() {
        lines.push(format!(
            "{source} has no Marketplace agreement events in this window. They are logged in us-east-1; activity older than 90 days is only in your trail's S3 logs (`marketplace-activity query --events-file`)."
        ));
    }
    if report.filtered_out > 0 {
        let n = report.filtered_out;
        lines.push(format!(
            "{n} agreement event{} in this window {} {}: `all` in its place lists {}.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "is" } else { "are" },
            report.left_out(),
            if n == 1 { "it" } else { "them" },
        ));
    }
    if let Some(o) = &e.outside_window {
        lines.push(format!(
            "{} {} outside this window, from {} to {}: ask for `{}` to include {}.",
            o.count,
            if o.count == 1 { "is" } else { "are" },
            date_token(o.first),
            date_token(o.last),
            o.window_word(),
            if o.count == 1 { "it" } else { "them" },
        ));
    }
    lines
}

/// Adds the newest events that fit before `limit` blocks (keeping one for "N more").
fn push_events(events: &[&Activity], blocks: &mut Vec<Block>, limit: usize) {
    let room = limit.saturating_sub(blocks.len() + 1);
    let shown = events.len().min(room);
    blocks.extend(events[..shown].iter().map(|a| activity_block(a)));
    let hidden = events.len() - shown;
    if hidden > 0 {
        blocks.push(Block::context(&[format!(
            "…and *{hidden} more* older event{} not shown. Narrow the window or the filter, or add `csv` for the full list.",
            if hidden == 1 { "" } else { "s" }
        )]));
    }
}

/// "12 of 340 accounts could not be read: the role could not be assumed in 10, CloudTrail
/// denied access in 2." with where the full list is; none when every account answered.
fn failures_line(report: &Report) -> Option<String> {
    let (failed, causes) = report.failed_accounts();
    if failed == 0 {
        return None;
    }
    let causes: Vec<String> = causes
        .iter()
        .map(|(cause, n)| format!("{cause} in {n}"))
        .collect();
    Some(format!(
        "{failed} of {} account{} could not be read: {}. The CSV (`csv`) lists each account and region with its cause.",
        report.accounts_asked,
        if report.accounts_asked == 1 { "" } else { "s" },
        causes.join(", ")
    ))
}

/// One heading per account with its counts and failures, then its events; the room for events
/// is shared so every account gets its heading. With many accounts, only those with activity
/// (the most recent first), after one line for all the failures.
fn push_by_account(report: &Report, blocks: &mut Vec<Block>, footer: usize) {
    let mut sections = report.sections();
    if report.many_accounts() {
        sections.retain(|s| !s.activities.is_empty());
        sections.sort_by(|a, b| b.activities[0].time.cmp(&a.activities[0].time));
        let mut lines = vec![format!(
            "*{} of {} accounts* had activity in this window.",
            report.accounts_with_activity, report.accounts_asked
        )];
        lines.extend(failures_line(report).map(|l| format!(":warning: {l}")));
        blocks.push(Block::context(&lines));
        // Each account shown takes a divider, a heading and at least one event.
        let fits = MAX_BLOCKS.saturating_sub(blocks.len() + footer + 1) / 3;
        if sections.len() > fits {
            let hidden = sections.len() - fits;
            sections.truncate(fits);
            push_sections(report, &sections, blocks, footer + 1);
            blocks.push(Block::context(&[format!(
                "…and *{hidden} more account{}* with activity not shown. Add `csv` for every account, or `account:<name>` for one.",
                if hidden == 1 { "" } else { "s" }
            )]));
            return;
        }
    }
    push_sections(report, &sections, blocks, footer);
}

fn push_sections(
    report: &Report,
    sections: &[crate::report::AccountSection<'_>],
    blocks: &mut Vec<Block>,
    footer: usize,
) {
    let headings = sections.len() * 2;
    let mut room_left = MAX_BLOCKS.saturating_sub(blocks.len() + footer + headings);
    for section in sections {
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
        for f in section.failures.iter().filter(|_| !report.many_accounts()) {
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

/// The "looking up…" message again, with how far the lookup has got (replacing it in place).
pub fn progress(window_label: &str, done: usize, total: usize) -> Message {
    let text = format!(
        ":hourglass_flowing_sand: Looking up Marketplace activity for the {window_label}… read {done} of {total} accounts…"
    );
    Message::ephemeral(&text, vec![]).replacing_original(true)
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

/// `account:<word>` names no configured account.
pub fn unknown_account(word: &str, accounts: &[Account]) -> Message {
    let known: Vec<String> = accounts
        .iter()
        .filter_map(|a| a.alias.clone().or_else(|| a.id.clone()))
        .map(|a| format!("`{}`", escape(&a)))
        .collect();
    /// Names listed at most (an organization has hundreds).
    const LISTED: usize = 20;
    let known = if known.is_empty() {
        "No accounts are configured (ACCOUNTS); the app reports on its own account.".to_owned()
    } else if known.len() > LISTED {
        format!(
            "Known accounts include {} and {} more (`account:` takes a name or a 12-digit id).",
            known[..LISTED].join(", "),
            known.len() - LISTED
        )
    } else {
        format!("Known accounts: {}.", known.join(", "))
    };
    error_message(&format!(
        "I don't know the account `{}`. {known}",
        escape(word)
    ))
}

/// The window the person typed can't be looked up.
pub fn bad_window(text: &str, err: &WindowError) -> Message {
    error_message(&format!(
        "{}: {err}.\nTry `/marketplace-activity help`.",
        escape(text)
    ))
}

pub fn csv_needs_bot_token() -> Message {
    error_message(
        "CSV export needs the app's bot token: ask its admins to set SLACK_BOT_TOKEN (with the files:write scope).",
    )
}

pub fn too_busy() -> Message {
    error_message("Too many lookups are running right now. Please try again in a minute.")
}

pub fn lookup_timed_out() -> Message {
    error_message("The lookup took too long and was stopped. Try a shorter window or a filter.")
}

/// How a CSV export went, as the line added to the answer.
pub enum CsvExport {
    Uploaded {
        rows: usize,
        name: String,
    },
    NotWritten,
    /// The upload failed for a reason the app's admins must fix.
    Misconfigured(&'static str),
    Failed,
}

/// The answer with the CSV export's line added above its footer.
pub fn with_csv_note(mut message: Message, export: &CsvExport) -> Message {
    let note = match export {
        CsvExport::Uploaded { rows, name } => format!(":page_facing_up: The full list ({rows} rows) was uploaded to this conversation as `{name}`."),
        CsvExport::NotWritten => ":warning: The CSV could not be written; the app's log says why.".into(),
        CsvExport::Misconfigured(fix) => format!(":warning: The CSV upload failed: {fix}"),
        CsvExport::Failed => ":warning: The CSV upload failed; try again, or use `marketplace-activity query --format csv`.".into(),
    };
    message.blocks.insert(
        message.blocks.len().saturating_sub(1),
        Block::context(&[note]),
    );
    message.blocks.truncate(MAX_BLOCKS);
    message
}

/// The title and comment of a report's CSV file.
pub fn csv_file(report: &Report) -> (String, String, String) {
    let name = format!(
        "marketplace-activity-{}-{}.csv",
        report.window.start.format("%Y%m%d"),
        report.window.end.format("%Y%m%d")
    );
    let comment = format!("{} ({} rows)", report.title(), report.activities.len());
    (name, report.title(), comment)
}

/// The digest's agreements ending soon: those found (newest-ending first) and the accounts
/// that could not be asked, with why.
pub struct EndingSoon<'a> {
    pub within_days: i64,
    pub ending: &'a [Ending],
    pub failures: Vec<(String, &'static str)>,
}

/// Ending agreements listed by name in a digest; the rest are counted.
const ENDING_LISTED: usize = 15;

/// The scheduled digest: the period's report under its own title, then the agreements that
/// end soon. Events are dropped from the middle when it doesn't fit, never the header or the
/// ending list.
pub fn digest(report: &Report, ending: Option<&EndingSoon<'_>>) -> Message {
    let mut message = if report.many_accounts() && !report.nothing_answered {
        totals_by_account(report)
    } else {
        report_message(report, true)
    };
    if let Some(Block::Header { .. }) = message.blocks.first() {
        message.blocks[0] = Block::header(&format!("Marketplace digest, {}", report.window.label));
    }
    let mut tail = Vec::new();
    if let Some(ending) = ending {
        tail.push(Block::Divider {});
        tail.push(Block::section(&ending_text(ending)));
    }
    let footer = message.blocks.pop();
    // Room for the tail and the footer; what is over goes from after the summary.
    let keep = MAX_BLOCKS.saturating_sub(tail.len() + usize::from(footer.is_some()));
    if message.blocks.len() > keep {
        let head = 3.min(keep);
        let excess = message.blocks.len() - keep;
        message.blocks.drain(head..head + excess);
    }
    message.blocks.extend(tail);
    message.blocks.extend(footer);
    message.text = format!("Marketplace digest: {}", message.text);
    message
}

/// Accounts whose totals a digest lists by name; the rest are counted.
const TOTALS_LISTED: usize = 40;

/// A digest over many accounts: the totals, then each account with activity and its counts
/// (the busiest first), then the failures in one line; no single events.
fn totals_by_account(report: &Report) -> Message {
    let mut blocks = vec![Block::header(&report.title())];
    let parts = report.counts.parts();
    let counts = if parts.is_empty() {
        "No activity".to_owned()
    } else {
        parts.join(" · ")
    };
    blocks.push(Block::section(&format!(
        "*{counts}*\n{}",
        window_line(&report.window)
    )));
    let mut notes = vec![format!(
        "*{} of {} accounts* had activity.",
        report.accounts_with_activity, report.accounts_asked
    )];
    notes.extend(failures_line(report).map(|l| format!(":warning: {l}")));
    blocks.push(Block::context(&notes));
    let mut sections = report.sections();
    sections.retain(|s| !s.activities.is_empty());
    sections.sort_by(|a, b| {
        b.activities
            .len()
            .cmp(&a.activities.len())
            .then_with(|| a.label.cmp(&b.label))
    });
    let mut lines: Vec<String> = sections
        .iter()
        .take(TOTALS_LISTED)
        .map(|s| format!("• *{}*: {}", escape(&s.label), s.counts.parts().join(" · ")))
        .collect();
    if sections.len() > TOTALS_LISTED {
        lines.push(format!(
            "…and {} more accounts with activity.",
            sections.len() - TOTALS_LISTED
        ));
    }
    // A section's text holds at most 3,000 characters: a few lines per section.
    for chunk in lines.chunks(10) {
        blocks.push(Block::section(&chunk.join("\n")));
    }
    blocks.push(Block::link_button(
        "Open Marketplace subscriptions",
        CONSOLE_SUBSCRIPTIONS_URL,
        actions::OPEN_SUBSCRIPTIONS,
    ));
    Message::new(Some(ResponseType::InChannel), &report.summary(), blocks)
}

/// Accounts named under "could not be searched" in a digest; the rest are counted.
const ENDING_FAILURES_LISTED: usize = 5;

fn ending_text(e: &EndingSoon<'_>) -> String {
    let mut lines = Vec::new();
    for a in e.ending.iter().take(ENDING_LISTED) {
        let what = a
            .product_id
            .as_deref()
            .map(|p| format!(" · product `{}`", escape(p)))
            .unwrap_or_default();
        lines.push(format!(
            "• `{}`{what} · {} · ends {}",
            a.agreement_id,
            escape(&a.account.label()),
            date_token(a.ends)
        ));
    }
    if e.ending.len() > ENDING_LISTED {
        lines.push(format!("…and {} more.", e.ending.len() - ENDING_LISTED));
    }
    if e.ending.is_empty() && e.failures.is_empty() {
        lines.push(format!(
            "No active agreement ends in the next {} days.",
            e.within_days
        ));
    }
    for (account, why) in e.failures.iter().take(ENDING_FAILURES_LISTED) {
        lines.push(format!(":warning: {}: {why}", escape(account)));
    }
    if e.failures.len() > ENDING_FAILURES_LISTED {
        lines.push(format!(
            ":warning: …and {} more accounts whose agreements could not be searched.",
            e.failures.len() - ENDING_FAILURES_LISTED
        ));
    }
    format!(
        "*Ending within {} days*\n{}",
        e.within_days,
        lines.join("\n")
    )
}

/// What a "Details" click answers, to the clicking person only: the agreement as the
/// Marketplace Agreement API describes it and the terms accepted.
pub fn agreement_details(
    id: &AgreementId,
    account: Option<&str>,
    facts: &AgreementFacts,
    terms: &AgreementTerms,
) -> Message {
    let mut fields = Vec::new();
    let product = match (&facts.product_title, &facts.product_id) {
        (Some(title), _) => escape(title),
        (None, Some(product)) => format!("`{}`", escape(product)),
        (None, None) => "not said".into(),
    };
    fields.push(format!("*Product*\n{product}"));
    let seller = match (&facts.seller_name, &facts.seller_account) {
        (Some(name), _) => escape(name),
        (None, Some(account)) => format!("account {}", escape(account)),
        (None, None) => "not said".into(),
    };
    fields.push(format!("*Seller*\n{seller}"));
    if let Some(offer) = facts.offer_name.as_ref().or(facts.offer_id.as_ref()) {
        fields.push(format!("*Offer*\n{}", escape(offer)));
    }
    if let Some(status) = &facts.status {
        fields.push(format!("*Status*\n{}", escape(status)));
    }
    if let (Some(start), Some(end)) = (facts.starts, facts.ends) {
        fields.push(format!(
            "*Term*\n{} to {}",
            start.format("%Y-%m-%d"),
            end.format("%Y-%m-%d")
        ));
    }
    if let Some(renews) = terms.auto_renew {
        let renewal = if renews {
            "renews by itself"
        } else {
            "does not renew by itself"
        };
        fields.push(format!("*Auto-renewal*\n{renewal}"));
    }
    if let Some(value) = money(facts) {
        fields.push(format!("*Estimated value*\n{value}"));
    }
    if let Some(account) = account {
        fields.push(format!("*Account*\n{}", escape(account)));
    }
    let mut blocks = vec![
        Block::header(&format!("Agreement {id}")),
        Block::section_with_fields(&format!("*{product}* from *{seller}*"), &fields),
    ];
    let currency = terms.currency.as_deref().map(escape).unwrap_or_default();
    if !terms.prices.is_empty() {
        let lines: Vec<String> = terms
            .prices
            .iter()
            .take(30)
            .map(|p| {
                let amount = format!("{} {currency}", escape(&p.amount));
                let dimension = escape(&p.dimension);
                match (p.basis, p.quantity) {
                    (PriceBasis::Usage, _) => format!("• `{dimension}`: {amount} per unit used"),
                    (PriceBasis::Upfront, Some(q)) => {
                        format!("• `{dimension}`: {q} × {amount} up front")
                    }
                    (PriceBasis::Upfront, None) => format!("• `{dimension}`: {amount} up front"),
                    (PriceBasis::Recurring, _) => format!("• {amount} every {dimension}"),
                }
            })
            .collect();
        blocks.push(Block::section(&format!("*Pricing*\n{}", lines.join("\n"))));
    }
    if !terms.schedule.is_empty() {
        let lines: Vec<String> = terms
            .schedule
            .iter()
            .take(24)
            .map(|c| match c.date {
                Some(date) => format!(
                    "• {}: {} {currency}",
                    date.format("%Y-%m-%d"),
                    escape(&c.amount)
                ),
                None => format!("• up front: {} {currency}", escape(&c.amount)),
            })
            .collect();
        blocks.push(Block::section(&format!(
            "*Payment schedule*\n{}",
            lines.join("\n")
        )));
    }
    if terms.is_empty() {
        blocks.push(Block::context(&[
            "The Agreement API lists no pricing or renewal terms for this agreement.".to_owned(),
        ]));
    }
    if let Some(duration) = &terms.duration {
        blocks.push(Block::context(&[format!(
            "Agreement duration: {}",
            escape(duration)
        )]));
    }
    blocks.push(Block::link_button(
        "Open Marketplace subscriptions",
        CONSOLE_SUBSCRIPTIONS_URL,
        actions::OPEN_SUBSCRIPTIONS,
    ));
    Message::ephemeral(&format!("Agreement {id}: {product} from {seller}"), blocks)
        .replacing_original(false)
}

/// A "Details" click that could not be answered: why, and what to fix.
pub fn details_unavailable(id: &AgreementId, why: &str) -> Message {
    error_message(&format!("Details of `{id}`: {why}.")).replacing_original(false)
}

/// A page that could not be built again (the lookup failed or took too long).
pub fn page_unavailable(why: &str) -> Message {
    error_message(why).replacing_original(false)
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

/// The message for one change (both its reports, once merged). `mention` (e.g. `<!here>`)
/// leads cancellations.
pub fn notification(a: &Activity, mention: Option<&str>, note: Option<&str>) -> Notification {
    if is_loud(a) {
        loud_notification(a, mention, note)
    } else {
        quiet_notification(a, note)
    }
}

/// One line, as in a report, with what is known of the agreement under it.
fn quiet_notification(a: &Activity, note: Option<&str>) -> Notification {
    let mut line = activity_line(a);
    if !a.facts.is_empty() {
        line.push_str(&format!("\n{}", product_name(a)));
        if let Some(seller) = seller_name(a) {
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
    let mut blocks = vec![match details_button(a) {
        Some(button) => Block::section_with_button(&line, button),
        None => Block::section(&line),
    }];
    if let Some(n) = note {
        blocks.push(Block::context(&[format!("Some {n}.")]));
    }
    Notification { text, blocks }
}

/// A header, the product and seller, the facts as fields, what is still to come, a button.
fn loud_notification(a: &Activity, mention: Option<&str>, note: Option<&str>) -> Notification {
    let product = product_name(a);
    let lead = mention.map(|m| format!("{m} ")).unwrap_or_default();
    let title = loud_title(&a.kind);
    let mut summary = format!("{lead}*{product}*");
    if let Some(seller) = seller_name(a) {
        summary.push_str(&format!(" from *{seller}*"));
    }
    let context = still_to_come(a, note);
    let text = format!(
        "{lead}{}: {}{}",
        title.split_once(' ').map_or(title, |(_, t)| t),
        product.replace('`', ""),
        agreement_after_product(a)
    );
    let mut blocks = vec![
        Block::header(title),
        Block::section_with_fields(&summary, &notification_fields(a)),
    ];
    if !context.is_empty() {
        blocks.push(Block::context(&context));
    }
    let mut buttons = Vec::new();
    buttons.extend(details_button(a));
    buttons.push(Button::link(
        "Open Marketplace subscriptions",
        CONSOLE_SUBSCRIPTIONS_URL,
        actions::OPEN_SUBSCRIPTIONS,
    ));
    blocks.push(Block::actions(buttons));
    Notification { text, blocks }
}

/// " (agmt-…)" after a product's name; nothing when the product is only known by its
/// agreement (the name already is the id) or there is no agreement.
fn agreement_after_product(a: &Activity) -> String {
    let f = &a.facts;
    match &a.agreement_id {
        Some(id) if f.product_title.is_some() || f.product_id.is_some() => format!(" ({id})"),
        _ => String::new(),
    }
}

/// When, who, agreement, offer, account, value, region and term, as far as they are known.
fn notification_fields(a: &Activity) -> Vec<String> {
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
    fields
}

/// What the message is still missing and which report of the change will add it.
fn still_to_come(a: &Activity, note: Option<&str>) -> Vec<String> {
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
    context
}
