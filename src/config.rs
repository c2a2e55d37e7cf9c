//! The command line and environment, parsed once into typed settings.
//!
//! Every setting is a flag and an environment variable (`--help` lists them). Secrets are
//! hidden from `--help` output and wrapped so they never print.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::aws::accounts::Account;
use crate::aws::organization::OrganizationSettings;
use crate::aws::Scope;
use crate::notify::deliver::Routes;
use crate::notify::routes::ApiKeys;
use crate::notify::sns::CertUrlRule;
use crate::report::format::Format;
use crate::server::HttpSettings;
use crate::slack::access::AccessPolicy;
use crate::slack::signature::SigningSecrets;
use crate::slack::socket::{AppToken, SocketSettings};
use crate::slack::web_api::BotToken;

#[derive(Debug, Parser)]
#[command(
    name = "marketplace-activity",
    version,
    about = "AWS Marketplace procurement activity in Slack: a slash command and channel notifications.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Cmd>,
    /// `serve`'s options, also accepted with no subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

// `serve`'s arguments are big next to the others; this is parsed once, so size doesn't matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Serve the Slack endpoints (the default).
    Serve(ServeArgs),
    /// Print a report in the terminal, with the slash command's grammar.
    Query(QueryArgs),
    /// Run the real app locally with sample events and a console in place of Slack.
    Demo(DemoArgs),
    /// Validate the configuration and try the credentials (Slack, CloudTrail) without serving.
    Check(ServeArgs),
    /// Exit 0 when the server on LISTEN_ADDR answers /healthz (for the container HEALTHCHECK).
    Healthcheck(HealthcheckArgs),
}

/// The log level when RUST_LOG is unset (the help text of `--log-format` says the same).
pub fn default_log_level(command: Option<&Cmd>) -> &'static str {
    match command {
        None | Some(Cmd::Serve(_)) => "info",
        Some(Cmd::Query(_) | Cmd::Check(_)) => "error",
        Some(Cmd::Demo(_) | Cmd::Healthcheck(_)) => "warn",
    }
}

#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum LogFormat {
    #[default]
    Pretty,
    Json,
}

#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log format. The level comes from RUST_LOG; without it: `info` for serve, `error` for
    /// query and check (they print what they found themselves), `warn` for demo and
    /// healthcheck.
    #[arg(
        long,
        env = "LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Args)]
