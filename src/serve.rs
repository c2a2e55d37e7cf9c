//! `marketplace-activity serve`: the production entry point.

use crate::aws::{sdk_config_loader, ActivitySource, CloudTrail};
use crate::config::ServeArgs;
use crate::metrics::Metrics;
use crate::startup::{shutdown_signal, Application};

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.settings()?;
    let sdk = sdk_config_loader().load().await;
    let metrics = Metrics::new();
    let source = ActivitySource::CloudTrail(CloudTrail::new(&sdk, &settings.regions, &metrics));
    if settings.access.is_open() {
        tracing::info!(
            "no allow-lists set: anyone in a workspace with the app may use the command"
        );
    }
    let app = Application::build(settings, source.clone(), metrics).await?;
    tracing::info!(addr = %app.local_addr(), source = %source.describe(), "listening");
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}
