//! Reports for a terminal or a script: `query --format text|json|csv`.

use std::io::Write;

use super::{headline, Report};
use crate::domain::{Activity, Audience, Failure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
}

/// The CSV columns, one row per activity, then one per account and region that could not be
/// read (the slash command's `csv` export writes the same).
pub const CSV_HEADER: [&str; 12] = [
    "time",
    "account",
    "alias",
    "region",
    "kind",
    "event_name",
    "agreement_id",
    "product",
    "seller",
    "actor",
    "source_ip",
    "error_code",
];

/// How the text table is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Fits [`NARROW_WIDTH`] columns: time, what, agreement and who, long cells wrapped;
    /// several accounts under their own headings.
    #[default]
    Narrow,
    /// Every column (account, region, product, source IP too), nothing wrapped.
    Wide,
}

/// The width the narrow layout keeps to.
pub const NARROW_WIDTH: usize = 100;

pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    write_with(report, format, Layout::Narrow, out)
}

pub fn write_with(
    report: &Report,
    format: Format,
    layout: Layout,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        Format::Text => write_text(report, layout, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Csv => write_csv(report, out),
    }
}

fn write_text(report: &Report, layout: Layout, out: &mut dyn Write) -> std::io::Result<()> {
    let w = &report.window;
    let mut lines = vec![report.title()];
    let mut span = format!(
        "{} to {}",
        w.start.format("%Y-%m-%d %H:%M UTC"),
        w.end.format("%Y-%m-%d %H:%M UTC")
    );
    if !report.examined.source.is_empty() {
        span.push_str(&format!(" · {}", report.examined.source));
    }
    lines.push(span);
    if let Some(asked) = w.clamped_from {
        lines.push(format!(
            "note: CloudTrail keeps 90 days; the window was shortened (asked from {}).",
            asked.format("%Y-%m-%d")
        ));
    }
    if !report.by_account {
        for f in &report.failures {
            lines.extend(failure_lines(f));
        }
    }
    if let Some(why) = &report.details_unavailable {
        lines.push(format!("note: some {why}."));
    }
    let parts = report.counts.parts();
    if parts.is_empty() {
        lines.push(report.summary());
        lines.extend(why_empty(report));
    } else {
        lines.push(format!("{}.", parts.join(", ")));
    }
    let many = report.many_accounts();
    if many {
        lines.push(format!(
            "{} of {} accounts had activity.",
            report.accounts_with_activity, report.accounts_asked
        ));
        let (failed, causes) = report.failed_accounts();
        if failed > 0 {
            let causes: Vec<String> = causes
                .iter()
                .map(|(cause, n)| format!("{cause} in {n}"))
                .collect();
            lines.push(format!(
                "{failed} of {} accounts could not be read: {}. `--format csv` or `--format json` lists each account and region with the cause.",
                report.accounts_asked,
                causes.join(", ")
            ));
        }
    }
    for line in &lines {
        write_wrapped(out, line, "")?;
    }
    if report.by_account && layout == Layout::Narrow {
        let mut sections = report.sections();
        if many {
            // Only the accounts with activity, the most recent first.
            sections.retain(|s| !s.activities.is_empty());
            sections.sort_by(|a, b| b.activities[0].time.cmp(&a.activities[0].time));
        }
        for section in sections {
            let parts = section.counts.parts();
            writeln!(out)?;
            let heading = format!(
                "{}: {}",
                section.label,
                if parts.is_empty() {
                    "no activity".to_owned()
                } else {
                    parts.join(", ")
                }
            );
            write_wrapped(out, &heading, "")?;
            for f in section.failures.iter().filter(|_| !many) {
                for line in failure_lines(f) {
                    write_wrapped(out, &line, "  ")?;
                }
            }
            if !section.activities.is_empty() {
                write_table(out, &section.activities, layout)?;
            }
        }
    } else {
        if report.by_account && !many {
            for f in &report.failures {
                for line in failure_lines(f) {
                    write_wrapped(out, &line, "")?;
                }
            }
        }
        if !report.activities.is_empty() {
            writeln!(out)?;
            let all: Vec<&Activity> = report.activities.iter().collect();
            write_table(out, &all, layout)?;
        }
    }
    for note in notes(report) {
        write_wrapped(out, &note, "")?;
    }
    Ok(())
}

