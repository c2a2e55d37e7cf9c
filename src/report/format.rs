//! Reports for a terminal or a script: `query --format text|json|csv`.

use std::io::Write;

use super::{headline, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
}

/// The CSV columns, one row per activity (the slash command's `csv` export writes the same).
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

pub fn write(report: &Report, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    match format {
        Format::Text => write_text(report, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        Format::Csv => write_csv(report, out),
    }
}

fn write_text(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    let w = &report.window;
    writeln!(
        out,
        "{} ({} to {})",
        report.title(),
        w.start.format("%Y-%m-%d %H:%M UTC"),
        w.end.format("%Y-%m-%d %H:%M UTC")
    )?;
    if let Some(asked) = w.clamped_from {
        writeln!(
            out,
            "note: CloudTrail keeps 90 days; the window was shortened (asked from {}).",
            asked.format("%Y-%m-%d")
        )?;
    }
    for f in &report.failures {
        writeln!(
            out,
            "error in {}: {} ({})",
            f.place(),
            f.error.user_message(),
            f.error
        )?;
    }
    if let Some(why) = &report.details_unavailable {
        writeln!(out, "note: some {why}.")?;
    }
    writeln!(out, "{}", report.summary())?;
    for a in &report.activities {
        writeln!(
            out,
            "{}  {:<40}  {:<30}  by {}  account {}  {}{}",
            a.time.format("%Y-%m-%d %H:%M:%S UTC"),
            headline(a),
            a.agreement_id.as_ref().map_or("-", |id| id.as_str()),
            a.actor,
            a.account_alias
                .as_deref()
                .or(a.account_id.as_deref())
                .unwrap_or("-"),
            a.region,
            a.facts
                .product_title
                .as_deref()
                .or(a.facts.product_id.as_deref())
                .map(|p| format!("  {p}"))
                .unwrap_or_default()
        )?;
    }
    if report.skipped > 0 {
        writeln!(
            out,
            "note: {} records could not be read and are not shown.",
            report.skipped
        )?;
    }
    if report.reads_hidden > 0 {
        writeln!(
            out,
            "note: {} read-only calls are not shown.",
            report.reads_hidden
        )?;
    }
    Ok(())
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
    csv.flush()
}
