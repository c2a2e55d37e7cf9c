//! `marketplace-activity query`: the slash command's report in a terminal.

use std::sync::Arc;

use anyhow::Context;

use std::time::Duration;

use crate::aws::events_file::Loaded;
use crate::aws::reports::{Budget, Reporter};
use crate::aws::{connect, sdk_config_loader, ActivitySource};
use crate::config::QueryArgs;
use crate::domain::{Command, USAGE};
use crate::metrics::Metrics;
use crate::report::format;

/// A terminal can wait longer for agreement details than Slack's answer does.
const DETAILS_BUDGET: Duration = Duration::from_secs(10);

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
    let (source, window, agreements) = match &args.events_file {
        Some(path) => {
            let loaded = Loaded::from_path(path)?;
            (
                ActivitySource::Fixed(Arc::new(loaded)),
                query.window.resolve_unbounded(now)?,
                None,
            )
        }
        None => {
            let regions = args.regions.parse()?;
            let accounts = args.regions.accounts()?;
            let sdk = sdk_config_loader().load().await;
            let aws = connect(&sdk, &accounts, &regions, &Metrics::new()).await;
            (
                ActivitySource::CloudTrail(aws.cloudtrail),
                query.window.resolve(now)?,
                Some(aws.agreements),
            )
        }
    };
    let budget = Budget {
        lookup: None,
        details: DETAILS_BUDGET,
    };
    let report = Reporter::new(source, agreements)
        .report(window, query.filter, query.account.as_deref(), budget)
        .await?;
    let mut out = std::io::stdout().lock();
    format::write(&report, args.format, &mut out).context("writing the report")?;
    if report.nothing_answered {
        anyhow::bail!("the lookup failed in every region");
    }
    Ok(())
}
