//! `marketplace-activity serve`: the production entry point.

use crate::aws::{connect, load_sdk_config, ActivitySource};
use crate::config::ServeArgs;
use crate::metrics::Metrics;
use crate::startup::{open_state, shutdown_signal, Application};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    // Before the port opens: a SIGTERM from then on is a clean stop.
    let stop = shutdown_signal();
    let sdk = load_sdk_config().await?;
    let metrics = Metrics::new();
    let aws = connect(&sdk, &settings.scope(), &metrics);
    aws.list_organization().await;
    let source = ActivitySource::CloudTrail(aws.cloudtrail);
    if settings.access.is_open() {
        tracing::info!(
            "no allow-lists set: anyone in a workspace with the app may use the command"
        );
    }
    let store = open_state(&settings, &sdk).await?;
    let app = Application::build(
        settings,
        source.clone(),
        Some(aws.agreements),
        metrics,
        store,
    )
    .await?
    .with_queue_client(crate::notify::queue::client(&sdk));
    tracing::info!(addr = %app.local_addr(), source = %source.describe(), "listening");
    app.run_until_stopped(stop).await?;
    tracing::info!("stopped");
    Ok(())
}