pub struct RegionArgs {
    /// Regions whose CloudTrail event history is searched, comma-separated.
    #[arg(
        long,
        env = "CLOUDTRAIL_REGIONS",
        value_delimiter = ',',
        default_value = "us-east-1"
    )]
    pub cloudtrail_regions: Vec<String>,
    /// AWS accounts to report on: `alias=ROLE_ARN[#EXTERNAL_ID]` or `alias=ACCOUNT_ID`,
    /// separated by `;`. `organization` (alone or among entries): every active account of the
    /// organization (ListAccounts), through MEMBER_ROLE_NAME; an entry for one of its accounts
    /// gives its alias (and role, or none: the app's own credentials). Unset: the account of
    /// the app's own credentials.
    #[arg(long, env = "ACCOUNTS")]
    pub accounts: Option<String>,
    /// The same as a TOML or YAML file (`[[accounts]]` with id, alias, role_arn, external_id).
    #[arg(long, env = "ACCOUNTS_FILE")]
    pub accounts_file: Option<PathBuf>,
    /// With ACCOUNTS=organization: the role assumed in every member account.
    #[arg(long, env = "MEMBER_ROLE_NAME", default_value = crate::aws::organization::DEFAULT_MEMBER_ROLE)]
    pub member_role_name: String,
    /// With ACCOUNTS=organization: the external id the member role's trust policy asks for.
    #[arg(long, env = "MEMBER_EXTERNAL_ID", hide_env_values = true)]
    pub member_external_id: Option<String>,
    /// With ACCOUNTS=organization: how often the organization's accounts are listed again, in
    /// seconds.
    #[arg(long, env = "ORGANIZATION_REFRESH_SECS", default_value_t = 3600)]
    pub organization_refresh_secs: u64,
    /// Account × region pairs read at once (each paced under CloudTrail's 2 calls per second).
    #[arg(long, env = "LOOKUP_CONCURRENCY", default_value_t = crate::aws::cloudtrail::DEFAULT_IN_FLIGHT)]
    pub lookup_concurrency: usize,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Slack app signing secret(s), comma-separated to rotate. Required by `serve`, unless
    /// SLACK_APP_TOKEN is set (Socket Mode).
    #[arg(long, env = "SLACK_SIGNING_SECRET", hide_env_values = true)]
    pub slack_signing_secret: Option<String>,
    /// App-level token (xapp-…, scope connections:write): turns Socket Mode on, so slash
    /// commands and clicks arrive over WebSocket connections the app opens to Slack.
    #[arg(long, env = "SLACK_APP_TOKEN", hide_env_values = true)]
    pub slack_app_token: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:3000")]
    pub listen_addr: String,
    #[command(flatten)]
    pub regions: RegionArgs,
    /// Only these Slack workspace ids may use the command (comma-separated; empty: any).
    #[arg(long, env = "ALLOWED_TEAM_IDS", value_delimiter = ',')]
    pub allowed_team_ids: Vec<String>,
    /// Only in these channel ids (comma-separated; empty: any).
    #[arg(long, env = "ALLOWED_CHANNEL_IDS", value_delimiter = ',')]
    pub allowed_channel_ids: Vec<String>,
    /// Only these user ids (comma-separated; empty: any).
    #[arg(long, env = "ALLOWED_USER_IDS", value_delimiter = ',')]
    pub allowed_user_ids: Vec<String>,
    /// Longest a lookup may run before the user is told to narrow it, in seconds.
    #[arg(long, env = "QUERY_TIMEOUT_SECS", default_value_t = 120)]
    pub query_timeout_secs: u64,
    /// On shutdown (SIGTERM, Ctrl-C), how long requests in flight and answers still being
    /// prepared get, together, in seconds; connections still open then are dropped.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 20)]
    pub shutdown_timeout_secs: u64,
    /// A request's headers must arrive within this many seconds, else the connection is
    /// closed. It also applies while a kept-alive connection waits for its next request, so it
    /// is the idle keep-alive timeout too.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECS", default_value_t = crate::server::DEFAULT_HEADER_TIMEOUT_SECS)]
    pub http_header_timeout_secs: u64,
    /// A request's whole body must arrive within this many seconds of its headers, else the
    /// answer is 408 and the connection is closed.
    #[arg(long, env = "HTTP_BODY_TIMEOUT_SECS", default_value_t = crate::server::DEFAULT_BODY_TIMEOUT_SECS)]
    pub http_body_timeout_secs: u64,
    /// Most connections open at once. At the cap, a new connection closes the one that has
    /// waited longest without a request in progress. Default: 1024, or the open-file limit
    /// (ulimit -n) minus 64 when that is lower.
    #[arg(long, env = "MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    #[command(flatten)]
    pub notify: NotifyArgs,
    /// Post a digest every so often, e.g. `7d` or `24h` (the first one period after start).
    #[arg(long, env = "DIGEST_EVERY")]
    pub digest_every: Option<String>,
    /// Post a digest on a cron schedule (5 fields, UTC), e.g. `0 9 * * MON`.
    #[arg(long, env = "DIGEST_CRON")]
    pub digest_cron: Option<String>,
    /// Channel ID for the digest (default: SLACK_CHANNEL).
    #[arg(long, env = "DIGEST_CHANNEL")]
    pub digest_channel: Option<String>,
}

