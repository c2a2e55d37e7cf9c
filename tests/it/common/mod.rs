//! Shared test helpers: start the real application on port 0 against fakes on loopback.

pub mod fake_aws;
pub mod fake_slack;
pub mod fake_socket;
pub mod moto;
pub mod proxy;
pub mod sns;

use std::time::Duration;

use aws_config::Region;
use aws_sdk_cloudtrail::config::Credentials;
use std::sync::Arc;

use marketplace_activity::aws::accounts::Account;
use marketplace_activity::aws::organization::OrganizationSettings;
use marketplace_activity::aws::{connect, sdk_config_loader, ActivitySource};
use marketplace_activity::config::{
    BotSettings, DigestSettings, NotifySettings, ServeSettings, StateSettings,
};
use marketplace_activity::digest::Clock;
use marketplace_activity::notify::deliver::Routes;
use marketplace_activity::notify::routes::ApiKeys;
use marketplace_activity::notify::sns::CertUrlRule;
use marketplace_activity::server::HttpSettings;
use marketplace_activity::slack::access::AccessPolicy;
use marketplace_activity::slack::signature::{sign, SigningSecrets};
use marketplace_activity::slack::socket::{AppToken, SocketSettings};
use marketplace_activity::slack::web_api::BotToken;
use marketplace_activity::startup::{open_state, Application};
use marketplace_activity::state::StateStore;
use serde_json::Value;
use tokio::sync::oneshot;

pub use fake_aws::FakeAws;
pub use fake_slack::FakeSlack;

pub const SECRET: &str = "test-signing-secret";

pub fn init_logs() {
    if std::env::var_os("TEST_LOG").is_some() {
        marketplace_activity::telemetry::init(
            marketplace_activity::config::LogFormat::Pretty,
            "debug",
        );
    }
}

/// An SDK configuration that only ever talks to `endpoint`, with dummy credentials.
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    sdk_config_loader()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .load()
        .await
}

pub struct Options {
    pub regions: Vec<String>,
    pub access: AccessPolicy,
    pub query_timeout: Duration,
    pub drain_timeout: Duration,
    /// Header and body timeouts, the connection cap.
    pub http: HttpSettings,
    /// Channel notifications on (`/events`), with these settings.
    pub notify: Option<NotifyOptions>,
    /// Accounts to report on (empty: the app's own).
    pub accounts: Vec<Account>,
    /// ACCOUNTS=organization, with these settings.
    pub organization: Option<OrganizationSettings>,
    /// Account × region pairs read at once.
    pub lookup_concurrency: usize,
    /// SLACK_BOT_TOKEN set (always when `notify` is).
    pub bot: bool,
    pub digest: Option<DigestSettings>,
    pub clock: Option<Arc<dyn Clock>>,
    /// The state store to use (else one for `notify.state_dir`, else memory).
    pub store: Option<StateStore>,
    /// The SQS client that reads `notify.queue_url`.
    pub queue_client: Option<aws_sdk_sqs::Client>,
    /// Socket Mode against the fake Slack (and no signing secret).
    pub socket: Option<SocketOptions>,
}

/// Socket Mode's knobs, shortened for tests.
pub struct SocketOptions {
    pub connections: usize,
    pub stale_after: Duration,
    pub backoff_first: Duration,
    pub backoff_max: Duration,
}

impl Default for SocketOptions {
    fn default() -> Self {
        Self {
            connections: 2,
            stale_after: Duration::from_secs(30),
            backoff_first: Duration::from_millis(50),
            backoff_max: Duration::from_secs(120),
        }
    }
}

pub const EVENTS_KEY: &str = "test-events-key";

pub struct NotifyOptions {
    pub state_dir: Option<std::path::PathBuf>,
    /// Least time between two posts to one channel (Slack's pace is 1 s).
    pub post_interval: Duration,
    /// How long a delivery's claim holds before another replica may take it over.
    pub lease: Duration,
    /// Read events from this SQS queue (with `Options::queue_client`).
    pub queue_url: Option<String>,
    /// EVENTS_API_KEY set (`POST /events` served).
    pub events_api_key: bool,
    pub routes: Routes,
    pub sns: Option<(Vec<String>, CertUrlRule)>,
}

