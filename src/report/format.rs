//! Reports for a terminal or a script: `query --format text|json|csv`.

use std::io::Write;

use super::{headline, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Csv,
}

/// The CSV columns, one row per activity.
pub const CSV_HEADER: [&str; 11] = [
    "time",
    "account",
    "region",
    "kind",
    "event_name",
    "outcome",
    "error_code",
    "agreement_id",
    "agreement_request_id",
    "actor",
    "source_ip",
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
    for (region, e) in &report.failures {
        writeln!(out, "error in {region}: {} ({e})", e.user_message())?;
    }
    writeln!(out, "{}", report.summary())?;
    for a in &report.activities {
        writeln!(
            out,
            "{}  {:<40}  {:<30}  by {}  account {}  {}",
            a.time.format("%Y-%m-%d %H:%M:%S UTC"),
            headline(a),
            a.agreement_id.as_ref().map_or("-", |id| id.as_str()),
            a.actor,
            a.account_id.as_deref().unwrap_or("-"),
            a.region
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
        let (outcome, code) = match &a.outcome {
            crate::domain::Outcome::Succeeded => ("succeeded", ""),
            crate::domain::Outcome::Failed { code, .. } => ("failed", code.as_str()),
        };
        csv.write_record([
            a.time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                .as_str(),
            a.account_id.as_deref().unwrap_or(""),
            a.region.as_str(),
            a.kind.label(),
            a.event_name.as_str(),
            outcome,
            code,
            a.agreement_id.as_ref().map_or("", |id| id.as_str()),
            a.agreement_request_id.as_deref().unwrap_or(""),
            &a.actor.to_string(),
            a.source_ip.as_deref().unwrap_or(""),
        ])?;
    }
    csv.flush()
}