/// Channel notifications: EventBridge (or SNS) → Slack.
#[derive(Debug, Clone, Default, Args)]
pub struct NotifyArgs {
    /// API key(s) EventBridge's connection sends, comma-separated to rotate. Unset: `POST /events`
    /// is not served.
    #[arg(long, env = "EVENTS_API_KEY", hide_env_values = true)]
    pub events_api_key: Option<String>,
    /// The header carrying the API key.
    #[arg(long, env = "EVENTS_API_KEY_HEADER", default_value = "x-api-key")]
    pub events_api_key_header: String,
    /// SNS topic ARNs whose messages `POST /events/sns` accepts, comma-separated. Unset: the
    /// route is not served.
    #[arg(long, env = "SNS_TOPIC_ARNS", value_delimiter = ',')]
    pub sns_topic_arns: Vec<String>,
    /// Bot User OAuth Token (xoxb-…), for posting notifications.
    #[arg(long, env = "SLACK_BOT_TOKEN", hide_env_values = true)]
    pub slack_bot_token: Option<String>,
    /// Channel ID notifications go to.
    #[arg(long, env = "SLACK_CHANNEL")]
    pub slack_channel: Option<String>,
    /// Channel ID for purchases and changes, if not SLACK_CHANNEL.
    #[arg(long, env = "SLACK_CHANNEL_PURCHASES")]
    pub slack_channel_purchases: Option<String>,
    /// Channel ID for cancellations, if not SLACK_CHANNEL.
    #[arg(long, env = "SLACK_CHANNEL_CANCELLATIONS")]
    pub slack_channel_cancellations: Option<String>,
    /// Who to ping on cancellations, e.g. `<!here>` or `<!subteam^S0123>`.
    #[arg(long, env = "SLACK_MENTION_CANCELLATIONS")]
    pub slack_mention_cancellations: Option<String>,
    /// Slack Web API base URL.
    #[arg(long, env = "SLACK_API_URL", default_value = "https://slack.com/api")]
    pub slack_api_url: String,
    /// Directory for the notifier's and the digest's state (threads, de-duplication): an
    /// embedded database for ONE replica. Must be writable. Unset (or empty) and no
    /// STATE_TABLE: kept in memory, lost on restart.
    #[arg(long, env = "STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// DynamoDB table for the state, shared by every replica (created when missing, if the
    /// app may). Not with STATE_DIR.
    #[arg(long, env = "STATE_TABLE")]
    pub state_table: Option<String>,
    /// How long a delivery may hold its agreement before another replica may take it over
    /// (when the holder died), in seconds. Default 30.
    #[arg(long, env = "STATE_LEASE_SECS")]
    pub state_lease_secs: Option<u64>,
    /// Read EventBridge events from this SQS queue (no inbound endpoint needed).
    #[arg(long, env = "EVENTS_QUEUE_URL")]
    pub events_queue_url: Option<String>,
    /// Long-poll wait on the queue, in seconds (1 to 20).
    #[arg(long, env = "EVENTS_QUEUE_WAIT_SECS", default_value_t = 20)]
    pub events_queue_wait_secs: u64,
    /// Least time between two posts to one channel, in milliseconds (Slack allows about one
    /// message per second per channel). Default 1000.
    #[arg(long, env = "SLACK_POST_INTERVAL_MS")]
    pub slack_post_interval_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct BotSettings {
    pub token: BotToken,
    pub api_url: String,
}

/// When and where the digest is posted.
#[derive(Debug, Clone)]
pub struct DigestSettings {
    pub schedule: crate::digest::Schedule,
    pub channel: String,
}

/// What the notifier runs with.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub events_keys: Option<ApiKeys>,
    pub sns_topic_arns: Vec<String>,
    /// Which certificate URLs SNS messages may name. Always Amazon's SNS hosts outside tests.
    pub sns_cert_rule: CertUrlRule,
    pub token: BotToken,
    pub api_url: String,
    pub routes: Routes,
    /// Least time between two posts to one channel.
    pub post_interval: Duration,
    /// How long a delivery's claim on its agreement holds.
    pub lease: Duration,
    /// The SQS queue EventBridge writes to, when EVENTS_QUEUE_URL is set.
    pub queue: Option<crate::notify::queue::QueueSettings>,
}

/// Where the notifier and the digest keep their state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateSettings {
    /// In this process only (neither STATE_DIR nor STATE_TABLE set).
    Memory,
    /// `state.redb` in this directory (STATE_DIR): one replica.
    Dir(PathBuf),
    /// This DynamoDB table (STATE_TABLE): any number of replicas.
    Table(String),
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The same words as the slash command: `[window] [filter]`, e.g. `30d purchases`.
    pub words: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// The text table with every column (account, region, product, source IP), however
    /// wide; without it the table fits 100 columns.
    #[arg(long)]
    pub wide: bool,
    /// Read CloudTrail records from files instead of calling AWS; repeat it for more. A
    /// directory is read recursively (`.json`, `.json.gz`, JSON Lines), e.g. a trail's logs
    /// synced from S3 with `aws s3 sync`. Also saved LookupEvents output or a JSON array of
    /// records. A record in several files counts once. Windows older than 90 days are allowed
    /// here.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub events_file: Vec<PathBuf>,
    #[command(flatten)]
    pub regions: RegionArgs,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The address the server listens on; 0.0.0.0 is checked on 127.0.0.1.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:3000")]
    pub listen_addr: String,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Exit after both halves (the answer and the channel) instead of waiting for more requests.
    #[arg(long)]
    pub once: bool,
    /// The command text the demo sends itself.
    #[arg(long, default_value = "30d")]
    pub text: String,
}

