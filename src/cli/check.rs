//! `marketplace-activity check`: validates the configuration and tries the credentials
//! (Slack `auth.test`, one small CloudTrail call per region) without serving. One line per
//! check, so a person setting up, or a deploy pipeline, sees at once what is wrong.

use std::time::Duration;

use crate::aws::{connect, sdk_config_loader};
use crate::config::ServeArgs;
use crate::slack::web_api::SlackApi;

/// Runs every check, printing a line each to `out`; returns whether all passed.
pub async fn run(args: &ServeArgs, out: &mut dyn std::io::Write) -> std::io::Result<bool> {
    let mut ok = true;
    let mut line = |passed: bool, what: &str, detail: &str| -> std::io::Result<()> {
        ok &= passed;
        writeln!(
            out,
            "{:<4}  {what}: {detail}",
            if passed { "ok" } else { "FAIL" }
        )
    };
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            line(false, "configuration", &e.to_string())?;
            return Ok(false);
        }
    };
    line(
        true,
        "configuration",
        &format!(
            "listening on {}, CloudTrail in {}, {}",
            settings.listen_addr,
            settings.regions.join(", "),
            match &settings.notify {
                Some(n) => format!(
                    "notifications to {}{}{}",
                    n.routes.default_channel,
                    if n.events_keys.is_some() {
                        ", POST /events"
                    } else {
                        ""
                    },
                    if n.sns_topic_arns.is_empty() {
                        ""
                    } else {
                        ", POST /events/sns"
                    }
                ),
                None => "notifications off (EVENTS_API_KEY not set)".into(),
            }
        ),
    )?;

    if let Some(notify) = &settings.notify {
        let http = reqwest::Client::new();
        let api = SlackApi::new(
            http,
            &notify.api_url,
            notify.token.clone(),
            crate::metrics::Metrics::new(),
        );
        match api.auth_test(Duration::from_secs(10)).await {
            Ok(()) => line(true, "slack", "auth.test accepted SLACK_BOT_TOKEN")?,
            Err(e) => line(false, "slack", &e.to_string())?,
        }
        if let Some(dir) = &notify.state_dir {
            match crate::notify::store::Store::open(dir) {
                Ok(_) => line(true, "state", &format!("{} is writable", dir.display()))?,
                Err(e) => line(false, "state", &format!("{}: {e}", dir.display()))?,
            }
        } else {
            line(
                true,
                "state",
                "STATE_DIR not set: threads and de-duplication kept in memory",
            )?;
        }
    }

    let sdk = sdk_config_loader().load().await;
    let aws = connect(
        &sdk,
        &settings.accounts,
        &settings.regions,
        &crate::metrics::Metrics::new(),
    )
    .await;
    let cloudtrail = aws.cloudtrail;
    for (place, result) in cloudtrail.probe().await {
        let region = place.place();
        match result {
            Ok(()) => line(
                true,
                &format!("cloudtrail {region}"),
                "LookupEvents allowed",
            )?,
            Err(e) => line(
                false,
                &format!("cloudtrail {region}"),
                &format!("{} ({e})", e.user_message()),
            )?,
        }
    }
    Ok(ok)
}

/// `marketplace-activity healthcheck`: GET /healthz on the local server, for the container's
/// HEALTHCHECK (the image has no curl).
pub async fn healthcheck(listen_addr: &str) -> anyhow::Result<()> {
    let mut addr: std::net::SocketAddr = listen_addr
        .parse()
        .map_err(|_| anyhow::anyhow!("LISTEN_ADDR `{listen_addr}` is not an address"))?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let resp = reqwest::Client::new()
        .get(format!("http://{addr}/healthz"))
        .timeout(Duration::from_secs(2))
        .send()
        .await?;
    anyhow::ensure!(
        resp.status().is_success(),
        "/healthz answered {}",
        resp.status()
    );
    Ok(())
}