/// A failed account or region: one line of cause, one of fix.
fn failure_lines(f: &Failure) -> [String; 2] {
    [
        format!("error: CloudTrail in {}: {}.", f.place(), f.error.cause()),
        format!("  fix: {}", f.error.fix(Audience::Terminal)),
    ]
}

/// Why the report is empty, from what was read: how much, what the filter left out, and
/// where the records outside the window are.
fn why_empty(report: &Report) -> Vec<String> {
    if report.nothing_answered {
        return Vec::new();
    }
    let e = &report.examined;
    let mut lines = Vec::new();
    if report.from_files() {
        let mut read = format!("Read {} from {}", counted(e.records, "record"), e.source);
        match e.agreement_records {
            0 => read.push_str(": none is about a Marketplace agreement"),
            n => read.push_str(&format!(": {} about Marketplace agreements", thousands(n))),
        }
        if e.duplicates > 0 {
            read.push_str(&format!(
                " ({} found in more than one file counted once)",
                thousands(e.duplicates)
            ));
        }
        lines.push(format!("{read}."));
    } else if e.records == 0 && report.failures.is_empty() {
        lines.push(format!(
            "{} has no Marketplace agreement events in this window.",
            e.source
        ));
    }
    if report.filtered_out > 0 {
        lines.push(format!(
            "{} in this window {} {}; `all` lists {}.",
            counted(report.filtered_out, "agreement event"),
            either(report.filtered_out, "is", "are"),
            report.left_out(),
            either(report.filtered_out, "it", "them"),
        ));
    }
    if let Some(o) = &e.outside_window {
        let (n, them) = if o.count == 1 && e.agreement_records == 1 {
            ("It is".to_owned(), "it")
        } else if o.count == 1 {
            ("1 of them is".to_owned(), "it")
        } else if o.count == e.agreement_records {
            (format!("All {} are", thousands(o.count)), "them")
        } else {
            (format!("{} of them are", thousands(o.count)), "them")
        };
        lines.push(format!(
            "{n} outside this window, from {} to {}: ask for {} to include {them}.",
            o.first.format("%Y-%m-%d %H:%M UTC"),
            o.last.format("%Y-%m-%d %H:%M UTC"),
            o.window_word(),
        ));
    }
    if !report.from_files() && e.records == 0 && report.failures.is_empty() {
        lines.push(
            "Agreement events are logged in us-east-1 (CLOUDTRAIL_REGIONS says where to look); \
             activity older than 90 days is only in your trail's S3 logs: `marketplace-activity \
             query --events-file`."
                .to_owned(),
        );
    }
    lines
}

/// What was left out or could not be read.
fn notes(report: &Report) -> Vec<String> {
    let e = &report.examined;
    let mut notes = Vec::new();
    if report.skipped > 0 {
        notes.push(format!(
            "note: {} could not be read and {} not shown.",
            counted(report.skipped, "record"),
            either(report.skipped, "is", "are")
        ));
    }
    if e.duplicates > 0 && !report.activities.is_empty() {
        notes.push(format!(
            "note: {} found in more than one file {} counted once.",
            counted(e.duplicates, "record"),
            either(e.duplicates, "was", "were")
        ));
    }
    if e.unreadable_file_count > 0 {
        notes.push(format!(
            "note: {} could not be read: {}{}.",
            counted(e.unreadable_file_count, "file"),
            e.unreadable_files.join("; "),
            if e.unreadable_file_count > e.unreadable_files.len() {
                "; …"
            } else {
                ""
            }
        ));
    }
    if e.files_without_records > 0 {
        notes.push(format!(
            "note: {} held no CloudTrail records (digest files, for instance) and {} left out.",
            counted(e.files_without_records, "file"),
            either(e.files_without_records, "was", "were")
        ));
    }
    if report.reads_hidden > 0 {
        notes.push(format!(
            "note: {} (DescribeAgreement and the like) {} not listed.",
            counted(report.reads_hidden, "read-only call"),
            either(report.reads_hidden, "is", "are")
        ));
    }
    notes
}