/// A setting that stops start-up. The message names the setting and what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("SLACK_SIGNING_SECRET is required (unless SLACK_APP_TOKEN is set, for Socket Mode): set it to the Signing Secret from your Slack app's Basic Information page")]
    MissingSigningSecret,
    #[error("SLACK_APP_TOKEN must be an app-level token (xapp-…): create one under Basic Information → App-Level Tokens with the connections:write scope")]
    BadAppToken,
    #[error("{0} is still a placeholder like <your-signing-secret>: set it to the real value (the README's deployment steps say where each comes from)")]
    Placeholder(&'static str),
    #[error("LISTEN_ADDR `{0}` is not an address like 0.0.0.0:3000")]
    BadListenAddr(String),
    #[error("CLOUDTRAIL_REGIONS is empty: give at least one region, like us-east-1")]
    NoRegions,
    #[error("CLOUDTRAIL_REGIONS has `{0}`, which is not a region name like us-east-1")]
    BadRegion(String),
    #[error(
        "QUERY_TIMEOUT_SECS must be between 5 and 1500 (response_url expires after 30 minutes)"
    )]
    BadQueryTimeout,
    #[error("{0} must be between 1 and 3600 seconds")]
    BadHttpTimeout(&'static str),
    #[error("MAX_CONNECTIONS must be at least 1")]
    BadMaxConnections,
    #[error("SLACK_BOT_TOKEN is required when EVENTS_API_KEY, SNS_TOPIC_ARNS or EVENTS_QUEUE_URL is set: use the app's Bot User OAuth Token (xoxb-…)")]
    MissingBotToken,
    #[error("SLACK_CHANNEL is required when EVENTS_API_KEY, SNS_TOPIC_ARNS or EVENTS_QUEUE_URL is set: use a channel ID like C0123ABCD")]
    MissingChannel,
    #[error("EVENTS_API_KEY_HEADER `{0}` is not a valid header name")]
    BadHeaderName(String),
    #[error("SLACK_API_URL `{0}` is not an http(s) URL")]
    BadSlackApiUrl(String),
    #[error("{0}")]
    Accounts(#[from] crate::aws::accounts::AccountsError),
    #[error("MEMBER_ROLE_NAME `{0}` is not an IAM role name (letters, digits and +=,.@_- up to 64, optionally under a /path/)")]
    BadMemberRole(String),
    #[error("LOOKUP_CONCURRENCY must be between 1 and 512")]
    BadLookupConcurrency,
    #[error("ORGANIZATION_REFRESH_SECS must be between 60 and 86400")]
    BadOrganizationRefresh,
    #[error("DIGEST_EVERY `{0}` is not a period like 7d or 24h")]
    BadDigestEvery(String),
    #[error("DIGEST_CRON `{0}` is not a cron schedule like `0 9 * * MON`: {1}")]
    BadDigestCron(String, String),
    #[error("STATE_DIR and STATE_TABLE are both set: use STATE_TABLE (DynamoDB) for several replicas, STATE_DIR for one, not both")]
    StateDirAndTable,
    #[error("DIGEST_EVERY / DIGEST_CRON need SLACK_BOT_TOKEN to post the digest")]
    DigestNeedsToken,
    #[error("DIGEST_EVERY / DIGEST_CRON need DIGEST_CHANNEL (or SLACK_CHANNEL): a channel ID like C0123ABCD")]
    DigestNeedsChannel,
}

/// What `serve` runs with.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen_addr: SocketAddr,
    /// Empty ([`SigningSecrets::none`]) in Socket Mode without SLACK_SIGNING_SECRET: the HTTP
    /// Slack routes are then not served.
    pub signing_secrets: SigningSecrets,
    /// Socket Mode, when SLACK_APP_TOKEN is set.
    pub socket: Option<SocketSettings>,
    pub regions: Vec<String>,
    /// Accounts to report on (empty: the app's own, unless `organization` is set).
    pub accounts: Vec<Account>,
    /// ACCOUNTS=organization: the organization's accounts, through this role.
    pub organization: Option<OrganizationSettings>,
    /// Account × region pairs read at once.
    pub lookup_concurrency: usize,
    pub access: AccessPolicy,
    pub query_timeout: Duration,
    /// On shutdown, the budget for requests in flight and background answers together.
    pub drain_timeout: Duration,
    /// Header and body timeouts, the connection cap.
    pub http: HttpSettings,
    /// Channel notifications, when EVENTS_API_KEY or SNS_TOPIC_ARNS is set.
    pub notify: Option<NotifySettings>,
    /// The bot token and API URL, when SLACK_BOT_TOKEN is set (CSV exports, digests,
    /// notifications).
    pub bot: Option<BotSettings>,
    /// The scheduled digest, when DIGEST_EVERY or DIGEST_CRON is set.
    pub digest: Option<DigestSettings>,
    /// Where notifications and digests keep their state.
    pub state: StateSettings,
}

