//! `marketplace-activity query`: the slash command's report in a terminal.

use std::sync::Arc;

use anyhow::Context;

use crate::aws::events_file::Loaded;
use crate::aws::{sdk_config_loader, ActivitySource, CloudTrail};
use crate::config::QueryArgs;
use crate::domain::{Command, USAGE};
use crate::metrics::Metrics;
use crate::report::{format, Report};

pub async fn run(args: QueryArgs) -> anyhow::Result<()> {
    let text = args.words.join(" ");
    let query = match Command::parse(&text) {
        Ok(Command::Report(q)) => q,
        Ok(Command::Help) => {
            println!("{}", USAGE.replace(['*', '`'], ""));
            return Ok(());
        }
        Err(e) => anyhow::bail!("{e}\n\n{}", USAGE.replace(['*', '`'], "")),
    };
    let now = chrono::Utc::now();
    let (source, window) = match &args.events_file {
        Some(path) => {
            let loaded = Loaded::from_path(path)?;
            (
                ActivitySource::Fixed(Arc::new(loaded)),
                query.window.resolve_unbounded(now)?,
            )
        }
        None => {
            let regions = args.regions.parse()?;
            let sdk = sdk_config_loader().load().await;
            (
                ActivitySource::CloudTrail(CloudTrail::new(&sdk, &regions, &Metrics::new())),
                query.window.resolve(now)?,
            )
        }
    };
    let fetched = source.lookup(&window).await;
    let report = Report::build(fetched, query.filter, window, source.source_count());
    let mut out = std::io::stdout().lock();
    format::write(&report, args.format, &mut out).context("writing the report")?;
    if report.nothing_answered {
        anyhow::bail!("the lookup failed in every region");
    }
    Ok(())
}
