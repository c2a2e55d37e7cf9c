//! `marketplace-activity check`: validates the configuration and tries the credentials
//! (Slack `auth.test`, one small CloudTrail call per region) without serving. One line per
//! check, so a person setting up, or a deploy pipeline, sees at once what is wrong.

use std::time::Duration;

use crate::aws::{connect, sdk_config_loader};
use crate::config::{NotifySettings, ServeArgs, ServeSettings, StateSettings};
use crate::metrics::Metrics;
use crate::slack::web_api::SlackApi;
use crate::startup::open_state;
use crate::state::StateStore;

/// One check's outcome: whether it passed, what was checked, and what was found.
struct Outcome {
    passed: bool,
    what: String,
    detail: String,
}

impl Outcome {
    fn ok(what: &str, detail: impl Into<String>) -> Self {
        Self {
            passed: true,
            what: what.to_owned(),
            detail: detail.into(),
        }
    }

    fn fail(what: &str, detail: impl Into<String>) -> Self {
        Self {
            passed: false,
            ..Self::ok(what, detail)
        }
    }
}

/// Runs every check, printing a line each to `out`; returns whether all passed.
pub async fn run(args: &ServeArgs, out: &mut dyn std::io::Write) -> std::io::Result<bool> {
    let mut ok = true;
    let mut report = |outcomes: Vec<Outcome>| -> std::io::Result<()> {
        for o in outcomes {
            ok &= o.passed;
            let mark = if o.passed { "ok" } else { "FAIL" };
            writeln!(out, "{mark:<4}  {}: {}", o.what, o.detail)?;
        }
        Ok(())
    };
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            report(vec![Outcome::fail("configuration", e.to_string())])?;
            return Ok(false);
        }
    };
    report(vec![Outcome::ok("configuration", describe(&settings))])?;
    let sdk = sdk_config_loader().load().await;
    if let Some(notify) = &settings.notify {
        report(vec![check_slack(notify).await])?;
    }
    if settings.notify.is_some() || settings.digest.is_some() {
        report(vec![check_state(&settings, &sdk).await])?;
    }
    report(check_cloudtrail(&settings, &sdk).await)?;
    Ok(ok)
}

/// "listening on …, CloudTrail in …, notifications to …".
fn describe(settings: &ServeSettings) -> String {
    let notifications = match &settings.notify {
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
    };
    format!(
        "listening on {}, CloudTrail in {}, {notifications}",
        settings.listen_addr,
        settings.regions.join(", "),
    )
}

/// The bot token (`auth.test`).
async fn check_slack(notify: &NotifySettings) -> Outcome {
    let api = SlackApi::new(
        reqwest::Client::new(),
        &notify.api_url,
        notify.token.clone(),
        Metrics::new(),
    );
    match api.auth_test(Duration::from_secs(10)).await {
        Ok(()) => Outcome::ok("slack", "auth.test accepted SLACK_BOT_TOKEN"),
        Err(e) => Outcome::fail("slack", e.to_string()),
    }
}

/// The state store: opened as `serve` would, then a read, a conditional write and a delete.
async fn check_state(settings: &ServeSettings, sdk: &aws_config::SdkConfig) -> Outcome {
    // A damaged STATE_DIR file is reported, not moved aside: that is `serve`'s to do.
    let opened = match &settings.state {
        StateSettings::Dir(dir) => StateStore::open_redb_checked(dir),
        _ => open_state(settings, sdk).await,
    };
    let store = match opened {
        Ok(store) => store,
        Err(e) => return Outcome::fail("state", e.to_string()),
    };
    let place =
        match &settings.state {
            StateSettings::Memory => return Outcome::ok(
                "state",
                "neither STATE_DIR nor STATE_TABLE set: threads and de-duplication kept in memory",
            ),
            StateSettings::Dir(dir) => format!("{} (disk)", dir.display()),
            StateSettings::Table(table) => format!("DynamoDB table {table}"),
        };
    match store.probe().await {
        Ok(()) => Outcome::ok(
            "state",
            format!("{place}: read, conditional write and delete work"),
        ),
        Err(e) => Outcome::fail("state", format!("{place}: {e}. {}", e.fix())),
    }
}

/// One small LookupEvents per account and region.
async fn check_cloudtrail(settings: &ServeSettings, sdk: &aws_config::SdkConfig) -> Vec<Outcome> {
    let aws = connect(sdk, &settings.accounts, &settings.regions, &Metrics::new()).await;
    let mut outcomes = Vec::new();
    for (place, result) in aws.cloudtrail.probe().await {
        let what = format!("cloudtrail {}", place.place());
        outcomes.push(match result {
            Ok(()) => Outcome::ok(&what, "LookupEvents allowed"),
            Err(e) => Outcome::fail(&what, format!("{} ({e})", e.user_message())),
        });
    }
    outcomes
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