impl RegionArgs {
    /// The configured accounts; empty means the app's own (unless [`Self::organization`]).
    pub fn accounts(&self) -> Result<Vec<Account>, ConfigError> {
        let from_env = match &self.accounts {
            Some(value) if !value.trim().is_empty() => {
                crate::aws::accounts::parse_env_with_organization(value)?
            }
            _ => (Vec::new(), false),
        };
        Ok(match &self.accounts_file {
            Some(path) => crate::aws::accounts::parse_file(path)?,
            None => from_env.0,
        })
    }

    /// `ACCOUNTS=organization`: how the organization's accounts are reached.
    pub fn organization(&self) -> Result<Option<OrganizationSettings>, ConfigError> {
        let wanted = match &self.accounts {
            Some(value) => crate::aws::accounts::parse_env_with_organization(value)?.1,
            None => false,
        };
        if !wanted {
            return Ok(None);
        }
        let role_name = self.member_role_name.trim().trim_matches('/').to_owned();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c);
        let base_name = role_name.rsplit('/').next().unwrap_or("");
        if base_name.is_empty() || base_name.len() > 64 || !role_name.chars().all(ok_char) {
            return Err(ConfigError::BadMemberRole(self.member_role_name.clone()));
        }
        if !(60..=86_400).contains(&self.organization_refresh_secs) {
            return Err(ConfigError::BadOrganizationRefresh);
        }
        Ok(Some(OrganizationSettings {
            role_name,
            external_id: self
                .member_external_id
                .as_deref()
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            refresh: Duration::from_secs(self.organization_refresh_secs),
        }))
    }

    /// Accounts, organization, regions and pairs in flight, together.
    pub fn scope(&self) -> Result<Scope, ConfigError> {
        if !(1..=512).contains(&self.lookup_concurrency) {
            return Err(ConfigError::BadLookupConcurrency);
        }
        Ok(Scope {
            accounts: self.accounts()?,
            organization: self.organization()?,
            regions: self.parse()?,
            in_flight: self.lookup_concurrency,
        })
    }

    pub fn parse(&self) -> Result<Vec<String>, ConfigError> {
        let regions: Vec<String> = self
            .cloudtrail_regions
            .iter()
            .map(|r| r.trim().to_ascii_lowercase())
            .filter(|r| !r.is_empty())
            .collect();
        if regions.is_empty() {
            return Err(ConfigError::NoRegions);
        }
        for r in &regions {
            let ok = r.split('-').count() >= 3
                && r.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(ConfigError::BadRegion(r.clone()));
            }
        }
        Ok(regions)
    }
}

/// A value still written as the README's placeholders are (`<your-signing-secret>`) stops
/// start-up, rather than letting every request fail its signature check later.
fn not_a_placeholder(name: &'static str, value: Option<&str>) -> Result<(), ConfigError> {
    let placeholder = value.is_some_and(|v| {
        v.split(',')
            .map(str::trim)
            .any(|part| part.starts_with('<') && part.ends_with('>'))
    });
    if placeholder {
        Err(ConfigError::Placeholder(name))
    } else {
        Ok(())
    }
}

impl ServeSettings {
    /// What CloudTrail reads: these accounts (or the organization's) in these regions.
    pub fn scope(&self) -> Scope {
        Scope {
            accounts: self.accounts.clone(),
            organization: self.organization.clone(),
            regions: self.regions.clone(),
            in_flight: self.lookup_concurrency,
        }
    }
}

impl ServeArgs {
    pub fn settings(&self) -> Result<ServeSettings, ConfigError> {
        not_a_placeholder("SLACK_SIGNING_SECRET", self.slack_signing_secret.as_deref())?;
        not_a_placeholder("SLACK_BOT_TOKEN", self.notify.slack_bot_token.as_deref())?;
        not_a_placeholder("EVENTS_API_KEY", self.notify.events_api_key.as_deref())?;
        let socket = self.socket()?;
        let signing_secrets = match (
            self.slack_signing_secret
                .as_deref()
                .and_then(SigningSecrets::parse),
            &socket,
        ) {
            (Some(secrets), _) => secrets,
            (None, Some(_)) => SigningSecrets::none(),
            (None, None) => return Err(ConfigError::MissingSigningSecret),
        };
        let listen_addr = self
            .listen_addr
            .parse()
            .map_err(|_| ConfigError::BadListenAddr(self.listen_addr.clone()))?;
        if !(5..=1500).contains(&self.query_timeout_secs) {
            return Err(ConfigError::BadQueryTimeout);
        }
        Ok(ServeSettings {
            listen_addr,
            signing_secrets,
            socket,
            regions: self.regions.parse()?,
            accounts: self.regions.accounts()?,
            organization: self.regions.organization()?,
            lookup_concurrency: self.regions.scope()?.in_flight,
            access: AccessPolicy::new(
                &self.allowed_team_ids,
                &self.allowed_channel_ids,
                &self.allowed_user_ids,
            ),
            query_timeout: Duration::from_secs(self.query_timeout_secs),
            drain_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            http: self.http()?,
            notify: self.notify.settings()?,
            bot: self.notify.bot()?,
            state: self.notify.state()?,
            digest: self.digest()?,
        })
    }

