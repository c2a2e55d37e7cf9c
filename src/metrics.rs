//! Prometheus metrics, served at `GET /metrics` (OpenMetrics text). One registry per
//! application instance, so tests that run several apps in one process don't share counts.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RegionLabels {
    pub region: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    pub region: String,
    /// `ok`, `throttled` or `error`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SlackLabels {
    /// `chat.postMessage`, `chat.update`, `auth.test` or `response_url`.
    pub method: &'static str,
    /// `ok`, `rate_limited`, `config_error`, `transient` or `rejected`.
    pub outcome: &'static str,
}

/// Labels of `events_total`. Both are `&'static str`, so a value taken from an event (an event
/// name, a status) cannot become a label: each label value is a new time series, and a sender
/// could otherwise create as many as it likes.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventLabels {
    /// The activity kind from a fixed set (`ActivityKind::metric_label`: the known kinds'
    /// labels, `read`, `other`), or `none` when the event was not one.
    pub kind: &'static str,
    /// `posted`, `updated`, `duplicate`, `recorded`, `ignored`, `malformed`, `retry_later`, `failed`.
    pub result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClosedLabels {
    /// `header_timeout` (headers not received in time, idle keep-alive included) or `evicted`
    /// (closed at MAX_CONNECTIONS to make room for a new connection).
    pub reason: &'static str,
}

/// A label from a fixed set of words (never a value taken from input).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 5 ms to ~20 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

/// Every metric the service exports. Cheap to clone: one reference count (axum clones the
/// states that hold it several times per request), and the families share their storage.
#[derive(Clone)]
pub struct Metrics(Arc<MetricSet>);

impl std::ops::Deref for Metrics {
    type Target = MetricSet;

    fn deref(&self) -> &MetricSet {
        &self.0
    }
}

/// The metrics themselves, reached through [`Metrics`].
pub struct MetricSet {
    registry: Registry,
    /// Handles into `http_requests` by route and status, so counting a request takes neither an
    /// allocation nor a hash of its labels: a few routes times a few statuses.
    http_seen: RwLock<Vec<(Box<str>, u16, Counter)>>,
    pub http_requests: Family<HttpLabels, Counter>,
    pub signature_failures: Counter,
    pub cloudtrail_attempts: Family<AttemptLabels, Counter>,
    pub cloudtrail_throttles: Family<RegionLabels, Counter>,
    pub cloudtrail_latency: HistogramFamily<RegionLabels>,
    pub slack_calls: Family<SlackLabels, Counter>,
    pub slack_retries: Counter,
    pub events: Family<EventLabels, Counter>,
    pub duplicates_dropped: Counter,
    pub http_connections_closed: Family<ClosedLabels, Counter>,
    /// Socket Mode envelopes by type (`slash_commands`, `interactive`, `events_api`,
    /// `disconnect`, `hello`, `other`).
    pub socket_envelopes: Family<KindLabels, Counter>,
    /// Socket Mode connections open now (said `hello`, not yet closed).
    pub socket_connections: Gauge,
    /// Attempts to open a Socket Mode connection, `ok` or `failed`.
    pub socket_connects: Family<OutcomeLabels, Counter>,
    /// SQS messages handled: `deleted` (posted, duplicate or ignored), `kept` (to retry after
    /// their visibility timeout), `malformed` (deleted: not an event), `unacknowledged` (the
    /// delete or delay call failed; the message comes back).
    pub queue_messages: Family<OutcomeLabels, Counter>,
    /// ReceiveMessage calls that failed.
    pub queue_receive_failures: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("marketplace_activity");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            http_requests.clone(),
        );
        let signature_failures = Counter::default();
        registry.register(
            "slack_signature_failures",
            "Slash commands refused for a bad or missing Slack signature",
            signature_failures.clone(),
        );
        let cloudtrail_attempts = Family::<AttemptLabels, Counter>::default();
        registry.register(
            "cloudtrail_attempts",
            "LookupEvents HTTP attempts (SDK retries included) by region and outcome",
            cloudtrail_attempts.clone(),
        );
        let cloudtrail_throttles = Family::<RegionLabels, Counter>::default();
        registry.register(
            "cloudtrail_throttles",
            "LookupEvents attempts answered with ThrottlingException",
            cloudtrail_throttles.clone(),
        );
        let cloudtrail_latency: HistogramFamily<RegionLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register(
            "cloudtrail_call_duration_seconds",
            "LookupEvents page latency, retries included",
            cloudtrail_latency.clone(),
        );
        let slack_calls = Family::<SlackLabels, Counter>::default();
        registry.register(
            "slack_calls",
            "Calls to Slack by method and outcome",
            slack_calls.clone(),
        );
        let slack_retries = Counter::default();
        registry.register(
            "slack_post_retries",
            "chat.postMessage retries inside a delivery's deadline",
            slack_retries.clone(),
        );
        let events = Family::<EventLabels, Counter>::default();
        registry.register(
            "events",
            "Incoming events by activity kind and result",
            events.clone(),
        );
        let duplicates_dropped = Counter::default();
        registry.register(
            "duplicates_dropped",
            "Events not posted because they were delivered before",
            duplicates_dropped.clone(),
        );
        let http_connections_closed = Family::<ClosedLabels, Counter>::default();
        registry.register(
            "http_connections_closed",
            "Connections the server closed on its own, by reason",
            http_connections_closed.clone(),
        );
        let socket_envelopes = Family::<KindLabels, Counter>::default();
        registry.register(
            "socket_mode_envelopes",
            "Socket Mode envelopes received, by type",
            socket_envelopes.clone(),
        );
        let socket_connections = Gauge::default();
        registry.register(
            "socket_mode_connections",
            "Socket Mode connections open now",
            socket_connections.clone(),
        );
        let socket_connects = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "socket_mode_connects",
            "Attempts to open a Socket Mode connection, by outcome",
            socket_connects.clone(),
        );
        let queue_messages = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "queue_messages",
            "SQS messages handled, by outcome",
            queue_messages.clone(),
        );
        let queue_receive_failures = Counter::default();
        registry.register(
            "queue_receive_failures",
            "SQS ReceiveMessage calls that failed",
            queue_receive_failures.clone(),
        );
        Self(Arc::new(MetricSet {
            registry,
            http_seen: RwLock::default(),
            http_requests,
            signature_failures,
            cloudtrail_attempts,
            cloudtrail_throttles,
            cloudtrail_latency,
            slack_calls,
            slack_retries,
            events,
            duplicates_dropped,
            http_connections_closed,
            socket_envelopes,
            socket_connections,
            socket_connects,
            queue_messages,
            queue_receive_failures,
        }))
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Counts a request answered on `route` (a route pattern, or `unmatched`) with `status`.
    pub fn http_request(&self, route: &str, status: u16) {
        let seen = |list: &[(Box<str>, u16, Counter)]| {
            list.iter()
                .find(|(r, s, _)| *s == status && **r == *route)
                .map(|(_, _, counter)| counter.clone())
        };
        let known = seen(&read(&self.http_seen));
        let counter = known.unwrap_or_else(|| {
            let mut list = write(&self.http_seen);
            seen(&list).unwrap_or_else(|| {
                let counter = self
                    .http_requests
                    .get_or_create(&HttpLabels {
                        route: route.to_owned(),
                        status,
                    })
                    .clone();
                list.push((route.into(), status, counter.clone()));
                counter
            })
        });
        counter.inc();
    }

    /// Counts an incoming event. `kind` comes from a fixed set (see [`EventLabels`]).
    pub fn event(&self, kind: &'static str, result: &'static str) {
        self.events
            .get_or_create(&EventLabels { kind, result })
            .inc();
    }

    pub fn events_count(&self, kind: &'static str, result: &'static str) -> u64 {
        self.events
            .get_or_create(&EventLabels { kind, result })
            .get()
    }

    pub fn slack_call(&self, method: &'static str, outcome: &'static str) {
        self.slack_calls
            .get_or_create(&SlackLabels { method, outcome })
            .inc();
    }
}