/// 20000 → "20,000".
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "1 record", "20,000 records".
fn counted(n: usize, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), either(n, "", "s"))
}

/// `one` for 1, else `many`.
fn either(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}

/// The activities as a table: narrow (fixed widths, cells wrapped) or wide (every column).
fn write_table(
    out: &mut dyn Write,
    activities: &[&Activity],
    layout: Layout,
) -> std::io::Result<()> {
    let headers: Vec<&str> = match layout {
        Layout::Narrow => vec!["TIME (UTC)", "WHAT", "AGREEMENT", "WHO"],
        Layout::Wide => vec![
            "TIME (UTC)",
            "WHAT",
            "AGREEMENT",
            "WHO",
            "ACCOUNT",
            "REGION",
            "PRODUCT",
            "SOURCE IP",
        ],
    };
    let rows: Vec<Vec<String>> = activities
        .iter()
        .map(|a| {
            let agreement = a
                .agreement_id
                .as_ref()
                .map_or("-".to_owned(), |id| id.to_string());
            match layout {
                Layout::Narrow => vec![
                    a.time.format("%Y-%m-%d %H:%M").to_string(),
                    headline(a),
                    agreement,
                    a.actor.to_string(),
                ],
                Layout::Wide => vec![
                    a.time.format("%Y-%m-%d %H:%M:%S").to_string(),
                    headline(a),
                    agreement,
                    a.actor.to_string(),
                    account_of(a),
                    a.region.clone(),
                    a.facts
                        .product_title
                        .clone()
                        .or_else(|| a.facts.product_id.clone())
                        .unwrap_or_else(|| "-".into()),
                    a.source_ip.clone().unwrap_or_else(|| "-".into()),
                ],
            }
        })
        .collect();
    let mut widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| width(&r[i]))
                .chain([width(headers[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    if layout == Layout::Narrow {
        fit(&mut widths, NARROW_WIDTH);
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    write_row(out, &header, &widths, layout)?;
    for row in &rows {
        write_row(out, row, &widths, layout)?;
    }
    Ok(())
}

/// Narrows the widest of the wrappable columns (what, who) one character at a time until the
/// row, with its 2-space gaps, fits `total`. Time and agreement ids are never wrapped.
fn fit(widths: &mut [usize], total: usize) {
    const WRAPPABLE: [usize; 2] = [1, 3];
    const NARROWEST: usize = 12;
    let gaps = 2 * widths.len().saturating_sub(1);
    while widths.iter().sum::<usize>() + gaps > total {
        let Some(widest) = WRAPPABLE
            .into_iter()
            .filter(|i| widths[*i] > NARROWEST)
            .max_by_key(|i| widths[*i])
        else {
            break;
        };
        widths[widest] -= 1;
    }
}

fn account_of(a: &Activity) -> String {
    match (&a.account_alias, &a.account_id) {
        (Some(alias), Some(id)) => format!("{alias} ({id})"),
        (Some(one), None) | (None, Some(one)) => one.clone(),
        (None, None) => "-".into(),
    }
}

/// One row; in the narrow layout a cell wider than its column continues on the next lines.
fn write_row(
    out: &mut dyn Write,
    cells: &[String],
    widths: &[usize],
    layout: Layout,
) -> std::io::Result<()> {
    let wrapped: Vec<Vec<String>> = cells
        .iter()
        .zip(widths)
        .map(|(cell, w)| match layout {
            Layout::Narrow => wrap(cell, *w),
            Layout::Wide => vec![cell.clone()],
        })
        .collect();
    let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
    for line in 0..height {
        let mut text = String::new();
        for (i, (cell, w)) in wrapped.iter().zip(widths).enumerate() {
            let part = cell.get(line).map(String::as_str).unwrap_or("");
            if i + 1 == widths.len() {
                text.push_str(part);
            } else {
                text.push_str(part);
                text.push_str(&" ".repeat(w.saturating_sub(width(part)) + 2));
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    Ok(())
}

/// Prose wrapped at [`NARROW_WIDTH`], continuation lines indented by `indent` and two spaces.
fn write_wrapped(out: &mut dyn Write, text: &str, indent: &str) -> std::io::Result<()> {
    let first_width = NARROW_WIDTH.saturating_sub(width(indent));
    let lines = wrap(text, first_width);
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            writeln!(out, "{indent}{line}")?;
        } else {
            writeln!(out, "{indent}  {line}")?;
        }
    }
    Ok(())
}

fn width(s: &str) -> usize {
    s.chars().count()
}

/// Splits `text` into lines of at most `max` characters, at spaces where it can, inside a
/// word when the word alone is longer.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let max = max.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_owned();
        loop {
            let needed = if line.is_empty() {
                width(&word)
            } else {
                width(&line) + 1 + width(&word)
            };
            if needed <= max {
                if !line.is_empty() {
                    line.push(' ');
                }
                line.push_str(&word);
                break;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            // A word longer than the line: cut it.
            let cut: String = word.chars().take(max).collect();
            word = word.chars().skip(max).collect();
            lines.push(cut);
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

fn write_csv(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let mut csv = csv::Writer::from_writer(out);
    csv.write_record(CSV_HEADER)?;
    for a in &report.activities {
        let code = match &a.outcome {
            crate::domain::Outcome::Succeeded => "",
            crate::domain::Outcome::Failed { code, .. } => code.as_str(),
        };
        let f = &a.facts;
        let product = f
            .product_title
            .as_deref()
            .or(f.product_id.as_deref())
            .unwrap_or("");
        let seller = f
            .seller_name
            .as_deref()
            .or(f.seller_account.as_deref())
            .unwrap_or("");
        csv.write_record([
            a.time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .as_str(),
            a.account_id.as_deref().unwrap_or(""),
            a.account_alias.as_deref().unwrap_or(""),
            a.region.as_str(),
            a.kind.label(),
            a.event_name.as_str(),
            a.agreement_id.as_ref().map_or("", |id| id.as_str()),
            product,
            seller,
            &a.actor.to_string(),
            a.source_ip.as_deref().unwrap_or(""),
            code,
        ])?;
    }
    // Every account and region that could not be read, after the activities: kind
    // `not read`, the cause in `error_code`.
    for f in &report.failures {
        let cause = f.error.cause();
        csv.write_record([
            "",
            f.account.id.as_deref().unwrap_or(""),
            f.account.alias.as_deref().unwrap_or(""),
            f.region.as_str(),
            "not read",
            "",
            "",
            "",
            "",
            "",
            "",
            cause.as_str(),
        ])?;
    }
    csv.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(20_000), "20,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn wrapping_at_spaces_and_inside_long_words() {
        assert_eq!(
            wrap("alice@example.com (IAM user)", 24),
            ["alice@example.com (IAM", "user)"]
        );
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn columns_narrow_until_the_row_fits() {
        let mut widths = vec![16, 47, 30, 28];
        fit(&mut widths, 100);
        assert_eq!(widths.iter().sum::<usize>() + 6, 100);
        assert_eq!(
            (widths[0], widths[2]),
            (16, 30),
            "time and agreement stay whole"
        );
        let mut small = vec![16, 12, 30, 20];
        fit(&mut small, 100);
        assert_eq!(small, [16, 12, 30, 20], "what fits is left alone");
    }
}