impl Default for NotifyOptions {
    fn default() -> Self {
        Self {
            state_dir: None,
            post_interval: Duration::from_secs(1),
            lease: Duration::from_secs(30),
            queue_url: None,
            events_api_key: true,
            routes: Routes {
                default_channel: "C0NOTIFY".into(),
                purchases: None,
                cancellations: None,
                cancellation_mention: None,
            },
            sns: None,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            regions: vec!["us-east-1".into()],
            access: AccessPolicy::default(),
            query_timeout: Duration::from_secs(60),
            drain_timeout: Duration::from_secs(10),
            http: HttpSettings::default(),
            notify: None,
            accounts: Vec::new(),
            organization: None,
            lookup_concurrency: marketplace_activity::aws::cloudtrail::DEFAULT_IN_FLIGHT,
            bot: false,
            digest: None,
            clock: None,
            store: None,
            queue_client: None,
            socket: None,
        }
    }
}

pub struct TestApp {
    pub url: String,
    pub cloudtrail: FakeAws,
    pub slack: FakeSlack,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    pub server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

pub async fn spawn_app(options: Options) -> TestApp {
    init_logs();
    let cloudtrail = FakeAws::start().await;
    let slack = FakeSlack::start().await;
    start_app(options, cloudtrail, slack).await
}

/// Starts the app against existing fakes (to restart it and keep what the fakes saw).
pub async fn start_app(options: Options, cloudtrail: FakeAws, slack: FakeSlack) -> TestApp {
    let bot = (options.bot || options.notify.is_some() || options.digest.is_some()).then(|| {
        BotSettings {
            token: BotToken::new(fake_slack::BOT_TOKEN),
            api_url: slack.api_url(),
        }
    });
    let state = match options.notify.as_ref().and_then(|n| n.state_dir.clone()) {
        Some(dir) => StateSettings::Dir(dir),
        None => StateSettings::Memory,
    };
    let notify = options.notify.map(|n| NotifySettings {
        events_keys: if n.events_api_key {
            ApiKeys::parse(EVENTS_KEY, "x-api-key").unwrap()
        } else {
            None
        },
        sns_topic_arns: n.sns.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
        sns_cert_rule: n.sns.map(|s| s.1).unwrap_or(CertUrlRule::AmazonSns),
        token: BotToken::new(fake_slack::BOT_TOKEN),
        api_url: slack.api_url(),
        routes: n.routes,
        post_interval: n.post_interval,
        lease: n.lease,
        queue: n
            .queue_url
            .map(|url| marketplace_activity::notify::queue::QueueSettings {
                url,
                wait: Duration::from_secs(1),
            }),
    });
    let socket = options.socket.map(|s| {
        let mut settings =
            SocketSettings::new(AppToken::new(fake_slack::APP_TOKEN), &slack.api_url());
        settings.connections = s.connections;
        settings.stale_after = s.stale_after;
        settings.backoff_first = s.backoff_first;
        settings.backoff_max = s.backoff_max;
        settings
    });
    let sdk = sdk_config(&cloudtrail.url).await;
    let settings = ServeSettings {
        listen_addr: "127.0.0.1:0".parse().unwrap(),
        // Socket Mode runs without SLACK_SIGNING_SECRET, as it may in production.
        signing_secrets: if socket.is_some() {
            SigningSecrets::none()
        } else {
            SigningSecrets::parse(SECRET).unwrap()
        },
        socket,
        regions: options.regions.clone(),
        access: options.access,
        query_timeout: options.query_timeout,
        drain_timeout: options.drain_timeout,
        http: options.http,
        notify,
        accounts: options.accounts.clone(),
        organization: options.organization.clone(),
        lookup_concurrency: options.lookup_concurrency,
        bot,
        digest: options.digest,
        state,
    };
    let metrics = marketplace_activity::metrics::Metrics::new();
    let aws = connect(&sdk, &settings.scope(), &metrics);
    aws.list_organization().await;
    let source = ActivitySource::CloudTrail(aws.cloudtrail);
    let store = match options.store {
        Some(store) => store,
        None => open_state(&settings, &sdk).await.unwrap(),
    };
    let mut app = Application::build(settings, source, Some(aws.agreements), metrics, store)
        .await
        .unwrap();
    if let Some(clock) = options.clock {
        app.set_clock(clock);
    }
    if let Some(client) = options.queue_client {
        app = app.with_queue_client(client);
    }
    let url = format!("http://{}", app.local_addr());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    TestApp {
        url,
        cloudtrail,
        slack,
        http: marketplace_activity::http::client().expect("an HTTP client"),
        stop: Some(stop),
        server: Some(server),
    }
}

/// A slash command form as Slack sends it.
pub fn command_form(text: &str, response_url: &str, user: &str) -> String {
    serde_urlencoded::to_string([
        ("token", "deprecated"),
        ("team_id", "T0001"),
        ("team_domain", "acme"),
        ("channel_id", "C0001"),
        ("channel_name", "procurement"),
        ("user_id", user),
        ("user_name", "someone"),
        ("command", "/marketplace-activity"),
        ("text", text),
        ("response_url", response_url),
        ("trigger_id", "1.2.3"),
        ("api_app_id", "A0001"),
    ])
    .unwrap()
}

impl TestApp {
    /// What `/readyz` answers now.
    pub async fn readyz(&self) -> Value {
        self.http
            .get(format!("{}/readyz", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// `/readyz` until `done` holds for it (at most 5 s), then its last answer.
    pub async fn readyz_until(&self, done: impl Fn(&Value) -> bool) -> Value {
        let mut ready = self.readyz().await;
        for _ in 0..250 {
            if done(&ready) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            ready = self.readyz().await;
        }
        ready
    }

    /// What `/metrics` shows now.
    pub async fn metrics_text(&self) -> String {
        self.http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Sends `text` as user U0001, signed; returns the status and the acknowledgement body.
    pub async fn command(&self, text: &str) -> (u16, Value) {
        self.command_as(text, "U0001", "cmd").await
    }

    pub async fn command_as(&self, text: &str, user: &str, id: &str) -> (u16, Value) {
        let body = command_form(text, &self.slack.response_url(id), user);
        let resp = self
            .post_signed(&body, chrono::Utc::now().timestamp())
            .await;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post_signed(&self, body: &str, ts: i64) -> reqwest::Response {
        self.http
            .post(format!("{}/slack/commands", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-slack-request-timestamp", ts.to_string())
            .header("x-slack-signature", sign(SECRET, ts, body.as_bytes()))
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    /// POSTs an event to `/events` as EventBridge's API destination does.
    pub async fn send_event(&self, event: &Value) -> (u16, Option<String>, Value) {
        self.send_event_with_key(&event.to_string(), Some(EVENTS_KEY))
            .await
    }

    pub async fn send_event_with_key(
        &self,
        body: &str,
        key: Option<&str>,
    ) -> (u16, Option<String>, Value) {
        let mut req = self
            .http
            .post(format!("{}/events", self.url))
            .header("content-type", "application/json; charset=utf-8")
            .header("user-agent", "Amazon/EventBridge/ApiDestinations");
        if let Some(key) = key {
            req = req.header("x-api-key", key);
        }
        let resp = req.body(body.to_owned()).send().await.unwrap();
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = resp.text().await.unwrap();
        (
            status,
            retry_after,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Waits for the one answer to the command sent with id `cmd`.
    pub async fn answer(&self) -> Value {
        let got = self.slack.wait_for(1, Duration::from_secs(30)).await;
        assert_eq!(got.len(), 1, "exactly one answer: {got:?}");
        got[0].1.clone()
    }

    /// Stops accepting and waits for the app to drain, as SIGTERM would.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

/// Every mrkdwn and plain text in a message, joined, for assertions on what a person reads.
pub fn visible_text(message: &Value) -> String {
    let mut out = Vec::new();
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                if let Some(Value::String(t)) = map.get("text") {
                    out.push(t.clone());
                }
                for (k, child) in map {
                    if k != "text" || !child.is_string() {
                        walk(child, out);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    if let Some(blocks) = message.get("blocks") {
        walk(blocks, &mut out);
    } else {
        walk(message, &mut out);
    }
    out.join("\n")
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// A purchase record at `time` with a unique id, for building many events.
pub fn purchase_at(time: chrono::DateTime<chrono::Utc>, n: usize) -> Value {
    let mut r = fixture("cloudtrail-accept-agreement-request.json");
    r["eventTime"] = Value::String(time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    r["eventID"] = Value::String(format!("evt-{n:05}"));
    r["responseElements"]["agreementId"] = Value::String(format!("agmt-test{n:05}"));
    r
}