    /// Socket Mode, when SLACK_APP_TOKEN is set (an empty value counts as unset).
    fn socket(&self) -> Result<Option<SocketSettings>, ConfigError> {
        let Some(token) = self
            .slack_app_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(None);
        };
        if !token.starts_with("xapp-") {
            return Err(ConfigError::BadAppToken);
        }
        let api_url = self.notify.slack_api_url.trim();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(ConfigError::BadSlackApiUrl(api_url.to_owned()));
        }
        Ok(Some(SocketSettings::new(AppToken::new(token), api_url)))
    }

    fn http(&self) -> Result<HttpSettings, ConfigError> {
        let secs = |value: u64, name| {
            if (1..=3600).contains(&value) {
                Ok(Duration::from_secs(value))
            } else {
                Err(ConfigError::BadHttpTimeout(name))
            }
        };
        let max_connections = match self.max_connections {
            Some(0) => return Err(ConfigError::BadMaxConnections),
            Some(n) => n,
            None => crate::server::default_max_connections(),
        };
        Ok(HttpSettings {
            header_timeout: secs(self.http_header_timeout_secs, "HTTP_HEADER_TIMEOUT_SECS")?,
            body_timeout: secs(self.http_body_timeout_secs, "HTTP_BODY_TIMEOUT_SECS")?,
            max_connections,
        })
    }

    fn digest(&self) -> Result<Option<DigestSettings>, ConfigError> {
        let schedule = match (&self.digest_every, &self.digest_cron) {
            (Some(every), _) if !every.trim().is_empty() => {
                crate::digest::Schedule::every(every)
                    .map_err(|_| ConfigError::BadDigestEvery(every.clone()))?
            }
            (_, Some(cron)) if !cron.trim().is_empty() => crate::digest::Schedule::cron(cron)
                .map_err(|e| ConfigError::BadDigestCron(cron.clone(), e))?,
            _ => return Ok(None),
        };
        if self.notify.bot()?.is_none() {
            return Err(ConfigError::DigestNeedsToken);
        }
        let channel = self
            .digest_channel
            .clone()
            .or_else(|| self.notify.slack_channel.clone())
            .filter(|c| !c.trim().is_empty())
            .ok_or(ConfigError::DigestNeedsChannel)?;
        Ok(Some(DigestSettings { schedule, channel }))
    }
}

