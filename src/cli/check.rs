//! `marketplace-activity check`: validates the configuration and tries the credentials
//! (Slack `auth.test`, one small CloudTrail call per region) without serving. One line per
//! check and, under a failure, one line saying what to do, so a person setting up, or a
//! deploy pipeline, sees at once what is wrong. What the SDKs said in full goes to the log at
//! debug level (`RUST_LOG=debug`).

use std::time::Duration;

use crate::aws::{connect, load_sdk_config};
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
    let sdk = match load_sdk_config().await {
        Ok(sdk) => sdk,
        Err(e) => {
            let (cause, fix) = split_fix(&e.to_string());
            report(vec![Outcome::fail("tls", cause, fix)])?;
            return Ok(false);
        }
    };
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
    const VERBS: [&str; 11] = [
        "set ", "use ", "give ", "add ", "allow ", "make ", "pass ", "remove ", "create ",
        "install ", "deploy ",
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

/// No HTTP client could be built (TLS could not be set up): nothing to call Slack with.
fn no_client(name: &'static str, e: &reqwest::Error) -> Outcome {
    Outcome::fail(
        name,
        format!("no HTTP client: {e}"),
        "This is a bug or a broken build; please report it with this line.",
    )
}

/// The bot token (`auth.test`).
async fn check_slack(notify: &NotifySettings) -> Outcome {
    let http = match crate::http::client() {
        Ok(http) => http,
        Err(e) => return no_client("slack", &e),
    };
    let api = SlackApi::new(http, &notify.api_url, notify.token.clone(), Metrics::new());
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
    let http = match crate::http::client() {
        Ok(http) => http,
        Err(e) => return no_client("socket mode", &e),
    };
    match crate::slack::socket::probe(socket, &http).await {
        Ok(()) => Outcome::ok(
            "socket mode",
            "apps.connections.open accepted SLACK_APP_TOKEN: Socket Mode is on for the app",
        ),
        Err(crate::slack::socket::OpenError::Slack(code)) => {
            let fix = crate::slack::socket::fix_for(&code).unwrap_or(
                "Turn on Socket Mode in the app's settings (https://api.slack.com/apps), then try again.",
            );
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

/// Lines per account × region at most; beyond, `check` sums up and lists the failures only.
const PAIRS_LISTED: usize = 10;

/// The organization's accounts (listed now), the roles, and one small LookupEvents per account
/// and region.
async fn check_cloudtrail(settings: &ServeSettings, sdk: &aws_config::SdkConfig) -> Vec<Outcome> {
    let aws = connect(sdk, &settings.scope(), &Metrics::new());
    let mut outcomes = Vec::new();
    if aws.directory.is_organization() {
        match aws.directory.refresh_now().await {
            Ok(listed) => outcomes.push(Outcome::ok(
                "organization",
                format!(
                    "{} found (ListAccounts, active accounts only)",
                    plural(listed.accounts, "account")
                ),
            )),
            Err(e) => {
                tracing::debug!(error = %e, detail = %e.detail(), "ListAccounts failed");
                outcomes.push(Outcome::fail(
                    "organization",
                    e.cause(),
                    e.fix(Audience::Terminal),
                ));
                return outcomes;
            }
        }
    }
    let probes = match aws.cloudtrail.probe().await {
        Ok(p) => p,
        Err(e) => {
            outcomes.push(Outcome::fail(
                "accounts",
                e.cause(),
                e.fix(Audience::Terminal),
            ));
            return outcomes;
        }
    };
    outcomes.extend(roles_outcome(&probes));
    let many = probes.len() > PAIRS_LISTED;
    let mut allowed = 0;
    let mut failed = 0;
    for probe in &probes {
        let what = format!("cloudtrail {}", probe.place());
        match &probe.lookup {
            Some(Ok(())) if many => allowed += 1,
            Some(Ok(())) => outcomes.push(Outcome::ok(&what, "LookupEvents allowed")),
            Some(Err(e)) => {
                failed += 1;
                tracing::debug!(place = %probe.place(), error = %e, detail = %e.detail(), "LookupEvents failed");
                if !many || failed <= PAIRS_LISTED {
                    outcomes.push(Outcome::fail(&what, e.cause(), e.fix(Audience::Terminal)));
                }
            }
            None => {}
        }
    }
    if many {
        let asked = allowed + failed;
        let detail = format!(
            "LookupEvents allowed in {allowed} of {asked} account × region pairs{}",
            if failed > PAIRS_LISTED {
                format!(" ({} more failures not listed)", failed - PAIRS_LISTED)
            } else {
                String::new()
            }
        );
        outcomes.push(if failed == 0 {
            Outcome::ok("cloudtrail", detail)
        } else {
            Outcome::fail(
                "cloudtrail",
                detail,
                "See the lines above for each cause and what to do.",
            )
        });
    }
    outcomes
}

/// "roles: assumed in 278 of 280 accounts", and the accounts whose role could not be assumed.
fn roles_outcome(probes: &[crate::aws::cloudtrail::Probe]) -> Vec<Outcome> {
    let mut accounts: Vec<(String, &Result<(), crate::domain::LookupError>)> = Vec::new();
    for p in probes {
        if let Some(role) = &p.role {
            let label = p.account.label();
            if !accounts.iter().any(|(l, _)| *l == label) {
                accounts.push((label, role));
            }
        }
    }
    if accounts.is_empty() {
        return Vec::new();
    }
    let assumed = accounts.iter().filter(|(_, r)| r.is_ok()).count();
    let summary = format!(
        "assumed in {assumed} of {}",
        plural(accounts.len(), "account")
    );
    let mut outcomes = Vec::new();
    if assumed == accounts.len() {
        outcomes.push(Outcome::ok("roles", summary));
        return outcomes;
    }
    outcomes.push(Outcome::fail(
        "roles",
        summary,
        "See the lines below for the accounts whose role could not be assumed.",
    ));
    for (label, role) in accounts
        .iter()
        .filter(|(_, r)| r.is_err())
        .take(PAIRS_LISTED)
    {
        if let Err(e) = role {
            outcomes.push(Outcome::fail(
                &format!("role {label}"),
                e.cause(),
                e.fix(Audience::Terminal),
            ));
        }
    }
    let unlisted = accounts.len() - assumed;
    if unlisted > PAIRS_LISTED {
        outcomes.push(Outcome::fail(
            "roles",
            format!(
                "{} more accounts whose role could not be assumed",
                unlisted - PAIRS_LISTED
            ),
            "`RUST_LOG=debug` shows each AssumeRole answer.",
        ));
    }
    outcomes
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
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
    let resp = crate::http::loopback_client()?
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
