//! `marketplace-activity check`: validates the configuration and tries the credentials
//! (Slack `auth.test`, one small CloudTrail call per region) without serving. One line per
//! check and, under a failure, one line saying what to do, so a person setting up, or a
//! deploy pipeline, sees at once what is wrong. What the SDKs said in full goes to the log at
//! debug level (`RUST_LOG=debug`).

use std::time::Duration;

use crate::aws::{connect, sdk_config_loader};
use crate::config::{NotifySettings, ServeArgs, ServeSettings, StateSettings};
use crate::domain::Audience;
use crate::metrics::Metrics;
use crate::slack::web_api::{ApiError, SlackApi};
use crate::startup::open_state;
use crate::state::StateStore;

/// The longest a line of `check` gets; longer causes are cut (the log has them whole).
pub const MAX_LINE: usize = 200;

/// One check's outcome: whether it passed, what was checked, what was found, and on failure
/// what to do.
struct Outcome {
    passed: bool,
    what: String,
    detail: String,
    fix: Option<String>,
}

impl Outcome {
    fn ok(what: &str, detail: impl Into<String>) -> Self {
        Self {
            passed: true,
            what: what.to_owned(),
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(what: &str, cause: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            passed: false,
            what: what.to_owned(),
            detail: cause.into(),
            fix: Some(fix.into()),
        }
    }
}

/// Runs every check, printing a line each to `out` (and a fix under each failure); returns
/// whether all passed.
pub async fn run(args: &ServeArgs, out: &mut dyn std::io::Write) -> std::io::Result<bool> {
    let mut ok = true;
    let mut report = |outcomes: Vec<Outcome>| -> std::io::Result<()> {
        for o in outcomes {
            ok &= o.passed;
            let mark = if o.passed { "ok" } else { "FAIL" };
            writeln!(
                out,
                "{}",
                cut(&format!("{mark:<4}  {}: {}", o.what, o.detail))
            )?;
            if let Some(fix) = &o.fix {
                writeln!(out, "{}", cut(&format!("      fix: {fix}")))?;
            }
        }
        Ok(())
    };
    let settings = match args.settings() {
        Ok(s) => s,
        Err(e) => {
            let (cause, fix) = split_fix(&e.to_string());
            report(vec![Outcome::fail("configuration", cause, fix)])?;
            return Ok(false);
        }
    };
    report(vec![Outcome::ok("configuration", describe(&settings))])?;
    let sdk = sdk_config_loader().load().await;
    if let Some(notify) = &settings.notify {
        report(vec![check_slack(notify).await])?;
    }
    if let Some(socket) = &settings.socket {
        report(vec![check_socket(socket).await])?;
    }
    if let Some(queue) = settings.notify.as_ref().and_then(|n| n.queue.as_ref()) {
        let client = crate::notify::queue::client(&sdk);
        let found = crate::notify::queue::check(&client, &queue.url).await;
        report(
            found
                .into_iter()
                .map(|(what, result)| match result {
                    Ok(found) => Outcome::ok(what, found),
                    Err((cause, fix)) => Outcome::fail(what, cause, fix),
                })
                .collect(),
        )?;
    }
    if settings.notify.is_some() || settings.digest.is_some() {
        report(vec![check_state(&settings, &sdk).await])?;
    }
    report(check_cloudtrail(&settings, &sdk).await)?;
    Ok(ok)
}

/// A line cut to [`MAX_LINE`] characters.
fn cut(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE - 1) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_owned(),
    }
}

/// A configuration error's message says what is wrong and, after a colon, what to do
/// ("SLACK_SIGNING_SECRET is required: set it to …"). Split there; otherwise point at `--help`.
fn split_fix(message: &str) -> (String, String) {
    const VERBS: [&str; 10] = [
        "set ", "use ", "give ", "add ", "allow ", "make ", "pass ", "remove ", "create ",
        "deploy ",
    ];
    for (i, _) in message.match_indices(": ") {
        let rest = &message[i + 2..];
        if VERBS.iter().any(|v| rest.starts_with(v)) {
            let mut fix = rest.to_owned();
            fix[..1].make_ascii_uppercase();
            return (message[..i].to_owned(), format!("{fix}."));
        }
    }
    (
        message.to_owned(),
        "Every setting is a flag and an environment variable: `marketplace-activity --help` lists them."
            .to_owned(),
    )
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
        Err(ApiError::Config { error, fix }) => Outcome::fail(
            "slack",
            format!("Slack refused SLACK_BOT_TOKEN: {error}"),
            fix,
        ),
        Err(e @ ApiError::RateLimited(_)) => {
            Outcome::fail("slack", e.to_string(), "Try again in a minute.")
        }
        Err(e) => {
            tracing::debug!(error = %e, "auth.test failed");
            Outcome::fail(
                "slack",
                "auth.test did not succeed (Slack unreachable or answering errors)",
                "Check the network path to Slack (and SLACK_API_URL if it is set), then try again.",
            )
        }
    }
}

/// Socket Mode: `apps.connections.open` with SLACK_APP_TOKEN.
async fn check_socket(socket: &crate::slack::socket::SocketSettings) -> Outcome {
    match crate::slack::socket::probe(socket, &reqwest::Client::new()).await {
        Ok(()) => Outcome::ok(
            "socket mode",
            "apps.connections.open accepted SLACK_APP_TOKEN: Socket Mode is on for the app",
        ),
        Err(crate::slack::socket::OpenError::Slack(code)) => {
            let fix = match code.as_str() {
                "invalid_auth" | "not_authed" | "not_allowed_token_type" | "token_revoked" => {
                    "Set SLACK_APP_TOKEN to the app-level token (xapp-…) from Basic Information → App-Level Tokens, with the connections:write scope."
                }
                "missing_scope" => "Give the app-level token the connections:write scope.",
                _ => "Turn on Socket Mode in the app's settings (https://api.slack.com/apps), then try again.",
            };
            Outcome::fail(
                "socket mode",
                format!("apps.connections.open refused SLACK_APP_TOKEN: `{code}`"),
                fix,
            )
        }
        Err(e) => Outcome::fail(
            "socket mode",
            e.to_string(),
            "Check the network path to Slack (and SLACK_API_URL if it is set), then try again.",
        ),
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
        Err(e) => {
            let (cause, fix) = split_fix(&e.to_string());
            return Outcome::fail("state", cause, fix);
        }
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
        Err(e) => {
            tracing::debug!(error = ?e, "state store probe failed");
            Outcome::fail("state", format!("{place}: {e}"), e.fix())
        }
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
            Err(e) => {
                tracing::debug!(place = %place.place(), error = %e, detail = %e.detail(), "LookupEvents failed");
                Outcome::fail(&what, e.cause(), e.fix(Audience::Terminal))
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_messages_split_into_cause_and_fix() {
        let (cause, fix) = split_fix("SLACK_SIGNING_SECRET is required: set it to the Signing Secret from your Slack app's Basic Information page");
        assert_eq!(cause, "SLACK_SIGNING_SECRET is required");
        assert_eq!(
            fix,
            "Set it to the Signing Secret from your Slack app's Basic Information page."
        );
        let (cause, fix) = split_fix("LISTEN_ADDR `x` is not an address like 0.0.0.0:3000");
        assert_eq!(cause, "LISTEN_ADDR `x` is not an address like 0.0.0.0:3000");
        assert!(fix.contains("--help"), "{fix}");
    }

    #[test]
    fn long_lines_are_cut() {
        let line = "x".repeat(500);
        assert_eq!(cut(&line).chars().count(), MAX_LINE);
        assert_eq!(cut("short"), "short");
    }
}