impl NotifyArgs {
    /// The bot token and API URL, whenever SLACK_BOT_TOKEN is set.
    pub fn bot(&self) -> Result<Option<BotSettings>, ConfigError> {
        let Some(token) = self
            .slack_bot_token
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(None);
        };
        let api_url = self.slack_api_url.trim().to_owned();
        if !(api_url.starts_with("https://") || api_url.starts_with("http://")) {
            return Err(ConfigError::BadSlackApiUrl(api_url));
        }
        Ok(Some(BotSettings {
            token: BotToken::new(token),
            api_url,
        }))
    }

    pub fn settings(&self) -> Result<Option<NotifySettings>, ConfigError> {
        let events_keys = ApiKeys::parse(
            self.events_api_key.as_deref().unwrap_or(""),
            &self.events_api_key_header,
        )
        .map_err(|_| ConfigError::BadHeaderName(self.events_api_key_header.clone()))?;
        let sns_topic_arns: Vec<String> = self
            .sns_topic_arns
            .iter()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect();
        let queue = self
            .events_queue_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|url| crate::notify::queue::QueueSettings {
                url: url.to_owned(),
                wait: Duration::from_secs(self.events_queue_wait_secs.clamp(1, 20)),
            });
        if events_keys.is_none() && sns_topic_arns.is_empty() && queue.is_none() {
            return Ok(None);
        }
        let nonempty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let bot = self.bot()?.ok_or(ConfigError::MissingBotToken)?;
        let default_channel = nonempty(&self.slack_channel).ok_or(ConfigError::MissingChannel)?;
        Ok(Some(NotifySettings {
            events_keys,
            sns_topic_arns,
            sns_cert_rule: CertUrlRule::AmazonSns,
            token: bot.token,
            api_url: bot.api_url,
            routes: Routes {
                default_channel,
                purchases: nonempty(&self.slack_channel_purchases),
                cancellations: nonempty(&self.slack_channel_cancellations),
                cancellation_mention: nonempty(&self.slack_mention_cancellations),
            },
            post_interval: Duration::from_millis(
                self.slack_post_interval_ms
                    .unwrap_or(crate::notify::deliver::CHANNEL_INTERVAL.as_millis() as u64),
            ),
            lease: self
                .state_lease_secs
                .map_or(crate::notify::deliver::DELIVERY_LEASE, Duration::from_secs),
            queue,
        }))
    }

    /// STATE_DIR or STATE_TABLE (an empty value counts as unset), never both.
    pub fn state(&self) -> Result<StateSettings, ConfigError> {
        let dir = self.state_dir.clone().filter(|d| !d.as_os_str().is_empty());
        let table = self
            .state_table
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        match (dir, table) {
            (Some(_), Some(_)) => Err(ConfigError::StateDirAndTable),
            (Some(dir), None) => Ok(StateSettings::Dir(dir)),
            (None, Some(table)) => Ok(StateSettings::Table(table.to_owned())),
            (None, None) => Ok(StateSettings::Memory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("marketplace-activity").chain(args.iter().copied()))
            .unwrap()
    }

    #[test]
    fn the_readmes_placeholders_stop_start_up() {
        let mut cli = parse(&["serve", "--slack-signing-secret", "<your-signing-secret>"]);
        let Some(Cmd::Serve(args)) = cli.command.take() else {
            panic!()
        };
        let err = args.settings().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("SLACK_SIGNING_SECRET is still a placeholder"),
            "{err}"
        );
        let mut cli = parse(&["serve", "--slack-signing-secret", "new,<old-secret>"]);
        let Some(Cmd::Serve(args)) = cli.command.take() else {
            panic!()
        };
        assert!(
            args.settings().is_err(),
            "a rotation list with a placeholder"
        );
        let mut cli = parse(&["serve", "--slack-signing-secret", "a<b>c"]);
        let Some(Cmd::Serve(args)) = cli.command.take() else {
            panic!()
        };
        assert!(args.settings().is_ok(), "a real value with brackets inside");
    }

    /// `--help` says what `main` does: the default level of each subcommand.
    #[test]
    fn the_help_text_tells_the_true_default_log_levels() {
        use clap::CommandFactory;
        let help = Cli::command()
            .get_arguments()
            .find(|a| a.get_id() == "log_format")
            .and_then(|a| a.get_help().map(ToString::to_string))
            .unwrap();
        let cases: [(&[&str], &str); 6] = [
            (&[], "serve"),
            (&["serve"], "serve"),
            (&["query"], "query"),
            (&["check"], "check"),
            (&["demo"], "demo"),
            (&["healthcheck"], "healthcheck"),
        ];
        for (args, name) in cases {
            let level = default_log_level(parse(args).command.as_ref());
            let told = help
                .split(&format!("`{level}` for "))
                .nth(1)
                .unwrap_or_else(|| panic!("{level} is not in the help: {help}"));
            let names = told.split(['(', ',', ';']).next().unwrap();
            assert!(names.contains(name), "{name}: {level} ({help})");
        }
    }

    #[test]
    fn no_subcommand_means_serve_with_its_flags() {
        let cli = parse(&[
            "--slack-signing-secret",
            "s3cr3t",
            "--cloudtrail-regions",
            "us-east-1,eu-west-1",
        ]);
        assert!(cli.command.is_none());
        let s = cli.serve.settings().unwrap();
        assert_eq!(s.regions, ["us-east-1", "eu-west-1"]);
        assert!(!format!("{s:?}").contains("s3cr3t"));
    }

    #[test]
    fn state_dir_or_state_table_never_both_and_empty_is_unset() {
        let state = |dir: Option<&str>, table: Option<&str>| {
            NotifyArgs {
                state_dir: dir.map(PathBuf::from),
                state_table: table.map(str::to_owned),
                ..NotifyArgs::default()
            }
            .state()
        };
        assert_eq!(state(None, None).unwrap(), StateSettings::Memory);
        assert_eq!(
            state(Some("/var/lib/x"), None).unwrap(),
            StateSettings::Dir("/var/lib/x".into())
        );
        // The image sets STATE_DIR; a stack that uses STATE_TABLE blanks it.
        assert_eq!(
            state(Some(""), Some("mpa-state")).unwrap(),
            StateSettings::Table("mpa-state".into())
        );
        let both = state(Some("/var/lib/x"), Some("mpa-state")).unwrap_err();
        assert!(both.to_string().contains("STATE_TABLE"), "{both}");
    }

    #[test]
    fn missing_or_bad_settings_name_themselves() {
        let err = parse(&["serve"]);
        let Some(Cmd::Serve(args)) = err.command else {
            unreachable!()
        };
        // SLACK_SIGNING_SECRET may be set in the environment running the tests; clear the flag.
        let args = ServeArgs {
            slack_signing_secret: None,
            slack_app_token: None,
            ..args
        };
        assert!(args
            .settings()
            .unwrap_err()
            .to_string()
            .starts_with("SLACK_SIGNING_SECRET"));
        let args = ServeArgs {
            slack_signing_secret: Some("x".into()),
            listen_addr: "nope".into(),
            ..args
        };
        assert!(args
            .settings()
            .unwrap_err()
            .to_string()
            .starts_with("LISTEN_ADDR"));
        let args = ServeArgs {
            listen_addr: "0.0.0.0:3000".into(),
            slack_signing_secret: None,
            slack_app_token: Some("xoxb-not-an-app-token".into()),
            ..args
        };
        assert!(args
            .settings()
            .unwrap_err()
            .to_string()
            .starts_with("SLACK_APP_TOKEN"));
        let regions = RegionArgs {
            cloudtrail_regions: vec!["us east".into()],
            accounts: None,
            accounts_file: None,
            member_role_name: "MarketplaceActivityRead".into(),
            member_external_id: None,
            organization_refresh_secs: 3600,
            lookup_concurrency: 32,
        };
        assert!(regions
            .parse()
            .unwrap_err()
            .to_string()
            .starts_with("CLOUDTRAIL_REGIONS"));
    }

    #[test]
    fn the_organization_and_its_member_role() {
        let mut regions = RegionArgs {
            cloudtrail_regions: vec!["us-east-1".into()],
            accounts: Some("organization;mgmt=123456789012".into()),
            accounts_file: None,
            member_role_name: "Audit/MarketplaceActivityRead".into(),
            member_external_id: Some("ext-1".into()),
            organization_refresh_secs: 3600,
            lookup_concurrency: 32,
        };
        let scope = regions.scope().unwrap();
        let org = scope.organization.unwrap();
        assert_eq!(
            org.role_arn("111122223333"),
            "arn:aws:iam::111122223333:role/Audit/MarketplaceActivityRead"
        );
        assert!(
            !format!("{org:?}").contains("ext-1"),
            "external id in Debug"
        );
        assert_eq!(scope.accounts.len(), 1);
        for (role, concurrency, refresh, wanted) in [
            ("bad role name", 32, 3600, "MEMBER_ROLE_NAME"),
            ("Read", 0, 3600, "LOOKUP_CONCURRENCY"),
            ("Read", 32, 1, "ORGANIZATION_REFRESH_SECS"),
        ] {
            regions.member_role_name = role.into();
            regions.lookup_concurrency = concurrency;
            regions.organization_refresh_secs = refresh;
            let err = regions.scope().unwrap_err().to_string();
            assert!(err.starts_with(wanted), "{role}: {err}");
        }
    }

    #[test]
    fn socket_mode_needs_no_signing_secret() {
        let Some(Cmd::Serve(args)) = parse(&["serve"]).command else {
            unreachable!()
        };
        // Either may be set in the environment running the tests; set both explicitly.
        let neither = ServeArgs {
            slack_signing_secret: None,
            slack_app_token: None,
            ..args.clone()
        };
        assert!(matches!(
            neither.settings().unwrap_err(),
            ConfigError::MissingSigningSecret
        ));
        let socket = ServeArgs {
            slack_app_token: Some("xapp-1-A0001-1-s3cr3t".into()),
            ..neither.clone()
        };
        let s = socket.settings().unwrap();
        assert!(s.signing_secrets.is_empty());
        let mode = s.socket.as_ref().unwrap();
        assert_eq!(mode.api_url, "https://slack.com/api");
        assert_eq!(mode.connections, crate::slack::socket::CONNECTIONS);
        assert!(
            !format!("{s:?}").contains("s3cr3t"),
            "the token never prints"
        );
        let http = ServeArgs {
            slack_signing_secret: Some("sig".into()),
            ..neither
        };
        let s = http.settings().unwrap();
        assert!(s.socket.is_none() && !s.signing_secrets.is_empty());
    }
}
