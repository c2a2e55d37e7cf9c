//! `marketplace-activity query`: the slash command's report in a terminal, from CloudTrail or
//! from trail logs on disk.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::aws::events_file::{Loaded, Progress};
use crate::aws::reports::{Budget, Reporter};
use crate::aws::{connect, load_sdk_config, ActivitySource};
use crate::config::QueryArgs;
use crate::domain::{Audience, Command, ReadSoFar, USAGE};
use crate::metrics::Metrics;
use crate::report::format::{self, thousands, Format, Layout};

/// A terminal can wait longer for agreement details than Slack's answer does.
const DETAILS_BUDGET: Duration = Duration::from_secs(10);

/// How a query ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// Every account and region answered (with activity or without).
    Fully,
    /// Some or all of the lookup failed; what failed has been printed once.
    Partly,
}

pub async fn run(args: QueryArgs) -> anyhow::Result<Answered> {
    let text = args.words.join(" ");
    let query = match Command::parse(&text) {
        Ok(Command::Report(q)) => q,
        Ok(Command::Help) => {
            println!("{}", USAGE.replace(['*', '`'], ""));
            return Ok(Answered::Fully);
        }
        Err(e) => anyhow::bail!("{e}\n\n{}", USAGE.replace(['*', '`'], "")),
    };
    let now = chrono::Utc::now();
    let (source, window, agreements) = if args.events_file.is_empty() {
        let scope = args.regions.scope()?;
        let sdk = load_sdk_config().await?;
        let aws = connect(&sdk, &scope, &Metrics::new());
        (
            ActivitySource::CloudTrail(aws.cloudtrail),
            query.window.resolve(now)?,
            Some(aws.agreements),
        )
    } else {
        let progress = TerminalProgress::new();
        let paths = args.events_file.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            let loaded = Loaded::from_paths(&paths, &progress);
            progress.finish();
            loaded
        })
        .await
        .context("reading the events files")??;
        (
            ActivitySource::Fixed(Arc::new(loaded)),
            query.window.resolve_unbounded(now)?,
            None,
        )
    };
    let budget = Budget {
        lookup: None,
        details: DETAILS_BUDGET,
    };
    let (progress, seen) = tokio::sync::watch::channel(ReadSoFar::default());
    let bar = tokio::spawn(accounts_bar(seen));
    let report = Reporter::new(source, agreements)
        .report_watched(
            window,
            query.filter,
            query.account.as_deref(),
            budget,
            &progress,
        )
        .await;
    drop(progress);
    // The bar ends when the sender is dropped; it cannot panic.
    let _ = bar.await;
    let report = report?;
    let layout = if args.wide {
        Layout::Wide
    } else {
        Layout::Narrow
    };
    // When nothing answered there is no report to print, only what failed (on stderr); JSON
    // still gets its document, whose `failures` say the same for a script.
    if !report.nothing_answered || args.format == Format::Json {
        let mut out = std::io::stdout().lock();
        match format::write_with(&report, args.format, layout, &mut out) {
            // `query … | head`: the reader has what it wanted.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            written => written.context("writing the report")?,
        }
    }
    if report.nothing_answered {
        for f in &report.failures {
            eprintln!("error: CloudTrail in {}: {}.", f.place(), f.error.cause());
            eprintln!("fix: {}", f.error.fix(Audience::Terminal));
        }
    }
    Ok(if report.failures.is_empty() {
        Answered::Fully
    } else {
        Answered::Partly
    })
}

/// Accounts read so far, on stderr, only when stderr is a terminal and more than one account
/// is asked. Ends when the lookup drops its sender.
async fn accounts_bar(mut seen: tokio::sync::watch::Receiver<ReadSoFar>) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "reading {pos}/{len} accounts {wide_bar} {elapsed}",
        )
        .expect("a fixed template parses"),
    );
    while seen.changed().await.is_ok() {
        let now = *seen.borrow_and_update();
        if now.total > 1 {
            bar.set_length(now.total as u64);
            bar.set_position(now.done as u64);
        }
    }
    bar.finish_and_clear();
}

/// Files and records read so far, on stderr, only when stderr is a terminal.
struct TerminalProgress {
    bar: Option<indicatif::ProgressBar>,
    /// Read by the bar each time it draws, so threads finishing files in any order never show
    /// a count going back.
    records: Arc<AtomicUsize>,
}

impl TerminalProgress {
    fn new() -> Self {
        let records = Arc::new(AtomicUsize::new(0));
        let shown = records.clone();
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "reading {pos}/{len} files, {records} records {wide_bar} {elapsed}",
                )
                .expect("a fixed template parses")
                .with_key(
                    "records",
                    move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = w.write_str(&thousands(shown.load(Ordering::Relaxed)));
                    },
                ),
            );
            bar
        });
        Self { bar, records }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Progress for TerminalProgress {
    fn start(&self, files: usize) {
        if let Some(bar) = &self.bar {
            bar.set_length(files as u64);
        }
    }

    fn file_done(&self, records: usize) {
        self.records.fetch_add(records, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }
}