/// A poisoned lock still holds a usable list (a push is the only write).
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::domain::ActivityKind;

    /// The `kind` values of `events_total` in a rendered exposition.
    fn event_kinds(text: &str) -> BTreeSet<String> {
        text.lines()
            .filter_map(|line| line.strip_prefix("marketplace_activity_events_total{kind=\""))
            .filter_map(|rest| rest.split_once('"').map(|(kind, _)| kind.to_owned()))
            .collect()
    }

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let metrics = Metrics::new();
        for _ in 0..3 {
            metrics.http_request("/slack/commands", 200);
        }
        metrics.http_request("/slack/commands", 401);
        metrics.http_request("unmatched", 200);
        let clone = metrics.clone();
        clone.http_request("/slack/commands", 200);
        let text = metrics.render();
        for line in [
            r#"marketplace_activity_http_requests_total{route="/slack/commands",status="200"} 4"#,
            r#"marketplace_activity_http_requests_total{route="/slack/commands",status="401"} 1"#,
            r#"marketplace_activity_http_requests_total{route="unmatched",status="200"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn event_names_from_outside_add_at_most_one_label_value_each_family() {
        let metrics = Metrics::new();
        metrics.event(ActivityKind::Purchase.metric_label(), "posted");
        let before = event_kinds(&metrics.render());
        for n in 0..100 {
            let unknown = ActivityKind::from_event_name(&format!("UnknownCall{n}"), false);
            metrics.event(unknown.metric_label(), "posted");
        }
        let text = metrics.render();
        let added: Vec<_> = event_kinds(&text).difference(&before).cloned().collect();
        assert_eq!(added, ["other"], "{text}");
        assert!(
            text.contains(r#"marketplace_activity_events_total{kind="other",result="posted"} 100"#),
            "{text}"
        );

        for n in 0..100 {
            let read = ActivityKind::from_event_name(&format!("DescribeThing{n}"), false);
            metrics.event(read.metric_label(), "ignored");
        }
        let kinds = event_kinds(&metrics.render());
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            ["Purchase", "other", "read"]
        );
    }
}
